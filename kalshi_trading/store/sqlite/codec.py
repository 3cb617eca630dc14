"""The exact text formats of the SQLite journal's columns, and domain records to and from its rows.

Prices, counts and money are fixed-point TEXT as the wire writes them (`0.5200`, `10.00`, `0.017500`); times are
ISO-8601 UTC TEXT of fixed width (`2026-01-02T03:04:05.000000Z`, '' when unknown), so text order is time order.
Each fill row also keeps its trades-CSV line in pieces (`csv_head`... `csv_no`): schema version 2 requires them, and
a program of that version exports from them.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from kalshi_trading.errors import UsageError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.money import MoneyError, count_to_units, price_to_units
from kalshi_trading.store.journal import IntentOwner

log = logging.getLogger(__name__)

# Column order of the fills table; `before` is filled in by the journal when it inserts.
FILL_COLUMNS = (
    "fill_id", "order_id", "trade_id", "ticker", "outcome_side", "book_side", "count", "count_units", "yes_price",
    "no_price", "fee", "is_taker", "created_time", "before", "csv_head", "csv_mid", "csv_yes", "csv_no", "strategy",
)
FILL_TIME, FILL_BEFORE = 12, 13
FILL_SELECT = (
    "fill_id, order_id, trade_id, ticker, outcome_side, book_side, count, yes_price, fee, is_taker, created_time"
)
_LINE_END = "\r\n"

FillRow = list[Any]  # one row of FILL_COLUMNS, as inserted
SettlementRow = tuple[Any, ...]


def iso(t: datetime | None) -> str:
    """Fixed-width ISO-8601 UTC text ('' for unknown), so text order is time order; naive datetimes are refused."""
    if t is None:
        return ""
    if t.tzinfo is None:
        raise UsageError(f"naive datetime {t} (times must be timezone-aware UTC)")
    if t.tzinfo is not timezone.utc:
        t = t.astimezone(timezone.utc)
    return t.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def parse_time(text: str) -> datetime:
    """A time column that is never empty."""
    return datetime.fromisoformat(text)


def fixed(units: int, places: int) -> str:
    """Integer sub-units as fixed-point text: fixed(5200, 4) == '0.5200'."""
    if units < 0:
        return "-" + fixed(-units, places)
    digits = str(units).rjust(places + 1, "0")
    return digits[:-places] + "." + digits[-places:]


def price_text(price: Decimal) -> str:
    return fixed(price_to_units(price), 4)


def count_text(count: Decimal) -> str:
    return fixed(count_to_units(count), 2)


def decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _csv_field(text: str) -> str:
    """Quote a free-text field the way csv.writer would (ids and tickers almost never need it)."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def fill_row(f: Fill, strategy: str = "") -> FillRow:
    """A fill as a journal row: exact TEXT columns plus its CSV line in pieces (`before` still None)."""
    y = price_to_units(f.yes_price)
    if not 0 <= y <= 10_000:
        raise MoneyError(f"fill {f.fill_id}: price {f.yes_price} is outside $0..$1")
    n = count_to_units(f.count)
    if n <= 0:
        raise MoneyError(f"fill {f.fill_id}: count {f.count} is not positive")
    fee = f.fee * 1_000_000
    if fee != fee.to_integral_value() or fee < 0:
        raise MoneyError(f"fill {f.fill_id}: fee {f.fee} is negative or finer than $0.000001")
    if f.book_side not in ("bid", "ask"):
        raise MoneyError(f"fill {f.fill_id}: book_side {f.book_side!r} is neither bid nor ask")
    when, count, yes, no = iso(f.created_time), fixed(n, 2), fixed(y, 4), fixed(10_000 - y, 4)
    tag = _csv_field(strategy)
    fee_text, taker = fixed(int(fee), 6), "true" if f.is_taker else "false"
    return [
        f.fill_id, f.order_id, f.trade_id, f.ticker, f.outcome_side, f.book_side, count,
        n if f.book_side == "bid" else -n, yes, no, fee_text, int(f.is_taker), when, None,
        f"{when},{_csv_field(f.fill_id)},{_csv_field(f.order_id)},{_csv_field(f.ticker)},",
        f",{count},{yes},{no},",
        f"{yes},{fixed(y * n, 6)},{fee_text},{taker},{tag}{_LINE_END}",
        f"{no},{fixed((10_000 - y) * n, 6)},{fee_text},{taker},{tag}{_LINE_END}",
        strategy,
    ]


def fill_from_row(r: tuple[Any, ...]) -> Fill:
    """A row of `SELECT {FILL_SELECT}` back to the domain Fill (exact: TEXT to Decimal)."""
    return Fill(
        fill_id=r[0], order_id=r[1], trade_id=r[2], ticker=r[3], outcome_side=r[4], book_side=r[5],
        count=Decimal(r[6]), yes_price=Decimal(r[7]), fee=Decimal(r[8]), is_taker=bool(r[9]),
        created_time=parse_iso(r[10]),
    )


def settlement_row(s: Settlement) -> SettlementRow:
    return (
        s.ticker, s.event_ticker, s.market_result, str(s.yes_count), str(s.yes_total_cost), str(s.no_count),
        str(s.no_total_cost), str(s.revenue), iso(s.settled_time), str(s.fee),
        None if s.value is None else str(s.value),
    )


def settlement_from_row(r: tuple[Any, ...]) -> Settlement:
    return Settlement(
        ticker=r[0], event_ticker=r[1], market_result=r[2], yes_count=Decimal(r[3]), yes_total_cost=Decimal(r[4]),
        no_count=Decimal(r[5]), no_total_cost=Decimal(r[6]), revenue=Decimal(r[7]), settled_time=parse_iso(r[8]),
        fee=Decimal(r[9]), value=None if r[10] is None else Decimal(r[10]),
    )


def owner_text(owner: IntentOwner | None) -> str | None:
    """An intent's writer as the `owner` column stores it (JSON)."""
    if owner is None:
        return None
    return json.dumps({"host": owner.host, "boot_id": owner.boot_id, "pid_ns": owner.pid_ns, "pid": owner.pid,
                       "start_ticks": owner.start_ticks}, sort_keys=True)


def owner_from_text(text: str | None) -> IntentOwner | None:
    """The stored writer; None for intents written before owners were recorded (or unreadable)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return IntentOwner(str(data["host"]), data.get("boot_id"), data.get("pid_ns"), int(data["pid"]),
                           data.get("start_ticks"))
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable intent owner %r; its intent is settled by age only", text[:80])
        return None
