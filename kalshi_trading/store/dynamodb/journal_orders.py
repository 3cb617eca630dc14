"""The DynamoDB journal's order events: write-ahead intents and what became of them (`store.journal`'s contract).

Mixed into `DynamoJournal`, which provides the tables (`db`), the generation prefix (`_g`), the clock and the day
sets.  Each event is one transaction (TransactWriteItems) of a few items in the `journal` table, so an intent is
recorded whole or not at all:

    {g}c#{client_order_id} / 000..0        the intent (a conditional put: one intent per client order id)
    {g}c#{client_order_id} / {id:020d}     each outcome: the order's events are one Query
    {g}ev#{UTC date}       / {time}#{id}   every event again, by time: `order_events()` Queries the dates in order
    {g}pending             / {intent id}   an intent without an outcome yet (deleted by its first outcome)
    {g}np                  / {intent id}   an intent whose newest outcome says "not placed" (deleted by the next)
    {g}o#{order_id}        / -             order id -> client order id and the intent's strategy tag
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.money import MoneyError
from kalshi_trading.store.dynamodb.codec import INTENT_SK, day_of, event_from, event_item, iso, strategy_of
from kalshi_trading.store.dynamodb.wire import Declined, Dynamo, Item, S, delete, pad, put, s, text
from kalshi_trading.store.journal import NOT_PLACED, OUTCOME_KINDS, EventKind, IntentOwner, OrderEvent
from kalshi_trading.store.sqlite.codec import count_text, owner_text, price_text
from kalshi_trading.store.sqlite.journal_orders import clean_extra

log = logging.getLogger(__name__)

def _text(value: object) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise UsageError("limit must be >= 0")


class OrderEventsMixin:
    """Order events of the DynamoDB journal (see the module docstring)."""

    # provided by DynamoJournal
    db: Dynamo
    _g: str
    _clock: Callable[[], datetime]
    _note_days: Callable[[str, Iterable[str]], None]
    _ranged: Callable[..., Iterator[Item]]
    _mark_tagged: Callable[[], None]

    def _key(self, pk: str, sk: str) -> Item:
        return {"pk": S(self._g + pk), "sk": S(sk)}

    def record_intent(
        self, client_order_id: str, ticker: str, book_side: str, yes_price: Decimal, count: Decimal,
        time_in_force: str, env: str, extra: Mapping[str, Any] | None = None, *, owner: IntentOwner | None = None,
        deadline: datetime | None = None,
    ) -> OrderEvent:
        """Durably record that an order is about to be sent (one transaction, acknowledged before this returns)."""
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
        values = dict(env=env, ticker=ticker, book_side=side, yes_price=price, count=qty,
                      time_in_force=str(getattr(time_in_force, "value", time_in_force)), owner=owner_text(owner),
                      deadline=iso(deadline or self._clock()))
        now = iso(self._clock())
        item = event_item(self.db.counter("order_event"), now, EventKind.INTENT.value, client_order_id,
                          clean_extra(extra), values)
        self._note_days("d_events", [day_of(now)])
        event_id = int(item["id"]["N"])
        try:
            self.db.transact([
                put(self.db.table("journal"), {**item, **self._key(f"c#{client_order_id}", INTENT_SK)},
                    "attribute_not_exists(#pk)", names={"#pk": "pk"}),
                put(self.db.table("journal"), {**item, **self._key(f"ev#{day_of(now)}", f"{now}#{pad(event_id)}")}),
                put(self.db.table("journal"), {**item, **self._key("pending", pad(event_id))}),
            ])
        except Declined:
            raise UsageError(f"client_order_id {client_order_id} already has an intent") from None
        if extra and extra.get("strategy"):  # fills look their order's strategy up only once one is tagged
            self._mark_tagged()
        return event_from(item)

    def record_outcome(
        self, client_order_id: str, kind: str, *, order_id: str | None = None, status: str | None = None,
        code: str | None = None, message: str | None = None, yes_price: Decimal | None = None,
        count: Decimal | None = None, extra: Mapping[str, Any] | None = None,
    ) -> OrderEvent | None:
        """What happened to an order.  Recorded after the exchange acted: a store that fails now is logged and
        None returned (a pending intent is settled later)."""
        if kind not in OUTCOME_KINDS:
            raise UsageError(f"unknown order event {kind!r}; use one of {OUTCOME_KINDS}")
        try:
            return self._record_outcome(client_order_id, kind, order_id=order_id, status=status, code=code,
                                        message=message, yes_price=yes_price, count=count, extra=extra)
        except JournalError as exc:
            log.error("order %s was %s (order id %s) but the journal could not record it: %s", client_order_id,
                      kind, order_id, exc)
            return None

    def _record_outcome(
        self, client_order_id: str, kind: str, *, order_id: str | None, status: str | None, code: str | None,
        message: str | None, yes_price: Decimal | None, count: Decimal | None, extra: Mapping[str, Any] | None,
    ) -> OrderEvent:
        journal = self.db.table("journal")
        intent = self.db.get("journal", self._key(f"c#{client_order_id}", INTENT_SK))
        facts = {name: s(intent, name) if intent else None for name in ("env", "ticker", "book_side",
                                                                          "time_in_force")}
        values = dict(order_id=order_id, **facts, status=_text(status), code=code, message=message,
                      yes_price=None if yes_price is None else price_text(yes_price),
                      count=None if count is None else count_text(count))
        now = iso(self._clock())
        event_id = self.db.counter("order_event")
        item = event_item(event_id, now, str(kind), client_order_id, clean_extra(extra), values)
        self._note_days("d_events", [day_of(now)])
        actions = [put(journal, {**item, **self._key(f"c#{client_order_id}", pad(event_id))}),
                   put(journal, {**item, **self._key(f"ev#{day_of(now)}", f"{now}#{pad(event_id)}")})]
        if intent is not None:
            intent_sk = pad(int(intent["id"]["N"]))
            actions.append(delete(journal, self._key("pending", intent_sk)))
            if kind == EventKind.RECONCILED and _text(status) == NOT_PLACED:
                actions.append(put(journal, {**intent, **self._key("np", intent_sk), "at": S(now)}))
            else:
                actions.append(delete(journal, self._key("np", intent_sk)))
        if order_id:
            index: Item = {**self._key(f"o#{order_id}", "-"), "oid": S(order_id), "coid": S(client_order_id)}
            tag = strategy_of(intent) if intent else None
            if tag is not None:
                index["st"] = S(tag)
            actions.append(put(journal, index))
        self.db.transact(actions)
        return event_from(item)

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
        """Intents with no outcome yet, oldest first (one Query of the `pending` partition)."""
        return [event_from(item) for item in self.db.query("journal", "pk", self._g + "pending")]

    def not_placed_intents(self, since: datetime) -> list[OrderEvent]:
        """Intents whose newest outcome, recorded at or after `since`, says the order never reached the exchange."""
        floor = iso(since)
        return [event_from(item) for item in self.db.query("journal", "pk", self._g + "np")
                if text(item, "at") >= floor]

    def known_order_ids(self, order_ids: Iterable[str]) -> set[str]:
        """Which of these order ids some order event names (BatchGetItem of the order-id index)."""
        wanted = sorted({oid for oid in order_ids if oid})
        found = self.db.batch_get("journal", [self._key(f"o#{oid}", "-") for oid in wanted])
        return {text(item, "oid") for item in found}

    def strategies(self, ids: Iterable[str]) -> dict[str, str]:
        """The strategy that placed each of these orders (order ids or client order ids), from its intent's
        `extra["strategy"]`; orders placed by hand are left out."""
        wanted = sorted({i for i in ids if i})
        keys = [self._key(f"c#{i}", INTENT_SK) for i in wanted] + [self._key(f"o#{i}", "-") for i in wanted]
        found: dict[str, str] = {}
        for item in self.db.batch_get("journal", keys):
            if text(item, "sk") == INTENT_SK:
                tag = strategy_of(item)
                if tag is not None:
                    found[text(item, "coid")] = tag
            elif "st" in item:
                found[text(item, "oid")] = text(item, "st")
        return found

    def order_events(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, client_order_id: str | None = None, newest_first: bool = False,
    ) -> list[OrderEvent]:
        """Events by (time, id): one order's Query, or the dates' partitions in order."""
        check_limit(limit)
        low, high = (iso(since) if since else None), (iso(until) if until else None)
        if limit == 0:
            return []
        if client_order_id is not None:
            items = [item for item in self.db.query("journal", "pk", f"{self._g}c#{client_order_id}")
                     if (low is None or text(item, "time") >= low) and (high is None or text(item, "time") < high)
                     and (ticker is None or s(item, "ticker") == ticker)]
            items.sort(key=lambda i: (text(i, "time"), int(i["id"]["N"])), reverse=newest_first)
            return [event_from(item) for item in items[:limit]]
        events: list[OrderEvent] = []
        for item in self._ranged("journal", "pk", "ev#", "d_events", since, until, newest_first,
                                 ticker_attribute="ticker", ticker=ticker):
            events.append(event_from(item))
            if limit is not None and len(events) >= limit:
                break
        return events

