"""`kalshi auto --sim` and `kalshi pipeline run --sim` keep their records in a server store (PostgreSQL, DynamoDB)
when KALSHI_STORE names one, and those records are what SQLite holds for the same exchange:

- the bot's trades export equals the export of a SQLite journal synced afterwards from the same simulated exchange
  (the bot's own intents add only their strategy tag);
- the pipeline's signals, paper attempts and status read back the same from the server store as from a SQLite copy
  of it (`kalshi store copy`).

Each backend runs on its real server (a throwaway PostgreSQL cluster, moto's DynamoDB server).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from tests.store import pg_server
from tests.store.dynamo_server import shared_server

pytestmark = pytest.mark.e2e

BACKENDS = {
    "postgresql": lambda: pg_server.fresh_url(),
    "dynamodb": lambda: shared_server().url(),
}


@pytest.fixture(params=sorted(BACKENDS))
def server_store(request) -> str:
    return BACKENDS[request.param]()


@pytest.fixture
def env(server_store, tmp_path, monkeypatch) -> dict:
    """A user with no exchange credentials: every command trades the simulator in `<data dir>/sim` (the server
    store's fixture has set the DynamoDB server's dummy AWS credentials by now)."""
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update({"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
                "NO_COLOR": "1", "HOME": str(tmp_path)})
    return env


def kalshi(env: dict, *args: str, store: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "kalshi_trading", *args], env={**env, "KALSHI_STORE": store},
                            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"kalshi {' '.join(args)}: {result.stderr[-3000:]}"
    return result


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_bots_trades_on_a_server_store_are_what_sqlite_syncs_from_the_same_exchange(env, server_store, tmp_path):
    report = json.loads(kalshi(env, "auto", "--sim", "--duration", "30", "--seed", "5", "--json",
                               store=server_store).stdout)
    assert report["fills"] > 0, report
    assert not (tmp_path / "data" / "sim" / "journal.sqlite").exists()  # nothing went beside the simulator
    lite = f"sqlite://{tmp_path}/lite/"
    kalshi(env, "sync", store=lite)
    kalshi(env, "export-trades", str(tmp_path / "server.csv"), store=server_store)
    kalshi(env, "export-trades", str(tmp_path / "lite.csv"), store=lite)
    server, synced = rows(tmp_path / "server.csv"), rows(tmp_path / "lite.csv")
    assert len(server) == report["fills"] and {r["strategy"] for r in server} == {"mm"}
    assert [{**r, "strategy": ""} for r in server] == synced
    status = json.loads(kalshi(env, "auto", "status", "--sim", "--json", store=server_store).stdout)
    assert status["env"] == "SIM" and status["markets"] and status["last_fill"] is not None, status  # read back


def test_the_pipelines_records_on_a_server_store_read_back_as_sqlite_holds_them(env, server_store, tmp_path):
    summary = json.loads(kalshi(env, "pipeline", "run", "--sim", "--once", "--json", store=server_store).stdout)
    assert summary["cycles"] == 1
    lite = f"sqlite://{tmp_path}/lite/"
    copied = CliRunner().invoke(app, ["store", "copy", "--from", server_store, "--to", lite, "--env", "sim"],
                                env={**env, "KALSHI_STORE": None})
    assert copied.exit_code == 0, copied.output
    for command in (["signals", "--json"], ["paper", "orders", "--json"], ["paper", "report", "--json"],
                    ["pipeline", "status", "--json"]):
        on_server = json.loads(kalshi(env, *command, store=server_store).stdout)
        on_sqlite = json.loads(kalshi(env, *command, store=lite).stdout)
        # the open fills' P&L is marked at the simulator's book as each command reads it, and its world moves
        # between the two reads: the stored records are what must agree, and the marked P&L is in both
        if command[:2] == ["paper", "report"]:
            assert on_server.pop("pnl_marked") is not None and on_sqlite.pop("pnl_marked") is not None
        assert on_server == on_sqlite, command
    signals = json.loads(kalshi(env, "signals", "--json", store=server_store).stdout)["signals"]
    assert signals, "the cycle recorded no signal"
