"""The background makers: a few house accounts, each quoting around its own view of a market's fair value.

A real book is not one instant, perfectly informed quote.  These makers differ from it the ways that matter to a
trader, with no knowledge of any other participant:

- **latency**: a maker prices the bitcoin index as it stood `lag_s` seconds ago (its quotes lag the spot index),
  and after its quote at the touch is taken it needs that long again to put a new one up;
- **a threshold**: it reprices only when its own fair value has moved by more than `threshold` since it last
  quoted (or its touch was taken, or `refresh_s` passed: fresh sizes);
- **its own volatility**: the world's volatility times `vol_factor`, drawn per maker from the seed, so the makers
  disagree about every strike away from the money;
- **finite depth**: thin size at the touch (`touch`), more a tick or two behind (`deep`), `levels` levels a side;
  a maker never crosses another one (its bid stays under the best ask, its ask over the best bid).

Profiles come from the seed alone (`profiles`), spreads and sizes from the world's seeded RNG, and the makers act in
a fixed order: a run is reproducible for a seed and a sequence of steps.  Floats are model quantities, never money.
"""

from __future__ import annotations

import logging
import math
import random
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from kalshi_trading.sim import btc15m
from kalshi_trading.sim.book import Book
from kalshi_trading.sim.engine import Engine
from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import ASK, BID, CU, PU, STP_MAKER, Account, Order
from kalshi_trading.sim.world import World, binary_above

log = logging.getLogger(__name__)

MM_ID = "house-mm"  # the first maker's account (the only one before makers had profiles)
MAKERS = 3
VOL_FACTOR = (0.2, 0.7, 1.45)  # log-normal spread of a maker's volatility around the world's, and its bounds
LAG_S = (3, 20)
THRESHOLD = (0.015, 0.04)
HALF_SPREAD = (0.01, 0.025)
REFRESH_S = (30, 90)
TOUCH = (1, 10)  # contracts at the touch
DEEP = (5, 60)  # contracts on each level behind it
LEVELS = 3


@dataclass(frozen=True)
class MakerProfile:
    """How one maker behaves (see the module docstring)."""

    account_id: str
    vol_factor: float
    lag_s: int
    threshold: float
    half_spread: float
    refresh_s: int
    touch: tuple[int, int] = TOUCH
    deep: tuple[int, int] = DEEP
    levels: int = LEVELS


def profiles(seed: int, n: int = MAKERS) -> tuple[MakerProfile, ...]:
    """The makers of an exchange seeded `seed`: fixed by the seed (its own RNG), whatever else has happened."""
    rng = random.Random(f"makers:{seed}")
    out = []
    for i in range(n):
        sd, lo, hi = VOL_FACTOR
        out.append(MakerProfile(
            account_id=MM_ID if i == 0 else f"{MM_ID}-{i + 1}",
            vol_factor=min(max(math.exp(rng.gauss(0.0, sd)), lo), hi),
            lag_s=rng.randint(*LAG_S),
            threshold=rng.uniform(*THRESHOLD),
            half_spread=rng.uniform(*HALF_SPREAD),
            refresh_s=rng.randint(*REFRESH_S)))
    return tuple(out)


def maker_fair(world: World, market: Market, profile: MakerProfile, now_ms: int, *, seen: float | None = None,
               truth: float | None = None) -> float:
    """The maker's YES probability: the index `lag_s` seconds ago (`seen`, if the caller has it), its own
    volatility.  Markets not on the index (weather) are priced as the world prices them (`truth`, if known)."""
    vol = world.vol * profile.vol_factor
    if market.underlying == "btc" and market.floor_strike is not None:
        if seen is None:
            seen = world.path.price_at(now_ms - profile.lag_s * 1000) if world.path else world.spot
        remaining = max(0.0, (market.close_ms - now_ms) / 1000.0)
        return binary_above(seen, float(market.floor_strike), vol, remaining)
    if market.underlying == btc15m.UNDERLYING:
        return btc15m.maker_fair(market, world.path, vol, now_ms)
    return world.fair(market, now_ms) if truth is None else truth


class Maker:
    """One maker's quoting: when to reprice a market, and the ladder it posts."""

    def __init__(self, engine: Engine, world: World, profile: MakerProfile, account: Account):
        self.engine = engine
        self.world = world
        self.profile = profile
        self.account = account
        self.quoted: dict[str, tuple[float, int]] = {}  # ticker -> (fair quoted, when)
        self.touch: dict[str, tuple[Order | None, Order | None]] = {}  # ticker -> its bid and ask at the touch
        self.due: dict[str, int] = {}  # ticker -> when a taken touch is put back
        self._seen_at: tuple[int, float] | None = None

    def act(self, market: Market, now_ms: int, truth: float | None = None) -> None:
        """Reprice `market` if due (see the module docstring); `truth`: the world's fair value, if known."""
        fair = maker_fair(self.world, market, self.profile, now_ms, seen=self._seen(now_ms), truth=truth)
        if self._due(market.ticker, fair, now_ms):
            self.requote(market, fair, now_ms)

    def _seen(self, now_ms: int) -> float | None:
        """The index as this maker sees it at `now_ms` (looked up once a step for all its markets)."""
        if self._seen_at is None or self._seen_at[0] != now_ms:
            world = self.world
            seen = world.path.price_at(now_ms - self.profile.lag_s * 1000) if world.path else world.spot
            self._seen_at = (now_ms, seen)
        return self._seen_at[1]

    def _due(self, ticker: str, fair: float, now_ms: int) -> bool:
        last = self.quoted.get(ticker)
        if last is None or abs(fair - last[0]) > self.profile.threshold:
            return True
        if now_ms - last[1] >= self.profile.refresh_s * 1000:
            return True
        due = self.due.get(ticker)
        if due is not None:
            return now_ms >= due
        touch = self.touch.get(ticker)
        if touch is not None and ((touch[0] is not None and not touch[0].live)
                                  or (touch[1] is not None and not touch[1].live)):
            self.due[ticker] = now_ms + self.profile.lag_s * 1000  # taken: it takes the maker its lag to react
        return False

    def requote(self, market: Market, fair: float, now_ms: int) -> None:
        """Cancel this maker's quotes on `market` and post a fresh ladder around `fair`."""
        engine = self.engine
        book = engine.books[market.ticker]
        for order in [o for o in book.live_orders() if o.account is self.account]:
            engine.cancel_order(order)
        self.quoted[market.ticker] = (fair, now_ms)
        self.due.pop(market.ticker, None)
        rng = self.world.rng
        prices = market.sorted_prices
        half = self.profile.half_spread + rng.random() * 0.01
        bid_at = bisect_right(prices, int((fair - half) * PU)) - 1
        ask_at = bisect_left(prices, int(math.ceil((fair + half) * PU)))
        bid_at, ask_at = _behind_the_others(book, prices, bid_at, ask_at)
        step = max(1, len(prices) // 100)
        touch: list[Order | None] = [None, None]
        for level in range(self.profile.levels):
            low, high = self.profile.touch if level == 0 else self.profile.deep
            i, j = bid_at - level * step, ask_at + level * step
            size = rng.randint(low, high) * CU
            if 0 <= i < len(prices):
                posted = self._post(market, BID, prices[i], size)
                touch[0] = touch[0] or posted
            size = rng.randint(low, high) * CU
            if 0 <= j < len(prices):
                posted = self._post(market, ASK, prices[j], size)
                touch[1] = touch[1] or posted
        self.touch[market.ticker] = (touch[0], touch[1])

    def _post(self, market: Market, side: str, price: int, size: int) -> Order | None:
        try:
            return self.engine.place(self.account, market.ticker, side, price, size, stp=STP_MAKER, post_only=True)
        except SimError as exc:  # e.g. the market closed under us
            log.debug("house quote refused: %s", exc)
            return None

    def quoting(self) -> set[str]:
        """Markets where this maker has a quote resting."""
        return {o.ticker for o in self.engine.orders.values() if o.account is self.account and o.live}

    def forget(self, ticker: str) -> None:
        self.quoted.pop(ticker, None)
        self.touch.pop(ticker, None)
        self.due.pop(ticker, None)

    def pull(self) -> None:
        """Cancel every quote of this maker and forget what it quoted."""
        for order in [o for o in list(self.engine.orders.values()) if o.account is self.account and o.live]:
            self.engine.cancel_order(order)
        self.quoted.clear()
        self.touch.clear()
        self.due.clear()


def _behind_the_others(book: Book, prices: list[int], bid_at: int, ask_at: int) -> tuple[int, int]:
    """Indexes moved so the bid stays under the best ask and the ask over the best bid (never crossing)."""
    best_bid, best_ask = book.best_bid(), book.best_ask()
    if best_ask is not None:
        bid_at = min(bid_at, bisect_left(prices, best_ask) - 1)
    if best_bid is not None:
        ask_at = max(ask_at, bisect_right(prices, best_bid))
    return bid_at, ask_at
