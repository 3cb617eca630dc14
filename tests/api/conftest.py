"""Fixtures for driving the real CLI against a misbehaving server in front of the real simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.runtime import start_embedded
from tests.api.badserver import BadServer
from tests.e2e.conftest import T0, cent_market

UNKNOWN_ORDER = "0f8e2c4a-1b2c-4d3e-8f9a-0b1c2d3e4f00"  # well formed, on no exchange


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """The real simulator, one per test module here (tests only add orders; faults live in the BadServer)."""
    clock = ManualClock(T0)
    server = start_embedded(tmp_path_factory.mktemp("sim"), seed=11, participants=False, clock=clock)
    server.clock = clock
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bad(sim):
    """A BadServer forwarding to the simulator until a test installs faults."""
    server = BadServer(upstream=sim.base_url)
    yield server
    server.stop()


@pytest.fixture
def ticker(sim):
    return cent_market(sim)


def cli_env(server: BadServer, sim, home: Path, **extra: str) -> dict[str, str]:
    """A demo-environment user whose exchange is `server` (the simulator's demo key signs the requests)."""
    account = sim.demo_account
    return {
        "KALSHI_ENV": "demo", "KALSHI_API_BASE": server.base_url, "KALSHI_API_KEY_ID": account.key_id,
        "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path), "KALSHI_DATA_DIR": str(home / "data"),
        "KALSHI_LOG_DIR": str(home / "logs"), "HOME": str(home), "NO_COLOR": "1", **extra,
    }


def assert_one_line_failure(exit_code: int, stderr: str, output: str, code: int) -> str:
    """The documented exit code, one `error:` line on stderr, no traceback, nothing 'unexpected'."""
    assert exit_code == code, output + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in output + stderr and "unexpected error" not in output + stderr
    return lines[0]
