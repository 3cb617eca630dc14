"""Parsing what a trader types: prices, counts, dates, durations.  Each refusal explains itself."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from kalshi_trading.errors import UsageError
from kalshi_trading.money import MoneyError, parse_count_text, parse_price_text

_DURATION = re.compile(r"\+?([0-9]+(?:\.[0-9]+)?) *(s|sec|m|min|h|hr|d|day|days)?", re.IGNORECASE)
MAX_EXPIRY = timedelta(days=365)  # an order's --expires: at most a year ahead
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_price(text: str) -> Decimal:
    """`52` is 52 cents; `0.52` or `0.525` is dollars (the grammar is `money.parse_price_text`)."""
    try:
        return parse_price_text(text)
    except MoneyError as exc:
        raise UsageError(str(exc)) from None


def parse_count(text: str) -> Decimal:
    """A number of contracts in steps of 0.01 up to money.MAX_COUNT (`10`, `2.5`, `0.25`)."""
    try:
        return parse_count_text(text)
    except MoneyError as exc:
        raise UsageError(str(exc)) from None


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
    match = _DURATION.fullmatch(str(text).strip())
    if not match:
        raise UsageError(f"duration {text!r} not understood: write 90s, 15m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise UsageError("a duration must be positive")
    return seconds


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An expiry: a duration from now (`30m`, `+2h`) or an ISO-8601 time, at most MAX_EXPIRY ahead."""
    now = now or datetime.now(timezone.utc)
    raw = str(text).strip()
    shown = raw if len(raw) <= 40 else raw[:40] + "..."
    if _DURATION.fullmatch(raw):
        seconds = parse_duration(raw)
        if seconds > MAX_EXPIRY.total_seconds():
            raise UsageError(f"expiry {shown} is too far ahead: at most {MAX_EXPIRY.days} days")
        return now + timedelta(seconds=seconds)
    try:
        moment = parse_date(raw)
    except UsageError:
        raise UsageError(f"expiry {shown!r} not understood: write 30m, 2h, 1d or a time like 2026-11-21T14:30:00Z") \
            from None
    if moment is None or moment <= now:
        raise UsageError(f"expiry {shown} is not in the future")
    if moment - now > MAX_EXPIRY:
        raise UsageError(f"expiry {shown} is too far ahead: at most {MAX_EXPIRY.days} days")
    return moment
