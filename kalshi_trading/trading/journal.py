"""The trade journal: one SQLite file in the data directory holding order events, fills, settlements and errors.

Durability.  The journal runs in WAL mode with `synchronous=FULL`: every commit fsyncs the write-ahead log before
returning, so a record the journal has acknowledged (above all an order *intent*, written before the order is sent)
survives a crash or power loss.  WAL lets readers (a `kalshi journal` command) run while the bot writes; FULL costs
one fsync per transaction, which is why bulk writes (fills from a sync) go in one transaction per batch.

Safety of the file.  The schema carries `application_id` and `user_version`.  Opening an existing file first reads
its 100-byte header with plain file I/O: something that is not SQLite, another program's SQLite database, or a newer
journal version raises `JournalError` and the file is never opened for writing, so it is never modified.  A new
journal is built in a temporary file and hard-linked into place, so a crash never leaves a half-made journal.

Storage.  Prices, counts and money are exact fixed-point TEXT as the wire writes them (`0.5200`, `10.00`,
`0.017500`); times are ISO-8601 UTC TEXT of fixed width (`2026-01-02T03:04:05.000000Z`), so text order is time
order.  `since` filters are inclusive, `until` exclusive.  No request headers or keys are ever stored; `extra` keys
that look like credentials are dropped.  For a fast trades export each fill also keeps `before` (its ticker's position
before it, from a running sum as fills are appended; a fill that arrives late makes its ticker be recomputed by a
window query) and its CSV line in pieces, so exporting is one ordered scan with no Python work per row.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Iterator

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.money import MoneyError
from kalshi_trading.trading import csv_export
from kalshi_trading.trading.csv_export import export_lots_csv  # noqa: F401  (part of the journal's export API)
from kalshi_trading.trading.journal_schema import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, check_header, fsync_dir
from kalshi_trading.trading.csv_export import (
    FILL_BEFORE, FILL_COLUMNS, FILL_SELECT, FILL_TIME, count_text, fill_from_row, fill_row, iso, parse_iso, price_text,
    settlement_from_row, settlement_row,
)

log = logging.getLogger(__name__)

OUTCOME_KINDS = ("accepted", "rejected", "amended", "decreased", "cancelled", "reconciled")
SYNC_OVERLAP_SECONDS = 300  # re-read this much before the newest seen record; uniqueness absorbs the repeats
_BATCH = 5_000
_SECRET_WORDS = ("key", "secret", "signature", "authorization", "password", "header", "token")
_FILLS_CURSOR = "sync.fills.max_created_time"
_FILL_INSERT = f"INSERT OR IGNORE INTO fills ({', '.join(FILL_COLUMNS)}) VALUES ({', '.join('?' * len(FILL_COLUMNS))})"
_SETTLEMENT_INSERT = "INSERT OR IGNORE INTO settlements VALUES (" + ", ".join("?" * 11) + ")"
# Recompute `before` for one ticker from scratch, writing only rows whose value changes.
_PLACE_SQL = """
UPDATE fills SET before = w.b
FROM (SELECT fill_id, coalesce(SUM(count_units) OVER (ORDER BY created_time, fill_id
                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS b
      FROM fills WHERE ticker = ?) AS w
WHERE fills.fill_id = w.fill_id AND fills.before IS NOT w.b
"""
_SETTLEMENTS_CURSOR = "sync.settlements.max_settled_time"


@dataclass(frozen=True)
class OrderEvent:
    id: int
    time: datetime
    kind: str  # intent | accepted | rejected | amended | decreased | cancelled | reconciled
    client_order_id: str
    order_id: str | None = None
    env: str | None = None
    ticker: str | None = None
    book_side: str | None = None
    yes_price: Decimal | None = None
    count: Decimal | None = None
    time_in_force: str | None = None
    status: str | None = None
    code: str | None = None
    message: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class ErrorEntry:
    time: datetime
    kind: str
    message: str
    context: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class SyncResult:
    new_fills: int
    new_settlements: int


@dataclass(frozen=True)
class HistoryEntry:
    time: datetime | None
    kind: str  # "fill" | "settlement" | "order"
    ticker: str | None
    record: Fill | Settlement | OrderEvent


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _clean_extra(extra: dict | None) -> str:
    if not extra:
        return "{}"
    kept = {}
    for key, value in extra.items():
        if any(word in str(key).lower() for word in _SECRET_WORDS):
            log.warning("journal: dropped extra field %r (looks like a credential)", key)
            continue
        kept[str(key)] = value
    return json.dumps(kept, default=str, sort_keys=True)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _where(since: datetime | None, until: datetime | None, ticker: str | None, time_col: str) -> tuple[str, list]:
    clauses, args = [], []
    if since is not None:
        clauses.append(f"{time_col} >= ?")
        args.append(iso(since))
    if until is not None:
        clauses.append(f"{time_col} < ?")
        args.append(iso(until))
    if ticker is not None:
        clauses.append("ticker = ?")
        args.append(ticker)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class Journal:
    """An open journal.  Use `Journal.open(path)`, ideally as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Callable[[], datetime]):
        self._conn = conn
        self.path = path
        self._clock = clock

    # -- opening ---------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], datetime] = _utc_now) -> "Journal":
        """Open (or create) the journal at `path`; refuse anything that is not one of ours."""
        path = Path(path)
        if not path.parent.is_dir():
            raise JournalError(f"journal directory {path.parent} does not exist")
        if not path.exists():
            cls._create(path)
        check_header(path)
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: bulk inserts touch five B-trees
            conn.execute("PRAGMA foreign_keys = ON")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if app_id != APPLICATION_ID or version != SCHEMA_VERSION:
                raise JournalError(f"{path} is not a version {SCHEMA_VERSION} kalshi journal; left untouched")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]  # already WAL: no write happens
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalError(f"journal {path} is unreadable ({exc}); left untouched") from None
        except JournalError:
            conn.close()
            raise
        if mode != "wal":
            log.warning("journal %s: WAL mode unavailable (%s)", path, mode)
        return cls(conn, path, clock)

    @staticmethod
    def _create(path: Path) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(f"BEGIN; {SCHEMA} COMMIT;")
            finally:
                conn.close()  # checkpoints and removes the WAL: the file alone is the whole journal
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # never replaces a file someone made meanwhile
            except FileExistsError:
                log.info("journal %s appeared while creating it; opening that one", path)
            fsync_dir(path.parent)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise JournalError(f"journal {self.path} is busy: {exc}") from None
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- order events (write-ahead) ----------------------------------------------------------------------------

    def record_intent(
        self, client_order_id: str, ticker: str, book_side: str, yes_price: Decimal, count: Decimal,
        time_in_force: str, env: str, extra: dict | None = None,
    ) -> OrderEvent:
        """Durably record that we are about to send an order.  Committed (and fsynced) before this returns."""
        if not client_order_id:
            raise UsageError("an order intent needs a client_order_id")
        if book_side not in ("bid", "ask"):
            raise UsageError(f"book_side {book_side!r} is neither bid nor ask")
        try:
            price, qty = price_text(yes_price), count_text(count)
        except MoneyError as exc:
            raise UsageError(str(exc)) from None
        try:
            return self._insert_event(
                "intent", client_order_id, env=env, ticker=ticker, book_side=book_side, yes_price=price,
                count=qty, time_in_force=str(getattr(time_in_force, "value", time_in_force)), extra=extra,
            )
        except sqlite3.IntegrityError:
            raise UsageError(f"client_order_id {client_order_id} already has an intent") from None

    def record_outcome(
        self, client_order_id: str, kind: str, *, order_id: str | None = None, status: str | None = None,
        code: str | None = None, message: str | None = None, yes_price: Decimal | None = None,
        count: Decimal | None = None, extra: dict | None = None,
    ) -> OrderEvent:
        """What happened to an order: accepted, rejected (code/message), amended, decreased, cancelled, reconciled."""
        if kind not in OUTCOME_KINDS:
            raise UsageError(f"unknown order event {kind!r}; use one of {OUTCOME_KINDS}")
        intent = self._conn.execute(
            "SELECT env, ticker, book_side, time_in_force FROM order_events "
            "WHERE client_order_id = ? AND kind = 'intent'",
            (client_order_id,),
        ).fetchone() or (None, None, None, None)
        return self._insert_event(
            kind, client_order_id, order_id=order_id, env=intent[0], ticker=intent[1], book_side=intent[2],
            time_in_force=intent[3], status=status, code=code, message=message,
            yes_price=None if yes_price is None else price_text(yes_price),
            count=None if count is None else count_text(count), extra=extra,
        )

    def mark_reconciled(self, client_order_id: str, order_id: str | None, status: str) -> OrderEvent:
        """Close a pending intent after asking the exchange (order_id None: the order never arrived)."""
        return self.record_outcome(client_order_id, "reconciled", order_id=order_id, status=status)

    def pending_intents(self) -> list[OrderEvent]:
        """Intents with no outcome yet: orders that may or may not have reached the exchange."""
        return self._events(
            "SELECT * FROM order_events i WHERE kind = 'intent' AND NOT EXISTS (SELECT 1 FROM order_events o "
            "WHERE o.client_order_id = i.client_order_id AND o.kind != 'intent') ORDER BY id", ()
        )

    def _insert_event(self, kind: str, client_order_id: str, **values: object) -> OrderEvent:
        now = self._clock()
        extra = _clean_extra(values.pop("extra", None))
        columns = ["time", "kind", "client_order_id", "extra", *values]
        row = [iso(now), kind, client_order_id, extra, *values.values()]
        with self._tx() as conn:
            cursor = conn.execute(
                f"INSERT INTO order_events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", row
            )
            event_id = cursor.lastrowid
        return self._events("SELECT * FROM order_events WHERE id = ?", (event_id,))[0]

    def order_events(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, client_order_id: str | None = None, newest_first: bool = False,
    ) -> list[OrderEvent]:
        where, args = _where(since, until, ticker, "time")
        if client_order_id is not None:
            where += (" AND" if where else " WHERE") + " client_order_id = ?"
            args.append(client_order_id)
        order = "DESC" if newest_first else "ASC"
        return self._events(f"SELECT * FROM order_events{where} ORDER BY time {order}, id {order}{_limit(limit)}", args)

    def _events(self, sql: str, args: Iterable) -> list[OrderEvent]:
        cursor = self._conn.execute(sql, tuple(args))
        names = [d[0] for d in cursor.description]
        events = []
        for row in cursor:
            r = dict(zip(names, row))
            events.append(OrderEvent(
                id=r["id"], time=parse_iso(r["time"]), kind=r["kind"], client_order_id=r["client_order_id"],
                order_id=r["order_id"], env=r["env"], ticker=r["ticker"], book_side=r["book_side"],
                yes_price=_dec(r["yes_price"]), count=_dec(r["count"]), time_in_force=r["time_in_force"],
                status=r["status"], code=r["code"], message=r["message"], extra=json.loads(r["extra"]),
            ))
        return events

    # -- fills and settlements ---------------------------------------------------------------------------------

    def record_fills(self, fills: Iterable[Fill]) -> int:
        """Insert fills (duplicates by fill_id are ignored) in one transaction; returns how many were new."""
        with self._tx():
            return self._insert_fills(fills)[0]

    def record_settlements(self, settlements: Iterable[Settlement]) -> int:
        """Insert settlements (unique by ticker and settled time); returns how many were new."""
        with self._tx():
            return self._insert_settlements(settlements)[0]

    def _insert_fills(self, fills: Iterable[Fill]) -> tuple[int, str]:
        """Inside a transaction: batched executemany.  Returns (new rows, newest created_time text seen)."""
        conn = self._conn
        start = conn.total_changes
        tails: dict[str, tuple[tuple[str, str], int]] = {}
        newest, batch = "", []
        for f in fills:
            batch.append(fill_row(f))
            if len(batch) >= _BATCH:
                newest = max(newest, self._insert_fill_batch(batch, tails))
                batch = []
        if batch:
            newest = max(newest, self._insert_fill_batch(batch, tails))
        new = conn.total_changes - start
        for (ticker,) in conn.execute("SELECT DISTINCT ticker FROM fills WHERE before IS NULL").fetchall():
            conn.execute(_PLACE_SQL, (ticker,))  # a late (out-of-order) fill: recompute that ticker's positions
        return new, newest

    def _insert_fill_batch(self, rows: list[list], tails: dict) -> str:
        # Fills newer than everything stored for their ticker (the usual case) get `before` from a running sum;
        # a duplicate or a late fill keeps NULL and is placed by _PLACE_SQL afterwards.
        rows.sort(key=lambda r: (r[FILL_TIME], r[0]))
        for row in rows:
            ticker = row[3]
            tail = tails.get(ticker)
            if tail is None:
                last = self._conn.execute(
                    "SELECT created_time, fill_id, before + count_units FROM fills WHERE ticker = ? "
                    "ORDER BY created_time DESC, fill_id DESC LIMIT 1", (ticker,)).fetchone()
                tail = ((last[0], last[1]), last[2]) if last else (("", ""), 0)
            key = (row[FILL_TIME], row[0])
            if key > tail[0] and tail[1] is not None:
                row[FILL_BEFORE] = tail[1]
                tail = (key, tail[1] + row[7])
            tails[ticker] = tail
        self._conn.executemany(_FILL_INSERT, rows)
        return rows[-1][FILL_TIME]

    def _insert_settlements(self, settlements: Iterable[Settlement]) -> tuple[int, str]:
        rows = [settlement_row(s) for s in settlements]
        start = self._conn.total_changes
        self._conn.executemany(_SETTLEMENT_INSERT, rows)
        return self._conn.total_changes - start, max((row[8] for row in rows), default="")

    def sync(self, client: object) -> SyncResult:
        """Pull fills and settlements newer than the last seen (less an overlap) from `client`; safe to repeat.

        `client` has `iter_fills(min_ts=...)` and `iter_settlements(min_ts=...)` (Unix seconds).  Each kind is
        fetched in full, then stored together with its cursor in one transaction, so an interrupted sync stores
        nothing of that kind and the next one starts from the same point.  Rows are unique, so the overlap and
        repeated syncs change nothing.
        """
        fills = sorted(client.iter_fills(min_ts=self._cursor_ts(_FILLS_CURSOR)), key=lambda f: iso(f.created_time))
        with self._tx():
            new_fills, newest = self._insert_fills(fills)
            self._advance_cursor(_FILLS_CURSOR, newest)
        settlements = list(client.iter_settlements(min_ts=self._cursor_ts(_SETTLEMENTS_CURSOR)))
        with self._tx():
            new_settlements, newest = self._insert_settlements(settlements)
            self._advance_cursor(_SETTLEMENTS_CURSOR, newest)
        log.info("journal sync: %d new fills, %d new settlements", new_fills, new_settlements)
        return SyncResult(new_fills, new_settlements)

    def _advance_cursor(self, key: str, newest: str) -> None:
        if newest:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = max(value, excluded.value)", (key, newest),
            )

    def _cursor_ts(self, key: str) -> int | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None or not row[0]:
            return None
        return int(parse_iso(row[0]).timestamp()) - SYNC_OVERLAP_SECONDS

    def fills(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Fill]:
        """Fills oldest first (the order P&L wants) unless `newest_first`."""
        where, args = _where(since, until, ticker, "created_time")
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {FILL_SELECT} FROM fills{where} ORDER BY created_time {order}, fill_id {order}{_limit(limit)}"
        return [fill_from_row(row) for row in self._conn.execute(sql, args)]

    def settlements(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Settlement]:
        where, args = _where(since, until, ticker, "settled_time")
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM settlements{where} ORDER BY settled_time {order}, ticker {order}{_limit(limit)}"
        return [settlement_from_row(row) for row in self._conn.execute(sql, args)]

    def history(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """Fills, settlements and order events merged, newest first."""
        entries = [HistoryEntry(f.created_time, "fill", f.ticker, f)
                   for f in self.fills(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(s.settled_time, "settlement", s.ticker, s)
                    for s in self.settlements(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(e.time, "order", e.ticker, e)
                    for e in self.order_events(since, until, ticker, limit, newest_first=True)]
        floor = datetime.min.replace(tzinfo=timezone.utc)
        entries.sort(key=lambda e: e.time or floor, reverse=True)
        return entries[:limit] if limit is not None else entries

    # -- errors ----------------------------------------------------------------------------------------------

    def record_error(self, kind: str, message: str, context: dict | None = None) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO errors (time, kind, message, context) VALUES (?, ?, ?, ?)",
                         (iso(self._clock()), kind, message, _clean_extra(context)))

    def errors(self, since: datetime | None = None, until: datetime | None = None,
               limit: int | None = None) -> list[ErrorEntry]:
        where, args = _where(since, until, None, "time")
        sql = f"SELECT time, kind, message, context FROM errors{where} ORDER BY id{_limit(limit)}"
        return [ErrorEntry(parse_iso(t), k, m, json.loads(c)) for t, k, m, c in self._conn.execute(sql, args)]

    # -- exports ---------------------------------------------------------------------------------------------

    def export_trades_csv(
        self, path: Path, since: datetime | None = None, until: datetime | None = None,
        ticker: str | None = None, force: bool = False,
    ) -> int:
        """Write the fills as a trades CSV (see `csv_export`); returns the number of rows."""
        return csv_export.export_trades(
            self._conn, Path(path), None if since is None else iso(since), None if until is None else iso(until),
            ticker, force,
        )


def _limit(limit: int | None) -> str:
    if limit is None:
        return ""
    if limit < 0:
        raise UsageError("limit must be >= 0")
    return f" LIMIT {int(limit)}"


# -- rows <-> domain ---------------------------------------------------------------------------------------------
