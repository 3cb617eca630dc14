"""A market's static terms and live statistics, in integer units where the engine needs speed."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from kalshi_trading.money import fee_rate
from kalshi_trading.sim.records import PU

DAY_MS = 86_400_000

# Lifecycle order; `inactive` (paused) sits beside `active`.
STATUSES = ("initialized", "inactive", "active", "closed", "determined", "disputed", "amended", "finalized")


def fee_ratio(fee_type: str, is_taker: bool, multiplier: str) -> tuple[int, int]:
    rate = fee_rate(fee_type, is_taker, Decimal(multiplier))
    return rate.as_integer_ratio()


def fee_mu(count: int, price: int, ratio: tuple[int, int]) -> int:
    """round_up(rate x C x P x (1 - P)) to $0.0001, returned in micro-dollars (count cu, price pu)."""
    num, den = ratio
    if num == 0:
        return 0
    top = num * count * price * (PU - price)
    return -(-top // (den * 1_000_000)) * 100


class Market:
    """Terms (set at listing) and live state (status, stats) of one binary market."""

    TERMS = (
        "ticker", "event_ticker", "series_ticker", "title", "subtitle", "yes_sub_title", "no_sub_title",
        "created_ms", "open_ms", "close_ms", "expected_expiration_ms", "latest_expiration_ms",
        "settlement_timer_seconds", "rules_primary", "rules_secondary", "price_level_structure",
        "price_ranges", "strike_type", "floor_strike", "cap_strike", "fee_type", "fee_multiplier",
        "can_close_early", "underlying",
    )
    STATE = (
        "status", "result", "updated_ms", "determined_ms", "settled_ms", "last_price", "volume",
        "open_interest", "previous_yes_bid", "previous_yes_ask", "previous_price", "expiration_value",
        "fair",
    )

    # terms (set from keyword arguments named in TERMS)
    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    subtitle: str
    yes_sub_title: str
    no_sub_title: str
    created_ms: int
    open_ms: int
    close_ms: int
    expected_expiration_ms: int
    latest_expiration_ms: int
    settlement_timer_seconds: int
    rules_primary: str
    rules_secondary: str
    price_level_structure: str
    price_ranges: list[tuple[str, str, str]]
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None
    fee_type: str
    fee_multiplier: str
    can_close_early: bool
    underlying: str

    def __init__(self, **terms: Any) -> None:
        for name in self.TERMS:
            setattr(self, name, terms.pop(name, None))
        if terms:
            raise TypeError(f"unknown market terms {sorted(terms)}")
        self.status = "initialized"
        self.result = ""  # yes | no | void once determined
        self.updated_ms = self.created_ms
        self.determined_ms: int | None = None
        self.settled_ms: int | None = None
        self.last_price = 0
        self.volume = 0
        self.open_interest = 0
        self.previous_yes_bid = 0
        self.previous_yes_ask = 0
        self.previous_price = 0
        self.expiration_value = ""
        self.fair = 0.5  # the background participants' current fair YES probability
        self.recent: deque[tuple[int, int]] = deque()  # (ts_ms, count) of the last 24 h
        self.prepare()

    def prepare(self) -> None:
        """Derived lookups (not persisted)."""
        ticks: set[int] = set()
        for start, end, step in self.price_ranges:
            a, b, c = (int(Decimal(x) * PU) for x in (start, end, step))
            ticks.update(range(a, b + 1, c))
        self.valid_prices = frozenset(ticks)
        self.sorted_prices = sorted(ticks)
        self.taker_ratio = fee_ratio(self.fee_type, True, self.fee_multiplier)
        self.maker_ratio = fee_ratio(self.fee_type, False, self.fee_multiplier)

    def volume_24h(self, now_ms: int) -> int:
        recent = self.recent
        cutoff = now_ms - DAY_MS
        while recent and recent[0][0] <= cutoff:
            recent.popleft()
        return sum(c for _, c in recent)

    def to_state(self) -> dict:
        data = {name: getattr(self, name) for name in self.TERMS + self.STATE}
        data["recent"] = list(self.recent)
        return data

    @classmethod
    def from_state(cls, data: dict) -> "Market":
        terms = {k: data[k] for k in cls.TERMS}
        terms["price_ranges"] = [tuple(r) for r in terms["price_ranges"]]
        market = cls(**terms)
        for name in cls.STATE:
            setattr(market, name, data[name])
        market.recent = deque(tuple(x) for x in data.get("recent", ()))
        return market
