"""Parsing what a trader types: prices, counts, dates, durations.  Each refusal explains itself."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from kalshi_trading.errors import UsageError
from kalshi_trading.money import is_valid_count

_CENTS = re.compile(r"^[0-9]{1,2}$")
_DOLLARS = re.compile(r"^0\.[0-9]{1,4}$")
_DURATION = re.compile(r"^\+?(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day|days)?$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_price(text: str) -> Decimal:
    """`52` is 52 cents; `0.52` or `0.525` is dollars.  Anything else is refused with the rule."""
    raw = str(text).strip()
    if _CENTS.match(raw):
        cents = int(raw)
        if 1 <= cents <= 99:
            return Decimal(cents) / 100
        raise UsageError(f"price {raw}: a price in cents must be a whole number from 1 to 99")
    if _DOLLARS.match(raw):
        value = Decimal(raw)
        if value <= 0:
            raise UsageError(f"price {raw}: must be above 0")
        return value
    raise UsageError(
        f"price {raw!r} not understood: write whole cents from 1 to 99 (52) or dollars with a leading 0. (0.52, 0.525)"
    )


def parse_count(text: str) -> Decimal:
    """A positive number of contracts in steps of 0.01 (`10`, `2.5`, `0.25`)."""
    raw = str(text).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UsageError(f"count {raw!r} is not a number") from None
    if not value.is_finite() or not is_valid_count(value):
        raise UsageError(f"count {raw}: must be a positive number of contracts in steps of 0.01")
    return value


def parse_date(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """`2026-11-21` (a UTC day) or an ISO-8601 time; a time without a zone is read as UTC."""
    if text is None or str(text).strip() == "":
        return None
    raw = str(text).strip()
    try:
        if len(raw) == 10:
            day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return day + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else day
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"date {raw!r} not understood: write 2026-11-21 or 2026-11-21T14:30:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    start = parse_date(since)
    end = parse_date(until, end_of_day=True)
    if start is not None and end is not None and start > end:
        raise UsageError(f"--since {since} is after --until {until}")
    return start, end


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `1d`, or plain seconds."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise UsageError(f"duration {text!r} not understood: write 90s, 15m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise UsageError("a duration must be positive")
    return seconds


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An expiry: a duration from now (`30m`, `+2h`) or an ISO-8601 time."""
    now = now or datetime.now(timezone.utc)
    raw = str(text).strip()
    if _DURATION.match(raw):
        return now + timedelta(seconds=parse_duration(raw))
    moment = parse_date(raw)
    if moment is None or moment <= now:
        raise UsageError(f"expiry {raw} is not in the future")
    return moment
