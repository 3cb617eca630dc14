"""Targets against working orders: which to keep, amend, decrease, cancel or place (pure).

Per market and side the wanted resting orders are matched to the working ones:
- a working order whose price is within `price_tolerance` of the target and whose remaining size is at most
  the target and short of it by less than `min_size_change`: **keep** (its queue position is worth more than
  following the book tick by tick or topping it up);
- the same price tolerance but more remaining than the target: **decrease** (the exchange keeps the queue
  position of a decreased order; never a cancel/replace for a smaller size);
- otherwise a working order is re-used by an **amend** (new price and/or size in one request) when the
  exchange allows, else it is **cancelled** and a new order **placed**;
- working orders nobody wants are cancelled, targets with no order left are placed.
A target tagged ``take`` is sent immediate-or-cancel and never matched to a working order.
Actions come in the order that never has one of the bot's quotes cross another: cancels, decreases, amends that
move a quote away from the other side, then amends towards it and placements (when the market jumps up, the ask
moves up out of the way before the bid follows), takes last.
With both tolerances zero an order is kept only at exactly the target's price and size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from kalshi_trading.auto.botconfig import MarketConfig
from kalshi_trading.auto.ledger import OrderRecord
from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.models import BookSide

PRICE_TOLERANCE = MarketConfig.reprice_tolerance
MIN_SIZE_CHANGE = MarketConfig.min_size_change


@dataclass(frozen=True)
class Action:
    kind: str  # keep | cancel | amend | decrease | place
    order: OrderRecord | None = None
    target: TargetOrder | None = None
    reason: str = ""

    @property
    def ioc(self) -> bool:
        return self.target is not None and is_take(self.target)

    def describe(self) -> dict:
        out: dict = {"kind": self.kind, "reason": self.reason}
        if self.order is not None:
            out["order"] = {"id": self.order.order_id, "side": self.order.book_side.value,
                            "price": str(self.order.yes_price), "remaining": str(self.order.remaining)}
        if self.target is not None:
            out["target"] = describe_target(self.target)
        return out


def describe_target(t: TargetOrder) -> dict:
    return {"side": t.book_side.value, "price": str(t.yes_price), "count": str(t.count), "tag": t.tag}


def is_take(target: TargetOrder) -> bool:
    return "take" in target.tag


def price_close(order: OrderRecord, target: TargetOrder, price_tolerance: Decimal = PRICE_TOLERANCE) -> bool:
    return abs(order.yes_price - target.yes_price) <= price_tolerance


def close_enough(order: OrderRecord, target: TargetOrder, price_tolerance: Decimal = PRICE_TOLERANCE,
                 min_size_change: Decimal = MIN_SIZE_CHANGE) -> bool:
    """Keep `order` for `target`: price within the tolerance, and no more than the target nor short of it by
    `min_size_change` or more (zero: exactly the target's size)."""
    if not price_close(order, target, price_tolerance) or order.remaining > target.count:
        return False
    short = target.count - order.remaining
    return short == 0 or short < min_size_change


def _match(t: TargetOrder, have: list[OrderRecord], price_tolerance: Decimal,
           min_size_change: Decimal) -> OrderRecord | None:
    """The working order nearest in price that is close enough to `t`."""
    near = [o for o in have if close_enough(o, t, price_tolerance, min_size_change)]
    return min(near, key=lambda o: abs(o.yes_price - t.yes_price)) if near else None


def plan(targets: Sequence[TargetOrder], working: Iterable[OrderRecord], *, can_amend: bool = True,
         price_tolerance: Decimal = PRICE_TOLERANCE, min_size_change: Decimal = MIN_SIZE_CHANGE) -> list[Action]:
    """The actions that turn `working` into `targets` for one market, cancels first."""
    actions: list[Action] = []
    cancels: list[Action] = []
    working = list(working)
    for side in (BookSide.BID, BookSide.ASK):
        want = sorted((t for t in targets if t.book_side is side and not is_take(t)),
                      key=lambda t: t.yes_price, reverse=side is BookSide.BID)
        have = sorted((o for o in working if o.book_side is side),
                      key=lambda o: o.yes_price, reverse=side is BookSide.BID)
        left_want: list[TargetOrder] = []
        for t in want:
            match = _match(t, have, price_tolerance, min_size_change)
            if match is not None:
                have.remove(match)
                actions.append(Action("keep", match, t, "close enough"))
            else:
                left_want.append(t)
        for t in left_want:
            if have:
                o = have.pop(0)
                if price_close(o, t, price_tolerance) and o.remaining > t.count:
                    actions.append(Action("decrease", o, t, "shrink"))
                elif can_amend:
                    actions.append(Action("amend", o, t, "price" if not price_close(o, t, price_tolerance)
                                          else "size"))
                else:
                    cancels.append(Action("cancel", o, None, "price" if o.yes_price != t.yes_price else "size"))
                    actions.append(Action("place", None, t, "replace"))
            else:
                actions.append(Action("place", None, t, "new"))
        cancels.extend(Action("cancel", o, None, "not wanted") for o in have)
    actions.extend(Action("place", None, t, "take") for t in targets if is_take(t))
    return sorted(cancels + actions, key=_rank)


def _rank(a: Action) -> int:
    """Where an action goes in a plan (a stable sort keeps the order within a rank)."""
    if a.kind == "cancel":
        return 0
    if a.kind in ("keep", "decrease"):
        return 1
    if a.kind == "amend" and a.order is not None and a.target is not None and moves_away(a.order, a.target):
        return 2
    return 4 if a.target is not None and is_take(a.target) else 3


def moves_away(order: OrderRecord, target: TargetOrder) -> bool:
    """The new price is further from the other side of the book (a bid down, an ask up)."""
    if order.book_side is BookSide.BID:
        return target.yes_price < order.yes_price
    return target.yes_price > order.yes_price
