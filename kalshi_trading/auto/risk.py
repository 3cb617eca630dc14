"""The risk engine: small rule objects that allow or deny an order with a reason, and three states.

ACTIVE    every rule applies.
REDUCING  only orders that shrink a position are allowed.  Entered automatically when the day's loss
          reaches `reduce_at` of the limit or exposure is over its cap (and left when both clear), or
          by `reduce()` (left only by `resume()`).
HALTED    nothing is allowed; the loop must cancel every working order.  Entered when realized +
          unrealized P&L reaches -max_daily_loss, or by `halt()`; left only by a person calling
          `resume()`.  `to_state()`/`from_state()` carry it across restarts.

Every denial and state change is returned and logged with its reason.  Time comes from the injected clock.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Protocol, Sequence

from kalshi_trading.auto.botconfig import BotConfig
from kalshi_trading.auto.types import Decision, RiskContext, RiskState, StateChange, TargetOrder, WorkingOrder
from kalshi_trading.errors import ConfigError
from kalshi_trading.models import BookSide
from kalshi_trading.money import ONE, ZERO, is_valid_count

log = logging.getLogger(__name__)

MIN_PRICE = Decimal("0.01")
MAX_PRICE = Decimal("0.99")
STATE_VERSION = 1


def _ok(rule: str) -> Decision:
    return Decision(True, rule, "ok")


def _deny(rule: str, reason: str) -> Decision:
    return Decision(False, rule, reason)


def same_side_working(order: TargetOrder, working: Sequence[WorkingOrder]) -> Decimal:
    return sum((w.remaining for w in working if w.ticker == order.ticker and w.book_side is order.book_side), ZERO)


def is_reducing(order: TargetOrder, position: Decimal, working: Sequence[WorkingOrder]) -> bool:
    """True if the order (with the working orders on its side) only shrinks the position, never flips it."""
    total = same_side_working(order, working) + order.count
    if order.book_side is BookSide.BID:
        return position < 0 and total <= -position
    return position > 0 and total <= position


def order_cost(book_side: BookSide, yes_price: Decimal, count: Decimal) -> Decimal:
    """Cash a fill would put at risk: a bid pays the YES price, an ask (buying NO) pays 1 - price."""
    return (yes_price if book_side is BookSide.BID else ONE - yes_price) * count


def exposure(ctx: RiskContext) -> Decimal:
    """Sum of |position| x price at risk (mark for YES, 1 - mark for NO; $1 if unmarked) + working orders' cost."""
    total = ZERO
    for ticker, pos in ctx.positions.items():
        if pos == 0:
            continue
        mark = ctx.marks.get(ticker)
        if mark is None:
            at_risk = ONE
        else:
            at_risk = mark if pos > 0 else ONE - mark
        total += abs(pos) * at_risk
    for w in ctx.working:
        total += order_cost(w.book_side, w.yes_price, w.remaining)
    return total


class Rule(Protocol):
    name: str

    def check(self, order: TargetOrder, ctx: RiskContext, config: BotConfig, now: datetime) -> Decision: ...


class TradingEnabledRule:
    """The global kill switch and each market's `enabled`."""

    name = "trading_enabled"

    def check(self, order, ctx, config, now):
        if not config.trading_enabled:
            return _deny(self.name, "trading_enabled is false in the configuration")
        if not config.market(order.ticker).enabled:
            return _deny(self.name, f"market {order.ticker} is disabled in the configuration")
        return _ok(self.name)


class StaleDataRule:
    """No decision on a stale book (a market with no freshness report counts as stale)."""

    name = "stale_data"

    def check(self, order, ctx, config, now):
        if ctx.book_stale.get(order.ticker, True):
            return _deny(self.name, f"the {order.ticker} book is stale")
        return _ok(self.name)


class PriceSanityRule:
    """Valid count; price within $0.01-$0.99 and on the market's grid."""

    name = "price_sanity"

    def check(self, order, ctx, config, now):
        if not is_valid_count(order.count):
            return _deny(self.name, f"count {order.count} is not a positive multiple of 0.01")
        p = order.yes_price
        what = "buy YES" if order.book_side is BookSide.BID else "sell YES (ask)"
        if p < MIN_PRICE or p > MAX_PRICE:
            return _deny(self.name, f"{what} at {p} is outside {MIN_PRICE}-{MAX_PRICE}")
        grid = ctx.grids.get(order.ticker)
        if grid is None:
            return _deny(self.name, f"no price grid known for {order.ticker}")
        if not grid.contains(p):
            return _deny(self.name, f"{p} is off the {order.ticker} grid (nearest below {grid.floor(p)}, "
                                    f"above {grid.ceil(p)})")
        return _ok(self.name)


class InventoryCapRule:
    """Position + same-direction working orders + this order within max_inventory_yes / max_inventory_no."""

    name = "inventory_cap"

    def check(self, order, ctx, config, now):
        cfg = config.market(order.ticker)
        pos = ctx.positions.get(order.ticker, ZERO)
        working = same_side_working(order, ctx.working)
        if order.book_side is BookSide.BID:
            projected, cap, side = pos + working + order.count, cfg.max_inventory_yes, "YES"
        else:
            projected, cap, side = -pos + working + order.count, cfg.max_inventory_no, "NO"
        if projected > cap:
            return _deny(self.name, f"{order.ticker} {side} inventory would be {projected} "
                                    f"(position {pos}, working {working}, order {order.count}) > cap {cap}")
        return _ok(self.name)


class ExposureCapRule:
    """Total exposure (see `exposure`) plus this order's cost within max_total_exposure; reducing orders pass."""

    name = "exposure_cap"

    def check(self, order, ctx, config, now):
        if is_reducing(order, ctx.positions.get(order.ticker, ZERO), ctx.working):
            return _ok(self.name)
        current = exposure(ctx)
        cost = order_cost(order.book_side, order.yes_price, order.count)
        if current + cost > config.max_total_exposure:
            return _deny(self.name, f"exposure would be {current + cost} (now {current}, order {cost}) "
                                    f"> max_total_exposure {config.max_total_exposure}")
        return _ok(self.name)


class DailyLossRule:
    """Realized today + unrealized at or below -max_daily_loss: only reducing orders."""

    name = "daily_loss"

    @staticmethod
    def pnl(ctx: RiskContext) -> Decimal:
        return ctx.realized_pnl_today + ctx.unrealized_pnl

    def breached(self, ctx: RiskContext, config: BotConfig) -> bool:
        return self.pnl(ctx) <= -config.max_daily_loss

    def check(self, order, ctx, config, now):
        if self.breached(ctx, config) and not is_reducing(order, ctx.positions.get(order.ticker, ZERO), ctx.working):
            return _deny(self.name, f"P&L today {self.pnl(ctx)} has reached the limit -{config.max_daily_loss}")
        return _ok(self.name)


class RateLimitRule:
    """At most max_orders_per_minute allowed orders in any sliding 60-second window."""

    name = "rate_limit"

    def __init__(self, window: timedelta = timedelta(minutes=1)):
        self.window = window
        self._sent: deque[datetime] = deque()

    def _prune(self, now: datetime) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    def check(self, order, ctx, config, now):
        self._prune(now)
        if len(self._sent) >= config.max_orders_per_minute:
            return _deny(self.name, f"{len(self._sent)} orders in the last {self.window.total_seconds():g} s "
                                    f"(max_orders_per_minute {config.max_orders_per_minute})")
        return _ok(self.name)

    def record(self, now: datetime) -> None:
        self._sent.append(now)

    def reopens_at(self, now: datetime, limit: int) -> datetime | None:
        """When the window next admits an order under `limit` a minute (None: it admits one now)."""
        self._prune(now)
        if len(self._sent) < limit:
            return None
        # the (len - limit + 1)-th oldest must leave the window before there is room for one more
        return self._sent[len(self._sent) - limit] + self.window


@dataclass(frozen=True)
class DecisionRecord:
    ts: datetime
    order: TargetOrder
    decision: Decision


class RiskEngine:
    """Checks orders against the rules and moves between ACTIVE, REDUCING and HALTED."""

    def __init__(self, config: BotConfig, clock: Callable[[], datetime], *,
                 reduce_at: Decimal = Decimal("0.8"), history: int = 1000):
        self.config = config
        self._clock = clock
        self.reduce_at = reduce_at
        self.rate_limit = RateLimitRule()
        self.daily_loss = DailyLossRule()
        # Cheap, stateless checks first; the rate limit last because an allowed order is counted.
        self.rules: tuple[Rule, ...] = (TradingEnabledRule(), StaleDataRule(), PriceSanityRule(),
                                        InventoryCapRule(), ExposureCapRule(), self.daily_loss, self.rate_limit)
        self._state = RiskState.ACTIVE
        self._reason = "started"
        self._since = clock()
        self._manual = False  # REDUCING entered by a person: only resume() leaves it
        self._rule = ""  # the rule that halted the engine ("daily_loss", "strategy", "manual"); "" unless HALTED
        self.denials: deque[DecisionRecord] = deque(maxlen=history)
        self.changes: deque[StateChange] = deque(maxlen=history)

    # --- state ----------------------------------------------------------------------------------

    @property
    def state(self) -> RiskState:
        return self._state

    @property
    def reason(self) -> str:
        """Why the engine is in its current state."""
        return self._reason

    @property
    def since(self) -> datetime:
        return self._since

    @property
    def rule(self) -> str:
        """The rule that halted the engine ("" unless HALTED): what the owner's halt alert names."""
        return self._rule

    def update_config(self, config: BotConfig) -> None:
        """Take a reloaded configuration (limits apply from the next check)."""
        self.config = config

    def _move(self, new: RiskState, reason: str, manual: bool = False, rule: str = "") -> StateChange | None:
        if new is self._state and manual == self._manual:
            return None
        now = self._clock()
        change = StateChange(self._state, new, reason, now, must_cancel_all=new is RiskState.HALTED)
        self._state, self._reason, self._since, self._manual = new, reason, now, manual
        self._rule = rule if new is RiskState.HALTED else ""
        self.changes.append(change)
        log.warning("risk state %s -> %s: %s", change.old.value, change.new.value, reason,
                    extra={"action": f"risk_{new.value}", "reason": reason, "rule": rule})
        return change

    def halt(self, reason: str, rule: str = "manual") -> StateChange | None:
        """Stop everything until `resume()`; the returned change says to cancel all working orders.  `rule` names
        what halted it (kept with the state, named by the halt alert)."""
        return self._move(RiskState.HALTED, reason, rule=rule)

    def reduce(self, reason: str) -> StateChange | None:
        """Allow only reducing orders until `resume()` (no effect while halted)."""
        if self._state is RiskState.HALTED:
            return None
        return self._move(RiskState.REDUCING, reason, manual=True)

    def resume(self, reason: str = "resumed by operator") -> StateChange | None:
        """A person's decision to trade again: back to ACTIVE (the next `update` may move it again)."""
        return self._move(RiskState.ACTIVE, reason)

    def update(self, ctx: RiskContext) -> list[StateChange]:
        """Evaluate the loss limit and exposure; move states.  HALTED and manual REDUCING are left alone."""
        if self._state is RiskState.HALTED:
            return []
        cfg = self.config
        pnl = self.daily_loss.pnl(ctx)
        if self.daily_loss.breached(ctx, cfg):
            change = self.halt(f"daily loss limit: P&L today {pnl} <= -{cfg.max_daily_loss}", self.daily_loss.name)
            return [change] if change else []
        if self._manual:
            return []
        why = []
        if pnl <= -cfg.max_daily_loss * self.reduce_at:
            why.append(f"P&L today {pnl} is past {self.reduce_at:%} of the loss limit {cfg.max_daily_loss}")
        current = exposure(ctx)
        if current > cfg.max_total_exposure:
            why.append(f"exposure {current} > max_total_exposure {cfg.max_total_exposure}")
        if why:
            change = self._move(RiskState.REDUCING, "; ".join(why))
        elif self._state is RiskState.REDUCING:
            change = self._move(RiskState.ACTIVE, "loss and exposure back within limits")
        else:
            change = None
        return [change] if change else []

    # --- orders ---------------------------------------------------------------------------------

    def check(self, order: TargetOrder, ctx: RiskContext) -> Decision:
        """Allow or deny one new order.  An allowed order counts against the rate limit."""
        now = self._clock()
        decision = self._evaluate(order, ctx, now)
        if decision.allowed:
            self.rate_limit.record(now)
        else:
            self.denials.append(DecisionRecord(now, order, decision))
            log.info("risk denied %s %s %s @ %s [%s]: %s", order.ticker, order.book_side.value, order.count,
                     order.yes_price, decision.rule, decision.reason,
                     extra={"market": order.ticker, "action": "denied", "side": order.book_side.value,
                            "yes_price": order.yes_price, "size": order.count, "rule": decision.rule,
                            "reason": decision.reason})
        return decision

    def rate_limit_reopens_at(self) -> datetime | None:
        """When the order-rate window next admits an order (None: now): a loop denied by `rate_limit` waits
        until then instead of asking again on every pass."""
        return self.rate_limit.reopens_at(self._clock(), self.config.max_orders_per_minute)

    def _evaluate(self, order: TargetOrder, ctx: RiskContext, now: datetime) -> Decision:
        if self._state is RiskState.HALTED:
            return _deny("state", f"halted since {self._since.isoformat()}: {self._reason}")
        if self._state is RiskState.REDUCING and not is_reducing(
                order, ctx.positions.get(order.ticker, ZERO), ctx.working):
            return _deny("state", f"reducing only ({self._reason}); this order does not shrink a position")
        for rule in self.rules:
            decision = rule.check(order, ctx, self.config, now)
            if not decision.allowed:
                return decision
        return _ok("all")

    # --- persistence ----------------------------------------------------------------------------

    def to_state(self) -> dict:
        """A JSON-ready dict of what must survive a restart (the state, why, since when)."""
        return {"version": STATE_VERSION, "state": self._state.value, "reason": self._reason,
                "since": self._since.isoformat(), "manual": self._manual, "rule": self._rule}

    def from_state(self, data: dict) -> None:
        """Restore a saved state (a HALTED engine stays halted).  A damaged record raises ConfigError."""
        try:
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"unknown version {data.get('version')!r}")
            state = RiskState(data["state"])
            since = datetime.fromisoformat(data["since"])
            if since.tzinfo is None:
                raise ValueError("'since' has no time zone")
            reason = str(data["reason"])
            manual = bool(data.get("manual", False))
            rule = str(data.get("rule") or "") if state is RiskState.HALTED else ""
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"saved risk state is unreadable: {exc}",
                              fix="inspect the bot state file; delete it only if you mean to start ACTIVE") from None
        self._state, self._reason, self._since, self._manual, self._rule = state, reason, since, manual, rule
        if state is not RiskState.ACTIVE:
            log.warning("risk state restored: %s since %s: %s", state.value, since.isoformat(), reason)
