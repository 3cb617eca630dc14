"""The PostgreSQL journal's order events: write-ahead intents (with their writer and deadline) and what became of them.

Mixed into `PostgresJournal`, which provides the database (`_db`), the clock and the location.  The contract (an
intent, then outcomes; the newest outcome wins) is `store.journal`'s.  An intent is one INSERT in its own
transaction, committed before `record_intent` returns; if anything fails, nothing of it is stored.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

import psycopg

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.money import MoneyError, count_to_units, price_to_units
from kalshi_trading.store.sql import limit_clause
from kalshi_trading.store.sql import where_clause as sql_where
from kalshi_trading.store.journal import NOT_PLACED, OUTCOME_KINDS, EventKind, IntentOwner, OrderEvent
from kalshi_trading.store.postgres.codec import (
    aware, clean_extra, json_text, owner_doc, owner_from_doc, strategy_tag, text, text_or_none, texts,
)
from kalshi_trading.store.postgres.db import Database

log = logging.getLogger(__name__)

EVENT_COLUMNS = ("id, time, kind, client_order_id, order_id, env, ticker, book_side, yes_price, count, "
                 "time_in_force, status, code, message, extra, owner, deadline")
# Intents whose newest outcome is a `reconciled` event with a given status, recorded since a time.
_LATEST = (f"SELECT {', '.join('i.' + c for c in EVENT_COLUMNS.split(', '))} FROM order_events o "
           "JOIN order_events i ON i.client_order_id = o.client_order_id AND i.kind = 'intent' "
           "WHERE o.kind = 'reconciled' AND o.status = %s AND o.time >= %s AND o.id = ("
           "SELECT max(x.id) FROM order_events x WHERE x.client_order_id = o.client_order_id AND x.kind <> 'intent') "
           "ORDER BY i.id")
# An outcome carries its intent's ticker, side, time in force and environment.
_OUTCOME = ("INSERT INTO order_events (time, kind, client_order_id, order_id, status, code, message, yes_price, "
            "count, extra, env, ticker, book_side, time_in_force) "
            "SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, i.env, i.ticker, i.book_side, i.time_in_force "
            "FROM (SELECT 1) AS one LEFT JOIN order_events i ON i.client_order_id = %s AND i.kind = 'intent' "
            f"RETURNING {EVENT_COLUMNS}")
_INTENT = ("INSERT INTO order_events (time, kind, client_order_id, env, ticker, book_side, yes_price, count, "
           "time_in_force, extra, strategy, owner, deadline) VALUES (%s, 'intent', %s, %s, %s, %s, %s, %s, %s, %s, "
           f"%s, %s, %s) RETURNING {EVENT_COLUMNS}")


def where_clause(since: datetime | None, until: datetime | None, ticker: str | None,
                 time_col: str) -> tuple[str, list[object]]:
    """` WHERE ...` for a time range (since inclusive, until exclusive) and a ticker, with its parameters."""
    return sql_where(since, until, ticker, time_col, placeholder="%s", encode_time=aware)


def event_from_row(r: Sequence[Any]) -> OrderEvent:
    return OrderEvent(
        id=r[0], time=r[1], kind=EventKind(r[2]), client_order_id=r[3], order_id=r[4], env=r[5], ticker=r[6],
        book_side=r[7], yes_price=r[8], count=r[9], time_in_force=r[10], status=r[11], code=r[12], message=r[13],
        extra=json.loads(r[14]), owner=owner_from_doc(r[15]), deadline=r[16],
    )


class OrderEventsMixin:
    """Order events of the PostgreSQL journal (see the module docstring)."""

    # provided by PostgresJournal
    _db: Database
    _clock: Callable[[], datetime]

    def record_intent(
        self, client_order_id: str, ticker: str, book_side: str, yes_price: Decimal, count: Decimal,
        time_in_force: str, env: str, extra: Mapping[str, Any] | None = None, *, owner: IntentOwner | None = None,
        deadline: datetime | None = None,
    ) -> OrderEvent:
        """Durably record that an order is about to be sent: committed before this returns (or nothing is)."""
        if not client_order_id:
            raise UsageError("an order intent needs a client_order_id")
        side = text(book_side)
        if side not in ("bid", "ask"):
            raise UsageError(f"book_side {book_side!r} is neither bid nor ask")
        try:
            price_to_units(yes_price), count_to_units(count)
        except MoneyError as exc:
            raise UsageError(str(exc)) from None
        if not Decimal(0) <= yes_price <= Decimal(1) or count <= 0:
            raise UsageError(f"an order intent needs a price from 0 to 1 and a positive count, not {yes_price} x "
                             f"{count}")
        kept = clean_extra(extra)
        until = aware(deadline or self._clock())  # without one, nobody is sending it: settled at once
        values = (aware(self._clock()), client_order_id, env, ticker, side, yes_price, count, text(time_in_force),
                  json_text(kept), strategy_tag(kept), owner_doc(owner), until)
        with self._db.transaction(doing="recording an order intent") as conn:
            try:
                row = conn.execute(_INTENT, values).fetchone()
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name != "order_events_one_intent":
                    raise
                raise UsageError(f"client_order_id {client_order_id} already has an intent") from None
        assert row is not None
        return event_from_row(row)

    def record_outcome(
        self, client_order_id: str, kind: str, *, order_id: str | None = None, status: str | None = None,
        code: str | None = None, message: str | None = None, yes_price: Decimal | None = None,
        count: Decimal | None = None, extra: Mapping[str, Any] | None = None,
    ) -> OrderEvent | None:
        """What happened to an order; a storage failure is logged and gives None (the exchange already acted)."""
        if kind not in OUTCOME_KINDS:
            raise UsageError(f"unknown order event {kind!r}; use one of {OUTCOME_KINDS}")
        values = (aware(self._clock()), str(kind), client_order_id, order_id, text_or_none(status), code, message,
                  yes_price, count, json_text(clean_extra(extra)), client_order_id)
        try:
            with self._db.transaction(doing="recording an order outcome") as conn:
                row = conn.execute(_OUTCOME, values).fetchone()
        except JournalError as exc:
            log.error("order %s was %s (order id %s) but the journal could not record it: %s", client_order_id,
                      kind, order_id, exc)
            return None
        assert row is not None
        return event_from_row(row)

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

    def pending_intents(self) -> list[OrderEvent]:
        """Intents with no outcome yet: orders that may or may not have reached the exchange."""
        return self._events(
            f"SELECT {EVENT_COLUMNS} FROM order_events i WHERE kind = 'intent' AND NOT EXISTS (SELECT 1 FROM "
            "order_events o WHERE o.client_order_id = i.client_order_id AND o.kind <> 'intent') ORDER BY id", ())

    def not_placed_intents(self, since: datetime) -> list[OrderEvent]:
        """Intents whose latest outcome, recorded at or after `since`, says the order never reached the exchange."""
        return self._events(_LATEST, (NOT_PLACED, aware(since)))

    def known_order_ids(self, order_ids: Iterable[str]) -> set[str]:
        """Which of these order ids some order event already names."""
        wanted = texts(order_ids)
        if not wanted:
            return set()
        rows = self._db.rows("SELECT DISTINCT order_id FROM order_events WHERE order_id = ANY(%s)", (wanted,))
        return {r[0] for r in rows}

    def strategies(self, ids: Iterable[str]) -> dict[str, str]:
        """The strategy that placed each of these orders (order ids or client order ids), from its intent's tag;
        orders placed by hand are left out."""
        wanted = texts(ids)
        if not wanted:
            return {}
        rows = self._db.rows(
            "SELECT o.order_id, o.client_order_id, i.strategy FROM order_events o JOIN order_events i "
            "ON i.client_order_id = o.client_order_id AND i.kind = 'intent' "
            "WHERE (o.order_id = ANY(%s) OR o.client_order_id = ANY(%s)) AND i.strategy IS NOT NULL "
            "ORDER BY o.id", (wanted, wanted))
        chosen = set(wanted)
        found: dict[str, str] = {}
        for order_id, client_order_id, strategy in rows:
            for key in (order_id, client_order_id):
                if key in chosen:
                    found[key] = strategy
        return found

    def order_events(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, client_order_id: str | None = None, newest_first: bool = False,
    ) -> list[OrderEvent]:
        where, args = where_clause(since, until, ticker, "time")
        if client_order_id is not None:
            where += (" AND" if where else " WHERE") + " client_order_id = %s"
            args.append(client_order_id)
        order = "DESC" if newest_first else "ASC"
        return self._events(f"SELECT {EVENT_COLUMNS} FROM order_events{where} ORDER BY time {order}, id {order}"
                            f"{limit_clause(limit)}", args)

    def _events(self, query: str, args: Sequence[object]) -> list[OrderEvent]:
        return [event_from_row(r) for r in self._db.rows(query, args, doing="reading order events")]
