"""The signal store in SQLite: `signals.sqlite` beside the journal (implements `store.signals.SignalStore`).

Decimals are TEXT exactly as given (`str(Decimal)`: every digit kept), times fixed-width ISO-8601 UTC TEXT (text
order is time order), enums their text.  The file carries its own `application_id` and `user_version`: another
program's database, or a newer version, is refused and left untouched; a new file gets the schema in one
transaction.  WAL with `synchronous=FULL`: an attempt the store acknowledged survives a crash.  The lease is a row
taken in a `BEGIN IMMEDIATE` transaction, so two processes cannot both take it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store.signals import (
    AttemptOutcome, AttemptRecord, CycleRecord, CycleStatus, HealthRecord, Lease, LeaseHeld, SignalRecord,
)
from kalshi_trading.store.sqlite.codec import iso, parse_iso, parse_time

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4B534947  # "KSIG": a kalshi signal store
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE cycles (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL, mode TEXT NOT NULL,
    profile TEXT NOT NULL, markets INTEGER NOT NULL DEFAULT 0, signals INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT
);
CREATE TABLE signals (
    id INTEGER PRIMARY KEY, cycle_id INTEGER, at TEXT NOT NULL, ticker TEXT NOT NULL, family TEXT NOT NULL,
    model TEXT NOT NULL, model_prob TEXT NOT NULL, market_mid TEXT, trade_price TEXT, edge_bps INTEGER,
    confidence TEXT NOT NULL, direction TEXT NOT NULL, inputs TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX signals_at ON signals (at);
CREATE INDEX signals_ticker ON signals (ticker, at);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY, cycle_id INTEGER, signal_id INTEGER, at TEXT NOT NULL, ticker TEXT NOT NULL,
    direction TEXT NOT NULL, mode TEXT NOT NULL, outcome TEXT NOT NULL, count TEXT NOT NULL, limit_price TEXT,
    order_id TEXT, client_order_id TEXT, fill_count TEXT NOT NULL, fill_price TEXT, fee TEXT, rule TEXT, reason TEXT,
    model_prob TEXT, edge_bps INTEGER
);
CREATE INDEX attempts_at ON attempts (at);
CREATE INDEX attempts_ticker ON attempts (ticker, at);
CREATE TABLE health (
    id INTEGER PRIMARY KEY, cycle_id INTEGER NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL,
    latency_ms INTEGER, reason TEXT
);
CREATE INDEX health_cycle ON health (cycle_id);
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, acquired TEXT NOT NULL, expires TEXT NOT NULL);
"""

_SIGNAL_COLUMNS = ("cycle_id", "at", "ticker", "family", "model", "model_prob", "market_mid", "trade_price",
                   "edge_bps", "confidence", "direction", "inputs")
_ATTEMPT_COLUMNS = ("cycle_id", "signal_id", "at", "ticker", "direction", "mode", "outcome", "count", "limit_price",
                    "order_id", "client_order_id", "fill_count", "fill_price", "fee", "rule", "reason", "model_prob",
                    "edge_bps")
_CYCLE_COLUMNS = "id, started, finished, status, mode, profile, markets, signals, attempts, error"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _check_header(path: Path) -> None:
    """Refuse, with plain file I/O before SQLite opens it, anything but a signal store this program reads."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise StorageError(f"cannot read signal store {path}: {exc.strerror or exc}", path=path) from None
    if not header:
        return  # an empty file (a crash before the first page): SQLite makes it a database
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise StorageError(f"{path} is not a SQLite database (corrupt or another kind of file); left untouched",
                           path=path)
    version = int.from_bytes(header[60:64], "big")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and version != 0):
        raise StorageError(f"{path} is another program's SQLite database; left untouched", path=path)
    if version > SCHEMA_VERSION:
        raise StorageError(f"{path} is signal store version {version}, newer than this program (reads up to "
                           f"{SCHEMA_VERSION}); upgrade kalshi-trading; left untouched", path=path)


class SqliteSignalStore:
    """An open signal store.  Use `SqliteSignalStore.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> "SqliteSignalStore":
        """Open (or create) the store at `path`; anything that is not one of ours is refused untouched."""
        path = Path(path)
        if os.path.lexists(path):
            if not path.is_file():
                raise StorageError(f"signal store {path} is not a regular file; left untouched", path=path)
            _check_header(path)
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            if (conn.execute("PRAGMA user_version").fetchone()[0] == 0
                    and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]):
                conn.close()
                raise StorageError(f"{path} is another program's SQLite database; left untouched", path=path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            cls._prepare(conn)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot use signal store {path}: {exc}", path=path) from None
        return cls(conn, path)

    @staticmethod
    def _prepare(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, args)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"signal store {self.path} is unusable ({exc})", path=self.path) from None

    def schema_version(self) -> int:
        return int(self._run("PRAGMA user_version").fetchone()[0])

    # -- writes --------------------------------------------------------------------------------------------------

    def _insert(self, table: str, columns: tuple[str, ...], values: tuple[Any, ...]) -> int:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        row_id = self._run(sql, values).lastrowid
        assert row_id is not None
        return row_id

    def record_signal(self, signal: SignalRecord) -> int:
        return self._insert("signals", _SIGNAL_COLUMNS, (
            signal.cycle_id, iso(signal.at), signal.ticker, signal.family, signal.model, str(signal.model_prob),
            _text(signal.market_mid), _text(signal.trade_price), signal.edge_bps, str(signal.confidence),
            signal.direction, json.dumps([list(pair) for pair in signal.inputs])))

    def record_attempt(self, attempt: AttemptRecord) -> int:
        a = attempt
        return self._insert("attempts", _ATTEMPT_COLUMNS, (
            a.cycle_id, a.signal_id, iso(a.at), a.ticker, a.direction, a.mode, AttemptOutcome(a.outcome).value,
            str(a.count), _text(a.limit_price), a.order_id, a.client_order_id, str(a.fill_count),
            _text(a.fill_price), _text(a.fee), a.rule, a.reason, _text(a.model_prob), a.edge_bps))

    def begin_cycle(self, started: datetime, *, mode: str, profile: str) -> int:
        return self._insert("cycles", ("started", "status", "mode", "profile"),
                            (iso(started), CycleStatus.RUNNING.value, mode, profile))

    def finish_cycle(self, cycle_id: int, *, finished: datetime, status: CycleStatus, markets: int, signals: int,
                     attempts: int, error: str | None = None) -> None:
        self._run("UPDATE cycles SET finished = ?, status = ?, markets = ?, signals = ?, attempts = ?, error = ? "
                  "WHERE id = ?", (iso(finished), CycleStatus(status).value, markets, signals, attempts, error,
                                   cycle_id))

    def record_health(self, health: HealthRecord) -> None:
        self._insert("health", ("cycle_id", "source", "status", "at", "latency_ms", "reason"),
                     (health.cycle_id, health.source, health.status, iso(health.at), health.latency_ms,
                      health.reason))

    def record_cycle(self, health: Sequence[HealthRecord], signals: Sequence[SignalRecord]) -> list[int]:
        self._run("BEGIN IMMEDIATE")
        try:
            for row in health:
                self.record_health(row)
            ids = [self.record_signal(signal) for signal in signals]
        except BaseException:
            self._run("ROLLBACK")
            raise
        self._run("COMMIT")
        return ids

    # -- reads ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _filters(since: datetime | None, ticker: str | None, limit: int | None) -> tuple[list[str], list[Any]]:
        if limit is not None and limit < 0:
            raise UsageError(f"limit must be 0 or more, not {limit}")
        where: list[str] = []
        args: list[Any] = []
        if since is not None:
            where.append("at >= ?")
            args.append(iso(since))  # a naive datetime is a UsageError here
        if ticker is not None:
            where.append("ticker = ?")
            args.append(ticker)
        return where, args

    def _select(self, table: str, columns: str, where: list[str], args: list[Any],
                limit: int | None) -> list[tuple[Any, ...]]:
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        if limit is None:
            return self._run(f"SELECT {columns} FROM {table}{clause} ORDER BY id", tuple(args)).fetchall()
        rows = self._run(f"SELECT {columns} FROM {table}{clause} ORDER BY id DESC LIMIT ?",
                         (*args, limit)).fetchall()
        return rows[::-1]

    def signals(self, *, since: datetime | None = None, ticker: str | None = None, actionable: bool | None = None,
                limit: int | None = None) -> list[SignalRecord]:
        where, args = self._filters(since, ticker, limit)
        if actionable is not None:
            where.append("direction != 'none'" if actionable else "direction = 'none'")
        rows = self._select("signals", "id, " + ", ".join(_SIGNAL_COLUMNS), where, args, limit)
        return [SignalRecord(
            ticker=r[3], family=r[4], at=parse_time(r[2]), model=r[5], model_prob=Decimal(r[6]),
            market_mid=_dec(r[7]), trade_price=_dec(r[8]), edge_bps=r[9], confidence=Decimal(r[10]),
            direction=r[11], inputs=tuple((str(k), str(v)) for k, v in json.loads(r[12])), cycle_id=r[1], id=r[0],
        ) for r in rows]

    def attempts(self, *, since: datetime | None = None, ticker: str | None = None,
                 outcome: AttemptOutcome | None = None, limit: int | None = None) -> list[AttemptRecord]:
        where, args = self._filters(since, ticker, limit)
        if outcome is not None:
            where.append("outcome = ?")
            args.append(AttemptOutcome(outcome).value)
        rows = self._select("attempts", "id, " + ", ".join(_ATTEMPT_COLUMNS), where, args, limit)
        return [AttemptRecord(
            at=parse_time(r[3]), ticker=r[4], direction=r[5], mode=r[6], outcome=AttemptOutcome(r[7]),
            count=Decimal(r[8]), limit_price=_dec(r[9]), signal_id=r[2], cycle_id=r[1], order_id=r[10],
            client_order_id=r[11], fill_count=Decimal(r[12]), fill_price=_dec(r[13]), fee=_dec(r[14]), rule=r[15],
            reason=r[16], model_prob=_dec(r[17]), edge_bps=r[18], id=r[0],
        ) for r in rows]

    def health(self, cycle_id: int) -> list[HealthRecord]:
        rows = self._run("SELECT cycle_id, source, status, at, latency_ms, reason FROM health WHERE cycle_id = ? "
                         "ORDER BY id", (cycle_id,)).fetchall()
        return [HealthRecord(r[0], r[1], r[2], parse_time(r[3]), r[4], r[5]) for r in rows]

    def cycles(self, *, limit: int | None = None) -> list[CycleRecord]:
        if limit is not None and limit < 0:
            raise UsageError(f"limit must be 0 or more, not {limit}")
        sql = f"SELECT {_CYCLE_COLUMNS} FROM cycles ORDER BY id DESC"
        rows = self._run(sql + " LIMIT ?", (limit,)).fetchall() if limit is not None else self._run(sql).fetchall()
        return [CycleRecord(id=r[0], started=parse_time(r[1]), finished=parse_iso(r[2]), status=CycleStatus(r[3]),
                            mode=r[4], profile=r[5], markets=r[6], signals=r[7], attempts=r[8], error=r[9])
                for r in rows]

    # -- the lease -----------------------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, *, now: datetime, ttl_seconds: float) -> Lease:
        expires = now + timedelta(seconds=ttl_seconds)
        self._run("BEGIN IMMEDIATE")
        try:
            row = self._run("SELECT holder, acquired, expires FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != holder and parse_time(row[2]) > now:
                raise LeaseHeld(name, row[0], parse_time(row[2]))
            acquired = parse_time(row[1]) if row is not None and row[0] == holder else now
            self._run("INSERT OR REPLACE INTO leases (name, holder, acquired, expires) VALUES (?, ?, ?, ?)",
                      (name, holder, iso(acquired), iso(expires)))
        except BaseException:
            self._run("ROLLBACK")
            raise
        self._run("COMMIT")
        return Lease(name, holder, acquired, expires)

    def release_lease(self, name: str, holder: str) -> None:
        self._run("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def lease(self, name: str) -> Lease | None:
        row = self._run("SELECT name, holder, acquired, expires FROM leases WHERE name = ?", (name,)).fetchone()
        return None if row is None else Lease(row[0], row[1], parse_time(row[2]), parse_time(row[3]))

    def close(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error as exc:  # closing never hides the real outcome of a command
            log.warning("closing signal store %s: %s", self.path, exc)
