"""The runtime configuration in PostgreSQL (implements `store.runtime.RuntimeConfigStore`): the environment
schema's `runtime_records` (one row per record: kind `global` with name '' or `market` with its ticker; the values
a JSON object of exact texts; who wrote it, when, at which version) and `runtime_version` (one row).

A trigger on `runtime_records` raises the version by one for every row inserted, changed or deleted, so even a
record written around the program (psql) shows up as a new version to the bots polling it.  A write locks the
version row first (`SELECT ... FOR UPDATE`), so the compare-and-set and the write happen under one lock, in one
transaction: of two writers at once, the second waits and then sees the first's version.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Mapping

from psycopg.types.json import Jsonb

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store.postgres.codec import aware
from kalshi_trading.store.postgres.db import Connection, Database
from kalshi_trading.store.runtime import (
    RuntimeConfigStore, RuntimeRecord, RuntimeSnapshot, RuntimeValue, StaleVersion, check_name, text_values,
)

GLOBAL, MARKET = "global", "market"
_SNAPSHOT = ("SELECT v.version, r.kind, r.name, r.vals, r.updated_at, r.updated_by, r.version "
             "FROM runtime_version v LEFT JOIN runtime_records r ON true ORDER BY r.kind, r.name")
_PUT = ("INSERT INTO runtime_records (kind, name, vals, updated_at, updated_by, version) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kind, name) DO UPDATE SET vals = EXCLUDED.vals, "
        "updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, version = EXCLUDED.version")


class PostgresRuntimeConfig:
    """The runtime configuration of one environment's schema, over the store's connection pool."""

    def __init__(self, db: Database):
        self._db = db

    def version(self) -> int:
        rows = self._db.rows("SELECT version FROM runtime_version", cls=StorageError,
                             doing="reading the runtime configuration's version")
        return int(rows[0][0])

    def snapshot(self) -> RuntimeSnapshot:
        rows = self._db.rows(_SNAPSHOT, cls=StorageError, doing="reading the runtime configuration")
        version, global_record, markets = int(rows[0][0]), None, {}
        for _, kind, name, values, at, by, at_version in rows:
            if kind is None:
                continue  # no record at all: the join's one empty row
            record = RuntimeRecord(dict(values), at, by, int(at_version))
            if kind == GLOBAL:
                global_record = record
            else:
                markets[name] = record
        return RuntimeSnapshot(version, global_record, MappingProxyType(markets))

    def put_market(self, ticker: str, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        return self._put(MARKET, check_name(ticker, "market ticker"), values, updated_by, now, expected_version)

    def put_global(self, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        return self._put(GLOBAL, "", values, updated_by, now, expected_version)

    def delete_market(self, ticker: str, *, expected_version: int | None = None) -> int:
        check_name(ticker, "market ticker")
        with self._db.transaction(StorageError, "deleting a market's runtime configuration") as conn:
            before = _locked_version(conn, expected_version)
            gone = conn.execute("DELETE FROM runtime_records WHERE kind = %s AND name = %s", (MARKET, ticker))
            return before + 1 if gone.rowcount else before

    def _put(self, kind: str, name: str, values: Mapping[str, RuntimeValue], updated_by: str, now: datetime,
             expected_version: int | None) -> int:
        texts = text_values(values)
        if not isinstance(updated_by, str):
            raise UsageError(f"updated_by must be text, not {updated_by!r}")
        at = aware(now)  # a naive datetime is a UsageError here, before anything is written
        with self._db.transaction(StorageError, "writing the runtime configuration") as conn:
            after = _locked_version(conn, expected_version) + 1  # the trigger raises it by one for this row
            conn.execute(_PUT, (kind, name, Jsonb(texts), at, updated_by, after))
        return after

    def close(self) -> None:
        """Nothing of its own to close: the store's pool is closed with the store."""


def _locked_version(conn: Connection, expected: int | None) -> int:
    """The version, locked until the transaction ends; StaleVersion when it is not the one expected."""
    row = conn.execute("SELECT version FROM runtime_version FOR UPDATE").fetchone()
    actual = 0 if row is None else int(row[0])
    if expected is not None and expected != actual:
        raise StaleVersion(expected, actual)
    return actual


def _is_a_runtime_store(store: PostgresRuntimeConfig) -> RuntimeConfigStore:
    return store  # mypy checks here that the adapter implements the whole port
