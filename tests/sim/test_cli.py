"""`kalshi sim ...` commands through Typer's runner (in-process) and one real `serve` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests
from typer.testing import CliRunner

from kalshi_trading.cli.sim_commands import app, parse_duration

runner = CliRunner()


def _run(tmp_path, *args):
    """`kalshi sim ...` through the root app, whose top level turns errors into the documented exit codes."""
    from kalshi_trading.cli.main import app as root

    env = {"KALSHI_DATA_DIR": str(tmp_path), "KALSHI_ENV": "sim", "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "KALSHI_API_BASE": None}
    return runner.invoke(root, ["sim", *args], env=env)


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
                                          ("45", 45)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_status_reset_advance_settle(tmp_path):
    r = _run(tmp_path, "status", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["exists"] is False
    r = _run(tmp_path, "reset", "--balance", "500", "--yes")
    assert r.exit_code == 0, r.output
    info = json.loads(_run(tmp_path, "status", "--json").stdout)
    assert info["exists"] and info["demo_cash_dollars"] == "500"
    assert (tmp_path / "sim" / "exchange.db").exists()
    assert _run(tmp_path, "advance", "2h").exit_code == 0
    bad = _run(tmp_path, "advance", "soon")
    assert bad.exit_code == 2 and "bad duration" in bad.output
    missing = _run(tmp_path, "settle", "NOPE-1", "yes", "--yes")
    assert missing.exit_code == 4 and "Traceback" not in missing.output
    assert _run(tmp_path, "settle", "X", "maybe", "--yes").exit_code == 2
    ticker = next(t for t in _tickers(tmp_path) if t.startswith("KXRAINNYC"))
    ok = _run(tmp_path, "settle", ticker, "yes", "--yes")
    assert ok.exit_code == 0 and "settled yes" in ok.output
    assert _run(tmp_path, "status").exit_code == 0


def _tickers(tmp_path):
    from kalshi_trading.sim.store import Store

    st = Store(tmp_path / "sim")
    try:
        return [m["ticker"] for m in json.loads(st.read()["markets"]) if m["status"] == "active"]
    finally:
        st.close()


def test_data_dir_from_ctx_obj(tmp_path):
    r = runner.invoke(app, ["status", "--json"], obj={"data_dir": str(tmp_path / "x")})
    assert json.loads(r.stdout)["data_dir"] == str(tmp_path / "x" / "sim")


def test_help_has_examples():
    for cmd in ("serve", "status", "reset", "advance", "settle"):
        out = runner.invoke(app, [cmd, "--help"]).output
        assert "Example" in out, cmd


def test_serve_process_prints_url_and_stops_cleanly(tmp_path):
    code = "from kalshi_trading.cli.sim_commands import app; app()"
    env = {**os.environ, "KALSHI_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[0].split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/trade-api/v2")
        assert requests.get(url + "/exchange/status", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
