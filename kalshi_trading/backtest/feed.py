"""The loop's feed in a backtest: the replay feed, with the simulated exchange and the tape kept in step.

`events(timeout)` hands out what was received in the next `timeout` seconds of recorded time, as the replay feed
does, and in between makes the exchange see the recording first: before the loop gets a book change, a trade or a
lifecycle event, the exchange applies it to our orders' queues, and the fills (and the exchange's own cancels) that
result follow it as the events the exchange's WebSocket would send (`FillMsg`, `UserOrderMsg`).  The recorded time
is cut into windows that end where a request of ours reaches the book or a sample is due, so a request meets the
book exactly as it was when it arrived: a window is never longer than the latency, so nothing the loop sends in one
can arrive before it ends.  When the recording is over, `done` is set (the loop's stop event).
"""

from __future__ import annotations

import math
import threading
from datetime import datetime
from typing import Iterable, Iterator, Mapping

from kalshi_trading.backtest.exchange import SimulatedExchange, micros
from kalshi_trading.backtest.tape import Tape
from kalshi_trading.auto.types import BookView
from kalshi_trading.marketdata.events import BookUpdated, FeedEvent, LifecycleMsg, Resynced, TradeMsg
from kalshi_trading.marketdata.feed import FeedStats
from kalshi_trading.models import BookSide
from kalshi_trading.replay.feed import ReplayFeed


class BacktestFeed:
    """A `FeedPort` over a `ReplayFeed` that drives a `SimulatedExchange` (see the module docstring)."""

    def __init__(self, replay: ReplayFeed, exchange: SimulatedExchange, tape: Tape, done: threading.Event):
        self.replay = replay
        self.exchange = exchange
        self.tape = tape
        self.done = done
        self.books: Mapping[str, BookView] = replay.books  # the loop's view; the exchange reads replay.books
        self.events_seen = 0  # feed events handed to the loop (the exchange's own not counted)
        self.book_events = 0

    # ---------------------------------------------------------------- FeedPort
    def start(self) -> None:
        self.replay.start()
        self.tape.start(self._now())

    def stop(self) -> None:
        self.replay.stop()

    def subscribe(self, tickers: Iterable[str]) -> None:
        self.replay.subscribe(tickers)

    def unsubscribe(self, tickers: Iterable[str]) -> None:
        self.replay.unsubscribe(tickers)

    @property
    def resyncs(self) -> int:
        return self.replay.resyncs

    @property
    def stats(self) -> FeedStats:
        return self.replay.stats

    def _now(self) -> int:
        return micros(self.replay.clock.now())

    def events(self, timeout: float | None = None) -> Iterator[FeedEvent]:
        """The next `timeout` recorded seconds (None: the rest), the exchange and the tape in step."""
        self.start()
        replay, exchange, tape = self.replay, self.exchange, self.tape
        latency = exchange.latency_us
        now = self._now()
        horizon = None if timeout is None else now + max(math.ceil(timeout * replay.clock.rate * 1e6), 0)
        while True:
            exchange.process_due(now)
            tape.process_due(now)
            if exchange.outbox:
                yield from self._drain()
            ends = [t for t in (horizon, exchange.next_due(), tape.next_due()) if t is not None]
            if latency > 0:
                ends.append(now + latency)
            end = min(ends) if ends else None
            for ev in replay.events(None if end is None else (end - now) / 1e6 / replay.clock.rate):
                self.events_seen += 1
                self._apply(ev)
                yield ev
                if exchange.outbox:
                    yield from self._drain()
            now = self._now()
            if replay.finished:
                exchange.process_due(now)
                tape.process_due(now)
                tape.finish(now)
                if exchange.outbox:
                    yield from self._drain()
                self.done.set()
                return
            if horizon is not None and now >= horizon:
                return

    def _apply(self, ev: FeedEvent) -> None:
        """The exchange (and the tape) see a recorded event before the loop does."""
        if type(ev) is BookUpdated:
            self.book_events += 1
            self.exchange.on_book(ev.ticker)
            if ev.snapshot:
                self.tape.on_event(ev, self._now())
        elif isinstance(ev, TradeMsg):
            side = ev.taker_book_side
            self.exchange.on_trade(ev.ticker, ev.yes_price, ev.count, None if side is None else side is BookSide.BID)
        elif isinstance(ev, Resynced):
            self.exchange.on_resync(ev.ticker)
            self.tape.on_event(ev, self._now())
        elif isinstance(ev, LifecycleMsg):
            self.exchange.on_lifecycle(ev)
        else:
            self.tape.on_event(ev, self._now())

    def _drain(self) -> Iterator[FeedEvent]:
        out, self.exchange.outbox = self.exchange.outbox, []
        return iter(out)


def as_feed_time(ts: datetime) -> int:
    """A time as the feed's microseconds (for tests)."""
    return micros(ts)
