"""`kalshi auto --sim` (the market maker against the real simulator over HTTP and WebSocket), seeded: the run's
report shows no churn.  Structural properties only (counts and their ratios), never timings."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.auto.states import open_state
from kalshi_trading.cli.main import app


def run_demo(tmp_path, *args: str) -> dict:
    env = {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": ""}
    result = CliRunner().invoke(app, ["auto", "--sim", "--json", "--feed", "ws", *args], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{"):])


def test_seeded_demo_quotes_without_churn(tmp_path):
    # the issue's own run: 60 s at x60 (3,600 simulated seconds); a shorter one has too few fills (a handful in some
    # half hours) for a ratio per fill to mean anything
    doc = run_demo(tmp_path, "--duration", "60", "--seed", "5")
    m = doc["metrics"]
    placements = m["orders_placed"]
    assert placements > 0
    # Exchange rejections under 2% of placements, and one more: the feed brings a maker's re-quote a moment after
    # the exchange made it, so an order sent in that moment can meet it; the seeded runs of bench/bench_mm.py show
    # the share itself.
    assert m["orders_rejected"] <= 0.02 * placements + 1, m
    actions = m["orders_placed"] + m["orders_amended"] + m["orders_decreased"] + m["orders_cancelled"]
    assert actions == m["order_actions"]
    # at most 10 order actions per fill, with an allowance for the first quotes and the final cancels
    assert actions <= 10 * m["fills"] + 10, m
    assert m["risk_denials_unique"] <= m["risk_denials"]
    for key in ("quote_uptime", "quote_uptime_gate_open", "gate_open_share"):
        assert doc[key] is None or 0 <= doc[key] <= 1
    assert doc["fills"] == m["fills"] and "net_pnl" in doc


def test_rate_limited_orders_are_withheld_and_counted_once(tmp_path):
    """One order a minute: the second quote is denied at once and waits for the window; however many passes it
    stays withheld, it is one withheld order (one denial logged), and the engine is not asked on every pass."""
    config = tmp_path / "bot.toml"
    config.write_text("max_orders_per_minute = 1\nloop_interval_ms = 500\n")
    doc = run_demo(tmp_path, "--duration", "6", "--seed", "5", "--config", str(config))
    m = doc["metrics"]
    assert m["risk_denials_unique"] >= 1
    assert m["risk_denials"] > m["risk_denials_unique"]  # repeated passes over the same withheld orders...
    assert m["rate_limit_waits"] > 0  # ...spent waiting for the window, not asking the engine again
    with open_state(tmp_path / "data" / "sim") as state:
        denied = state.events(1000, kinds=["denied"])
        assert len(denied) == m["risk_denials_unique"]  # one log line per withheld order
        assert all("[rate_limit]" in e["message"] for e in denied)
        passes = [a for d in state.decisions(100_000) for a in d["actions"] if "denied" in a]  # a short run: all
    assert len(passes) == m["risk_denials"]  # the raw count is one per pass withheld
