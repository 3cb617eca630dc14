"""Simulated time between short commands: each `kalshi ...` loads the embedded exchange from disk and saves it on
exit.  Time must never freeze or run backwards across those restarts (issue 10: orders 0.5 s apart shared one
timestamp, out of order, and `history` listed a fill before its order)."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    """The real CLI with the embedded simulator (no KALSHI_API_BASE): every call is a fresh start from disk."""
    monkeypatch.chdir(tmp_path)
    env = {"KALSHI_ENV": "sim", "KALSHI_API_BASE": None, "KALSHI_DATA_DIR": str(tmp_path),
           "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}
    runner = CliRunner()

    def invoke(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return invoke


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _quiet_market(run) -> str:
    """A two-sided market closing last, nearest the middle: a 1¢ YES bid rests there and a 99¢ IOC buy fills."""
    markets = run("markets", "--series", "KXBTCD", "--limit", "100")["markets"]
    two_sided = [m for m in markets if 0 < float(m["yes_bid"]) and 0 < float(m["yes_ask"]) < 0.9]
    assert two_sided, markets
    two_sided.sort(key=lambda m: (_when(m["close_time"]), -abs(float(m["yes_ask"]) - 0.5)))
    return two_sided[-1]["ticker"]


@pytest.mark.parametrize("gap", [0.2, 0.5])
def test_orders_a_moment_apart_get_increasing_times(run, gap):
    ticker = _quiet_market(run)
    placed = []
    for _ in range(4):
        placed.append(run("order", "limit", ticker, "yes", "1", "1", "--yes")["order_id"])
        time.sleep(gap)
    created = {o["order_id"]: _when(o["created_time"]) for o in run("orders")["orders"]}
    times = [created[oid] for oid in placed]
    assert times == sorted(times) and len(set(times)) == len(times), times


def test_a_fill_is_never_listed_before_its_order(run):
    ticker = _quiet_market(run)
    run("order", "limit", ticker, "yes", "1", "1", "--yes")  # a restart between two commands
    time.sleep(0.3)
    taken = run("order", "limit", ticker, "yes", "1", "99", "--tif", "ioc", "--yes")  # crosses: fills as a taker
    assert taken["fill_count"] == "1.00", taken
    time.sleep(0.3)
    entries = run("history", "-n", "50")["entries"]  # newest first
    kinds = [(e["kind"], e["record"].get("order_id")) for e in entries]
    fill_at = next(i for i, (kind, oid) in enumerate(kinds) if kind == "fill" and oid == taken["order_id"])
    intent_at = max(i for i, e in enumerate(entries)
                    if e["kind"] == "order" and e["record"].get("client_order_id") == taken["client_order_id"])
    assert fill_at < intent_at, kinds  # the fill is newer than the intent written before the order was sent
    times = [_when(e["time"]) for e in entries]
    assert times == sorted(times, reverse=True)


def test_simulated_time_moves_on_between_commands(run):
    run("balance")  # a command that starts, uses and saves the exchange
    first = _when(run("sim", "status")["sim_time"])
    time.sleep(0.3)
    run("balance")
    second = _when(run("sim", "status")["sim_time"])
    assert second > first
