"""The embedded simulator's own database that cannot be used is exit 3 naming the simulator's directory, never an
unexpected error, and is left as it was (the simulator turns its SQLite failures into StorageError itself: the CLI
imports no database driver)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app


def _garbage(db):
    db.write_bytes(os.urandom(4096))


def _directory(db):
    db.mkdir()


def _text(db):
    db.write_text("not a database\n" * 50)


@pytest.mark.parametrize("damage", [_garbage, _directory, _text], ids=["random bytes", "a directory", "text"])
@pytest.mark.parametrize("command", [["balance"], ["orders"]])
def test_an_unusable_simulator_database_is_exit_3(tmp_path, damage, command):
    sim = tmp_path / "data" / "sim"
    sim.mkdir(parents=True)
    db = sim / "exchange.db"
    damage(db)
    before = db.read_bytes() if db.is_file() else None
    env = {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "KALSHI_STORE": None,
           "NO_COLOR": "1", "HOME": str(tmp_path)}
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 3, result.output
    assert "cannot use the simulator's directory" in result.output and str(sim) in result.output, result.output
    assert "unexpected" not in result.output.lower() and "Traceback" not in result.output
    assert (db.read_bytes() if db.is_file() else None) == before
