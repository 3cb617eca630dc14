"""The control protocol on real runs against the simulator: a bot's loop running in its thread answers /orders,
/positions, /pnl and /status from its own thread (`BotLoop.request`), /halt cancels its resting orders and halts it,
/resume lets it quote again; before the loop exists it says so.  A `kalshi pipeline run --sim` process answers
/status with its last cycle and /halt stops its orders; live_auto, even confirmed, is refused on sim."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from kalshi_trading.auto.types import RiskState
from kalshi_trading.config import VARIABLES
from kalshi_trading.models import BookSide
from kalshi_trading.ops.control.commands import NotNow
from kalshi_trading.ops.control.targets import BotTarget
from kalshi_trading.signals.modes import BotMode
from kalshi_trading.store import open_store
from tests.e2e.conftest import cent_market, order
from tests.e2e.test_auto_e2e import make_run, resting
from tests.e2e.test_telegram_e2e import CHAT, TOKEN, _ask, _control, _reply_to, _wait, world  # noqa: F401


def test_a_running_bot_answers_from_its_own_loop_and_halts_and_resumes(sim, client, bob, executor, tmp_path):
    t = cent_market(sim)
    bob.create_order(order(t, BookSide.BID, "0.40", 50))
    bob.create_order(order(t, BookSide.ASK, "0.60", 50))
    run, loop, feed, state = make_run(tmp_path, client, executor, t, "[defaults]\nquote_size = 2\n")
    target = BotTarget(run, bot="default", env="sim", answer_s=20)
    stop = threading.Event()
    seen: dict = {}

    def phone() -> None:  # another thread, as the Telegram poller is; the loop runs in this test's thread
        try:
            _wait(lambda: len(resting(client, t)) == 2, "the bot quoting")
            seen["orders"], seen["positions"], seen["pnl"] = target.orders(), target.positions(), target.pnl()
            seen["status"] = target.status()
            seen["halt"] = target.halt("chat 42")
            seen["resting_after_halt"] = resting(client, t)
            seen["halted_status"] = target.status()
            seen["saved"] = state.risk_state()["state"]
            seen["resume"] = target.resume("chat 42")
            _wait(lambda: len(resting(client, t)) == 2, "the bot quoting again")
            try:
                target.set_mode(BotMode.LIVE_AUTO, "chat 42")
            except Exception as exc:  # noqa: BLE001 - what the reply would say
                seen["live_auto"] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            seen["error"] = exc
        finally:
            stop.set()

    actor = threading.Thread(target=phone, daemon=True)
    actor.start()
    try:
        run.run(stop, 120)
    finally:
        stop.set()
        actor.join(30)
        run.shutdown("test end")
        state.close()
    assert "error" not in seen, seen.get("error")
    assert seen["orders"].count(t) == 2 and "bid 0.41 x 2" in seen["orders"]
    assert seen["positions"] == "no positions"
    assert seen["pnl"].startswith("realized +0.0000, unrealized +0.0000, fees 0.0000")
    assert "risk ACTIVE" in seen["status"] and t in seen["status"]
    assert seen["halt"] == "HALTED: 2 order(s) cancelled. The bot stays halted until /resume (or kalshi auto resume)."
    assert seen["resting_after_halt"] == [] and seen["saved"] == "halted"  # saved: a restart stays halted
    assert "risk HALTED: halted from Telegram by chat 42" in seen["halted_status"]
    assert seen["resume"] == "risk state halted -> active" and loop.risk.state is RiskState.ACTIVE
    assert "runs on prod" in seen["live_auto"]


def test_before_its_loop_exists_a_bot_says_it_is_starting(sim, client, executor, tmp_path):
    from kalshi_trading.auto.runner import BotRun

    t = cent_market(sim)
    run, loop, feed, state = make_run(tmp_path, client, executor, t, "")
    try:
        fresh = BotRun(run.setup)  # not prepared: no loop yet
        with pytest.raises(NotNow, match="still starting"):
            BotTarget(fresh, bot="default", env="sim").status()
        with pytest.raises(NotNow, match="did not answer"):  # a loop that is not running answers nothing
            BotTarget(run, bot="default", env="sim", answer_s=0.5).orders()
    finally:
        run.shutdown("test end")
        state.close()


def test_a_pipeline_answers_its_last_cycle_and_halts(world, tmp_path):  # noqa: F811
    server, hook, data = world
    root = server.base_url[: -len("/trade-api/v2")]
    _control(server, "POST", "/bots", json={"token": TOKEN, "chats": [CHAT]})
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(KALSHI_ENV="sim", KALSHI_DATA_DIR=str(data), KALSHI_LOG_DIR=str(tmp_path / "logs"),
               KALSHI_TELEGRAM_BOT_TOKEN=TOKEN, KALSHI_TELEGRAM_CHAT_ID=str(CHAT),
               KALSHI_TELEGRAM_API_BASE=root + "/ext/telegram")
    pipeline = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "pipeline", "run", "--sim", "--mode", "sim",
                                 "--duration", "240", "--interval", "2"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        store = open_store(f"sqlite://{data / 'sim'}/", env="sim")
        try:
            _wait(lambda: store.signals().cycles(limit=1), "a first cycle", timeout=120)
        finally:
            store.close()
        mark = _ask(server, "/status")
        status = _reply_to(server, "/status", mark)
        assert "pipeline on SIM: bot mode demo_safe, engine sim, risk ACTIVE" in status and "last cycle" in status
        mark = _ask(server, "/halt")
        assert "HALTED: the pipeline places no more orders" in _reply_to(server, "/halt", mark)
        mark = _ask(server, "/mode live_auto")
        _reply_to(server, "/mode", mark)
        mark = _ask(server, "/confirm")
        refused = _reply_to(server, "/confirm", mark)
        assert refused.startswith("/confirm: not done") and "runs on prod" in refused
        mark = _ask(server, "/status")
        assert "risk HALTED" in _reply_to(server, "/status", mark)
    finally:
        pipeline.send_signal(signal.SIGTERM)
        out, err = pipeline.communicate(timeout=120)
    assert pipeline.returncode == 0, err.decode()[-3000:]
