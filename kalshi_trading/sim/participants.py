"""Background participants: makers quoting around their own views of fair value (`makers`), and Poisson takers.

All are house accounts (no collateral, no history).  All randomness comes from the seed (the makers' profiles) and
the world's seeded RNG, so a run is reproducible for a seed and a sequence of steps.
"""

from __future__ import annotations

import logging
import math

from kalshi_trading.sim.engine import Engine
from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.makers import MM_ID, Maker, profiles
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import ASK, BID, CU, IOC, PU, Account
from kalshi_trading.sim.world import World

log = logging.getLogger(__name__)

__all__ = ["MM_ID", "TAKER_ID", "Participants"]

TAKER_ID = "house-taker"
KEY_SEP = "|"  # `quoted` keys: "<maker account>|<ticker>"


class Participants:
    def __init__(self, engine: Engine, world: World, taker_rate_per_min: float = 0.6):
        self.engine = engine
        self.world = world
        self.taker_rate = taker_rate_per_min / 60.0
        self.makers = [Maker(engine, world, p, self._house(p.account_id)) for p in profiles(world.seed)]
        self.taker = self._house(TAKER_ID)

    def _house(self, account_id: str) -> Account:
        account = self.engine.accounts.get(account_id)
        if account is None:
            account = self.engine.add_account(Account(account_id, account_id, "", "", 0, house=True))
        return account

    @property
    def quoted(self) -> dict[str, tuple[float, int]]:
        """What each maker last quoted on each market, keyed "<maker account>|<ticker>" (the store saves it)."""
        return {f"{m.profile.account_id}{KEY_SEP}{t}": v for m in self.makers for t, v in m.quoted.items()}

    @quoted.setter
    def quoted(self, saved: dict[str, tuple[float, int]]) -> None:
        by_account = {m.profile.account_id: m for m in self.makers}
        for m in self.makers:
            m.quoted.clear()
        for key, (fair, when) in saved.items():
            account, sep, ticker = key.partition(KEY_SEP)
            maker = by_account.get(account) if sep else None
            if maker is not None:  # an entry of an older save (keyed by ticker alone) just requotes
                maker.quoted[ticker] = (float(fair), int(when))

    def act(self, market: Market, now_ms: int, dt_s: float) -> None:
        """One step of background trading on `market`: the makers reprice if due, a taker may trade."""
        fair = self.world.fair(market, now_ms)
        market.fair = fair
        for maker in self.makers:
            maker.act(market, now_ms, fair)
        rng = self.world.rng
        if rng.random() < 1.0 - math.exp(-self.taker_rate * dt_s):
            self._take(market, fair)

    def prime(self, markets: list[Market], now_ms: int) -> int:
        """Quote the markets that have no house quote resting (start-up); return how many."""
        quoting = set().union(*(m.quoting() for m in self.makers))
        n = 0
        for market in markets:
            if market.ticker in quoting:
                continue
            market.fair = self.world.fair(market, now_ms)
            for maker in self.makers:
                maker.forget(market.ticker)
                maker.act(market, now_ms, market.fair)
            n += 1
        return n

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

    def forget(self, ticker: str) -> None:
        """A market stopped trading: no maker remembers quoting it."""
        for maker in self.makers:
            maker.forget(ticker)

    def pull(self) -> None:
        """Cancel every house quote (before a jump in time, so no stale quote trades)."""
        for maker in self.makers:
            maker.pull()
