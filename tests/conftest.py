"""Shared fixtures: RSA keys written as PEM files the way Kalshi hands them out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key(path: Path, key, fmt=serialization.PrivateFormat.PKCS8, password: bytes | None = None) -> Path:
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, encryption))
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def key_file(tmp_path, rsa_key) -> Path:
    return write_key(tmp_path / "kalshi.pem", rsa_key)


@pytest.fixture(autouse=True)
def _reset_cli_logging():
    """A CLI run in-process installs file handlers and a level; take them off again so tests stay independent."""
    import logging

    yield
    for name in ("kalshi_trading", "kalshi_trading.trades"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if getattr(handler, "_kalshi", False):
                logger.removeHandler(handler)
                handler.close()
        logger.setLevel(logging.NOTSET)


# --- markers: `pytest -m "not e2e"` is the fast inner loop; CI runs everything ------------------------------------
# A test is end-to-end when it starts a real server (the simulator, over loopback HTTP/WebSocket) or a `kalshi`
# process; the rule lives here so a new test is marked by what it uses, not by remembering a decorator.
SERVER_FIXTURES = frozenset({"sim", "server", "client", "bob", "executor", "portfolio", "alice", "btc"})
E2E_DIRS = ("e2e",)
E2E_MODULES = frozenset({"test_interrupt", "test_menu", "test_readme", "test_sim_discovery", "test_startup",
                         "test_cli", "test_runtime", "test_commands"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        if (SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) or path.parent.name in E2E_DIRS
                or path.stem in E2E_MODULES or path.stem.startswith("test_ws_")):
            item.add_marker(pytest.mark.e2e)


# --- store servers: a backend's tests skip on a machine without its server, never in CI -------------------------
SERVER_SKIP = "store server unavailable:"  # the start of every skip reason for want of PostgreSQL or DynamoDB


def require_store_server(what: str, why: str) -> None:
    """Skip the calling test because `what` (PostgreSQL, DynamoDB) cannot run here (`why`); CI, which sets
    KALSHI_REQUIRE_STORE_SERVERS=1 (`.ci/run`), fails instead: it must run every backend."""
    message = f"{SERVER_SKIP} {what}: {why}"
    if os.environ.get("KALSHI_REQUIRE_STORE_SERVERS") == "1":
        pytest.fail(f"{message} (CI must run this backend's tests)", pytrace=False)
    pytest.skip(message)
