"""The kill switch's halt in a bot's state: HALTED with the switch's reason (a stopped bot then refuses to start),
a request for a running bot's loop, a pending resume withdrawn; `kalshi auto resume` lifts both."""

from __future__ import annotations

from datetime import datetime, timezone

from typer.testing import CliRunner

from kalshi_trading.auto.botconfig import BotConfig
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.state import BotState
from kalshi_trading.cli.main import app
from kalshi_trading.ops.killswitch import HALT_REQUEST, request_halt
from kalshi_trading.store import open_store

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def test_request_halt_then_resume(tmp_path):
    store = open_store(f"sqlite://{tmp_path}/sim/", env="sim")
    try:
        state = BotState(store.bot_state(bot="east"))
        state.put("resume_request", "2026-11-30T11:59:00+00:00")
        assert request_halt(state, "kill switch (test)", NOW, running=True) == "active"
        assert state.risk_state()["state"] == "halted" and state.risk_state()["reason"] == "kill switch (test)"
        assert state.get(HALT_REQUEST) == {"at": NOW.isoformat(), "reason": "kill switch (test)"}
        assert state.get("resume_request") is None
        assert state.events(5)[-1]["kind"] == "kill"
        risk = RiskEngine(BotConfig.default(), lambda: NOW)
        risk.from_state(state.risk_state())
        assert risk.state.value == "halted"  # a bot started now refuses to trade (BotRun.prepare)
        assert request_halt(state, "again", NOW, running=False) == "halted"
        state.put("risk", {"garbage": True})
        assert request_halt(state, "unreadable", NOW, running=False) == "unreadable"
        assert state.risk_state()["state"] == "halted"
    finally:
        store.close()
    env = {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(tmp_path), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "KALSHI_STORE": None,
           "NO_COLOR": "1"}
    result = CliRunner().invoke(app, ["auto", "resume", "--bot", "east"], env=env)
    assert result.exit_code == 0 and "halted -> active" in result.stdout, result.output
    store = open_store(f"sqlite://{tmp_path}/sim/", env="sim")
    try:
        state = BotState(store.bot_state(bot="east"))
        assert state.risk_state()["state"] == "active" and state.get(HALT_REQUEST) is None
    finally:
        store.close()
