"""What a backtest writes down on the way for its report: fills with the mid then and 1 s and 60 s later, a sample of
mids and positions every second of recorded time, and when each book was live.

Times are integer microseconds of recorded (receive) time; mids are floats of dollars (statistics, not money: the
money figures of the report come from the fills' exact decimals).  A mid is NaN when the book is stale or one-sided.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Mapping

from kalshi_trading.backtest.exchange import micros
from kalshi_trading.marketdata.book import LocalBook
from kalshi_trading.marketdata.events import BookStale, BookUpdated, FeedEvent, Resynced
from kalshi_trading.models import BookSide, Fill

MARKOUTS_US = (1_000_000, 60_000_000)  # adverse selection horizons: 1 s and 60 s
SAMPLE_US = 1_000_000
NAN = math.nan


def mid_of(book: LocalBook | None) -> float:
    """The book's mid in dollars, NaN when stale or one-sided."""
    if book is None or book.stale:
        return NAN
    bid, ask = book.best_bid_units, book.best_ask_units
    if not bid or not ask:
        return NAN
    return (bid + ask) / 20_000


@dataclass
class FillRow:
    """One fill as the report uses it (floats for the statistics; `fill` keeps the exact figures)."""

    fill: Fill
    us: int
    signed: float  # + bought YES, - sold YES (contracts)
    price: float
    fee: float
    mid: float
    markouts: list[float] = field(default_factory=lambda: [NAN] * len(MARKOUTS_US))


class Tape:
    """The backtest's own record (see the module docstring)."""

    def __init__(self, books: Mapping[str, LocalBook], tickers: list[str], sample_us: int = SAMPLE_US):
        self.books = books
        self.tickers = list(tickers)
        self.sample_us = sample_us
        self.fills: list[FillRow] = []
        self.sample_times: list[int] = []
        self.sample_mids: dict[str, list[float]] = {t: [] for t in self.tickers}
        self.sample_positions: dict[str, list[float]] = {t: [] for t in self.tickers}
        self.live_log: list[tuple[int, str, bool]] = []  # (time us, ticker, book live) at each change
        self.last_mid: dict[str, float] = {}
        self.first_us: int | None = None
        self.last_us: int | None = None
        self._live: dict[str, bool] = {t: False for t in self.tickers}
        self._markouts: list[tuple[int, int, int]] = []  # (due us, fill index, horizon index)
        self._next_sample: int | None = None
        self._position: dict[str, float] = {t: 0.0 for t in self.tickers}

    def start(self, now: int) -> None:
        if self.first_us is None:
            self.first_us = self.last_us = now
            self._next_sample = now

    def next_due(self) -> int | None:
        due = self._next_sample
        if self._markouts and (due is None or self._markouts[0][0] < due):
            due = self._markouts[0][0]
        return due

    def process_due(self, now: int) -> None:
        """Markouts and samples due by `now` (the book is as it was then: the feed stops its windows there)."""
        self.last_us = now
        marks = self._markouts
        while marks and marks[0][0] <= now:
            _, i, h = heapq.heappop(marks)
            row = self.fills[i]
            row.markouts[h] = mid_of(self.books.get(row.fill.ticker))
        while self._next_sample is not None and self._next_sample <= now:
            self._sample(self._next_sample)
            self._next_sample += self.sample_us

    def _sample(self, at: int) -> None:
        self.sample_times.append(at)
        for t in self.tickers:
            mid = mid_of(self.books.get(t))
            if not math.isnan(mid):
                self.last_mid[t] = mid
            self.sample_mids[t].append(mid)
            self.sample_positions[t].append(self._position[t])

    def on_event(self, ev: FeedEvent, now: int) -> None:
        """Book liveness changes (a stale spell, a resync, the first snapshot)."""
        if type(ev) is BookUpdated:
            if ev.snapshot:
                self._set_live(ev.ticker, now, True)
        elif isinstance(ev, Resynced):
            self._set_live(ev.ticker, now, True)
        elif isinstance(ev, BookStale):
            book = self.books.get(ev.ticker)
            mid = book.mids.last if book is not None else None
            if mid is not None:
                self.last_mid[ev.ticker] = float(mid)
            self._set_live(ev.ticker, now, False)

    def _set_live(self, ticker: str, now: int, live: bool) -> None:
        if ticker in self._live and self._live[ticker] != live:
            self._live[ticker] = live
            self.live_log.append((now, ticker, live))

    def on_fill(self, fill: Fill) -> None:
        """The exchange's fill hook: the fill, the mid now, its markouts scheduled."""
        now = micros(fill.created_time) if fill.created_time is not None else (self.last_us or 0)
        signed = float(fill.count) if fill.book_side is BookSide.BID else -float(fill.count)
        self._position[fill.ticker] = self._position.get(fill.ticker, 0.0) + signed
        row = FillRow(fill, now, signed, float(fill.yes_price), float(fill.fee), mid_of(self.books.get(fill.ticker)))
        self.fills.append(row)
        for h, horizon in enumerate(MARKOUTS_US):
            heapq.heappush(self._markouts, (now + horizon, len(self.fills) - 1, h))

    def finish(self, now: int) -> None:
        """The recording ended at `now`: a last sample, the last mids kept."""
        self.last_us = now
        if not self.sample_times or self.sample_times[-1] < now:
            self._sample(now)
        for t in self.tickers:
            book = self.books.get(t)
            if book is not None and book.mids.last is not None and t not in self.last_mid:
                self.last_mid[t] = float(book.mids.last)
