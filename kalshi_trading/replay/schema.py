"""The recording format (docs/recording.md is its specification): file names, row shapes, exact text of numbers.

A recording directory holds, per recorder session, one manifest (`session.<id>.json`) and daily gzip JSON-lines
files `<kind>.<YYYY-MM-DD>.<id>.jsonl.gz` (UTC dates), kind one of `KINDS`.  Book rows are the public `book_l2`
rows (ticker, ts_recv, seq, side, price in dollars as text, size as text, is_snapshot) plus `sid` and the exchange
time `ts`; rows with a `marker` field instead of a side are snapshot headers and resync markers.  Prices and sizes are
written from integer sub-units (`marketdata.book`) so they round-trip exactly.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping

from kalshi_trading.marketdata.book import COUNT_PLACES, PRICE_PLACES
from kalshi_trading.marketdata.events import LifecycleEvent, LifecycleMsg, TickerMsg, TradeMsg, wire_enum
from kalshi_trading.models import BookSide, Side

FORMAT = "kalshi-recording"
VERSION = 1
BOOK, TRADES, TICKERS, LIFECYCLE = "book_l2", "trades", "tickers", "lifecycle"
KINDS = (BOOK, TRADES, TICKERS, LIFECYCLE)
SUFFIX = ".jsonl.gz"
MANIFEST_PREFIX = "session."

# marker rows of the book file (a `marker` field instead of side/price/size)
SNAPSHOT, STALE, DISCONNECTED, RECONNECTED, ERROR, SEQ = (
    "snapshot", "stale", "disconnected", "reconnected", "error", "seq")
MARKERS = frozenset({SNAPSHOT, STALE, DISCONNECTED, RECONNECTED, ERROR, SEQ})

DATA_NAME = re.compile(r"^(?P<kind>[a-z0-9_]+)\.(?P<day>\d{4}-\d{2}-\d{2})\.(?P<session>[0-9A-Za-z-]+)\.jsonl\.gz$")
MANIFEST_NAME = re.compile(r"^session\.(?P<session>[0-9A-Za-z-]+)\.json$")


class RowError(ValueError):
    """A row that does not have the shape of its kind (the reader adds the file and line)."""


@dataclass(frozen=True)
class DataFile:
    """One daily file of one kind of one session."""

    path: Path
    kind: str
    day: date
    session: str


def data_name(kind: str, day: date, session: str) -> str:
    return f"{kind}.{day.isoformat()}.{session}{SUFFIX}"


def manifest_name(session: str) -> str:
    return f"{MANIFEST_PREFIX}{session}.json"


def session_id(started: datetime, n: int = 1) -> str:
    """`20261105T120000Z` for a session started then (`-2`, `-3`... when that name is taken)."""
    base = started.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return base if n == 1 else f"{base}-{n}"


# ----------------------------------------------------------------------------------- exact text
def fmt_ts(ts: datetime) -> str:
    """Aware time -> `2026-11-05T12:00:00.123456Z` (always six fraction digits: the text sorts as the time does)."""
    offset = ts.utcoffset()
    if offset is None:
        raise ValueError("naive datetime in a recording")
    if offset:
        ts = ts.astimezone(timezone.utc)
    return ts.isoformat(timespec="microseconds")[:26] + "Z"  # isoformat: several times faster than strftime


@dataclass(frozen=True)
class ClockFit:
    """How a session's exchange time ran against its receive time: `exchange = exch + (receive - recv) x rate`,
    fitted by the recorder from the first and last exchange-stamped message (a simulator served at x60 has a rate
    near 60; a real exchange near 1).  Kept in the manifest as `clock`; `kalshi backtest --clock exchange` replays
    on it."""

    rate: float
    recv: str
    exch: str

    def as_manifest(self) -> dict[str, str]:
        return {"exchange_per_receive": repr(self.rate), "receive": self.recv, "exchange": self.exch}

    @classmethod
    def from_manifest(cls, doc: Any) -> "ClockFit | None":
        """The fit a manifest holds, or None (none recorded, or not readable)."""
        if not isinstance(doc, dict):
            return None
        try:
            rate = float(doc["exchange_per_receive"])
            parse_ts(doc["receive"]), parse_ts(doc["exchange"])
        except (KeyError, TypeError, ValueError, RowError):
            return None
        return cls(rate, doc["receive"], doc["exchange"]) if math.isfinite(rate) and rate > 0 else None

    def mapper(self) -> Callable[[str], str]:
        """receive-time text -> exchange-time text (order kept: the map only stretches and shifts)."""
        recv, exch, rate = parse_ts(self.recv), parse_ts(self.exch), self.rate

        def to_exchange(text: str) -> str:
            return fmt_ts(exch + (parse_ts(text) - recv) * rate)

        return to_exchange


def fit_clock(first: tuple[datetime, datetime] | None, last: tuple[datetime, datetime] | None) -> ClockFit | None:
    """The `ClockFit` through two (receive, exchange) pairs at least a second of receive time apart, else None."""
    if first is None or last is None:
        return None
    span = (last[0] - first[0]).total_seconds()
    moved = (last[1] - first[1]).total_seconds()
    if span < 1.0 or moved <= 0:
        return None
    return ClockFit(moved / span, fmt_ts(first[0]), fmt_ts(first[1]))


def parse_ts(text: Any) -> datetime:
    if not isinstance(text, str) or not text.endswith("Z"):
        raise RowError(f"time {text!r} is not UTC text ending in Z")
    try:
        ts = datetime.fromisoformat(text)  # Python 3.11 reads the Z as UTC itself (ten times faster than .replace)
    except ValueError as exc:
        raise RowError(f"time {text!r} is unreadable") from exc
    if ts.tzinfo is not timezone.utc:
        raise RowError(f"time {text!r} is not UTC text ending in Z")
    return ts


def units_text(units: int, places: int) -> str:
    """Integer sub-units -> fixed-point text: (5600, 4) -> "0.5600", (-1050, 2) -> "-10.50"."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def price_text(units: int) -> str:
    return units_text(units, PRICE_PLACES)


def size_text(units: int) -> str:
    return units_text(units, COUNT_PLACES)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def dumps(row: Mapping[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"))


# ----------------------------------------------------------------------------------- rows from events
def level_row(ticker: str, ts_recv: str, sid: int | None, seq: int | None, yes: bool, price: int, size: int,
              snapshot: bool, ts: str) -> dict[str, Any]:
    """A `book_l2` row: a snapshot level (size = the level's size) or a delta (size = the signed change)."""
    return {"ticker": ticker, "ts_recv": ts_recv, "seq": seq, "side": "yes" if yes else "no",
            "price": price_text(price), "size": size_text(size), "is_snapshot": snapshot, "sid": sid, "ts": ts}


def marker_row(marker: str, ticker: str | None, ts_recv: str, sid: int | None = None, seq: int | None = None,
               **fields: Any) -> dict[str, Any]:
    return {"marker": marker, "ticker": ticker, "ts_recv": ts_recv, "sid": sid, "seq": seq, **fields}


def trade_row(ev: TradeMsg, ts_recv: str) -> dict[str, Any]:
    return {"ticker": ev.ticker, "ts_recv": ts_recv, "trade_id": ev.trade_id, "yes_price": str(ev.yes_price),
            "count": str(ev.count), "taker_outcome_side": ev.taker_outcome_side and ev.taker_outcome_side.value,
            "taker_book_side": ev.taker_book_side and ev.taker_book_side.value, "ts": fmt_ts(ev.ts)}


TICKER_FIELDS = ("price", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size", "volume", "open_interest")


def ticker_row(ev: TickerMsg, ts_recv: str) -> dict[str, Any]:
    row: dict[str, Any] = {"ticker": ev.ticker, "ts_recv": ts_recv}
    for name in TICKER_FIELDS:
        row[name] = _dec(getattr(ev, name))
    row["ts"] = fmt_ts(ev.ts)
    return row


def lifecycle_row(ev: LifecycleMsg, ts_recv: str) -> dict[str, Any]:
    return {"ticker": ev.ticker, "ts_recv": ts_recv, "event_type": ev.event_type.value, "result": ev.result,
            "close_ts": ev.close_ts and fmt_ts(ev.close_ts), "settlement_value": _dec(ev.settlement_value),
            "determination_ts": ev.determination_ts and fmt_ts(ev.determination_ts),
            "is_deactivated": ev.is_deactivated, "ts": fmt_ts(ev.ts)}


# ----------------------------------------------------------------------------------- events from rows
def text_field(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise RowError(f"field {name!r} is {value!r}, not text")
    return value


def _decimal(row: Mapping[str, Any], name: str, optional: bool = False) -> Decimal | None:
    value = row.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise RowError(f"field {name!r} is {value!r}, not a decimal in text")
    try:
        number = Decimal(value)
    except ArithmeticError as exc:
        raise RowError(f"field {name!r} is {value!r}, not a decimal") from exc
    if not number.is_finite():
        raise RowError(f"field {name!r} is {value!r}, not a finite decimal")
    return number


def _required(row: Mapping[str, Any], name: str) -> Decimal:
    value = _decimal(row, name)
    assert value is not None  # _decimal raises for a missing required field
    return value


def _opt_ts(row: Mapping[str, Any], name: str) -> datetime | None:
    value = row.get(name)
    return None if value is None else parse_ts(value)


def trade_event(row: Mapping[str, Any]) -> TradeMsg:
    return TradeMsg(ticker=text_field(row, "ticker"), trade_id=text_field(row, "trade_id"),
                    yes_price=_required(row, "yes_price"), count=_required(row, "count"),
                    taker_outcome_side=wire_enum(Side, row.get("taker_outcome_side")),
                    taker_book_side=wire_enum(BookSide, row.get("taker_book_side")), ts=parse_ts(row.get("ts")))


def ticker_event(row: Mapping[str, Any]) -> TickerMsg:
    values = {name: _decimal(row, name, optional=True) for name in TICKER_FIELDS}
    return TickerMsg(ticker=text_field(row, "ticker"), ts=parse_ts(row.get("ts")), **values)


def lifecycle_event(row: Mapping[str, Any]) -> LifecycleMsg:
    deactivated = row.get("is_deactivated")
    result = row.get("result")
    return LifecycleMsg(
        ticker=text_field(row, "ticker"),
        event_type=wire_enum(LifecycleEvent, row.get("event_type"), LifecycleEvent.UNKNOWN) or LifecycleEvent.UNKNOWN,
        result=result if isinstance(result, str) else None, close_ts=_opt_ts(row, "close_ts"),
        ts=parse_ts(row.get("ts")), settlement_value=_decimal(row, "settlement_value", optional=True),
        determination_ts=_opt_ts(row, "determination_ts"),
        is_deactivated=deactivated if isinstance(deactivated, bool) else None)
