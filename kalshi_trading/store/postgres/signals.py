"""The signal pipeline's records in PostgreSQL: the `signal_*` tables and `leases` of the environment's schema.

It implements `store.signals.SignalStore` (the contract is there).  Ids come from identity sequences; a cycle's
health rows and signals are written in one transaction; the lease is taken with one atomic upsert (free, expired,
or the caller's own), so two processes asking at once cannot both get it.  Failures are `StorageError` (exit 3).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Sequence

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store.postgres.codec import aware
from kalshi_trading.store.postgres.db import Connection, Database
from kalshi_trading.store.postgres.schema import META, VERSION_KEY
from kalshi_trading.store.signals import (
    AttemptOutcome, AttemptRecord, CycleRecord, CycleStatus, HealthRecord, Lease, LeaseHeld, SignalRecord,
    SignalStore,
)

log = logging.getLogger(__name__)

_SIGNAL_COLUMNS = ("cycle_id", "at", "ticker", "family", "model", "model_prob", "market_mid", "trade_price",
                   "edge_bps", "confidence", "direction", "inputs")
_ATTEMPT_COLUMNS = ("cycle_id", "signal_id", "at", "ticker", "direction", "mode", "outcome", "count", "limit_price",
                    "order_id", "client_order_id", "fill_count", "fill_price", "fee", "rule", "reason", "model_prob",
                    "edge_bps")
_HEALTH_COLUMNS = ("cycle_id", "source", "status", "at", "latency_ms", "reason")
_CYCLE_COLUMNS = "id, started, finished, status, mode, profile, markets, signals, attempts, error"
# take the lease when it is free, expired or the caller's own (keeping when the caller first took it)
_ACQUIRE = ("INSERT INTO leases AS l (name, holder, acquired, expires) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires, "
            "acquired = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired ELSE EXCLUDED.acquired END "
            "WHERE l.holder = EXCLUDED.holder OR l.expires <= %s "
            "RETURNING acquired, expires")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
            "RETURNING id")


def _signal_values(s: SignalRecord) -> tuple[Any, ...]:
    return (s.cycle_id, aware(s.at), s.ticker, s.family, s.model, s.model_prob, s.market_mid, s.trade_price,
            s.edge_bps, s.confidence, s.direction, json.dumps([list(pair) for pair in s.inputs]))


def _health_values(h: HealthRecord) -> tuple[Any, ...]:
    return (h.cycle_id, h.source, h.status, aware(h.at), h.latency_ms, h.reason)


class PostgresSignalStore:
    """The signal records of one environment's schema, over the store's connection pool."""

    def __init__(self, db: Database):
        self._db = db

    def _rows(self, query: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._db.rows(query, args, StorageError, "reading the signal records")

    def _write(self, query: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._db.transaction(StorageError, "writing the signal records") as conn:
            cursor = conn.execute(query, args)
            return cursor.fetchall() if cursor.description else []

    def schema_version(self) -> int:
        return int(self._rows(f"SELECT value FROM {META} WHERE key = %s", (VERSION_KEY,))[0][0])

    # -- writes --------------------------------------------------------------------------------------------------

    def record_signal(self, signal: SignalRecord) -> int:
        return int(self._write(_insert("signals", _SIGNAL_COLUMNS), _signal_values(signal))[0][0])

    def record_attempt(self, attempt: AttemptRecord) -> int:
        a = attempt
        values = (a.cycle_id, a.signal_id, aware(a.at), a.ticker, a.direction, a.mode, AttemptOutcome(a.outcome).value,
                  a.count, a.limit_price, a.order_id, a.client_order_id, a.fill_count, a.fill_price, a.fee, a.rule,
                  a.reason, a.model_prob, a.edge_bps)
        return int(self._write(_insert("signal_attempts", _ATTEMPT_COLUMNS), values)[0][0])

    def begin_cycle(self, started: datetime, *, mode: str, profile: str) -> int:
        return int(self._write(_insert("signal_cycles", ("started", "status", "mode", "profile")),
                               (aware(started), CycleStatus.RUNNING.value, mode, profile))[0][0])

    def finish_cycle(self, cycle_id: int, *, finished: datetime, status: CycleStatus, markets: int, signals: int,
                     attempts: int, error: str | None = None) -> None:
        self._write("UPDATE signal_cycles SET finished = %s, status = %s, markets = %s, signals = %s, attempts = %s, "
                    "error = %s WHERE id = %s", (aware(finished), CycleStatus(status).value, markets, signals,
                                                 attempts, error, cycle_id))

    def record_health(self, health: HealthRecord) -> None:
        self._write(_insert("signal_health", _HEALTH_COLUMNS), _health_values(health))

    def record_cycle(self, health: Sequence[HealthRecord], signals: Sequence[SignalRecord]) -> list[int]:
        health_rows = [_health_values(h) for h in health]  # a naive time is refused before anything is written
        signal_rows = [_signal_values(s) for s in signals]
        with self._db.transaction(StorageError, "recording a cycle") as conn:
            with conn.cursor() as cursor:
                cursor.executemany(_insert("signal_health", _HEALTH_COLUMNS), health_rows)
            return [self._one_id(conn, _insert("signals", _SIGNAL_COLUMNS), row) for row in signal_rows]

    @staticmethod
    def _one_id(conn: Connection, query: str, row: tuple[Any, ...]) -> int:
        found = conn.execute(query, row).fetchone()
        assert found is not None
        return int(found[0])

    # -- reads ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _filters(since: datetime | None, ticker: str | None, limit: int | None) -> tuple[list[str], list[Any]]:
        if limit is not None and limit < 0:
            raise UsageError(f"limit must be 0 or more, not {limit}")
        where: list[str] = []
        args: list[Any] = []
        if since is not None:
            where.append("at >= %s")
            args.append(aware(since))
        if ticker is not None:
            where.append("ticker = %s")
            args.append(ticker)
        return where, args

    def _select(self, table: str, columns: str, where: list[str], args: list[Any],
                limit: int | None) -> list[tuple[Any, ...]]:
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        if limit is None:
            return self._rows(f"SELECT {columns} FROM {table}{clause} ORDER BY id", args)
        return self._rows(f"SELECT {columns} FROM {table}{clause} ORDER BY id DESC LIMIT %s", (*args, limit))[::-1]

    def signals(self, *, since: datetime | None = None, ticker: str | None = None, actionable: bool | None = None,
                limit: int | None = None) -> list[SignalRecord]:
        where, args = self._filters(since, ticker, limit)
        if actionable is not None:
            where.append("direction <> 'none'" if actionable else "direction = 'none'")
        rows = self._select("signals", "id, " + ", ".join(_SIGNAL_COLUMNS), where, args, limit)
        return [SignalRecord(
            ticker=r[3], family=r[4], at=r[2], model=r[5], model_prob=r[6], market_mid=r[7], trade_price=r[8],
            edge_bps=r[9], confidence=r[10], direction=r[11],
            inputs=tuple((str(k), str(v)) for k, v in json.loads(r[12])), cycle_id=r[1], id=r[0],
        ) for r in rows]

    def attempts(self, *, since: datetime | None = None, ticker: str | None = None,
                 outcome: AttemptOutcome | None = None, limit: int | None = None) -> list[AttemptRecord]:
        where, args = self._filters(since, ticker, limit)
        if outcome is not None:
            where.append("outcome = %s")
            args.append(AttemptOutcome(outcome).value)
        rows = self._select("signal_attempts", "id, " + ", ".join(_ATTEMPT_COLUMNS), where, args, limit)
        return [AttemptRecord(
            at=r[3], ticker=r[4], direction=r[5], mode=r[6], outcome=AttemptOutcome(r[7]), count=r[8],
            limit_price=r[9], signal_id=r[2], cycle_id=r[1], order_id=r[10], client_order_id=r[11], fill_count=r[12],
            fill_price=r[13], fee=r[14], rule=r[15], reason=r[16], model_prob=r[17], edge_bps=r[18], id=r[0],
        ) for r in rows]

    def health(self, cycle_id: int) -> list[HealthRecord]:
        rows = self._rows(f"SELECT {', '.join(_HEALTH_COLUMNS)} FROM signal_health WHERE cycle_id = %s ORDER BY id",
                          (cycle_id,))
        return [HealthRecord(*r) for r in rows]

    def cycles(self, *, limit: int | None = None) -> list[CycleRecord]:
        if limit is not None and limit < 0:
            raise UsageError(f"limit must be 0 or more, not {limit}")
        query = f"SELECT {_CYCLE_COLUMNS} FROM signal_cycles ORDER BY id DESC"
        rows = self._rows(query + " LIMIT %s", (limit,)) if limit is not None else self._rows(query)
        return [CycleRecord(id=r[0], started=r[1], finished=r[2], status=CycleStatus(r[3]), mode=r[4], profile=r[5],
                            markets=r[6], signals=r[7], attempts=r[8], error=r[9]) for r in rows]

    # -- the lease -----------------------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, *, now: datetime, ttl_seconds: float) -> Lease:
        now = aware(now)
        expires = now + timedelta(seconds=ttl_seconds)
        with self._db.transaction(StorageError, "taking the lease") as conn:
            row = conn.execute(_ACQUIRE, (name, holder, now, expires, now)).fetchone()
            if row is None:
                held = conn.execute("SELECT holder, expires FROM leases WHERE name = %s", (name,)).fetchone()
                assert held is not None  # the upsert found a row it may not take
                raise LeaseHeld(name, held[0], held[1])
        return Lease(name, holder, row[0], row[1])

    def release_lease(self, name: str, holder: str) -> None:
        self._write("DELETE FROM leases WHERE name = %s AND holder = %s", (name, holder))

    def lease(self, name: str) -> Lease | None:
        rows = self._rows("SELECT name, holder, acquired, expires FROM leases WHERE name = %s", (name,))
        return Lease(*rows[0]) if rows else None

    def close(self) -> None:
        """Nothing of its own to close: the store owns the pool (`Store.close`)."""


def _is_a_signal_store(store: PostgresSignalStore) -> SignalStore:
    return store  # mypy checks here that the adapter implements the whole port
