"""Targets against working orders: which to keep, amend, cancel or place (pure).

Per market and side the wanted resting orders are matched to the working ones:
- same price and a remaining size between `keep_fraction` x target and the target: **keep** (its queue
  position is worth more than topping it up);
- otherwise a working order is re-used by an **amend** (new price and/or size in one request) when the
  exchange allows, else it is **cancelled** and a new order **placed**;
- working orders nobody wants are cancelled, targets with no order left are placed.
A target tagged ``take`` is sent immediate-or-cancel and never matched to a working order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from kalshi_trading.auto.ledger import OrderRecord
from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.models import BookSide

KEEP_FRACTION = Decimal("0.5")


@dataclass(frozen=True)
class Action:
    kind: str  # keep | cancel | amend | place
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


def close_enough(order: OrderRecord, target: TargetOrder, keep_fraction: Decimal = KEEP_FRACTION) -> bool:
    return (order.yes_price == target.yes_price
            and target.count * keep_fraction <= order.remaining <= target.count)


def plan(targets: Sequence[TargetOrder], working: Iterable[OrderRecord], *, can_amend: bool = True,
         keep_fraction: Decimal = KEEP_FRACTION) -> list[Action]:
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
            match = next((o for o in have if close_enough(o, t, keep_fraction)), None)
            if match is not None:
                have.remove(match)
                actions.append(Action("keep", match, t, "close enough"))
            else:
                left_want.append(t)
        for t in left_want:
            if have:
                o = have.pop(0)
                why = "price" if o.yes_price != t.yes_price else ("shrink" if o.remaining > t.count else "size")
                if can_amend:
                    actions.append(Action("amend", o, t, why))
                else:
                    cancels.append(Action("cancel", o, None, why))
                    actions.append(Action("place", None, t, "replace"))
            else:
                actions.append(Action("place", None, t, "new"))
        cancels.extend(Action("cancel", o, None, "not wanted") for o in have)
    actions.extend(Action("place", None, t, "take") for t in targets if is_take(t))
    return cancels + actions
