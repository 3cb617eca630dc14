"""The trade journal in PostgreSQL: the tables `order_events`, `fills`, `settlements`, `errors` and `sync_cursors`
of the environment's schema (schema.py).

It implements `store.journal.TradeJournal` (the contract is there); this docstring says how.  Every write is one
transaction, committed (synchronously, as the server is configured) before the method returns: an order intent is
durable before the order is sent.  Fill batches go through COPY (journal_sql.py).  Any failure of the server (it is
unreachable, it went away mid-statement, it refused a value) is a `JournalError` naming the store with its URL
masked; `record_outcome` logs it instead.  Order events live in `journal_orders`, column formats in `codec`.

One exchange per journal.  `bind_exchange` ties the journal to an exchange identity; another identity copies the
journal's tables into an archive schema (`<schema>_archived_<UTC time>`) and empties them, in one transaction.
"""

from __future__ import annotations

import functools
import itertools
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping, TypeVar

from psycopg import sql

from kalshi_trading.errors import JournalError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.store.journal import ErrorEntry, HistoryEntry, HistoryKind, SyncCursor, TradeRow
import kalshi_trading.store.postgres.journal_sql as q
from kalshi_trading.store.postgres.codec import (
    FillFacts, aware, clean_extra, fill_from_row, fill_values, json_text, stored_time,
)
from kalshi_trading.store.postgres.db import Connection, Database
from kalshi_trading.store.postgres.journal_orders import OrderEventsMixin, limit_clause, where_clause
from kalshi_trading.store.postgres.schema import META, VERSION_KEY

log = logging.getLogger(__name__)
T = TypeVar("T")

_IDENTITY = "exchange.identity"
_JOURNAL_TABLES = ("order_events", "fills", "settlements", "errors", "sync_cursors")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class PostgresJournal(OrderEventsMixin):
    """The journal of one environment's schema, over the store's connection pool."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utc_now):
        self._db = db
        self._clock = clock

    @property
    def location(self) -> str:
        return self._db.where

    def schema_version(self) -> int:
        rows = self._db.rows(f"SELECT value FROM {META} WHERE key = %s", (VERSION_KEY,))
        return int(rows[0][0])

    def close(self) -> None:
        """Nothing of its own to close: the store owns the pool (`Store.close`)."""

    def _lock(self, conn: Connection) -> None:
        """Serialize journal writers that derive rows from stored ones (running positions, the archive)."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"kalshi-journal:{self._db.schema}",))

    # -- the exchange this journal belongs to -----------------------------------------------------------------

    def bind_exchange(self, identity: str) -> str | None:
        """Tie the journal to one exchange; another identity archives the journal's records and empties it.

        Returns where the archive went (None when nothing was archived)."""
        with self._db.transaction(doing="binding the exchange") as conn:
            self._lock(conn)
            row = conn.execute(f"SELECT value FROM {META} WHERE key = %s", (_IDENTITY,)).fetchone()
            if row is not None and row[0] == identity:
                return None
            archive = None if row is None else self._archive(conn)
            if archive is not None:
                for table in _JOURNAL_TABLES:
                    conn.execute(f"DELETE FROM {table}")
            conn.execute(f"INSERT INTO {META} (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                         "SET value = EXCLUDED.value", (_IDENTITY, identity))
        if archive is not None:
            log.warning("%s belonged to another exchange (%s, now %s): archived to %s, started afresh",
                        self.location, row[0] if row else None, identity, archive)
        return archive

    def _archive(self, conn: Connection) -> str:
        """Copy the journal's tables into a new schema beside this one; its description."""
        stamp = self._clock().astimezone(timezone.utc).strftime("%Y%m%dt%H%M%Sz")
        for n in range(1000):
            name = f"{self._db.schema}_archived_{stamp}{'_' + str(n) if n else ''}"
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone() is None:
                break
        else:
            raise JournalError(f"{self.location}: cannot find a free archive schema name")
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        for table in _JOURNAL_TABLES + (META,):
            conn.execute(sql.SQL("CREATE TABLE {} AS TABLE {}").format(sql.Identifier(name, table),
                                                                        sql.Identifier(table)))
        return f"schema {name} of {self._db.url.masked}"

    def exchange_identity(self) -> str | None:
        rows = self._db.rows(f"SELECT value FROM {META} WHERE key = %s", (_IDENTITY,))
        return rows[0][0] if rows else None

    # -- fills and settlements ---------------------------------------------------------------------------------

    def record_fills(self, fills: Iterable[Fill], *, advance_cursor: bool = False) -> int:
        """Insert fills (the same fill again is ignored) in one transaction; returns how many were new.

        With `advance_cursor` the fills' sync cursor moves to the newest created time among them, in the same
        transaction (so an interrupted sync stores nothing, and the next starts from the same point)."""
        rows, newest = self._fill_rows(fills)
        with self._db.transaction(doing="recording fills") as conn:
            self._lock(conn)
            new = self._insert_fills(conn, rows) if rows else 0
            if advance_cursor and newest is not None:
                conn.execute(q.ADVANCE_CURSOR, (SyncCursor.FILLS.value, newest))
        return new

    def _fill_rows(self, fills: Iterable[Fill]) -> tuple[list[tuple[Any, ...]], datetime | None]:
        """Rows for COPY, one per fill id (a fill twice is one; two fills under one id refuse the batch), and the
        newest created time among them."""
        seen: dict[str, FillFacts] = {}
        rows: list[tuple[Any, ...]] = []
        newest: datetime | None = None
        for f in fills:
            row, facts = fill_values(f)
            known = seen.setdefault(f.fill_id, facts)
            if known is facts:
                rows.append(row)
            elif known != facts:
                raise self._clash(f.fill_id)
            when = facts[5]
            if when is not None and (newest is None or when > newest):
                newest = when
        return rows, newest

    def _clash(self, fill_id: str) -> JournalError:
        return JournalError(
            f"the exchange reports fill {fill_id} with other details than {self.location} holds (the exchange was "
            "reset, or this journal belongs to another exchange or account); nothing was stored: give this "
            "exchange another KALSHI_STORE (the journal is kept as it is) and sync again")

    def _insert_fills(self, conn: Connection, rows: list[tuple[Any, ...]]) -> int:
        made = conn.execute("SELECT to_regclass(%s)", (f"pg_temp.{q.INCOMING}",)).fetchone()
        if made is None or made[0] is None:  # this connection's first batch: its temporary tables
            for name, ddl in q.TEMP_TABLES:
                conn.execute(ddl)
                conn.execute(f"ANALYZE {name}")  # empty, but analyzed: the planner then goes by its real size
        with conn.cursor() as cursor, cursor.copy(q.COPY_INCOMING) as copy:
            for row in rows:
                copy.write_row(row)
        clashes = sorted(fill_id for fill_id, differs in conn.execute(q.DROP_KNOWN).fetchall() if differs)
        if clashes:
            raise self._clash(clashes[0])
        late = [row[0] for row in conn.execute(q.FIND_STARTS).fetchall()]
        new = conn.execute(q.INSERT_NEW).rowcount
        if any(late):  # a fill older than a stored one of its ticker: that ticker's positions are recomputed
            conn.execute(q.PLACE_LATE)
        return max(new, 0)

    def record_settlements(self, settlements: Iterable[Settlement], *, advance_cursor: bool = False) -> int:
        """Insert settlements (unique by ticker and settled time); returns how many were new."""
        rows = [(s.ticker, s.event_ticker, s.market_result, s.yes_count, s.yes_total_cost, s.no_count,
                 s.no_total_cost, s.revenue, stored_time(s.settled_time), s.fee, s.value) for s in settlements]
        newest = max((s[8] for s in rows if isinstance(s[8], datetime)), default=None)
        with self._db.transaction(doing="recording settlements") as conn:
            new = 0
            if rows:
                with conn.cursor() as cursor:
                    cursor.executemany(q.INSERT_SETTLEMENT, rows)
                    new = max(cursor.rowcount, 0)
            if advance_cursor and newest is not None:
                conn.execute(q.ADVANCE_CURSOR, (SyncCursor.SETTLEMENTS.value, newest))
        return new

    def sync_cursor(self, which: SyncCursor) -> datetime | None:
        """The newest created (fills) or settled (settlements) time a sync has stored; None before the first."""
        rows = self._db.rows("SELECT at FROM sync_cursors WHERE which = %s", (SyncCursor(which).value,))
        return rows[0][0] if rows else None

    def fills(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Fill]:
        """Fills oldest first (the order P&L wants) unless `newest_first`; an unknown time sorts first."""
        where, args = where_clause(since, until, ticker, "created_time")
        order = "DESC" if newest_first else "ASC"
        query = (f"SELECT {q.FILL_SELECT} FROM fills{where} ORDER BY created_time {order}, fill_id {order}"
                 f"{limit_clause(limit)}")
        return [fill_from_row(r) for r in self._db.rows(query, args, doing="reading fills")]

    def settlements(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Settlement]:
        where, args = where_clause(since, until, ticker, "settled_time")
        order = "DESC" if newest_first else "ASC"
        query = (f"SELECT {q.SETTLEMENT_SELECT} FROM settlements{where} ORDER BY settled_time {order}, "
                 f"ticker {order}{limit_clause(limit)}")
        return [Settlement(*r) for r in self._db.rows(query, args, doing="reading settlements")]

    def history(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """Fills, settlements and order events merged, newest first."""
        entries = [HistoryEntry(f.created_time, HistoryKind.FILL, f.ticker, f)
                   for f in self.fills(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(s.settled_time, HistoryKind.SETTLEMENT, s.ticker, s)
                    for s in self.settlements(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(e.time, HistoryKind.ORDER, e.ticker, e)
                    for e in self.order_events(since, until, ticker, limit, newest_first=True)]
        floor = datetime.min.replace(tzinfo=timezone.utc)
        entries.sort(key=lambda e: e.time or floor, reverse=True)
        return entries[:limit] if limit is not None else entries

    # -- errors ----------------------------------------------------------------------------------------------

    def record_error(self, kind: str, message: str, context: Mapping[str, Any] | None = None) -> None:
        with self._db.transaction(doing="recording an error") as conn:
            conn.execute("INSERT INTO errors (time, kind, message, context) VALUES (%s, %s, %s, %s)",
                         (aware(self._clock()), kind, message, json_text(clean_extra(context))))

    def errors(self, since: datetime | None = None, until: datetime | None = None,
               limit: int | None = None) -> list[ErrorEntry]:
        import json

        where, args = where_clause(since, until, None, "time")
        rows = self._db.rows(f"SELECT time, kind, message, context FROM errors{where} ORDER BY id"
                             f"{limit_clause(limit)}", args, doing="reading errors")
        return [ErrorEntry(t, k, m, json.loads(c)) for t, k, m, c in rows]

    # -- exports ---------------------------------------------------------------------------------------------

    def trade_rows(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[TradeRow]:
        """The fills as trades-export rows in time order, labelled and rendered by the server (one index scan)."""
        where, args = where_clause(since, until, ticker, "created_time")  # a naive time is refused here, at once
        make = functools.partial(tuple.__new__, TradeRow)
        return _flat(self._stream(q.TRADE_ROWS.format(where=where), args, lambda rows: list(map(make, rows)), 10_000))

    def trade_csv(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[list[str]]:
        """The export rows as CSV lines, each rendered by the server: no Python work per row."""
        where, args = where_clause(since, until, ticker, "created_time")
        return self._stream(q.TRADE_LINES.format(where=where), args, lambda rows: [r[0] for r in rows], 20_000)

    def _stream(self, query: str, args: list[object], make: Callable[[list[Any]], list[T]],
                size: int) -> Generator[list[T], None, None]:
        """The rows of one query as the server sends them (libpq's chunked rows: nothing held whole in memory), in
        chunks.  Read lazily: close the iterator (the query is cancelled) or read it to the end."""
        with self._db.connection(doing="exporting trades") as conn, conn.cursor() as cursor:
            rows = cursor.stream(query, args, size=size)
            while chunk := list(itertools.islice(rows, size)):
                yield make(chunk)


def _flat(chunks: Generator[list[T], None, None]) -> Generator[T, None, None]:
    """The rows of the chunks, one by one; closing this closes the chunks (and so gives the connection back)."""
    try:
        for chunk in chunks:
            yield from chunk
    finally:
        chunks.close()
