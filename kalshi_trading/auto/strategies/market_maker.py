"""Market maker: two-sided quotes one tick inside the best, skewed by inventory, never crossing."""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from kalshi_trading.auto.strategies.base import (floor_count, others_best, room_to_buy_yes, room_to_sell_yes,
                                                 snapshot_ready, target)
from kalshi_trading.auto.types import BookBand, Event, MarketSnapshot, TargetOrder
from kalshi_trading.marketdata.book import ONE_DOLLAR, price_units
from kalshi_trading.models import BookSide

MIN_SANE = Decimal("0.01")
MAX_SANE = Decimal("0.99")


class MarketMaker:
    """Quotes both sides of a market.

    - Quotes only while its spread gate is open (`spread_gate`): an enabled market, a fresh (not stale)
      and uncrossed book (best bid < best ask, our own orders included), someone else on both sides, and
      the others' spread (our own resting size taken out) at least `min_spread`.
    - Prices: one tick inside the best bid and ask when that leaves bid < ask, else joining the best.
    - With a model (`fair_value`), the bid stays strictly below and the ask strictly above the
      (skewed) model value; without one, the fair value is the mid and only the inside rule applies.
    - Inventory skew: both quotes move by `-inventory_skew_factor x position` dollars (long YES lowers
      them), bids rounded down and asks up onto the grid.
    - Size: `quote_size`, cut to the room left under `max_inventory_yes` (bids) / `max_inventory_no` (asks).
    - Never a bid at or above the book's best ask, nor an ask at or below its best bid (our own
      orders included), never outside $0.01-$0.99.
    - While the gate is shut only because the others' spread is narrower than `min_spread` (a fresh,
      uncrossed, two-sided book) and `hold_in_narrow_spread` is on, resting quotes no better than the
      others' best on their side are held as they are (`held_quotes`): no new quote goes up, but none is
      cancelled only to be placed again at the back of the queue when the spread reopens a moment later
      (with makers that reprice one after another, the touch narrows and widens many times a minute).
    """

    def __init__(self, fair_value: Callable[[MarketSnapshot], Decimal | None] | None = None, name: str = "mm"):
        self.name = name
        self._fair_value = fair_value
        self._seen: MarketSnapshot | None = None  # the snapshot `_others` last answered for, and its answer
        self._others_best: tuple[Decimal | None, Decimal | None] = (None, None)

    def targets(self, event: Event, snapshot: MarketSnapshot) -> list[TargetOrder]:
        """The quotes wanted on `snapshot.ticker` after `event` (the event itself does not matter)."""
        gate = self.spread_gate(snapshot)
        if gate is None:
            return self.held_quotes(snapshot)
        bid, ask = gate
        cfg, grid = snapshot.config, snapshot.grid
        in_bid, in_ask = grid.next_above(bid), grid.next_below(ask)
        if in_bid is None or in_ask is None or in_bid >= in_ask:
            in_bid, in_ask = bid, ask
        shift = -cfg.inventory_skew_factor * snapshot.position
        bid_base, ask_base = in_bid + shift, in_ask + shift
        bid_px: Decimal | None = bid_base
        ask_px: Decimal | None = ask_base
        if self._fair_value is not None:
            fair = self._fair_value(snapshot)
            if fair is None:
                return []
            below, above = grid.next_below(fair + shift), grid.next_above(fair + shift)
            bid_px = min(bid_base, below) if below is not None else None
            ask_px = max(ask_base, above) if above is not None else None
        bid_px = grid.floor(bid_px) if bid_px is not None else None
        ask_px = grid.ceil(ask_px) if ask_px is not None else None
        bid_px, ask_px = self._uncross(snapshot, bid_px, ask_px)

        out: list[TargetOrder] = []
        if bid_px is not None:
            size = floor_count(min(cfg.quote_size, room_to_buy_yes(snapshot.position, cfg.max_inventory_yes)))
            if size > 0:
                out.append(target(snapshot, BookSide.BID, bid_px, size, f"{self.name}:bid"))
        if ask_px is not None:
            size = floor_count(min(cfg.quote_size, room_to_sell_yes(snapshot.position, cfg.max_inventory_no)))
            if size > 0:
                out.append(target(snapshot, BookSide.ASK, ask_px, size, f"{self.name}:ask"))
        return out

    def _others(self, snapshot: MarketSnapshot) -> tuple[Decimal | None, Decimal | None]:
        """The others' best bid and ask (our own size taken out), worked out once per snapshot: the loop asks for
        the quotes, the gate and the band of one pass with the same snapshot."""
        if snapshot is not self._seen:
            book, working = snapshot.book, snapshot.working
            self._others_best = (others_best(book, working, BookSide.BID), others_best(book, working, BookSide.ASK))
            self._seen = snapshot
        return self._others_best

    def spread_gate(self, snapshot: MarketSnapshot) -> tuple[Decimal, Decimal] | None:
        """The others' best bid and ask while the gate is open (see the class docstring), else None."""
        if not snapshot_ready(snapshot):
            return None
        book = snapshot.book
        if book.best_bid is None or book.best_ask is None or book.best_bid >= book.best_ask:
            return None  # one-sided, or a crossed/locked view no exchange shows: no quote on it
        bid, ask = self._others(snapshot)
        if bid is None or ask is None or ask - bid < snapshot.config.min_spread:
            return None
        return bid, ask

    def held_quotes(self, snapshot: MarketSnapshot) -> list[TargetOrder]:
        """The resting quotes kept while the others' spread is too narrow to quote into (see the class docstring):
        a bid at or below the others' best bid, an ask at or above their best ask, each cut to the inventory room
        left.  Empty when the gate is shut for any other reason (stale, crossed or one-sided book, a disabled
        market) or when holding is switched off."""
        cfg = snapshot.config
        if not cfg.hold_in_narrow_spread or not snapshot.working or not snapshot_ready(snapshot):
            return []
        book = snapshot.book
        if book.best_bid is None or book.best_ask is None or book.best_bid >= book.best_ask:
            return []
        bid, ask = self._others(snapshot)
        if bid is None or ask is None:
            return []
        out: list[TargetOrder] = []
        for w in snapshot.working:
            if w.book_side is BookSide.BID and w.yes_price <= bid:
                room = room_to_buy_yes(snapshot.position, cfg.max_inventory_yes)
            elif w.book_side is BookSide.ASK and w.yes_price >= ask:
                room = room_to_sell_yes(snapshot.position, cfg.max_inventory_no)
            else:
                continue
            size = floor_count(min(w.remaining, room))
            if size > 0:
                out.append(target(snapshot, w.book_side, w.yes_price, size, f"{self.name}:{w.book_side.value}"))
        return out

    def book_band(self, snapshot: MarketSnapshot) -> BookBand | None:
        """What of the book the quotes depend on: levels at or above the others' best on each side (the best
        itself, our own quotes, anyone stepping inside); None with a model (its value moves with time)."""
        if self._fair_value is not None or not snapshot_ready(snapshot):
            return None
        bid, ask = self._others(snapshot)
        return BookBand(0 if bid is None else price_units(bid), 0 if ask is None else ONE_DOLLAR - price_units(ask))

    def gate_open(self, snapshot: MarketSnapshot) -> bool:
        """Whether the market maker wants to quote this market now (the time quote uptime is measured over)."""
        return self.spread_gate(snapshot) is not None

    @staticmethod
    def _uncross(snapshot: MarketSnapshot, bid_px: Decimal | None, ask_px: Decimal | None):
        grid, book = snapshot.grid, snapshot.book
        best_bid, best_ask = book.best_bid, book.best_ask
        if bid_px is not None and best_ask is not None and bid_px >= best_ask:
            bid_px = grid.next_below(best_ask)
        if ask_px is not None and best_bid is not None and ask_px <= best_bid:
            ask_px = grid.next_above(best_bid)
        if bid_px is not None and not MIN_SANE <= bid_px <= MAX_SANE:
            bid_px = None
        if ask_px is not None and not MIN_SANE <= ask_px <= MAX_SANE:
            ask_px = None
        if bid_px is not None and ask_px is not None and bid_px >= ask_px:
            return None, None
        return bid_px, ask_px
