"""The SQLite journal's order events: write-ahead intents (with their writer and deadline) and what became of them.

Mixed into `SqliteJournal`, which provides the connection (`_conn`), transactions (`_tx`), the clock and the path.
The contract (an intent, then outcomes; the newest outcome wins) is `store.journal`'s.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.money import MoneyError
from kalshi_trading.store.sql import limit_clause
from kalshi_trading.store.sql import where_clause as sql_where
from kalshi_trading.store.journal import (
    NOT_PLACED, OUTCOME_KINDS, SECRET_WORDS, EventKind, IntentOwner, OrderEvent,
)
from kalshi_trading.store.sqlite.codec import (
    count_text, decimal_or_none, iso, owner_from_text, owner_text, parse_iso, parse_time, price_text,
)
from kalshi_trading.store.sqlite.journal_schema import guarded

log = logging.getLogger(__name__)

# Intents whose newest outcome is a `reconciled` event with a given status, recorded since a time.
_LATEST = ("SELECT i.* FROM order_events o JOIN order_events i ON i.client_order_id = o.client_order_id "
           "AND i.kind = 'intent' WHERE o.kind = 'reconciled' AND o.status = ? AND o.time >= ? AND o.id = "
           "(SELECT max(id) FROM order_events WHERE client_order_id = o.client_order_id AND kind != 'intent') "
           "ORDER BY i.id")


def clean_extra(extra: Mapping[str, Any] | None) -> str:
    """`extra` as JSON, without keys that look like credentials."""
    if not extra:
        return "{}"
    kept = {}
    for key, value in extra.items():
        if any(word in str(key).lower() for word in SECRET_WORDS):
            log.warning("journal: dropped extra field %r (looks like a credential)", key)
            continue
        kept[str(key)] = value
    return json.dumps(kept, default=str, sort_keys=True)


def _text(value: object) -> str | None:
    """A status as text (an enum member gives its value)."""
    return None if value is None else str(getattr(value, "value", value))


def where_clause(since: datetime | None, until: datetime | None, ticker: str | None,
                 time_col: str) -> tuple[str, list[object]]:
    """` WHERE ...` for a time range (since inclusive, until exclusive) and a ticker, with its parameters."""
    return sql_where(since, until, ticker, time_col, placeholder="?", encode_time=iso)


TAGGED_KEY = "journal.tagged"  # meta: some intent carries a strategy tag


class OrderEventsMixin:
    """Order events of the SQLite journal (see the module docstring)."""

    # provided by Journal
    path: Path
    _conn: sqlite3.Connection
    _clock: Callable[[], datetime]
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    @guarded
    def record_intent(
        self, client_order_id: str, ticker: str, book_side: str, yes_price: Decimal, count: Decimal,
        time_in_force: str, env: str, extra: Mapping[str, Any] | None = None, *, owner: IntentOwner | None = None,
        deadline: datetime | None = None,
    ) -> OrderEvent:
        """Durably record that we are about to send an order.  Committed (and fsynced) before this returns.

        `owner` is the sending process and `deadline` the time after which it can no longer be sending the order;
        without a deadline (nobody is sending) the intent may be settled against the exchange at once.
        """
        if not client_order_id:
            raise UsageError("an order intent needs a client_order_id")
        side = str(getattr(book_side, "value", book_side))
        if side not in ("bid", "ask"):
            raise UsageError(f"book_side {book_side!r} is neither bid nor ask")
        try:
            price, qty = price_text(yes_price), count_text(count)
        except MoneyError as exc:
            raise UsageError(str(exc)) from None
        if not Decimal(0) <= yes_price <= Decimal(1) or count <= 0:
            raise UsageError(f"an order intent needs a price from 0 to 1 and a positive count, not {yes_price} x "
                             f"{count}")
        try:
            return self._insert_event(
                EventKind.INTENT, client_order_id, env=env, ticker=ticker, book_side=side, yes_price=price,
                count=qty, time_in_force=str(getattr(time_in_force, "value", time_in_force)), extra=extra,
                owner=owner_text(owner), deadline=iso(deadline or self._clock()),
            )
        except sqlite3.IntegrityError:
            raise UsageError(f"client_order_id {client_order_id} already has an intent") from None

    def record_outcome(
        self, client_order_id: str, kind: str, *, order_id: str | None = None, status: str | None = None,
        code: str | None = None, message: str | None = None, yes_price: Decimal | None = None,
        count: Decimal | None = None, extra: Mapping[str, Any] | None = None,
    ) -> OrderEvent | None:
        """What happened to an order: accepted, rejected (code/message), amended, decreased, cancelled, reconciled.

        Recorded after the exchange acted, so a journal that fails now (a damaged page, a full disk) must not turn
        that into an error: the failure is logged and None returned (a pending intent is settled later)."""
        if kind not in OUTCOME_KINDS:
            raise UsageError(f"unknown order event {kind!r}; use one of {OUTCOME_KINDS}")
        try:
            return self._record_outcome(client_order_id, kind, order_id=order_id, status=status, code=code,
                                        message=message, yes_price=yes_price, count=count, extra=extra)
        except JournalError as exc:
            log.error("order %s was %s (order id %s) but the journal could not record it: %s", client_order_id,
                      kind, order_id, exc)
            return None

    @guarded
    def _record_outcome(
        self, client_order_id: str, kind: str, *, order_id: str | None, status: str | None, code: str | None,
        message: str | None, yes_price: Decimal | None, count: Decimal | None, extra: Mapping[str, Any] | None,
    ) -> OrderEvent:
        intent = self._conn.execute(
            "SELECT env, ticker, book_side, time_in_force FROM order_events "
            "WHERE client_order_id = ? AND kind = 'intent'",
            (client_order_id,),
        ).fetchone() or (None, None, None, None)
        return self._insert_event(
            kind, client_order_id, order_id=order_id, env=intent[0], ticker=intent[1], book_side=intent[2],
            time_in_force=intent[3], status=_text(status), code=code, message=message,
            yes_price=None if yes_price is None else price_text(yes_price),
            count=None if count is None else count_text(count), extra=extra,
        )

    def mark_reconciled(self, client_order_id: str, order_id: str | None, status: str) -> OrderEvent | None:
        """Close a pending intent after asking the exchange (order_id None: the order never arrived)."""
        return self.record_outcome(client_order_id, "reconciled", order_id=order_id, status=status)

    def record_late_placement(self, client_order_id: str, order_id: str, status: str) -> OrderEvent | None:
        """An intent recorded as not placed turned out to be an order after all (it landed late)."""
        log.warning("order intent %s was recorded as not placed, but order %s has it (%s); journal corrected",
                    client_order_id, order_id, status)
        return self.record_outcome(client_order_id, "reconciled", order_id=order_id, status=status,
                                   message="placed after all: the order reached the exchange after it was "
                                           "recorded as not placed")

    @guarded
    def pending_intents(self) -> list[OrderEvent]:
        """Intents with no outcome yet: orders that may or may not have reached the exchange."""
        return self._events(
            "SELECT * FROM order_events i WHERE kind = 'intent' AND NOT EXISTS (SELECT 1 FROM order_events o "
            "WHERE o.client_order_id = i.client_order_id AND o.kind != 'intent') ORDER BY id", ()
        )

    @guarded
    def not_placed_intents(self, since: datetime) -> list[OrderEvent]:
        """Intents whose latest outcome, recorded at or after `since`, says the order never reached the exchange."""
        return self._events(_LATEST, (NOT_PLACED, iso(since)))

    @guarded
    def known_order_ids(self, order_ids: Iterable[str]) -> set[str]:
        """Which of these order ids some order event already names."""
        wanted = sorted(set(order_ids))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self._conn.execute(
                f"SELECT DISTINCT order_id FROM order_events WHERE order_id IN ({', '.join('?' * len(chunk))})",
                chunk)
            known.update(r[0] for r in rows)
        return known

    @guarded
    def strategies(self, ids: Iterable[str]) -> dict[str, str]:
        """The strategy that placed each of these orders (order ids or client order ids), from its intent's
        `extra["strategy"]` (the bot's); orders placed by hand are left out."""
        wanted = sorted(set(ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 250):
            chunk = wanted[start:start + 250]
            marks = ", ".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT o.order_id, o.client_order_id, json_extract(i.extra, '$.strategy') FROM order_events o "
                "JOIN order_events i ON i.client_order_id = o.client_order_id AND i.kind = 'intent' "
                f"WHERE (o.order_id IN ({marks}) OR o.client_order_id IN ({marks})) "
                "AND json_extract(i.extra, '$.strategy') IS NOT NULL", chunk + chunk)
            for order_id, client_order_id, strategy in rows:
                for key in (order_id, client_order_id):
                    if key in chunk:
                        found[key] = str(strategy)
        return found

    def _insert_event(self, kind: str, client_order_id: str, *, extra: Mapping[str, Any] | None = None,
                      **values: object) -> OrderEvent:
        now = self._clock()
        columns = ["time", "kind", "client_order_id", "extra", *values]
        row = [iso(now), str(kind), client_order_id, clean_extra(extra), *values.values()]
        with self._tx() as conn:
            cursor = conn.execute(
                f"INSERT INTO order_events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", row
            )
            event_id = cursor.lastrowid
            if extra and extra.get("strategy"):  # fills look their order's strategy up only once one is tagged
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (TAGGED_KEY,))
        return self._events("SELECT * FROM order_events WHERE id = ?", (event_id,))[0]

    @guarded
    def order_events(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, client_order_id: str | None = None, newest_first: bool = False,
    ) -> list[OrderEvent]:
        where, args = where_clause(since, until, ticker, "time")
        if client_order_id is not None:
            where += (" AND" if where else " WHERE") + " client_order_id = ?"
            args.append(client_order_id)
        order = "DESC" if newest_first else "ASC"
        return self._events(
            f"SELECT * FROM order_events{where} ORDER BY time {order}, id {order}{limit_clause(limit)}", args)

    def _events(self, sql: str, args: Sequence[object]) -> list[OrderEvent]:
        cursor = self._conn.execute(sql, tuple(args))
        names = [d[0] for d in cursor.description]
        events = []
        for row in cursor:
            r = dict(zip(names, row, strict=True))
            events.append(OrderEvent(
                id=r["id"], time=parse_time(r["time"]), kind=EventKind(r["kind"]),
                client_order_id=r["client_order_id"], order_id=r["order_id"], env=r["env"], ticker=r["ticker"],
                book_side=r["book_side"], yes_price=decimal_or_none(r["yes_price"]), count=decimal_or_none(r["count"]),
                time_in_force=r["time_in_force"], status=r["status"], code=r["code"], message=r["message"],
                extra=json.loads(r["extra"]), owner=owner_from_text(r["owner"]), deadline=parse_iso(r["deadline"]),
            ))
        return events
