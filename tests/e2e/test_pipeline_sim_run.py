"""The issue's "done means", as a user runs it: `kalshi pipeline run --sim` on a fresh data directory with no
network (every outside source is the simulator's loopback copy; a dead proxy catches anything that would leave
the machine), paper orders in `simulate` mode, real orders on the simulator in `--mode sim`, then the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens: a request that is not to loopback fails at once


@pytest.fixture
def kalshi(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "HOME": str(tmp_path),
           "KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1",
           "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "http_proxy": DEAD_PROXY, "https_proxy": DEAD_PROXY,
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def run(*args: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "kalshi_trading", *args, "--json"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=100)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        return json.loads(done.stdout)

    return run


@pytest.mark.timeout(240)
def test_pipeline_run_sim_on_a_fresh_machine_trades_paper_then_real_and_reports(kalshi):
    fast = ("--duration", "8", "--speed", "30", "--interval", "1", "--seed", "7", "--profile", "aggressive")
    paper = kalshi("pipeline", "run", "--sim", *fast)
    assert paper["mode"] == "simulate" and paper["cycles"] >= 3 and paper["failed_cycles"] == 0
    assert paper["signals"] > 0 and paper["attempts"] > 0

    signals = kalshi("signals", "--limit", "0")["signals"]
    assert {s["family"] for s in signals} == {"weather", "btc15m", "btcd"}
    assert {s["model"] for s in signals} == {"weather-ensemble-kde", "btc15m-asian-digital", "btcd-black-scholes"}
    weather = [s for s in signals if s["family"] == "weather"]
    assert all(dict(s["inputs"])["models"] == "ecmwf_ifs025_ensemble,ncep_gefs_seamless" for s in weather)

    status = kalshi("pipeline", "status")
    assert status["running"] is False and len(status["health"]) == 8
    assert not [h for h in status["health"] if "network error" in (h["reason"] or "")]  # nothing left loopback

    real = kalshi("pipeline", "run", "--sim", "--mode", "sim", *fast)
    assert real["mode"] == "sim" and real["attempts"] > 0
    attempts = kalshi("paper", "orders")["attempts"]
    assert {a["mode"] for a in attempts} == {"simulate", "sim"}
    sent = [a for a in attempts if a["mode"] == "sim" and a["order_id"]]
    assert sent, "no order reached the simulator"

    report = kalshi("paper", "report")
    assert sum(report["by_outcome"].values()) == len(attempts)
    assert report["fills"] == sum(1 for a in attempts if a["outcome"] == "filled")
