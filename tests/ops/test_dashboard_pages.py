"""Each page of `kalshi dashboard`, in Chromium, shows the numbers the CLI shows for the same state: the
dashboard process and the CLI (`--json`) read the same store and the same simulator; every figure on the page
is compared with the JSON document formatted as the CLI's tables format it.  Screenshots: tests/artifacts/."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from kalshi_trading.auto.state import BotState
from kalshi_trading.models import BookSide, OrderRequest
from kalshi_trading.store import open_store
from kalshi_trading.store.alerts import AlertEvent, DeliveryStatus, MessageKind, Severity
from kalshi_trading.store.botstate import BotFill
from kalshi_trading.store.signals import AttemptOutcome, AttemptRecord, SignalRecord
from tests.e2e.conftest import client_for
from tests.e2e.positions import active_cent_markets
from tests.ops.conftest import sim_env
from tests.ops.pages import (
    cli,
    cli_json,
    expected_positions,
    expected_totals,
    fields,
    money,
    open_page,
    table,
)


def trade(sim, env, t1, t2):
    """Bob makes the market; the demo account buys 5 YES of t1 at 40c, sells 2 back at 45c (a realized gain),
    buys 3 NO of t2 at 70c, and rests a bid on t1 at 10c."""
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    steps = [(t1, BookSide.ASK, 5, "0.40", ("order", "limit", t1, "yes", "5", "40")),
             (t1, BookSide.BID, 2, "0.45", ("order", "limit", t1, "no", "2", "55", "--tif", "ioc")),
             (t2, BookSide.BID, 3, "0.30", ("order", "limit", t2, "no", "3", "70", "--tif", "ioc"))]
    for ticker, side, size, price, args in steps:  # bob's order first, then the demo account's against it
        bob.create_order(OrderRequest(ticker, side, D(size), D(price)))
        result = cli(env, *args, "--yes")
        assert result.exit_code == 0 and "filled 0" not in result.output, result.output
    bob.create_order(OrderRequest(t1, BookSide.BID, D(4), D("0.35")))  # t1's book: both sides
    bob.create_order(OrderRequest(t1, BookSide.ASK, D(4), D("0.55")))
    assert cli(env, "order", "limit", t1, "yes", "1", "10", "--yes").exit_code == 0
    bob.close()


def records(env, t1, t_settled, now):
    """A bot's state, signals and attempts, a journal error and alert events, all through the storage port."""
    store = open_store(f"sqlite://{env['KALSHI_DATA_DIR']}/sim/", env="sim")
    try:
        state = BotState(store.bot_state(bot="east"))
        state.put("markets", [t1])
        state.put("env", "SIM")
        hour_ago, minutes_ago = now - timedelta(hours=1), now - timedelta(minutes=9)
        state.write_fill(BotFill("k1", "o1", t1, BookSide.BID, D("0.42"), D(3), D("0.0500"), hour_ago))
        state.write_fill(BotFill("k2", "o2", t1, BookSide.ASK, D("0.47"), D(1), D("0.0200"), minutes_ago))
        state.log_event(now, "risk_denied", "inventory cap: position 3 at max_inventory_yes 3")
        state.log_decision(now, t1, {"event": "Timer", "bid": "0.35", "ask": "0.55", "position": "2", "risk": "active"},
                           [{"side": "bid", "price": "0.36", "count": "1", "tag": "mm"}],
                           [{"kind": "place", "reason": "no order on this side", "target": {
                               "side": "bid", "price": "0.36", "count": "1", "tag": "mm"}}])
        state.flush()
        signals = store.signals()
        for prob, mid in (("0.80", "0.60"), ("0.30", "0.40"), ("0.55", None)):
            signals.record_signal(SignalRecord(t_settled, "bitcoin", now, "ladder", D(prob),
                                               D(mid) if mid else None, D("0.60"), 120, D("0.9"), "buy_yes"))
        signals.record_attempt(AttemptRecord(now, t_settled, "buy_yes", "simulate", AttemptOutcome.FILLED, D(4),
                                             D("0.60"), fill_count=D(4), fill_price=D("0.58"), fee=D("0.07"),
                                             model_prob=D("0.80"), edge_bps=120))
        signals.record_attempt(AttemptRecord(now, t1, "buy_no", "simulate", AttemptOutcome.SKIPPED, D(2),
                                             rule="cooldown", reason="traded this market 30 s ago"))
        store.journal().record_error("api", "GET /markets: 503 after 5 attempts")
        alerts = store.alerts()
        alerts.record(AlertEvent(now, "east", MessageKind.ALERT, Severity.CRITICAL, "telegram", DeliveryStatus.SENT,
                                 "HALTED: daily loss <b>&</b> limit", rule="halted"))
        alerts.record(AlertEvent(now, "pipeline", MessageKind.DIGEST, Severity.INFO, "webhook",
                                 DeliveryStatus.FAILED, "cycle 7: 2 signals", reason="HTTP 500"))
    finally:
        store.close()


def test_every_page_shows_the_numbers_the_cli_shows(sim, tmp_path, page, dashboards, shoot):
    env = sim_env(sim, tmp_path)
    cent = active_cent_markets(sim)
    t1, t2, t_settled = cent[len(cent) // 2], cent[len(cent) // 2 + 1], cent[len(cent) // 2 + 2]
    trade(sim, env, t1, t2)
    sim.exchange.settle(t_settled, "yes")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    assert cli(env, "sync").exit_code == 0  # the journal exists (bound to the simulated account) before records
    records(env, t1, t_settled, now)
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / "errors.log").write_text("".join(f"2026-11-30 10:00:0{i} ERROR kalshi: failure {i}\n"
                                                          for i in range(3)))
    portfolio = cli_json(env, "portfolio")
    orders = cli_json(env, "orders")
    bot = cli_json(env, "auto", "status", "--bot", "east")
    report = cli_json(env, "paper", "report", "--calibration")
    lots = tmp_path / "lots.csv"
    assert cli(env, "export-trades", str(lots), "--lots").exit_code == 0
    log_tail = cli(env, "logs", "--errors", "-n", "50").stdout.splitlines()
    board = dashboards(env)

    open_page(page, board.url, "portfolio")
    assert fields(page, "totals") == expected_totals(portfolio)
    assert table(page, "positions") == expected_positions(portfolio)
    assert {p["ticker"] for p in portfolio["positions"]} == {t1, t2}
    assert D(portfolio["realized_pnl"]) != 0 and D(portfolio["fees_paid"]) > 0
    gains = sum((D(row["gain"]) for row in csv.DictReader(lots.open())), D(0))
    assert page.inner_text('[data-block="equity"] [data-field="last"]') == f"last: {money(str(gains), True)}"
    assert page.eval_on_selector('[data-block="equity"] polyline', "p => p.getAttribute('points')")
    pnl = {row[0]: row for row in table(page, "pnl")}
    for t in portfolio["tickers"]:
        assert pnl[t["ticker"]][2:] == [money(t["realized_pnl"], True), money(t["unrealized_pnl"], True),
                                        money(t["fees_paid"]), money(t["net_pnl"], True)]
    shoot(page, "portfolio")

    open_page(page, board.url, "orders")
    rows = table(page, "orders")
    assert [(r[0], r[1], r[3], r[5]) for r in rows] == [
        (o["order_id"], o["ticker"], "1", o["status"]) for o in orders["orders"]]
    assert rows[0][2] == "buy YES @ 10¢"
    shoot(page, "orders")

    open_page(page, board.url, "bots")
    shown = fields(page, "bot-east")
    risk = (bot["risk_state"] or "active").upper()
    assert shown["risk"] == f"{risk}: {bot['risk_reason']} (since {bot['risk_since']})"
    assert shown["realized (avg)"] == bot["realized_pnl"] and shown["fees"] == bot["fees"]
    assert shown["positions"] == ", ".join(f"{t} {p}" for t, p in bot["positions"].items()) == f"{t1} 2.00"
    assert table(page, "quotes-east")[0][:5] == [t1, "2.00", "-", "35¢ x 4", "55¢ x 4"]
    decision = table(page, "decisions-east")[0]
    assert decision[7] == "bid 0.36 x 1" and decision[8] == "place bid 0.36 x 1 (no order on this side)"
    assert table(page, "events-east")[-1][1:] == ["risk_denied", "inventory cap: position 3 at max_inventory_yes 3"]
    shoot(page, "bots")

    open_page(page, board.url, "signals")
    paper = fields(page, "paper-report")
    assert paper["fills"] == (f"{report['fills']} (4 contracts, cost {money(report['cost'])}, "
                              f"fees {money(report['fees'])})")
    assert paper["P&L settled"] == money(report["pnl_settled"], True) == "+$1.61"
    cal = report["calibration"]
    assert page.inner_text('[data-block="calibration-all"]') == (
        f"calibration, all families: {cal['signals']} settled signal(s) on {cal['markets']} market(s) "
        f"({cal['with_mid']} with a market mid)")
    assert table(page, "scores-all")[0] == ["Brier", f"{cal['brier_model']:.4f}", f"{cal['brier_market']:.4f}"]
    assert [r[1] for r in table(page, "bins-all")] == [str(b["count"]) for b in cal["bins"]]
    assert table(page, "scores-bitcoin")[0][1] == f"{report['calibration_by_family']['bitcoin']['brier_model']:.4f}"
    assert [r[4] for r in table(page, "attempts")] == ["skipped", "filled"]
    shoot(page, "signals")

    open_page(page, board.url, "logs")
    assert [r[0] for r in table(page, "errors-log")] == log_tail
    assert table(page, "journal-errors")[0][1:] == ["api", "GET /markets: 503 after 5 attempts"]
    shoot(page, "logs")

    open_page(page, board.url, "alerts")
    alerts = table(page, "alerts")
    assert [r[5] for r in alerts] == ["failed", "sent"]
    assert alerts[1][7] == "HALTED: daily loss <b>&</b> limit"  # shown as text, never as markup
    assert page.locator('[data-block="alerts"] b').count() == 0
    assert alerts[0][8] == "HTTP 500"
    shoot(page, "alerts")

    code, out, err = board.stop()
    assert code == 0 and "stopped" in out, err
