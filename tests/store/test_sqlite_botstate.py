"""The SQLite bot state: its file (`bot.sqlite` beside the journal, WAL) and the files it refuses, untouched.

What every adapter must do is in test_botstate_contract.py; the schema-1 upgrade and a newer file's refusal are in
tests/auto/test_state.py (with the service that reads them)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
import sqlite3

import pytest

from kalshi_trading.errors import JournalError
from kalshi_trading.store import open_store


def bot_state(directory):
    return open_store(f"sqlite://{directory}/", env="sim").bot_state()


def test_the_file_is_bot_sqlite_in_the_store_directory_in_wal_mode(tmp_path):
    state = bot_state(tmp_path / "store")
    state.put("bot_id", "ab12cd34")
    assert state.location == str(tmp_path / "store" / "bot.sqlite")
    state.close()
    conn = sqlite3.connect(tmp_path / "store" / "bot.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM kv WHERE key = 'bot_id'").fetchone() == ('"ab12cd34"',)
    conn.close()


@pytest.mark.parametrize("content", [os.urandom(4096), b"hello, not a database\n" * 10])
def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path, content):
    path = tmp_path / "bot.sqlite"
    path.write_bytes(content)
    with pytest.raises(JournalError, match="bot state file is unusable") as info:
        bot_state(tmp_path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content


def test_a_dangling_link_is_refused_and_nothing_is_made_where_it_points(tmp_path):
    target = tmp_path / "elsewhere" / "bot.sqlite"
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "bot.sqlite").symlink_to(target)
    with pytest.raises(JournalError, match="symbolic link"):
        bot_state(tmp_path / "store")
    assert not target.parent.exists()


def test_a_store_directory_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "store").write_text("a file")
    with pytest.raises(JournalError, match="is a file, not a directory"):
        bot_state(tmp_path / "store")
    assert (tmp_path / "store").read_text() == "a file"


def test_the_state_and_the_journal_close_with_the_store(tmp_path):
    store = open_store(f"sqlite://{tmp_path}/", env="sim")
    state, journal = store.bot_state(), store.journal()
    state.log_decision(datetime.now(timezone.utc), "KXA", {}, [], [])
    store.close()
    with pytest.raises(JournalError, match="closed"):
        state.get("x")
    again = open_store(f"sqlite://{tmp_path}/", env="sim")
    assert len(again.bot_state().decisions()) == 1 and journal is not again.journal()
    again.close()
