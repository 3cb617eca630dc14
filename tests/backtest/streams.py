"""Seeded synthetic markets written as recordings by the real recorder (its tap and event methods, as a live feed
calls them): for the backtest's tests and `bench/bench_backtest.py`.

Each market is an uncrossed book on the one-cent grid around a drifting mid: most events add or cancel size near
the top of either side (sometimes inside the spread), a share are trades in which a taker hits the best level on
the other side (written as the simulator sends them: the book's decrease first, then the trade print).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from kalshi_trading.marketdata.events import LifecycleEvent, LifecycleMsg, TradeMsg
from kalshi_trading.models import BookSide, Side
from kalshi_trading.replay.recorder import Recorder
from kalshi_trading.replay.writer import SessionWriter

T0 = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)
CENT = 100  # price units
ONE = 10_000


class Clock:
    """The recorder's receive clock, moved by the generator."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Market:
    ticker: str
    yes: dict[int, int] = field(default_factory=dict)  # YES bids: price units -> size units
    no: dict[int, int] = field(default_factory=dict)  # NO bids (YES asks at 1 - price)

    @property
    def best_bid(self) -> int:
        return max(self.yes, default=0)

    @property
    def best_ask(self) -> int:
        return ONE - max(self.no) if self.no else ONE


def tickers_for(n: int) -> list[str]:
    return [f"KXSYN-26NOV21-T{50 + i}" for i in range(n)]


class MarketStream:
    """Writes `events` book and trade events over `tickers` into a recording at `directory`."""

    def __init__(self, directory: Path, tickers: list[str], *, seed: int = 16, start: datetime = T0,
                 gap_us: int = 50_000, trade_share: float = 0.08):
        self.rng = random.Random(seed)
        self.clock = Clock(start)
        self.writer = SessionWriter(directory, tickers, start, environment="synthetic", source="tests.backtest")
        self.rec = Recorder(SimpleNamespace(tap=None), self.writer, clock=self.clock)
        self.markets = [Market(t) for t in tickers]
        self.gap_us = gap_us
        self.trade_share = trade_share
        self.seq = 0
        self.trades = 0
        self.deltas = 0
        self.ops: list[tuple] | None = None  # with `keep_ops()`: what happened, to replay it elsewhere
        self.initial: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
        for m in self.markets:
            mid = self.rng.randint(35, 65) * CENT
            for k in range(1, 9):
                m.yes[mid - k * CENT] = self.rng.randint(5, 40) * 100
                m.no[ONE - (mid + k * CENT)] = self.rng.randint(5, 40) * 100
            self._tick()
            self.seq += 1
            self.rec.book_snapshot(m.ticker, 1, self.seq, sorted(m.yes.items()), sorted(m.no.items()), self.clock.now)

    def keep_ops(self) -> "MarketStream":
        """Keep each event as an operation too: ("add", ticker, yes, price, size) for a size change (negative: a
        cancel), ("trade", ticker, taker buys YES, YES price, size) for a trade (its book change not listed)."""
        self.ops = []
        self.initial = {m.ticker: (dict(m.yes), dict(m.no)) for m in self.markets}  # the first snapshots
        return self

    def _tick(self) -> None:
        self.clock.now += timedelta(microseconds=max(1, int(self.rng.expovariate(1 / self.gap_us))))

    def _delta(self, m: Market, yes: bool, price: int, change: int, traded: bool = False) -> None:
        if self.ops is not None and not traded:
            self.ops.append(("add", m.ticker, yes, price, change))
        levels = m.yes if yes else m.no
        size = levels.get(price, 0) + change
        if size > 0:
            levels[price] = size
        else:
            levels.pop(price, None)
        self._tick()
        self.seq += 1
        self.deltas += 1
        self.rec.book_delta(m.ticker, 1, self.seq, yes, price, change, self.clock.now)

    def step(self) -> None:
        """One book or trade event on a random market."""
        rng = self.rng
        m = self.markets[rng.randrange(len(self.markets))] if len(self.markets) > 1 else self.markets[0]
        if rng.random() < self.trade_share:
            self._trade(m)
            return
        yes = rng.random() < 0.5
        levels = m.yes if yes else m.no
        best = max(levels) if levels else None
        if best is None:
            self._refill(m, yes)
            return
        spread = m.best_ask - m.best_bid
        if spread > CENT and rng.random() < 0.15:  # someone improves the price: a new best inside the spread
            self._delta(m, yes, best + CENT, rng.randint(1, 10) * 100)
            return
        price = best - rng.randint(0, 5) * CENT
        if price <= 0:
            price = best
        have = levels.get(price, 0)
        if have and rng.random() < 0.45:
            cut = have if rng.random() < 0.25 else rng.randint(1, max(1, have // 100)) * 100
            self._delta(m, yes, price, -min(cut, have))
            if not levels:
                self._refill(m, yes)
        else:
            self._delta(m, yes, price, rng.randint(1, 20) * 100)

    def _refill(self, m: Market, yes: bool) -> None:
        """A side that emptied gets a level two cents off the other side's best."""
        if yes:
            price = max(CENT, m.best_ask - 2 * CENT)
        else:
            price = ONE - min(ONE - CENT, (m.best_bid or 40 * CENT) + 2 * CENT)
        self._delta(m, yes, price, self.rng.randint(5, 20) * 100)

    def _trade(self, m: Market) -> None:
        """A taker hits the best level of one side: the level shrinks, then the trade prints."""
        buy = self.rng.random() < 0.5  # the taker buys YES: it hits the asks (the NO bids)
        levels = m.no if buy else m.yes
        if not levels:
            return
        best = max(levels)
        size = min(levels[best], self.rng.randint(1, 8) * 100)
        yes_price = ONE - best if buy else best
        self._delta(m, not buy, best, -size, traded=True)
        if self.ops is not None:
            self.ops.append(("trade", m.ticker, buy, yes_price, size))
        self._tick()
        self.trades += 1
        self.rec.handle(TradeMsg(m.ticker, f"syn-{self.trades}", Decimal(yes_price) / ONE, Decimal(size) / 100,
                                 Side.YES if buy else Side.NO, BookSide.BID if buy else BookSide.ASK, self.clock.now))
        if not levels:
            self._refill(m, not buy)

    def settle(self, ticker: str, result: str) -> None:
        """The market is determined, then settled (lifecycle events, as the exchange sends them)."""
        for kind in (LifecycleEvent.DETERMINED, LifecycleEvent.SETTLED):
            self._tick()
            self.rec.handle(LifecycleMsg(ticker, kind, result, None, self.clock.now,
                                         settlement_value=Decimal(1 if result == "yes" else 0)))

    def run(self, events: int) -> "MarketStream":
        for _ in range(events):
            self.step()
        return self

    def close(self) -> None:
        self.writer.close(self.clock.now, self.rec.counts.as_dict())


def write_market(directory: Path, events: int, *, markets: int = 1, seed: int = 16, gap_us: int = 50_000,
                 trade_share: float = 0.08, settle: str | None = None, keep_ops: bool = False) -> MarketStream:
    """A closed recording of `events` book and trade events over `markets` synthetic markets."""
    stream = MarketStream(directory, tickers_for(markets), seed=seed, gap_us=gap_us, trade_share=trade_share)
    if keep_ops:
        stream.keep_ops()
    stream.run(events)
    if settle is not None:
        for m in stream.markets:
            stream.settle(m.ticker, settle)
    stream.close()
    return stream
