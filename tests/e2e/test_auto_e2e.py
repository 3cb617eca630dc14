"""The bot against the real simulator over HTTP: caps checked from the exchange's own fills, the loss halt,
SIGKILL and restart, and the `kalshi auto --sim` demo.  No timing is asserted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.auto.botconfig import parse_config
from kalshi_trading.auto.runner import BotRun, BotSetup
from kalshi_trading.auto.strategies import MarketMaker
from kalshi_trading.auto.types import RiskState
from kalshi_trading.auto.underlying import ExchangeClock
from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, TimeInForce
from tests.auto.states import open_state
from tests.e2e.conftest import RestBooks, cent_market, order


def make_run(tmp_path, client, executor, ticker, config_text):
    feed = RestBooks(client)
    state = open_state(tmp_path)
    setup = BotSetup(client=client, executor=executor, state=state, strategy=MarketMaker(),
                     config=parse_config(config_text, "toml"), tickers=(ticker,), clock=ExchangeClock(client),
                     feed=feed, feed_name="rest (test)")
    run = BotRun(setup)
    loop = run.prepare()
    feed.subscribe(loop.tickers)
    return run, loop, feed, state


def step(loop, feed):
    feed.refresh()
    loop.reconcile()
    loop.timer_pass()


def resting(client, ticker=None):
    return [o for o in client.iter_orders(ticker=ticker, status="resting")]


def test_inventory_and_exposure_caps_hold_by_the_exchanges_fills(sim, client, bob, executor, tmp_path):
    t = cent_market(sim)
    bob.create_order(order(t, BookSide.BID, "0.40", 100))
    bob.create_order(order(t, BookSide.ASK, "0.60", 100))
    cfg = "max_total_exposure = 4\n[defaults]\nmax_inventory_yes = 3\nmax_inventory_no = 2\nquote_size = 1\n" \
          "min_spread = 0.02\n"
    run, loop, feed, state = make_run(tmp_path, client, executor, t, cfg)
    try:
        for i in range(14):
            step(loop, feed)
            # bob hits whatever the bot bids (first half) then lifts what it offers (second half)
            side, price = (BookSide.ASK, "0.01") if i < 7 else (BookSide.BID, "0.99")
            mine = [o for o in resting(client, t) if o.book_side == ("bid" if side is BookSide.ASK else "ask")]
            if mine:
                bob.create_order(order(t, side, price, 2, TimeInForce.IOC))
    finally:
        run.shutdown("test end")
        state.close()
    fills = sorted(client.iter_fills(ticker=t), key=lambda f: (f.created_time, f.fill_id))
    assert fills, "the bot never traded"
    position, worst_yes, worst_no = D(0), D(0), D(0)
    for f in fills:  # the exchange's own record, not the bot's bookkeeping
        position += f.signed_count
        worst_yes, worst_no = max(worst_yes, position), max(worst_no, -position)
        held = abs(position) * (f.yes_price if position > 0 else 1 - f.yes_price)
        assert held <= D(4)
    assert worst_yes <= 3 and worst_no <= 2
    assert resting(client, t) == []  # shutdown cancelled everything


def test_loss_past_the_limit_halts_and_cancels_everything(sim, client, bob, executor, tmp_path):
    t = cent_market(sim)
    b1 = bob.create_order(order(t, BookSide.BID, "0.40", 50))
    bob.create_order(order(t, BookSide.ASK, "0.60", 50))
    run, loop, feed, state = make_run(tmp_path, client, executor, t,
                                      "max_daily_loss = 0.10\n[defaults]\nquote_size = 2\n")
    try:
        step(loop, feed)
        assert len(resting(client, t)) == 2  # quoting both sides
        bob.create_order(order(t, BookSide.ASK, "0.01", 2, TimeInForce.IOC))  # the bot buys 2 at 0.41
        bob.cancel_order(b1.order_id)
        bob.create_order(order(t, BookSide.BID, "0.05", 50))  # the market collapses: mark ~0.33
        bob.create_order(order(t, BookSide.ASK, "0.10", 50))
        step(loop, feed)
        assert loop.risk.state is RiskState.HALTED
        assert resting(client, t) == []  # no resting order left on the exchange
        step(loop, feed)
        assert resting(client, t) == []  # and none placed while halted
        assert state.risk_state()["state"] == "halted"
    finally:
        run.shutdown("test end")
        state.close()


def _env(sim, tmp_path):
    account = sim.demo_account
    env = {**os.environ, "KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_API_KEY_ID": account.key_id,
           "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path), "KALSHI_DATA_DIR": str(tmp_path / "data"),
           "KALSHI_LOG_DIR": str(tmp_path / "logs")}
    env.pop("KALSHI_WS_BASE", None)
    return env


def _wait(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_sigkill_mid_run_then_restart_reconciles_without_orphans_or_duplicates(sim, client, bob, tmp_path):
    t = cent_market(sim)
    bob.create_order(order(t, BookSide.BID, "0.40", 50))
    bob.create_order(order(t, BookSide.ASK, "0.60", 50))
    env = _env(sim, tmp_path)
    base = [sys.executable, "-m", "kalshi_trading", "auto", "--markets", t, "--feed", "poll", "--json", "--duration"]
    cmd = base + ["60"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait(lambda: len(resting(client, t)) == 2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    orphans = {o.order_id for o in resting(client, t)}
    assert len(orphans) == 2  # a killed bot cancels nothing
    stray = client.create_order(order(t, BookSide.BID, "0.30", 1))  # an order the bot does not know
    orphans.add(stray.order_id)

    second = subprocess.Popen(base + ["8"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        try:
            seen = _wait(lambda: [o for o in resting(client, t) if o.order_id not in orphans])
        except AssertionError:
            second.kill()
            raise AssertionError(second.communicate()[1].decode()[-3000:]) from None
        for _ in range(10):  # while it runs: never more than one order a side, and no orphan survives
            live = resting(client, t)
            assert not orphans & {o.order_id for o in live}
            assert len([o for o in live if o.book_side == "bid"]) <= 1
            assert len([o for o in live if o.book_side == "ask"]) <= 1
            time.sleep(0.2)
        assert seen
        out, err = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["markets"][0]["ticker"] == t
    assert resting(client, t) == []  # the clean exit cancelled everything
    with open_state(tmp_path / "data" / "sim") as state:
        assert state.known_orders() == []
        assert any(e["kind"] == "reconcile" and "cancelled 1 unknown" in e["message"] for e in state.events(50))


@pytest.mark.parametrize("feed", ["auto"])
def test_cli_sim_demo_json_report(tmp_path, feed):
    env = {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": ""}
    result = CliRunner().invoke(app, ["auto", "--sim", "--duration", "5", "--json", "--seed", "3", "--feed", feed],
                                env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout[result.stdout.index("{"):])
    for key in ("fills", "volume", "fees", "realized_pnl", "unrealized_pnl", "net_pnl", "max_inventory",
                "risk_events", "metrics"):
        assert key in doc
    D(doc["net_pnl"]), D(doc["fees"])  # exact decimal strings
    assert doc["metrics"]["ticks"] > 0
    assert (tmp_path / "data" / "sim" / "journal.sqlite").is_file()  # the sim environment's exchange and journal
    assert not (tmp_path / "data" / "auto-sim").exists()


def test_auto_help_has_examples():
    for args in (["auto", "--help"], ["auto", "resume", "--help"], ["auto", "kill", "--help"],
                 ["auto", "status", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "Example:" in result.output


def test_sigkill_then_restart_on_another_market_cancels_the_old_quotes_and_keeps_their_fill(sim, client, bob,
                                                                                            tmp_path):
    a = cent_market(sim)
    b = next(m.ticker for m in sim.exchange.engine.markets.values()
             if m.series_ticker == "KXBTCD" and m.status == "active" and m.ticker != a)
    for t in (a, b):
        bob.create_order(order(t, BookSide.BID, "0.40", 50))
        bob.create_order(order(t, BookSide.ASK, "0.60", 50))
    env = _env(sim, tmp_path)
    base = [sys.executable, "-m", "kalshi_trading", "auto", "--feed", "poll", "--duration"]
    first = subprocess.Popen(base + ["60", "--json", "--markets", a], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        _wait(lambda: len(resting(client, a)) == 2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    old = {o.order_id: o for o in resting(client, a)}
    assert len(old) == 2  # a killed bot cancels nothing
    bob.create_order(order(a, BookSide.ASK, "0.01", 1, TimeInForce.IOC))  # fills the dead bot's bid on A
    bid = next(o for o in old.values() if o.book_side == "bid")
    assert [f.order_id for f in client.iter_fills(ticker=a)] == [bid.order_id]
    still = {o.order_id for o in resting(client, a)}  # the ask, and the bid unless the fill took all of it
    stray = client.create_order(order(b, BookSide.BID, "0.30", 1))  # unknown to the bot, on its new market

    second = subprocess.run(base + ["3", "--markets", b, "--on-start", "adopt"], env=env, capture_output=True,
                            timeout=120)
    out = second.stdout.decode()
    assert second.returncode == 0, second.stderr.decode()[-3000:]
    assert resting(client, a) == []  # not adopted though --on-start adopt: A is not traded this run
    assert resting(client, b) == []  # the clean exit cancelled B's, the adopted stray included
    assert f"cancelled {len(still)} orders on markets not traded this run ({a})" in out
    assert "adopted 1 orders" in out
    assert f"on {a} (not traded this run)" in out  # the position left there is reported
    with open_state(tmp_path / "data" / "sim") as state:
        assert [f.order_id for f in state.fills() if f.ticker == a] == [bid.order_id]  # the fill was recorded
        assert state.load_ledger().position(a) == D(1)
        assert state.known_orders() == []
        found = [e for e in state.events(50) if e["kind"] == "reconcile" and a in e["data"].get("retired", {})]
        assert set(found[0]["data"]["retired"][a]) == still
        assert stray.order_id in found[0]["data"]["adopted"]
