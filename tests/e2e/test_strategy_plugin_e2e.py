"""A strategy of one's own through `kalshi auto --sim`, against the embedded simulator: bad specs refused before
any order, and a strategy that raises while deciding stopped safely (its orders cancelled, the traceback in
errors.log, the bot HALTED with the reason, exit 5, the journal's write path complete)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.store import open_store
from tests.auto.states import open_state

P = "tests.auto.plugin_strategies"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the resolver may add the current directory: undone after
    monkeypatch.delitem(sys.modules, "my_join", raising=False)
    return {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
            "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "NO_COLOR": "1"}


def kalshi(env, *args):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize("spec, placed_first", [(f"{P}:RaisesOnNth", True), (f"{P}:AnswersGarbage", False)])
def test_a_strategy_that_fails_while_deciding_is_stopped_safely(env, tmp_path, spec, placed_first):
    result = kalshi(env, "auto", "--sim", "--strategy", spec, "--duration", "20", "--seed", "3", "--json")
    assert result.exit_code == 5, result.output
    assert "The bot cancelled its orders and is HALTED" in result.stderr and "errors.log" in result.stderr
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["risk_state"] == "halted" and "raised" in report["risk_reason"]
    assert (report["metrics"]["orders_placed"] > 0) is placed_first  # RaisesOnNth was quoting when it failed
    errors = (tmp_path / "logs" / "errors.log").read_text()
    assert "Traceback (most recent call last)" in errors
    assert ("ZeroDivisionError" if placed_first else "StrategyAnswerError") in errors

    sim_dir = tmp_path / "data" / "sim"
    with open_state(sim_dir) as state:
        assert state.risk_state()["state"] == "halted"
        assert state.known_orders() == []
        halts = [e for e in state.events(50) if e["kind"] == "cancel_all" and e["message"].startswith("halted")]
        assert halts, state.events(50)
        if placed_first:
            assert not halts[0]["message"].startswith("halted: 0 ")  # its resting quotes were cancelled
    orders = kalshi(env, "orders", "--json")
    assert orders.exit_code == 0, orders.output
    assert json.loads(orders.stdout)["orders"] == []  # nothing left resting on the exchange
    store = open_store(f"sqlite://{sim_dir}/", env="sim")
    try:
        assert store.journal().pending_intents() == []  # every write of the bot completed (intent + outcome)
    finally:
        store.close()

    again = kalshi(env, "auto", "--sim", "--duration", "2")
    assert again.exit_code == 5 and "HALTED" in again.stderr and "kalshi auto resume" in again.stderr
    assert kalshi(env, "auto", "resume", "--sim").exit_code == 0


@pytest.mark.parametrize("spec, message", [
    ("signals", "kalshi pipeline run"),
    ("nonesuch", "no such strategy"),
    ("no_such_module_xyz:Thing", "no module named 'no_such_module_xyz'"),
    (f"{P}:Nope", "has no 'Nope'"),
    (f"{P}:NoTargets", "is not a strategy"),
    (f"{P}:RaisesInInit", "constructing RaisesInInit failed: RuntimeError"),
    ("tests.auto.plugin_broken_import:X", "importing tests.auto.plugin_broken_import failed"),
])
def test_a_bad_strategy_spec_is_a_usage_error_naming_it(env, tmp_path, spec, message):
    result = kalshi(env, "auto", "--sim", "--strategy", spec, "--duration", "5")
    assert result.exit_code == 2, result.output
    assert f"--strategy {spec!r}" in result.stderr and message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "data" / "sim" / "bot.sqlite").exists() or _no_orders(tmp_path)


def _no_orders(tmp_path) -> bool:
    with open_state(tmp_path / "data" / "sim") as state:
        return state.known_orders() == [] and not state.fills()


def test_a_strategy_module_in_the_current_directory_trades(env, tmp_path):
    (tmp_path / "my_join.py").write_text(
        "from kalshi_trading.auto.types import TargetOrder\nfrom kalshi_trading.models import BookSide\n\n\n"
        "class Join:\n    name = 'my-join'\n\n    def targets(self, event, snapshot):\n"
        "        b = snapshot.book\n        if b.stale or b.best_bid is None:\n            return []\n"
        "        return [TargetOrder(snapshot.ticker, BookSide.BID, b.best_bid, snapshot.config.quote_size, 'j')]\n")
    result = kalshi(env, "auto", "--sim", "--strategy", "my_join:Join", "--duration", "3", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["strategy"] == "my-join" and report["metrics"]["orders_placed"] >= 1
    D(report["net_pnl"])
