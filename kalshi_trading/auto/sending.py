"""The loop's send path: a pass's planned actions become exchange calls (place, amend, decrease, cancel), each
held back when the book moved, would cross, or must wait (`Pacing`), with the exchange's answers counted in the
run's metrics and recorded in the bot's state.  A mixin of `BotLoop` (auto/loop.py), which owns the attributes
declared below."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from kalshi_trading.auto.diff import Action, describe_target
from kalshi_trading.auto.exchange import ExchangePort, is_post_only_cross
from kalshi_trading.auto.leases import MarketLeases
from kalshi_trading.auto.ledger import BotFill, FillSource, Ledger, OrderRecord
from kalshi_trading.auto.pacing import BookMark, Pacing, crosses_own
from kalshi_trading.auto.ports import Clock, FeedPort, MarketInfo
from kalshi_trading.auto.reconcile import bot_fill
from kalshi_trading.auto.report import Metrics
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.state import BotState
from kalshi_trading.auto.types import RiskContext, TargetOrder
from kalshi_trading.errors import ApiError, NotFoundError, RejectedError, TransientError
from kalshi_trading.marketdata.events import BookStale, BookUpdated, FeedEvent, Resynced
from kalshi_trading.money import ZERO

log = logging.getLogger("kalshi_trading.auto.loop")  # the loop's log lines keep their logger's name


class SendPath:
    """Sending a pass's actions (mixed into `BotLoop`)."""

    port: ExchangePort
    metrics: Metrics
    pacing: Pacing
    ledger: Ledger
    state: BotState
    risk: RiskEngine
    markets: dict[str, MarketInfo]
    leases: MarketLeases | None
    feed: FeedPort
    clock: Clock
    unjournalled: dict[str, datetime]
    _reconcile_soon: bool
    _stash: list[FeedEvent]
    _next_lease: float
    _decide: float

    if TYPE_CHECKING:  # the loop's own, used here
        def await_book(self, ticker: str) -> None: ...

        def apply_fill(self, fill: BotFill) -> bool: ...

        def risk_context(self, exclude: Iterable[str] = ()) -> RiskContext: ...

    def _execute(self, actions: list[Action], now: datetime, mark: BookMark) -> list[dict]:
        done = []
        for a in actions:
            if a.kind == "keep":
                continue
            desc = a.describe()  # as decided, before the order record changes
            if a.kind == "cancel":
                assert a.order is not None, "plan() gives every cancel its order"
                self._cancel(a.order)
            elif a.kind == "decrease":
                assert a.order is not None and a.target is not None, "plan() gives every decrease both"
                self._decrease(a.order, a.target)
            elif a.kind in ("amend", "place"):
                assert a.target is not None, "plan() gives every amend and place its target"
                held = self._hold(a, now, mark)
                if held is not None:
                    done.append({**desc, **held})
                    continue
                rejected = self.metrics.rejected
                if a.kind == "amend":
                    assert a.order is not None, "plan() gives every amend its order"
                    self._amend(a.order, a.target, now, mark)
                else:
                    self._place(a.target, a.ioc, now, mark)
                if self.metrics.rejected != rejected:
                    desc["rejected"] = "by the exchange"
            else:
                continue  # keep
            done.append(desc)
        return done

    def _hold(self, a: Action, now: datetime, mark: BookMark) -> dict | None:
        """Why a place or amend is not sent now (None: send it): the book moved since the decision, its side
        crossed on this very book, the order-rate window is full, or the risk engine denies it.  A withheld
        order counts once however many passes it stays withheld; a denied amend's order is cancelled (its old
        price is not wanted either)."""
        target = a.target
        assert target is not None, "only places and amends are held"
        if self.leases is not None and not self.leases.holds(target.ticker):
            self._next_lease = 0.0  # renewed (or given up) by the next housekeeping, before anything is sent
            return {"held": "the market's lease may have lapsed (the bot stalled?); renewing it before sending"}
        if self._book_moved(target.ticker, mark):
            self.metrics.held_moved += 1
            return {"held": "the book moved since the decision; deciding again on the newer one"}
        if self.pacing.blocked(target.ticker, target.book_side, mark):
            self.metrics.cross_waits += 1
            return {"held": "post-only cross on this book; waiting for a newer one"}
        if not a.ioc and crosses_own(target, self.ledger.orders.values()):
            self.metrics.held_self_cross += 1
            return {"held": "it would cross the bot's own order on the other side (still there)"}
        if self.pacing.rate_waiting(now):
            self.metrics.rate_waits += 1
            rule, why = "rate_limit", f"waiting for the order-rate window to reopen at {self.pacing.rate_reopens}"
        else:
            t0 = time.perf_counter()
            exclude = (a.order.order_id,) if a.order is not None else ()
            decision = self.risk.check(target, self.risk_context(exclude))
            self._decide += time.perf_counter() - t0
            if decision.allowed:
                self.pacing.release(target)
                return None
            rule, why = decision.rule, decision.reason
            if rule == "rate_limit":
                self.pacing.wait_for_rate(self.risk.rate_limit_reopens_at())
        self.metrics.denials += 1
        if self.pacing.withhold(target, rule):
            self.metrics.denials_unique += 1
            self.state.log_event(now, "denied", f"[{rule}] {why}", {"target": describe_target(target)})
        if a.order is not None:  # the old price is no longer wanted either
            self._cancel(a.order)
        return {"denied": rule, "why": why}

    def _book_moved(self, ticker: str, mark: BookMark) -> bool:
        """Whether the feed has brought news of `ticker`'s book since the decision `mark` (e.g. the exchange moved
        on while the pass's first write was in flight): the rest of the pass is not sent.  What the feed brought
        is kept, in order, for the end of the pass."""
        drain = getattr(self.feed, "drain", None)
        if drain is not None:
            self._stash.extend(drain())
        return any(isinstance(ev, (BookUpdated, Resynced, BookStale)) and ev.ticker == ticker for ev in self._stash)

    def _cancel(self, order: OrderRecord) -> None:
        try:
            self.port.cancel(order)
        except TransientError as exc:
            self._api_error("cancel", exc)
            return  # still ours; the next pass or reconciliation tries again
        except RejectedError as exc:
            self._api_error("cancel", exc)
        self.metrics.cancelled += 1
        self.ledger.cancelled(order.order_id)

    def _decrease(self, order: OrderRecord, target: TargetOrder) -> None:
        """Take the order down to the target's size; it keeps its price and queue position."""
        try:
            remaining = self.port.decrease(order, target.count)
        except NotFoundError:  # filled or cancelled meanwhile
            self.ledger.drop(order.order_id)
            self.await_book(order.ticker)
            self._reconcile_soon = True
            return
        except ApiError as exc:
            self._api_error("decrease", exc)
            self._cancel(order)
            return
        self.metrics.decreased += 1
        self.ledger.decreased(order.order_id, remaining)

    def _crossed(self, target: TargetOrder, mark: BookMark, now: datetime, exc: ApiError, what: str) -> None:
        """A post-only order or amend would have crossed: the local book is behind the exchange."""
        self.metrics.rejected += 1
        self.metrics.rejected_cross += 1
        self.pacing.crossed(target, target.yes_price, mark)
        self.state.log_event(now, "rejected", f"{what}: {exc}", {"target": describe_target(target)})

    def _amend(self, order: OrderRecord, target: TargetOrder, now: datetime, mark: BookMark) -> None:
        info = self.markets.get(order.ticker)
        try:
            placed = self.port.amend(order, target, info.market if info else None)
        except NotFoundError:  # filled or cancelled meanwhile: forget it, the next pass places afresh
            self.ledger.drop(order.order_id)
            self.await_book(order.ticker)  # on a book that shows what took it
            self._reconcile_soon = True
            return
        except ApiError as exc:
            if is_post_only_cross(exc):  # refused as a whole: the order rests at its old price
                self._crossed(target, mark, now, exc, "amend")
                return
            self._api_error("amend", exc)
            self._cancel(order)
            return
        self.metrics.amended += 1
        self.pacing.rested(order.ticker, order.book_side)
        before = order.filled
        self.ledger.amended(order.order_id, target.yes_price, placed.filled, placed.remaining)
        if placed.filled > before:
            self._fetch_fills(order.order_id, now)

    def _place(self, target: TargetOrder, ioc: bool, now: datetime, mark: BookMark) -> None:
        info = self.markets.get(target.ticker)
        try:
            placed = self.port.place(target, info.market if info else None, ioc)
        except TransientError as exc:  # includes an outcome unknown: reconciliation settles it
            self._api_error("place", exc)
            self._reconcile_soon = True
            return
        except ApiError as exc:
            self.metrics.place_rejected += 1
            if is_post_only_cross(exc):
                self._crossed(target, mark, now, exc, "place")
                return
            self.metrics.rejected += 1
            self.state.log_event(now, "rejected", str(exc), {"target": describe_target(target)})
            return
        self.metrics.placed += 1
        if placed.remaining > 0 and placed.status == "resting":
            self.pacing.rested(target.ticker, target.book_side)
            taken = max(target.count - placed.filled - placed.remaining, ZERO)  # e.g. self-trade prevention
            self.ledger.add_order(OrderRecord(placed.order_id, target.ticker, target.book_side, target.yes_price,
                                              target.count, taken, target.tag, placed.client_order_id))
        if placed.filled > 0:
            self._fetch_fills(placed.order_id, now)

    def _fetch_fills(self, order_id: str, now: datetime) -> None:
        """An order that filled on arrival (or on an amend): its fills now, so caps see the new position at once;
        they are journalled as they come."""
        try:
            fills = sorted(self.port.order_fills(order_id), key=lambda f: (f.created_time or now, f.fill_id))
            for f in fills:
                bf = bot_fill(f, FillSource.REST, now)
                self.apply_fill(bf)
                self.unjournalled.pop(bf.key, None)
            self.port.record_fills(fills)
        except ApiError as exc:
            self._api_error("fills", exc)
            self._reconcile_soon = True

    def _api_error(self, what: str, exc: ApiError) -> None:
        self.metrics.api_errors += 1
        self.metrics.api_error_kinds[(what, type(exc).__name__)] += 1
        log.warning("%s failed: %s", what, exc, extra={"action": what, "reason": str(exc)})
        self.state.log_event(self.clock.now(), "api_error", f"{what}: {exc}")
