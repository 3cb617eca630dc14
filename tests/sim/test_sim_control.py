"""`kalshi sim status|advance|settle|reset` while `kalshi sim serve` runs: each a process of its own, sent to the
running server through its control routes; effects checked through the API of the same server."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import requests

from kalshi_trading.sim.runtime import demo_account
from tests.sim.conftest import Signed

CLI = [sys.executable, "-m", "kalshi_trading"]


class Served:
    """A `kalshi sim serve --port 0` process on a data dir, and its demo account (read from the files: the
    server prints the key masked)."""

    def __init__(self, data_dir: Path, *extra: str):
        self.data_dir = data_dir
        self.env = {**os.environ, "KALSHI_DATA_DIR": str(data_dir)}
        self.proc = subprocess.Popen([*CLI, "sim", "serve", "--port", "0", *extra], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [self.proc.stdout.readline() for _ in range(4)]
        assert lines[-1].startswith("serving"), lines + [self.proc.stderr.read()]
        self.url = lines[0].split()[-1]
        self.alice = self.demo()
        self.server_file = data_dir / "sim" / "server.json"

    def demo(self) -> Signed:
        account = demo_account(self.data_dir / "sim")
        return Signed(self.url, account.key_id, account.private_key_path)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, "sim", *args], env=self.env, capture_output=True, text=True, timeout=120,
                              check=False)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode


@pytest.fixture
def served(tmp_path):
    srv = Served(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


def _sim_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _open_market(served, series: str) -> str:
    markets = served.alice.get("/markets", params={"status": "open", "series_ticker": series}).json()["markets"]
    return markets[0]["ticker"]


def test_status_comes_from_the_running_server(served):
    r = served.cli("status", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["exists"] and info["served_at"] == served.url and info["demo_cash_dollars"] == "1000"
    assert served.cli("status").returncode == 0


def test_advance_moves_the_served_clock(served):
    before = _sim_ms(json.loads(served.cli("status", "--json").stdout)["sim_time"])
    r = served.cli("advance", "2h")
    assert r.returncode == 0, r.stderr
    assert "settled" in r.stdout
    after = _sim_ms(json.loads(served.cli("status", "--json").stdout)["sim_time"])
    assert after - before >= 2 * 3600 * 1000
    # the API of the same server agrees: the hourly events listed then are due two hours later
    stamp = served.alice.get("/exchange/user_data_timestamp").json()["as_of_time"]
    assert _sim_ms(stamp) >= before + 2 * 3600 * 1000
    assert served.cli("advance", "soon").returncode == 2


def test_settle_reaches_the_served_market_and_the_account(served):
    ticker = _open_market(served, "KXRAINNYC")
    ask = served.alice.get(f"/markets/{ticker}").json()["market"]["yes_ask_dollars"]
    served.alice.post("/portfolio/events/orders", json={
        "ticker": ticker, "side": "bid", "price": ask, "count": "1", "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross"})
    r = served.cli("settle", ticker, "yes", "--yes")
    assert r.returncode == 0, r.stderr
    assert "settled yes" in r.stdout
    market = served.alice.get(f"/markets/{ticker}").json()["market"]
    assert market["status"] == "finalized" and market["result"] == "yes"
    settlements = served.alice.get("/portfolio/settlements", params={"ticker": ticker}).json()["settlements"]
    assert [s["market_result"] for s in settlements] == ["yes"]
    again = served.cli("settle", ticker, "no", "--yes")
    assert again.returncode in (2, 4) and "already settled" in again.stderr  # refused as in-process (no traceback)
    missing = served.cli("settle", "NOPE-1", "yes", "--yes")
    assert missing.returncode == 4 and "Traceback" not in missing.stderr
    assert served.cli("settle", ticker, "maybe", "--yes").returncode == 2


def test_reset_swaps_the_served_exchange(served):
    old = served.alice
    old_key_file = demo_account(served.data_dir / "sim").private_key_path
    assert old.get("/portfolio/balance").status_code == 200
    r = served.cli("reset", "--balance", "500", "--yes")
    assert r.returncode == 0, r.stderr
    assert old.get("/portfolio/balance").status_code == 401  # the old key went with the old exchange
    assert json.loads(served.cli("status", "--json").stdout)["demo_cash_dollars"] == "500"
    fresh = served.demo()
    assert fresh.key_id != old.key_id and not old_key_file.exists()
    assert fresh.get("/portfolio/balance").json()["balance_dollars"] == "500.0000"
    assert fresh.get("/markets", params={"status": "open"}).json()["markets"]  # still serving a live exchange
    assert served.stop() == 0
    # what the server saved on stop is the fresh exchange
    assert demo_account(served.data_dir / "sim").key_id == fresh.key_id


def test_control_routes_need_the_token(served):
    info = json.loads(served.server_file.read_text())
    assert stat.S_IMODE(os.stat(served.server_file).st_mode) == 0o600
    url = f"{served.url}/sim/control/status"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"KALSHI-SIM-CONTROL-TOKEN": "guess"}, timeout=10).status_code == 401
    ok = requests.get(url, headers={"KALSHI-SIM-CONTROL-TOKEN": info["control_token"]}, timeout=10)
    assert ok.status_code == 200 and ok.json()["served_at"] == served.url
    bad = requests.post(f"{served.url}/sim/control/advance", json={"seconds": -5},
                        headers={"KALSHI-SIM-CONTROL-TOKEN": info["control_token"]}, timeout=10)
    assert bad.status_code == 400


def test_without_a_server_the_commands_run_in_process(tmp_path):
    env = {**os.environ, "KALSHI_DATA_DIR": str(tmp_path)}

    def run(*args):
        return subprocess.run([*CLI, "sim", *args], env=env, capture_output=True, text=True, timeout=120, check=False)

    assert run("reset", "--yes").returncode == 0
    assert json.loads(run("status", "--json").stdout).get("served_at") is None
    assert run("advance", "1h").returncode == 0


def test_control_is_exempt_from_injected_faults(tmp_path):
    srv = Served(tmp_path, "--faults", "error_before=1.0")
    try:
        assert requests.get(srv.url + "/exchange/status", timeout=10).status_code == 503
        r = srv.cli("status", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["served_at"] == srv.url
    finally:
        srv.stop()


def test_a_dead_server_file_falls_back_to_in_process(tmp_path):
    srv = Served(tmp_path)
    text = srv.server_file.read_text()
    srv.stop()
    srv.server_file.write_text(text.replace(str(srv.proc.pid), str(os.getpid())))  # a live pid, nobody listening
    r = srv.cli("advance", "1h")
    assert r.returncode == 0, r.stderr
