"""Model edge taker: values a market as a binary option and takes when price + fee is off by `min_edge`."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from kalshi_trading.auto.pricing import (UnderlyingSource, binary_value, model_price, realized_volatility,
                                         year_fraction)
from kalshi_trading.auto.strategies.base import (floor_count, room_to_buy_yes, room_to_sell_yes, snapshot_ready,
                                                 target)
from kalshi_trading.auto.edge_report import TakeDecision
from kalshi_trading.auto.types import Event, MarketSnapshot, TargetOrder
from kalshi_trading.models import BookSide
from kalshi_trading.money import ZERO, fill_fee

MAX_DECISIONS = 100_000  # decisions kept (the oldest go first): a report covers the last this many orders


class EdgeTaker:
    """Buys YES at the ask when value - ask - fee >= min_edge; sells at the bid when bid - value - fee >= min_edge.

    Value: Black-Scholes N(d2) per the market's strike type (see `pricing.binary_value`) from the source's
    latest spot, time to `close_time`, and a volatility estimated over `vol_window` of the source's history
    (or a fixed `vol`), from at least `min_vol_returns` price changes (fewer: no estimate, no trade: a
    volatility from a handful of returns is noise, and trading on it is trading on noise).  The volatility is
    recomputed at most once per `vol_refresh` of snapshot time.
    Clip: `clip`, else the market's `quote_size`, cut to the room under the inventory caps.
    Orders carry a tag containing ``take`` (the loop sends them immediate-or-cancel).
    The same take (side, price, clip) at the same position is not sent again within `retake_after` of snapshot
    time: a take that found nothing was most likely aimed at a book that had already moved.
    Every take sent is remembered with what the model said (`decisions`, by order id; see `auto.edge_report`).
    """

    def __init__(self, source: UnderlyingSource, *, vol_window: timedelta = timedelta(hours=1),
                 vol: float | None = None, clip: Decimal | None = None, rate: float = 0.0,
                 max_spot_age: timedelta | None = timedelta(minutes=5),
                 vol_refresh: timedelta = timedelta(seconds=1), retake_after: timedelta = timedelta(seconds=5),
                 min_vol_returns: int = 30, name: str = "edge"):
        self.name = name
        self.min_vol_returns = min_vol_returns
        self.retake_after = retake_after
        self.decisions: dict[str, TakeDecision] = {}  # order id -> what the model said when the take was sent
        self._last: dict[str, tuple[TargetOrder, TakeDecision, Decimal]] = {}  # ticker -> last take, at position
        self.source = source
        self.vol_window = vol_window
        self.fixed_vol = vol
        self.clip = clip
        self.rate = rate
        self.max_spot_age = max_spot_age
        self.vol_refresh = vol_refresh
        self._vol_at: datetime | None = None
        self._vol: float | None = None

    def volatility(self, now: datetime) -> float | None:
        """Annualised volatility at `now` (cached for `vol_refresh`)."""
        if self.fixed_vol is not None:
            return self.fixed_vol
        if self._vol_at is None or not self._vol_at <= now < self._vol_at + self.vol_refresh:
            self._vol = realized_volatility(self.source.window(now - self.vol_window, now),
                                            min_returns=self.min_vol_returns)
            self._vol_at = now
        return self._vol

    def value(self, snapshot: MarketSnapshot) -> float | None:
        """Model value of one YES contract, or None (no spot, stale spot, no vol, no strike, closed)."""
        close = snapshot.close_time
        if close is None or snapshot.now >= close:
            return None
        spot = self.source.latest(snapshot.now)
        if spot is None:
            return None
        if self.max_spot_age is not None and snapshot.now - spot[0] > self.max_spot_age:
            return None
        vol = self.volatility(snapshot.now)
        if vol is None:
            return None
        floor = float(snapshot.floor_strike) if snapshot.floor_strike is not None else None
        cap = float(snapshot.cap_strike) if snapshot.cap_strike is not None else None
        return binary_value(snapshot.strike_type, spot[1], floor, cap,
                            year_fraction(snapshot.now, close), vol, self.rate)

    def fair_price(self, snapshot: MarketSnapshot) -> Decimal | None:
        """The model value as a Decimal YES price (usable as a market maker's `fair_value`)."""
        v = self.value(snapshot)
        return None if v is None else model_price(v)

    def targets(self, event: Event, snapshot: MarketSnapshot) -> list[TargetOrder]:
        """One taking order when the edge after fees is at least `min_edge`, else nothing."""
        if not snapshot_ready(snapshot):
            return []
        fair = self.fair_price(snapshot)
        if fair is None:
            return []
        take = self._take(snapshot, fair)
        if take is None:
            return []
        order, fee_each = take
        last = self._last.get(snapshot.ticker)
        if last is not None and last[0] == order and last[2] == snapshot.position \
                and snapshot.now - last[1].ts < self.retake_after:
            return []  # the same take just went out and changed nothing
        decision = TakeDecision(snapshot.now, snapshot.ticker, order.book_side, order.yes_price, order.count, fair,
                                fee_each)
        self._last[snapshot.ticker] = (order, decision, snapshot.position)
        return [order]

    def _take(self, snapshot: MarketSnapshot, fair: Decimal) -> tuple[TargetOrder, Decimal] | None:
        """The take the edge calls for (and its fee per contract), if any."""
        cfg, book = snapshot.config, snapshot.book
        clip = self.clip if self.clip is not None else cfg.quote_size
        ask, bid = book.best_ask, book.best_bid
        if ask is not None:
            n = floor_count(min(clip, room_to_buy_yes(snapshot.position, cfg.max_inventory_yes)))
            fee = self._fee_each(snapshot, n, ask) if n > 0 else ZERO
            if n > 0 and fair - ask - fee >= cfg.min_edge:
                return target(snapshot, BookSide.BID, ask, n, f"{self.name}:take-buy"), fee
        if bid is not None:
            n = floor_count(min(clip, room_to_sell_yes(snapshot.position, cfg.max_inventory_no)))
            fee = self._fee_each(snapshot, n, bid) if n > 0 else ZERO
            if n > 0 and bid - fair - fee >= cfg.min_edge:
                return target(snapshot, BookSide.ASK, bid, n, f"{self.name}:take-sell"), fee
        return None

    def placed(self, target: TargetOrder, order_id: str) -> None:
        """The loop sent `target` as order `order_id`: remember the decision behind it (for `auto.edge_report`)."""
        last = self._last.get(target.ticker)
        if last is not None and last[0] == target:
            self.decisions[order_id] = last[1]
            if len(self.decisions) > MAX_DECISIONS:
                del self.decisions[next(iter(self.decisions))]

    @staticmethod
    def _fee_each(snapshot: MarketSnapshot, count: Decimal, price: Decimal) -> Decimal:
        """Taker fee per contract for a fill of `count` at `price` (the rounding spread over the clip)."""
        return fill_fee(count, price, snapshot.fee_type, True, snapshot.fee_multiplier) / count
