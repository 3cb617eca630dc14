"""The SQLite signal store's file safety: another program's database, a newer version, a non-database are refused
and left untouched."""

from __future__ import annotations

import sqlite3

import pytest

from kalshi_trading.errors import StorageError
from kalshi_trading.store.sqlite.signals import SCHEMA_VERSION, SqliteSignalStore


def _bytes(path):
    return path.read_bytes()


def test_a_text_file_is_refused_untouched(tmp_path):
    path = tmp_path / "signals.sqlite"
    path.write_text("not a database at all, but long enough to have a header " * 4)
    before = _bytes(path)
    with pytest.raises(StorageError, match="not a SQLite database"):
        SqliteSignalStore.open(path)
    assert _bytes(path) == before


def test_another_programs_database_is_refused_untouched(tmp_path):
    path = tmp_path / "signals.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE theirs (x)")
    conn.commit()
    conn.close()
    before = _bytes(path)
    with pytest.raises(StorageError, match="another program"):
        SqliteSignalStore.open(path)
    assert _bytes(path) == before


def test_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "signals.sqlite"
    SqliteSignalStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = _bytes(path)
    with pytest.raises(StorageError, match="newer than this program"):
        SqliteSignalStore.open(path)
    assert _bytes(path) == before


def test_a_directory_in_its_place_is_refused(tmp_path):
    (tmp_path / "signals.sqlite").mkdir()
    with pytest.raises(StorageError, match="not a regular file"):
        SqliteSignalStore.open(tmp_path / "signals.sqlite")
