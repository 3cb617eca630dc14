"""The edge taker's demo trades: `kalshi auto --sim --strategy edge --speed 120 --seed 7` for 30 wall seconds (one
simulated hour) sends at least one order, and its report says what it predicted and what each fill made.

Structural, not timing: the simulated clock runs 120x whatever the machine's load, and the assertions are about
what happened within that simulated hour (orders sent, the first one's simulated minute), never about wall time."""

from __future__ import annotations

import json
from decimal import Decimal as D

from typer.testing import CliRunner

from kalshi_trading.cli.main import app


def test_the_seeded_edge_demo_places_orders_within_a_simulated_hour(tmp_path):
    env = {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, ["auto", "--sim", "--strategy", "edge", "--duration", "30", "--speed", "120",
                                      "--seed", "7", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    edge = report["edge"]
    assert report["metrics"]["orders_placed"] >= edge["orders"] >= 1
    assert 0 <= edge["minutes_to_first_order"] <= 60
    assert edge["orders_filled"] <= edge["orders"] and len(edge["rows"]) == edge["fills"]
    for row in edge["rows"]:  # every fill carries the model's value at entry and its predicted edge after fees
        assert D(row["predicted_per_contract"]) == _per_contract(row, D(row["model_value"]))
        if row["value"] is not None:
            assert D(row["realized_per_contract"]) == _per_contract(row, D(row["value"]))


def _per_contract(row: dict, value: D) -> D:
    price, fee_each = D(row["price"]), D(row["fee"]) / D(row["count"])
    gross = value - price if row["side"] == "bid" else price - value
    return (gross - fee_each).quantize(D("0.0001"))
