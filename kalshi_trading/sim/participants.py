"""Background participants: a liquidity provider quoting around fair value, and Poisson takers.

Both are house accounts (no collateral, no history).  All randomness comes from the world's
seeded RNG, so a run is reproducible for a seed and a sequence of steps.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left, bisect_right

from kalshi_trading.sim.engine import Engine
from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import ASK, BID, CU, IOC, PU, STP_MAKER, Account
from kalshi_trading.sim.world import World

log = logging.getLogger(__name__)

MM_ID = "house-mm"
TAKER_ID = "house-taker"


class Participants:
    def __init__(self, engine: Engine, world: World, depth: int = 3, taker_rate_per_min: float = 0.6,
                 requote_s: float = 30.0):
        self.engine = engine
        self.world = world
        self.depth = depth
        self.taker_rate = taker_rate_per_min / 60.0
        self.requote_ms = int(requote_s * 1000)
        self.quoted: dict[str, tuple[float, int]] = {}  # ticker -> (fair quoted, when)
        self.mm = self._house(MM_ID)
        self.taker = self._house(TAKER_ID)

    def _house(self, account_id: str) -> Account:
        account = self.engine.accounts.get(account_id)
        if account is None:
            account = self.engine.add_account(Account(account_id, account_id, "", "", 0, house=True))
        return account

    def act(self, market: Market, now_ms: int, dt_s: float) -> None:
        fair = self.world.fair(market, now_ms)
        market.fair = fair
        last = self.quoted.get(market.ticker)
        if last is None or abs(fair - last[0]) >= 0.01 or now_ms - last[1] >= self.requote_ms:
            self.requote(market, fair, now_ms)
        rng = self.world.rng
        if rng.random() < 1.0 - math.exp(-self.taker_rate * dt_s):
            self._take(market, fair)

    def requote(self, market: Market, fair: float, now_ms: int) -> None:
        engine = self.engine
        book = engine.books[market.ticker]
        for order in [o for o in book.live_orders() if o.account is self.mm]:
            engine.cancel_order(order)
        self.quoted[market.ticker] = (fair, now_ms)
        rng = self.world.rng
        prices = market.sorted_prices
        half = 0.01 + rng.random() * 0.02
        bid_at = bisect_right(prices, int((fair - half) * PU)) - 1
        ask_at = bisect_left(prices, int(math.ceil((fair + half) * PU)))
        for level in range(self.depth):
            size = rng.randint(5, 150) * CU
            i = bid_at - level * max(1, len(prices) // 100)
            if 0 <= i < len(prices):
                self._post(market, BID, prices[i], size)
            size = rng.randint(5, 150) * CU
            j = ask_at + level * max(1, len(prices) // 100)
            if 0 <= j < len(prices):
                self._post(market, ASK, prices[j], size)

    def prime(self, markets: list[Market], now_ms: int) -> int:
        """Quote the markets that have no house quote resting (start-up); return how many."""
        quoting = {o.ticker for o in self.engine.orders.values() if o.account is self.mm and o.live}
        n = 0
        for market in markets:
            if market.ticker in quoting:
                continue
            fair = self.world.fair(market, now_ms)
            market.fair = fair
            self.requote(market, fair, now_ms)
            n += 1
        return n

    def _post(self, market: Market, side: str, price: int, size: int) -> None:
        try:
            self.engine.place(self.mm, market.ticker, side, price, size, stp=STP_MAKER)
        except SimError as exc:  # e.g. the market closed under us
            log.debug("house quote refused: %s", exc)

    def _take(self, market: Market, fair: float) -> None:
        book = self.engine.books[market.ticker]
        rng = self.world.rng
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None and ask is None:
            return
        mid = ((bid or 0) + (ask or PU)) / 2 / PU
        buy = rng.random() < (0.7 if fair > mid else 0.3)
        if buy and ask is None or not buy and bid is None:
            buy = not buy
        size = rng.randint(1, 30) * CU
        limit = ask if buy else bid
        if limit is None:
            return
        try:
            self.engine.place(self.taker, market.ticker, BID if buy else ASK, limit, size, IOC)
        except SimError as exc:
            log.debug("house take refused: %s", exc)

    def pull(self) -> None:
        """Cancel every house quote (before a jump in time, so no stale quote trades)."""
        for order in [o for o in list(self.engine.orders.values()) if o.account is self.mm and o.live]:
            self.engine.cancel_order(order)
        self.quoted.clear()
