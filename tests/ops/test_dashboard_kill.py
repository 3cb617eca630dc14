"""The kill switch on the real simulator, through the page in Chromium: refused without the right token (nothing is
cancelled), then every resting order of the account is cancelled and every bot of the store HALTED; a running
`kalshi auto` takes the halt itself (it cancels its quotes and stays up, HALTED, quoting nothing) until
`kalshi auto resume`.  Screenshots: tests/artifacts/."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal as D

import httpx

from kalshi_trading.auto.state import BotState
from kalshi_trading.models import BookSide, OrderRequest
from kalshi_trading.store import open_store
from tests.e2e.conftest import cent_market, client_for
from tests.e2e.positions import active_cent_markets
from tests.ops.conftest import sim_env
from tests.ops.pages import cli, cli_json, fields, open_page, table

REASON = "kill switch (kalshi dashboard)"


def resting(client, ticker=None):
    return list(client.iter_orders(ticker=ticker, status="resting"))


def press_kill(page, token: str) -> str:
    """Open the dialog (unless open), type `token`, confirm; the dialog's answer."""
    if page.locator("#kill-dialog[open]").count() == 0:
        page.click("#kill-open")
        page.wait_for_selector("#kill-dialog[open]")
    page.fill("#kill-token", token)
    page.evaluate("document.getElementById('kill-result').removeAttribute('data-status')")
    page.click("#kill-confirm")
    page.wait_for_selector("#kill-result[data-status]")
    return page.inner_text("#kill-result")


def test_the_kill_switch_needs_the_token_then_cancels_everything_and_halts_the_bots(sim, tmp_path, page,
                                                                                     dashboards, shoot):
    env = sim_env(sim, tmp_path)
    cent = active_cent_markets(sim)
    t1, t2 = cent[0], cent[1]
    me = client_for(sim.base_url, sim.demo_account)
    for t in (t1, t2):
        me.create_order(OrderRequest(t, BookSide.BID, D(2), D("0.20")))
    store = open_store(f"sqlite://{tmp_path}/data/sim/", env="sim")
    state = BotState(store.bot_state(bot="east"))
    state.put("markets", [t1])
    store.close()
    board = dashboards(env)
    open_page(page, board.url, "orders")
    assert len(table(page, "orders")) == 2

    answer = press_kill(page, "not-the-token")
    assert answer.startswith("refused (403): wrong or missing token: nothing was done")
    assert len(resting(me)) == 2 and cli_json(env, "auto", "status", "--bot", "east")["risk_state"] == "active"
    shoot(page, "refused")
    http = httpx.Client(base_url=board.url)
    assert http.get("/api/kill").status_code == 405  # POST only
    no_confirm = http.post("/api/kill", json={}, headers={"X-Dashboard-Token": board.token})
    assert no_confirm.status_code == 400 and "not confirmed" in no_confirm.json()["error"]
    as_form = http.post("/api/kill", data={"token": board.token, "confirm": "true"})
    assert as_form.status_code == 415  # a cross-site form cannot send JSON
    other_site = http.post("/api/kill", json={"confirm": True, "token": board.token},
                           headers={"Origin": "http://evil.example"})
    assert other_site.status_code == 403
    assert len(resting(me)) == 2

    answer = press_kill(page, board.token)
    assert answer.startswith("done: 2 order(s) cancelled; east: halted"), answer
    shoot(page, "done")
    assert resting(me) == []
    page.click("#kill-back")
    page.wait_for_selector('[data-block="orders"] .empty')  # the page shows it without a reload
    status = cli_json(env, "auto", "status", "--bot", "east")
    assert status["risk_state"] == "halted" and status["risk_reason"] == REASON
    open_page(page, board.url, "bots")
    assert page.inner_text('[data-block="halted-east"]').startswith("bot east is HALTED: " + REASON)
    assert fields(page, "bot-east")["risk"].startswith(f"HALTED: {REASON}")
    shoot(page, "bots-halted")
    assert cli(env, "auto", "resume", "--bot", "east").exit_code == 0
    assert cli_json(env, "auto", "status", "--bot", "east")["risk_state"] == "active"
    http.close()
    me.close()


CONFIG = "loop_interval_ms = 200\nmax_orders_per_minute = 600\nlease_ttl_seconds = 5\n"


def test_a_running_bot_halts_and_stays_halted_until_resumed(sim, tmp_path, page, dashboards, shoot):
    env = sim_env(sim, tmp_path)
    t = cent_market(sim)
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    me = client_for(sim.base_url, sim.demo_account)
    bob.create_order(OrderRequest(t, BookSide.BID, D(50), D("0.40")))
    bob.create_order(OrderRequest(t, BookSide.ASK, D(50), D("0.60")))
    (tmp_path / "bot.toml").write_text(CONFIG)
    bot = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "auto", "--bot", "west", "--markets", t,
                            "--feed", "poll", "--config", str(tmp_path / "bot.toml"), "--duration", "300", "--json"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while len(resting(me, t)) < 2:  # it quotes both sides
            assert bot.poll() is None, bot.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the bot never quoted"
            time.sleep(0.1)
        board = dashboards(env)
        open_page(page, board.url, "bots")
        assert fields(page, "bot-west")["process"].startswith("running")
        answer = press_kill(page, board.token)
        assert "west: halted (running)" in answer and "PROBLEMS" not in answer, answer
        assert resting(me) == []
        assert bot.poll() is None  # halted, not stopped: it stays up, quoting nothing
        status = cli_json(env, "auto", "status", "--bot", "west")
        assert status["running"] and status["risk_state"] == "halted" and status["risk_reason"] == REASON
        assert any(e["kind"] == "cancel_all" and e["message"].startswith("halted") for e in status["events"])
        page.click("#kill-back")
        page.wait_for_selector('[data-block="halted-west"]')
        shoot(page, "running-bot-halted")
        for _ in range(10):  # while it runs HALTED, it sends nothing
            assert resting(me) == [] and bot.poll() is None
            time.sleep(0.2)
    finally:
        if bot.poll() is None:
            bot.send_signal(signal.SIGTERM)
        out, err = bot.communicate(timeout=60)
    assert bot.returncode == 0, err[-3000:]
    assert json.loads(out)["risk_state"] == "halted"  # its own report, and the state it saved on the way out
    assert cli_json(env, "auto", "status", "--bot", "west")["risk_state"] == "halted"
    assert cli(env, "auto", "resume", "--bot", "west").exit_code == 0
    assert cli_json(env, "auto", "status", "--bot", "west")["risk_state"] == "active"
    bob.close()
    me.close()
