"""The runtime configuration in SQLite: `runtime.sqlite` beside the journal (implements
`store.runtime.RuntimeConfigStore`).

One row per record (`records`: global or a market, who wrote it, when, at which version) and one row per value
(`record_values`, exact TEXT).  The store's version is a one-row table that triggers on `record_values` raise with
every inserted, changed or deleted value, so even a value written around the program (the sqlite3 shell) shows up
as a new version to the bots polling it.  Writes run in a `BEGIN IMMEDIATE` transaction: the compare-and-set reads
the version and writes under the same lock.  Until the first write there is no file: reads find version 0.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from kalshi_trading.errors import UsageError
from kalshi_trading.store.runtime import (
    RuntimeRecord, RuntimeSnapshot, RuntimeValue, StaleVersion, check_name, text_values,
)
from kalshi_trading.store.sqlite.codec import iso, parse_time
from kalshi_trading.store.sqlite.smallfile import FileKind, SmallFile

GLOBAL, MARKET = "global", "market"

KIND = FileKind("runtime configuration", application_id=0x4B52434E, version=1, schema="""
CREATE TABLE version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);;
INSERT INTO version (id, version) VALUES (1, 0);;
CREATE TABLE records (
    kind TEXT NOT NULL CHECK (kind IN ('global', 'market')), name TEXT NOT NULL, updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (kind, name)
);;
CREATE TABLE record_values (
    kind TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, name, key)
);;
CREATE TRIGGER value_inserted AFTER INSERT ON record_values BEGIN UPDATE version SET version = version + 1; END;;
CREATE TRIGGER value_updated AFTER UPDATE ON record_values BEGIN UPDATE version SET version = version + 1; END;;
CREATE TRIGGER value_deleted AFTER DELETE ON record_values BEGIN UPDATE version SET version = version + 1; END;;
""")  # "KRCN": a kalshi runtime configuration


class SqliteRuntimeConfig:
    """The runtime configuration file of one store directory (opened on the first write, or read if it exists)."""

    def __init__(self, path: Path):
        self.file = SmallFile(path, KIND)

    @property
    def path(self) -> Path:
        return self.file.path

    def version(self) -> int:
        if not self.file.exists:
            return 0
        return int(self.file.run("SELECT version FROM version").fetchone()[0])

    def snapshot(self) -> RuntimeSnapshot:
        if not self.file.exists:
            return RuntimeSnapshot()
        self.file.run("BEGIN")  # one read transaction: one instant of the file
        try:
            version = int(self.file.run("SELECT version FROM version").fetchone()[0])
            records = self.file.run("SELECT kind, name, updated_at, updated_by, version FROM records").fetchall()
            values: dict[tuple[str, str], dict[str, str]] = {}
            for kind, name, key, value in self.file.run("SELECT kind, name, key, value FROM record_values"):
                values.setdefault((kind, name), {})[key] = value
        finally:
            self.file.run("COMMIT")
        found = {(kind, name): RuntimeRecord(values.get((kind, name), {}), parse_time(at), by, int(v))
                 for kind, name, at, by, v in records}
        markets = {name: rec for (kind, name), rec in sorted(found.items()) if kind == MARKET}
        return RuntimeSnapshot(version, found.get((GLOBAL, "")), MappingProxyType(markets))

    def put_market(self, ticker: str, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        return self._put(MARKET, check_name(ticker, "market ticker"), values, updated_by, now, expected_version)

    def put_global(self, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        return self._put(GLOBAL, "", values, updated_by, now, expected_version)

    def delete_market(self, ticker: str, *, expected_version: int | None = None) -> int:
        check_name(ticker, "market ticker")
        if not self.file.exists:
            return self._stale_check(0, expected_version)
        with self.file.transaction():
            before = self._locked_version(expected_version)
            gone = self.file.run("DELETE FROM records WHERE kind = ? AND name = ?", (MARKET, ticker)).rowcount
            self.file.run("DELETE FROM record_values WHERE kind = ? AND name = ?", (MARKET, ticker))
            return self._bump(before) if gone else before

    def _put(self, kind: str, name: str, values: Mapping[str, RuntimeValue], updated_by: str, now: datetime,
             expected_version: int | None) -> int:
        texts = text_values(values)
        if not isinstance(updated_by, str):
            raise UsageError(f"updated_by must be text, not {updated_by!r}")
        at = iso(now)  # a naive datetime is a UsageError here, before anything is opened
        with self.file.transaction():
            before = self._locked_version(expected_version)
            self.file.run("DELETE FROM record_values WHERE kind = ? AND name = ?", (kind, name))
            for key, value in texts.items():
                self.file.run("INSERT INTO record_values (kind, name, key, value) VALUES (?, ?, ?, ?)",
                              (kind, name, key, value))
            after = self._bump(before)
            self.file.run("INSERT OR REPLACE INTO records (kind, name, updated_at, updated_by, version) "
                          "VALUES (?, ?, ?, ?, ?)", (kind, name, at, updated_by, after))
        return after

    def _locked_version(self, expected: int | None) -> int:
        """The version, read inside the write transaction; StaleVersion when it is not the one expected."""
        return self._stale_check(int(self.file.run("SELECT version FROM version").fetchone()[0]), expected)

    @staticmethod
    def _stale_check(actual: int, expected: int | None) -> int:
        if expected is not None and expected != actual:
            raise StaleVersion(expected, actual)
        return actual

    def _bump(self, before: int) -> int:
        """The version after this write: past `before` even when no value row changed (the triggers count rows)."""
        after = int(self.file.run("SELECT version FROM version").fetchone()[0])
        if after == before:
            after += 1
            self.file.run("UPDATE version SET version = ?", (after,))
        return after

    def close(self) -> None:
        self.file.close()
