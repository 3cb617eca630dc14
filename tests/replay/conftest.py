"""Recordings made by the real recorder (its tap and event methods, as a live feed calls them), for the replay tests.

`standard(directory)` writes one session of two markets on one subscription; the tests then damage its files in
the ways the issue lists (and their variants) and replay them.
"""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

from kalshi_trading.marketdata.events import LifecycleEvent, LifecycleMsg, TickerMsg, TradeMsg
from kalshi_trading.models import BookSide, Side
from kalshi_trading.replay.recorder import Recorder
from kalshi_trading.replay.writer import SessionWriter

A, B = "KXTEST-26DEC01-A", "KXTEST-26DEC01-B"
T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)


def c(cents: float) -> int:
    """Cents -> price units (1/10,000 $)."""
    return round(cents * 100)


def n(contracts: float) -> int:
    """Contracts -> size units (1/100)."""
    return round(contracts * 100)


class Stamp:
    """A receive clock that moves 1 ms a call (the recorder's times, deterministic)."""

    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def session(directory: Path, tickers=(A, B), start: datetime = T0) -> tuple[Recorder, SessionWriter]:
    writer = SessionWriter(directory, list(tickers), start, environment="test", source="test")
    return Recorder(SimpleNamespace(tap=None), writer, clock=Stamp(start)), writer


def close(rec: Recorder, writer: SessionWriter) -> None:
    writer.close(T0 + timedelta(hours=1), rec.counts.as_dict())


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def trade(ticker: str, price: str, count: str, ms: int) -> TradeMsg:
    return TradeMsg(ticker, f"tr-{ms}", D(price), D(count), Side.YES, BookSide.BID, at(ms))


def standard(directory: Path, start: datetime = T0) -> Path:
    """Two markets on subscription 1; book file lines:
    1 snap A, 2-3 levels | 4 snap B, 5 level | 6 d3 | 7 d4 | 8 d5 | 9 d6 | 10 snap A (checkpoint), 11 level | 12 d8."""
    rec, writer = session(directory, start=start)
    rec.book_snapshot(A, 1, 1, [(c(50), n(10))], [(c(45), n(5))], at(1))
    rec.book_snapshot(B, 1, 2, [(c(30), n(1))], [], at(2))
    rec.book_delta(A, 1, 3, True, c(51), n(2), at(3))
    rec.handle(trade(A, "0.5100", "2.00", 4))
    rec.book_delta(A, 1, 4, True, c(51), -n(2), at(4))
    rec.book_delta(B, 1, 5, False, c(60), n(3), at(5))
    rec.handle(TickerMsg(A, D("0.51"), D("0.50"), D("0.55"), D("10"), D("5"), D("2"), D("0"), at(5)))
    rec.book_delta(A, 1, 6, False, c(45), -n(5), at(6))
    rec.book_snapshot(A, 1, 7, [(c(50), n(10))], [], at(7))
    rec.book_delta(A, 1, 8, True, c(49), n(1), at(8))
    rec.handle(LifecycleMsg(A, LifecycleEvent.DEACTIVATED, None, None, at(9)))
    close(rec, writer)
    return directory


def book_file(directory: Path) -> Path:
    return next(directory.glob("book_l2.*.jsonl.gz"))


def read_lines(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(gzip.compress(b"".join(lines)))
