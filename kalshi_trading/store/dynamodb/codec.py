"""Journal records to and from DynamoDB items, and the sort keys they are found by.

Texts are the SQLite journal's (`store.sqlite.codec`): times fixed-width ISO-8601 UTC (`2026-03-01T12:01:00.000000Z`,
'' when unknown, so text order is time order), and each fill keeps its trades-CSV line in pieces, so the two
adapters export byte-identical CSV.  Prices, counts and money are numbers (`N`, read back as exact Decimal).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Mapping

from kalshi_trading.models import BookSide, Fill, Settlement, Side
from kalshi_trading.store.dynamodb.wire import B, Item, N, S, flag, n, num, pad, s, text
from kalshi_trading.store.journal import EventKind, OrderEvent
from kalshi_trading.store.sqlite.codec import (
    FILL_TIME, fill_row, iso, owner_from_text, parse_iso, parse_time,
)

NO_DAY = "0000-00-00"  # the partition of records whose time is unknown ('' sorts before every time)
INTENT_SK = pad(0)  # the intent's place among its order's events (it comes first)


def day_of(time_text: str) -> str:
    """The UTC date partition of a record at `time_text` (fixed-width ISO text, '' when unknown)."""
    return time_text[:10] if time_text else NO_DAY


def key_part(value: str) -> str:
    """An id inside a `#`-joined sort key, escaped so that two different ids never give the same key."""
    return value.replace("%", "%25").replace("#", "%23")


def value_text(value: object) -> str:
    return str(getattr(value, "value", value))


# -- fills ----------------------------------------------------------------------------------------------------------


def fill_item(f: Fill, strategy: str, generation: str) -> tuple[Item, Item]:
    """A fill as (its trade-log item, its fill-id item).  Validates it (a MoneyError for an impossible fill).

    The fill-id item holds what makes two fills one (`facts`) and where the trade-log item is."""
    row = fill_row(f, strategy)
    when = row[FILL_TIME]
    day = generation + day_of(when)
    sk = f"{when}#{key_part(f.order_id)}#{key_part(f.fill_id)}"
    trade: Item = {
        "day": S(day), "sk": S(sk), "f": S(f.fill_id), "o": S(f.order_id), "tr": S(f.trade_id or ""),
        "tk": S(f.ticker), "os": S(value_text(f.outcome_side)), "bs": S(value_text(f.book_side)),
        "c": N(f.count), "u": N(row[7]), "yp": N(f.yes_price), "fee": N(f.fee), "taker": B(f.is_taker),
        "t": S(when), "st": S(strategy), "h": S(row[14]), "m": S(row[15]), "y": S(row[16]), "no": S(row[17]),
    }
    guard: Item = {"fill_id": S(generation + f.fill_id), "facts": S(fill_facts(f, row)), "day": S(day),
                   "sk": S(sk)}
    return trade, guard


def fill_facts(f: Fill, row: list[Any] | None = None) -> str:
    """What makes two fills with one id the same fill (the SQLite journal compares the same columns)."""
    row = row if row is not None else fill_row(f)
    return json.dumps([f.order_id, f.ticker, row[5], row[6], row[8], row[FILL_TIME]])


def fill_from(item: Item) -> Fill:
    return Fill(fill_id=text(item, "f"), order_id=text(item, "o"), trade_id=text(item, "tr"),
                ticker=text(item, "tk"), outcome_side=Side(text(item, "os")), book_side=BookSide(text(item, "bs")),
                count=num(item, "c"), yes_price=num(item, "yp"), fee=num(item, "fee"), is_taker=flag(item, "taker"),
                created_time=parse_iso(text(item, "t")))


# -- settlements ----------------------------------------------------------------------------------------------------


def settlement_item(st: Settlement, generation: str) -> Item:
    when = iso(st.settled_time)
    item: Item = {
        "pk": S(f"{generation}s#{day_of(when)}"), "sk": S(f"{when}#{st.ticker}"), "tk": S(st.ticker),
        "ev": S(st.event_ticker), "res": S(st.market_result), "yc": N(st.yes_count), "ycost": N(st.yes_total_cost),
        "nc": N(st.no_count), "ncost": N(st.no_total_cost), "rev": N(st.revenue), "t": S(when), "fee": N(st.fee),
    }
    if st.value is not None:
        item["val"] = N(st.value)
    return item


def settlement_from(item: Item) -> Settlement:
    return Settlement(
        ticker=text(item, "tk"), event_ticker=text(item, "ev"), market_result=text(item, "res"),
        yes_count=num(item, "yc"), yes_total_cost=num(item, "ycost"), no_count=num(item, "nc"),
        no_total_cost=num(item, "ncost"), revenue=num(item, "rev"), settled_time=parse_iso(text(item, "t")),
        fee=num(item, "fee"), value=n(item, "val"),
    )


# -- order events ---------------------------------------------------------------------------------------------------


def event_item(event_id: int, time_text: str, kind: str, client_order_id: str, extra: str,
               values: Mapping[str, object]) -> Item:
    """An order event's attributes (no keys): texts as given, `yes_price` and `count` exact numbers."""
    item: Item = {"id": N(event_id), "time": S(time_text), "kind": S(kind), "coid": S(client_order_id),
                  "extra": S(extra)}
    for name, value in values.items():
        if value is None:
            continue
        if name in ("yes_price", "count"):
            item[name] = N(Decimal(str(value)))
        else:
            item[name] = S(str(value))
    return item


def event_from(item: Item) -> OrderEvent:
    return OrderEvent(
        id=int(num(item, "id")), time=parse_time(text(item, "time")), kind=EventKind(text(item, "kind")),
        client_order_id=text(item, "coid"), order_id=s(item, "order_id"), env=s(item, "env"),
        ticker=s(item, "ticker"), book_side=s(item, "book_side"), yes_price=n(item, "yes_price"),
        count=n(item, "count"), time_in_force=s(item, "time_in_force"), status=s(item, "status"),
        code=s(item, "code"), message=s(item, "message"), extra=json.loads(text(item, "extra")),
        owner=owner_from_text(s(item, "owner")), deadline=parse_iso(s(item, "deadline")),
    )


def strategy_of(item: Item) -> str | None:
    """The `strategy` tag of an intent item's extra (the bot's), or None."""
    extra = s(item, "extra")
    if not extra:
        return None
    value = json.loads(extra).get("strategy")
    return None if value is None else str(value)

