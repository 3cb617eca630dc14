"""Domain values to and from the PostgreSQL store's columns (schema.py says the types).

Decimals and aware datetimes go to the driver as they are (psycopg sends `numeric` and `timestamptz` exactly);
what is checked here is what the database would otherwise accept silently: a naive datetime (the server would read
it in its own time zone), a fill price or count finer than its column (numeric would round it).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from kalshi_trading.errors import UsageError
from kalshi_trading.models import Fill
from kalshi_trading.money import MoneyError, count_to_units, price_to_units
from kalshi_trading.store.journal import SECRET_WORDS, IntentOwner

log = logging.getLogger(__name__)

UNKNOWN_TIME = "-infinity"  # a fill's or settlement's unknown time, as stored (sorts before every time)
FillFacts = tuple[str, str, str, int, int, datetime | None]  # what makes two fills with one id the same fill
FILL_COLUMNS = ("fill_id", "order_id", "trade_id", "ticker", "outcome_side", "book_side", "count", "yes_price",
                "fee", "is_taker", "created_time")


def aware(t: datetime) -> datetime:
    """`t` as UTC; a naive datetime is a UsageError."""
    if t.tzinfo is None:
        raise UsageError(f"naive datetime {t} (times must be timezone-aware UTC)")
    return t.astimezone(timezone.utc)


def stored_time(t: datetime | None) -> datetime | str:
    """A time that may be unknown, as the column holds it."""
    return UNKNOWN_TIME if t is None else aware(t)


def clean_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """`extra` without keys that look like credentials."""
    kept: dict[str, Any] = {}
    for key, value in (extra or {}).items():
        if any(word in str(key).lower() for word in SECRET_WORDS):
            log.warning("journal: dropped extra field %r (looks like a credential)", key)
            continue
        kept[str(key)] = value
    return kept


def json_text(value: Any) -> str:
    """A JSON document as stored (values that are not JSON, such as Decimal or datetime, as their str())."""
    return json.dumps(value, default=str, sort_keys=True)


def strategy_tag(extra: Mapping[str, Any]) -> str | None:
    """An intent's strategy tag (`extra["strategy"]`, the bot's) as text; None when placed by hand."""
    value = extra.get("strategy")
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def owner_doc(owner: IntentOwner | None) -> str | None:
    if owner is None:
        return None
    return json.dumps({"host": owner.host, "boot_id": owner.boot_id, "pid_ns": owner.pid_ns, "pid": owner.pid,
                       "start_ticks": owner.start_ticks}, sort_keys=True)


def owner_from_doc(doc: Any) -> IntentOwner | None:
    """The stored writer; None for none (or an unreadable one: the intent is then settled by age only)."""
    if not doc:
        return None
    try:
        return IntentOwner(str(doc["host"]), doc.get("boot_id"), doc.get("pid_ns"), int(doc["pid"]),
                           doc.get("start_ticks"))
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("unreadable intent owner %r; its intent is settled by age only", str(doc)[:80])
        return None


def fill_values(f: Fill) -> tuple[tuple[Any, ...], FillFacts]:
    """A fill as a row of FILL_COLUMNS, and its facts; a value the columns cannot hold exactly is a MoneyError."""
    y = price_to_units(f.yes_price)
    if not 0 <= y <= 10_000:
        raise MoneyError(f"fill {f.fill_id}: price {f.yes_price} is outside $0..$1")
    n = count_to_units(f.count)
    if n <= 0:
        raise MoneyError(f"fill {f.fill_id}: count {f.count} is not positive")
    fee = f.fee * 1_000_000
    if fee != fee.to_integral_value() or fee < 0:
        raise MoneyError(f"fill {f.fill_id}: fee {f.fee} is negative or finer than $0.000001")
    side = text(f.book_side)
    if side not in ("bid", "ask"):
        raise MoneyError(f"fill {f.fill_id}: book_side {f.book_side!r} is neither bid nor ask")
    when = None if f.created_time is None else aware(f.created_time)
    row = (f.fill_id, f.order_id, f.trade_id, f.ticker, text(f.outcome_side), side, f.count, f.yes_price, f.fee,
           bool(f.is_taker), UNKNOWN_TIME if when is None else when)
    return row, (f.order_id, f.ticker, side, n, y, when)


def fill_from_row(r: tuple[Any, ...]) -> Fill:
    """A row of `SELECT {FILL_SELECT}` back to the domain Fill."""
    return Fill(fill_id=r[0], order_id=r[1], trade_id=r[2], ticker=r[3], outcome_side=r[4], book_side=r[5],
                count=r[6], yes_price=r[7], fee=r[8], is_taker=r[9], created_time=r[10])


def text(value: object) -> str:
    """An enum member's value (a plain str otherwise): what a text column holds."""
    return str(getattr(value, "value", value))


def text_or_none(value: object) -> str | None:
    return None if value is None else text(value)


def texts(values: Iterable[object]) -> list[str]:
    """Distinct ids as a sorted list (an array parameter)."""
    return sorted({str(v) for v in values})
