"""The recorder: a live feed's book messages (through its `BookTap`) and typed events, written as a recording.

What the feed parsed once is written as it was received: every snapshot (a `snapshot` header row, then one
`book_l2` row per level), every delta (one row, size = the signed change), every trade, ticker and lifecycle
event, each stamped with its receive time.  Whatever made the live books doubtful is written as a marker in
order with the rows (`stale` with the feed's reason for a gap, duplicate or bad message; `disconnected`,
`reconnected`, `error`; `seq` when a command reply used a sequence number), never smoothed over: the replay
rebuilds a book only from the next snapshot.

Receive times come from the injected clock and strictly increase within a session (a tie moves on by one
microsecond), so rows of the sibling files merge back into exactly the order they were received.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Protocol

from kalshi_trading.marketdata.events import (
    BookStale,
    Disconnected,
    FeedError,
    FeedEvent,
    LifecycleMsg,
    Reconnected,
    TickerMsg,
    TradeMsg,
    utcnow,
)
from kalshi_trading.marketdata.feed import BookTap
from kalshi_trading.replay import schema as s
from kalshi_trading.replay.writer import SessionWriter

log = logging.getLogger(__name__)

_TICK = timedelta(microseconds=1)


class TappableFeed(Protocol):
    """A live feed the recorder can listen to (`WebSocketFeed`)."""

    tap: BookTap | None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def subscribe(self, tickers: Iterable[str]) -> None: ...

    def events(self, timeout: float | None = None) -> Iterator[FeedEvent]: ...

    def update_subscription(self, channel: str, action: str, tickers: list[str]) -> int | None: ...


@dataclass
class RecordCounts:
    """What a session wrote so far."""

    snapshots: int = 0
    deltas: int = 0
    levels: int = 0  # book_l2 rows (snapshot levels + deltas)
    trades: int = 0
    tickers: int = 0
    lifecycle: int = 0
    markers: int = 0
    stale: int = 0  # books the live feed found doubtful (each ends in a snapshot before it is used again)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Recorder(BookTap):
    """Writes what `feed` delivers into `writer` (see the module docstring)."""

    def __init__(self, feed: TappableFeed, writer: SessionWriter, clock: Callable[[], datetime] = utcnow):
        self.feed = feed
        self.writer = writer
        self.counts = RecordCounts()
        self._clock = clock
        self._last: datetime | None = None
        self._exch: datetime | None = None
        self._exch_text = ""
        self._last_seq: dict[int, int] = {}
        self._first_pair: tuple[datetime, datetime] | None = None  # (receive, exchange) of the first stamped message
        self._last_pair: tuple[datetime, datetime] | None = None  # ... and of the last
        feed.tap = self

    def clock_fit(self) -> s.ClockFit | None:
        """How the exchange's time ran against the receive time over the session (None: too little to tell)."""
        return s.fit_clock(self._first_pair, self._last_pair)

    def _pair(self, when: datetime, exch: datetime) -> None:
        if self._first_pair is None:
            self._first_pair = (when, exch)
        self._last_pair = (when, exch)

    # ---------------------------------------------------------------- stamping
    def _stamp(self) -> tuple[datetime, str]:
        now = self._clock()
        if self._last is not None and now <= self._last:
            now = self._last + _TICK
        self._last = now
        return now, s.fmt_ts(now)

    def _write(self, kind: str, when: datetime, row: dict) -> None:
        self.writer.write(kind, when.date(), s.dumps(row))

    # ---------------------------------------------------------------- the tap (book messages, as received)
    def book_snapshot(self, ticker: str, sid: int | None, seq: int | None, yes: list[tuple[int, int]],
                      no: list[tuple[int, int]], ts: datetime) -> None:
        when, recv = self._stamp()
        exch = s.fmt_ts(ts)
        levels = [(True, p, q) for p, q in yes if q > 0] + [(False, p, q) for p, q in no if q > 0]
        self._write(s.BOOK, when, s.marker_row(s.SNAPSHOT, ticker, recv, sid, seq, levels=len(levels), ts=exch))
        for is_yes, price, size in levels:
            self._write(s.BOOK, when, s.level_row(ticker, recv, sid, seq, is_yes, price, size, True, exch))
        self._note_seq(sid, seq)
        self.counts.snapshots += 1
        self.counts.levels += len(levels)

    def book_delta(self, ticker: str, sid: int | None, seq: int | None, yes: bool, price: int, delta: int,
                   ts: datetime) -> None:
        when, recv = self._stamp()
        if ts is not self._exch:  # the feed hands consecutive deltas of one millisecond the same datetime
            self._exch, self._exch_text = ts, s.fmt_ts(ts)
            self._pair(when, ts)
        self._write(s.BOOK, when, s.level_row(ticker, recv, sid, seq, yes, price, delta, False, self._exch_text))
        self._note_seq(sid, seq)
        self.counts.deltas += 1
        self.counts.levels += 1

    def book_seq(self, sid: int, seq: int) -> None:
        last = self._last_seq.get(sid)
        if last is not None and seq <= last:
            return  # a reply reporting a number already seen: nothing to write
        when, recv = self._stamp()
        self._write(s.BOOK, when, s.marker_row(s.SEQ, None, recv, sid, seq))
        self._note_seq(sid, seq)
        self.counts.markers += 1

    def _note_seq(self, sid: int | None, seq: int | None) -> None:
        if sid is not None and seq is not None and seq > self._last_seq.get(sid, -1):
            self._last_seq[sid] = seq

    # ---------------------------------------------------------------- typed events
    def handle(self, event: FeedEvent) -> None:
        """Write one feed event (book updates are already written through the tap)."""
        if isinstance(event, TradeMsg):
            when, recv = self._stamp()
            self._write(s.TRADES, when, s.trade_row(event, recv))
            self._pair(when, event.ts)
            self.counts.trades += 1
        elif isinstance(event, TickerMsg):
            when, recv = self._stamp()
            self._write(s.TICKERS, when, s.ticker_row(event, recv))
            self.counts.tickers += 1
        elif isinstance(event, LifecycleMsg):
            when, recv = self._stamp()
            self._write(s.LIFECYCLE, when, s.lifecycle_row(event, recv))
            self.counts.lifecycle += 1
        elif isinstance(event, BookStale):
            self._marker(s.STALE, event.ticker, reason=event.reason, ts=s.fmt_ts(event.ts))
            self.counts.stale += 1
        elif isinstance(event, Disconnected):
            self._marker(s.DISCONNECTED, None, reason=event.reason, ts=s.fmt_ts(event.ts))
        elif isinstance(event, Reconnected):
            self._last_seq.clear()  # a new connection numbers its subscriptions afresh
            self._marker(s.RECONNECTED, None, attempts=event.attempts, ts=s.fmt_ts(event.ts))
        elif isinstance(event, FeedError):
            self._marker(s.ERROR, None, code=event.code, message=event.message, channel=event.channel,
                         ts=s.fmt_ts(event.ts))

    def _marker(self, marker: str, ticker: str | None, **fields: Any) -> None:
        when, recv = self._stamp()
        self._write(s.BOOK, when, s.marker_row(marker, ticker, recv, **fields))
        self.counts.markers += 1

    # ---------------------------------------------------------------- the loop
    def run(self, *, duration: float | None = None, stop: threading.Event | None = None,
            snapshot_every: float | None = None, on_progress: Callable[[RecordCounts], None] | None = None,
            progress_every: float = 1.0, wall: Callable[[], float] = time.monotonic) -> None:
        """Record until `duration` wall seconds passed or `stop` is set (KeyboardInterrupt also ends it: the caller
        closes the writer).  `snapshot_every` asks the exchange for fresh snapshots that often: checkpoints a
        replay can start from, and against which it checks the book it rebuilt from deltas."""
        start = wall()
        deadline = None if duration is None else start + duration
        next_progress = start + progress_every
        next_snapshot = None if snapshot_every is None else start + snapshot_every
        tickers = list(getattr(self.feed, "tickers", ()))
        while not (stop is not None and stop.is_set()):
            now = wall()
            if deadline is not None and now >= deadline:
                break
            wait = 0.1 if deadline is None else max(0.0, min(0.1, deadline - now))
            for event in self.feed.events(timeout=wait):
                self.handle(event)
            self.writer.maybe_flush()
            now = wall()
            if next_snapshot is not None and now >= next_snapshot and snapshot_every is not None:
                self.feed.update_subscription("orderbook_delta", "get_snapshot", tickers)
                next_snapshot = now + snapshot_every
            if on_progress is not None and now >= next_progress:
                on_progress(self.counts)
                next_progress = now + progress_every
