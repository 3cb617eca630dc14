"""`kalshi sim ...` commands through Typer's runner (in-process) and one real `serve` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pty_keys import press_ctrl_c
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


# ---- issue 10 items 12 and 14: numbers with ranges, declined confirmations, Ctrl-C -------------------------------

def _status(tmp_path) -> dict:
    result = _run(tmp_path, "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _refused(result) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "unexpected error" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("balance", ["1e400", "-5", "\u0665", "1_000", "1000000000.01", "0.00001", "nan", "inf",
                                     "1e3", "99999999999999999999"])
def test_reset_balance_outside_the_grammar_or_range_changes_nothing(tmp_path, balance):
    assert _run(tmp_path, "reset", "--balance", "500", "--yes").exit_code == 0
    before = _status(tmp_path)
    _refused(_run(tmp_path, "reset", "--balance", balance, "--yes"))
    after = _status(tmp_path)
    assert (after["demo_key_id"], after["demo_cash_dollars"]) == (before["demo_key_id"], "500")


@pytest.mark.parametrize("args", [["--speed", "nan"], ["--speed", "inf"], ["--speed", "-1"], ["--speed", "0"],
                                  ["--speed", "1e2"], ["--speed", "1001"], ["--port", "70000"], ["--port", "-1"],
                                  ["--seed", "-1"], ["--seed", "\u0663"], ["--balance", "1e400"]])
def test_serve_numbers_are_checked_before_anything_starts(tmp_path, args):
    _refused(_run(tmp_path, "serve", "--port", "0", *args))
    assert not (tmp_path / "sim" / "server.json").exists() and not (tmp_path / "sim" / "exchange.db").exists()


@pytest.mark.parametrize("duration", ["99999999999999999999d", "3651d", "nan", "\u0663d", "1e3s", "0s", "inf",
                                      "87600h1s", "9" * 400])
def test_advance_beyond_the_horizon_is_refused_and_the_simulator_stays_usable(tmp_path, duration):
    assert _run(tmp_path, "reset", "--yes").exit_code == 0
    before = _status(tmp_path)["sim_time"]
    _refused(_run(tmp_path, "advance", duration))
    assert _status(tmp_path)["sim_time"][:10] == before[:10]  # the same day: nothing jumped
    assert _run(tmp_path, "advance", "1h").exit_code == 0


def test_ten_years_is_the_horizon_and_the_simulator_works_there(tmp_path):
    assert _run(tmp_path, "reset", "--yes").exit_code == 0
    assert _run(tmp_path, "advance", "3650d").exit_code == 0, "the documented maximum is accepted"
    _refused(_run(tmp_path, "advance", "1d"))  # simulated time may not run more than 10 years ahead of today
    info = _status(tmp_path)
    assert info["markets"].get("active", 0) > 0  # markets are listed ten years on
    assert _run(tmp_path, "advance", "1s").exit_code == 2  # still refused; nothing broke in between
    from kalshi_trading.cli.main import app as root

    env = {"KALSHI_DATA_DIR": str(tmp_path), "KALSHI_ENV": "sim", "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "KALSHI_API_BASE": None}
    markets = runner.invoke(root, ["markets", "--json"], env=env)
    assert markets.exit_code == 0 and json.loads(markets.stdout)["markets"], markets.output


def test_declined_reset_and_settle_exit_0_and_change_nothing(tmp_path):
    assert _run(tmp_path, "reset", "--balance", "700", "--yes").exit_code == 0
    before = _status(tmp_path)
    for answer in ("n\n", "\n", "no\n", "maybe\nN\n"):
        declined = _run_with_input(tmp_path, answer, "reset", "--balance", "5")
        assert declined.exit_code == 0 and "not reset" in declined.output, declined.output
    after = _status(tmp_path)
    assert (after["demo_key_id"], after["demo_cash_dollars"]) == (before["demo_key_id"], "700")
    ticker = _tickers(tmp_path)[0]
    declined = _run_with_input(tmp_path, "n\n", "settle", ticker, "yes")
    assert declined.exit_code == 0 and "not settled" in declined.output
    assert ticker in _tickers(tmp_path)  # still active


def test_no_answer_at_the_confirmation_is_a_refusal(tmp_path):
    assert _run(tmp_path, "reset", "--yes").exit_code == 0
    before = _status(tmp_path)
    _refused(_run_with_input(tmp_path, "", "reset"))
    assert _status(tmp_path)["demo_key_id"] == before["demo_key_id"]


def test_settle_errors_map_to_rejected(tmp_path):
    assert _run(tmp_path, "reset", "--yes").exit_code == 0
    ticker = _tickers(tmp_path)[0]
    assert _run(tmp_path, "settle", ticker, "no", "--yes").exit_code == 0
    again = _run(tmp_path, "settle", ticker, "yes", "--yes")
    assert again.exit_code == 4 and "already settled" in again.output


@pytest.mark.parametrize("command", [["reset"], ["settle", "TICKER", "yes"]])
def test_ctrl_c_at_the_confirmation_exits_130_and_changes_nothing(tmp_path, command):
    pexpect = pytest.importorskip("pexpect")
    assert _run(tmp_path, "reset", "--yes").exit_code == 0
    before = _status(tmp_path)
    command = [_tickers(tmp_path)[0] if part == "TICKER" else part for part in command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_DATA_DIR=str(tmp_path), KALSHI_LOG_DIR=str(tmp_path / "logs"), NO_COLOR="1", TERM="dumb")
    child = pexpect.spawn(sys.executable, ["-m", "kalshi_trading", "sim", *command], env=env, encoding="utf-8",
                          timeout=30)
    try:
        child.expect_exact("[y/N]: ")
        press_ctrl_c(child)
        child.expect(pexpect.EOF, timeout=60)
        status = child.wait()  # not close(): under load the process may still be tearing down, and close kills it
        assert status == 130, (status, child.signalstatus, child.before)
        assert "Traceback" not in child.before
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert _status(tmp_path)["demo_key_id"] == before["demo_key_id"]
    if command[0] == "settle":
        assert command[1] in _tickers(tmp_path)  # still active


def test_key_id_is_never_printed_whole(tmp_path):
    reset = _run(tmp_path, "reset", "--yes")
    key_id = _status_raw(tmp_path)["demo_key_id"]
    for result in (reset, _run(tmp_path, "status"), _run(tmp_path, "status", "--json")):
        assert result.exit_code == 0 and key_id not in result.output and key_id[-4:] in result.output


def _status_raw(tmp_path) -> dict:
    from kalshi_trading.sim.runtime import sim_status

    return sim_status(tmp_path)


def _run_with_input(tmp_path, text, *args):
    from kalshi_trading.cli.main import app as root

    env = {"KALSHI_DATA_DIR": str(tmp_path), "KALSHI_ENV": "sim", "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "KALSHI_API_BASE": None}
    return runner.invoke(root, ["sim", *args], env=env, input=text)


@pytest.mark.parametrize("show", [False, True])
def test_serve_masks_the_key_unless_asked_and_the_shown_key_signs(tmp_path, show):
    """Masked by default; `--show-key` prints a key id and a key file another client can really use."""
    code = "from kalshi_trading.cli.sim_commands import app; app()"
    env = {**os.environ, "KALSHI_DATA_DIR": str(tmp_path)}
    args = [sys.executable, "-c", code, "serve", "--port", "0"] + (["--show-key"] if show else [])
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[0].split()[-1]
        key_id = lines[1].split(":", 1)[1].strip()
        key_path = Path(lines[2].split(":", 1)[1].strip())
        real_key = next((tmp_path / "sim" / "keys").glob("*.pem"))
        if not show:
            assert "…" in key_id and not key_path.exists() and real_key.stem.split("-", 1)[1] not in "".join(lines)
        else:
            assert key_path == real_key and key_id in real_key.name
            from kalshi_trading.api.client import KalshiClient
            from kalshi_trading.config import load_private_key
            with KalshiClient.build(url, key_id, load_private_key(key_path), env="sim", rate_tier=None) as client:
                assert client.get_balance().balance > 0  # a signed request with what was printed
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
