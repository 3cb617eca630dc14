"""The mechanics of `bench/bench_skill.py` at CI size (a few markets; not a measure of skill): the seeded run
evaluates both families, lets them settle, and `kalshi paper report --calibration` scores every family with its
10-bin table; the same seed gives the same table."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kalshi_trading.sim import history

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_skill.py"
START = datetime(2026, 3, 2, tzinfo=timezone.utc)


def bench():
    spec = importlib.util.spec_from_file_location("bench_skill", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def sections(report: str) -> dict[str, str]:
    parts = re.split(r"\ncalibration, ", report)
    return {part.split(":", 1)[0]: part for part in parts[1:]}


@pytest.mark.timeout(300)
def test_a_small_seeded_run_scores_both_families_and_replays_exactly(tmp_path):
    kept = history.HISTORY_KEEP_MS
    first = bench().run_bench(3, 7, 2, START, tmp_path / "a")
    assert history.HISTORY_KEEP_MS == kept  # the bench gives the simulator's setting back
    assert (first.weather_markets, first.btc_markets) == (7, 2) and first.cycles > 2 * 9
    found = sections(first.report)
    assert set(found) == {"all families", "weather", "btc15m"}
    for name, text in found.items():
        settled = int(re.search(r"on (\d+) market", text).group(1))
        assert settled == {"all families": 9, "weather": 7, "btc15m": 2}[name]  # every market settled and scored
        assert re.search(r"Brier\s+0\.\d{4}\s+0\.\d{4}", text) and re.search(r"log loss\s+\d\.\d{4}\s+\d\.\d{4}", text)
        assert len(re.findall(r"^\d\.\d-\d\.\d ", text, re.M)) == 10
    assert "attempts" in first.report and "P&L settled" in first.report

    again = bench().run_bench(3, 7, 2, START, tmp_path / "b")
    assert again.report == first.report  # replayable: the seed and the start fix every number
