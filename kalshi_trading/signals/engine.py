"""The paper-trading engine: from stored signals to attempts, each stored with its outcome.

For each actionable signal of a cycle, best edge first, the rules run in this order and the first that says no
records a SKIPPED attempt naming itself:

  signal_type     the family (or model) is not in the profile's allowlist
  min_edge        edge (net of the taker fee) below the profile's minimum
  min_confidence  confidence below the profile's minimum
  cooldown        an order on the same ticker and direction within `cooldown_s` (read from the store, so restarts
                  keep it; paper and real orders are counted apart, by mode)
  cycle_cap       `max_orders_per_cycle` orders already this cycle
  day_cap         `max_orders_per_day` orders already this UTC day in this mode (from the store)
  price_clamp     the limit is min(max_price, fair value of the side - min edge), on the grid; skipped when that
                  is below min_price or the best offer is already worse than it
  market_closed   the market closed (or vanished) between the signal and the order
  risk:<rule>     the risk engine (`auto/risk.py`: inventory, exposure, rate, state) denied the order

Then, by mode: `simulate` models an immediate-or-cancel fill against the book read now (`paper.paper_fill`);
`sim`/`demo`/`live` place an immediate-or-cancel limit order through the executor (write-ahead journal, validation)
and record what the exchange answered: FILLED (with the average price and fees), UNFILLED, SUBMITTED (resting, or an
outcome the executor will reconcile), REJECTED with the exchange's code and message.  An order refused because the
market closed is SKIPPED by `market_closed`.  Nothing places orders around the executor.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Protocol, Sequence

from kalshi_trading.api.client import KalshiClient, OrderOutcomeUnknown
from kalshi_trading.auto.botconfig import BotConfig, MarketConfig
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.types import RiskContext, TargetOrder
from kalshi_trading.errors import ApiError, NotFoundError, RejectedError, UsageError
from kalshi_trading.models import Action, BookSide, Market, Side, TimeInForce
from kalshi_trading.money import ONE, ZERO
from kalshi_trading.signals.modes import EngineMode
from kalshi_trading.signals.paper import paper_fill
from kalshi_trading.signals.profiles import Profile
from kalshi_trading.signals.types import Direction, Signal
from kalshi_trading.store.signals import TRADED, AttemptOutcome, AttemptRecord, SignalStore
from kalshi_trading.trading.executor import Executor, OrderResult
from kalshi_trading.trading.fees import FeeSchedule

log = logging.getLogger(__name__)

CLOSED_CODES = frozenset({"market_closed", "MARKET_INACTIVE", "market_inactive"})


class Placer(Protocol):
    """Places one immediate-or-cancel buy: the executor in the real modes (see `ExecutorPlacer`)."""

    def place(self, market: Market, side: Side, count: Decimal, price: Decimal) -> OrderResult: ...


class ExecutorPlacer:
    """Every real order goes through the executor: validation, the write-ahead journal, the exchange."""

    def __init__(self, executor: Executor):
        self.executor = executor

    def place(self, market: Market, side: Side, count: Decimal, price: Decimal) -> OrderResult:
        return self.executor.place_limit_order(market.ticker, side, Action.BUY, count, price,
                                               time_in_force=TimeInForce.IOC, market=market)


def risk_config(profile: Profile) -> BotConfig:
    """The risk engine's limits from a profile (the engine's own caps are checked before the risk engine)."""
    market = MarketConfig(max_inventory_yes=profile.max_inventory, max_inventory_no=profile.max_inventory)
    return BotConfig(strategy="edge", max_total_exposure=profile.max_total_exposure,
                     max_daily_loss=profile.max_daily_loss, max_orders_per_minute=profile.max_orders_per_minute,
                     defaults=market, source=f"profile {profile.name}")


@dataclass(frozen=True)
class Decided:
    """An order the rules let through: the side, size and clamped limit on that side's contract."""

    side: Side
    count: Decimal
    limit: Decimal


class Engine:
    """Turns one cycle's signals into stored attempts under one profile and mode."""

    def __init__(self, client: KalshiClient, store: SignalStore, profile: Profile, mode: EngineMode, *,
                 placer: Placer | None = None, clock: Callable[[], datetime]):
        if mode.sends_orders and placer is None:
            raise UsageError(f"engine mode {mode.value} needs the executor to place orders")
        self.client = client
        self.store = store
        self.profile = profile
        self.mode = mode
        self.placer = placer
        self.clock = clock
        self.fees = FeeSchedule(client)
        self.risk = RiskEngine(risk_config(profile), clock)

    def run(self, signals: Sequence[tuple[Signal, int]], cycle_id: int | None,
            live_tickers: Sequence[str] = ()) -> list[AttemptRecord]:
        """Act on one cycle's stored signals ((signal, signal id) pairs); every attempt is stored and returned."""
        actionable = [(s, i) for s, i in signals if s.actionable]
        actionable.sort(key=lambda pair: (-(pair[0].edge_bps or 0), pair[0].ticker))
        attempts: list[AttemptRecord] = []
        for signal, signal_id in actionable:
            traded = sum(1 for a in attempts if a.outcome in TRADED)
            attempt = self._attempt(signal, signal_id, cycle_id, traded, live_tickers)
            attempt_id = self.store.record_attempt(attempt)
            attempts.append(replace(attempt, id=attempt_id))
            log.info("attempt %s %s %s: %s%s", attempt.ticker, attempt.direction, attempt.mode,
                     attempt.outcome.value, f" ({attempt.rule or ''} {attempt.reason})" if attempt.reason else "")
        return attempts

    # -- the rules ------------------------------------------------------------------------------------------------

    def _attempt(self, signal: Signal, signal_id: int, cycle_id: int | None, traded_this_cycle: int,
                 live_tickers: Sequence[str]) -> AttemptRecord:
        base = AttemptRecord(at=self.clock(), ticker=signal.ticker, direction=signal.direction.value,
                             mode=self.mode.value, outcome=AttemptOutcome.SKIPPED, count=self.profile.order_size,
                             signal_id=signal_id, cycle_id=cycle_id, model_prob=signal.model_prob,
                             edge_bps=signal.edge_bps)
        skip = self._filters(signal, traded_this_cycle, base.at)
        if skip is not None:
            return replace(base, rule=skip[0], reason=skip[1])
        market, why = self._fresh_market(signal.ticker, base.at)
        if market is None:
            return replace(base, rule="market_closed", reason=why)
        decided = self._clamp(signal, market)
        if isinstance(decided, tuple):
            return replace(base, rule=decided[0], reason=decided[1])
        base = replace(base, limit_price=decided.limit, count=decided.count)
        denial = self._risk(market, decided, live_tickers)
        if denial is not None:
            return replace(base, rule=denial[0], reason=denial[1])
        if self.mode is EngineMode.SIMULATE:
            return self._simulate(base, market, decided)
        return self._place(base, market, decided)

    def _filters(self, signal: Signal, traded_this_cycle: int, now: datetime) -> tuple[str, str] | None:
        p = self.profile
        if signal.family.value not in p.signal_types and signal.model not in p.signal_types:
            return "signal_type", f"{signal.family.value}/{signal.model} is not in {', '.join(p.signal_types)}"
        if signal.edge_bps is None or signal.edge_bps < p.min_edge_bps:
            return "min_edge", f"edge {signal.edge_bps} bps < {p.min_edge_bps} bps"
        if signal.confidence < p.min_confidence:
            return "min_confidence", f"confidence {signal.confidence} < {p.min_confidence}"
        if p.cooldown_s:
            recent = self.store.attempts(since=now - timedelta(seconds=p.cooldown_s), ticker=signal.ticker)
            last = [a for a in recent if a.direction == signal.direction.value and a.outcome in TRADED
                    and a.mode == self.mode.value]
            if last:
                return "cooldown", f"ordered {signal.direction.value} at {last[-1].at.isoformat()} (cooldown " \
                                   f"{p.cooldown_s} s)"
        if traded_this_cycle >= p.max_orders_per_cycle:
            return "cycle_cap", f"{traded_this_cycle} orders this cycle (max {p.max_orders_per_cycle})"
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        today = sum(1 for a in self.store.attempts(since=day_start)
                    if a.outcome in TRADED and a.mode == self.mode.value)
        if today >= p.max_orders_per_day:
            return "day_cap", f"{today} orders today (max {p.max_orders_per_day})"
        return None

    def _fresh_market(self, ticker: str, now: datetime) -> tuple[Market | None, str]:
        """The market as it is now, or None and why it cannot be traded any more."""
        try:
            market = self.client.get_market(ticker)
        except NotFoundError:
            return None, f"{ticker} is gone from the exchange"
        if not market.is_trading:
            return None, f"{ticker} closed between signal and order (status {market.status.value})"
        if market.close_time is not None and market.close_time <= now:
            return None, f"{ticker} closed between signal and order (closed at {market.close_time.isoformat()})"
        return market, ""

    def _clamp(self, signal: Signal, market: Market) -> Decided | tuple[str, str]:
        p = self.profile
        side = Side.YES if signal.direction is Direction.BUY_YES else Side.NO
        fair = signal.model_prob if side is Side.YES else ONE - signal.model_prob
        cap = min(p.max_price, fair - p.min_edge)
        limit = market.price_grid.floor(cap) if cap > ZERO else None
        if limit is None or limit < p.min_price:
            return "price_clamp", (f"fair {fair} less min edge {p.min_edge} (max {p.max_price}) leaves no price at "
                                   f"or above min_price {p.min_price}")
        if signal.trade_price is not None and signal.trade_price > limit:
            return "price_clamp", f"best offer {signal.trade_price} is worse than the limit {limit}"
        return Decided(side, p.order_size, limit)

    def _risk(self, market: Market, decided: Decided, live_tickers: Sequence[str]) -> tuple[str, str] | None:
        book_side = BookSide.BID if decided.side is Side.YES else BookSide.ASK
        yes_price = decided.limit if decided.side is Side.YES else ONE - decided.limit
        order = TargetOrder(market.ticker, book_side, yes_price, decided.count, tag="take")
        positions = self._positions(live_tickers or (market.ticker,))
        ctx = RiskContext(positions=positions, working=(), marks={}, realized_pnl_today=ZERO, unrealized_pnl=ZERO,
                          book_stale={market.ticker: False}, grids={market.ticker: market.price_grid})
        decision = self.risk.check(order, ctx)
        return None if decision.allowed else (f"risk:{decision.rule}", decision.reason)

    def _positions(self, tickers: Sequence[str]) -> dict[str, Decimal]:
        """Signed positions (+YES/-NO): the exchange's in the real modes, the paper fills' in `simulate`."""
        if self.mode.sends_orders:
            return {p.ticker: p.position for p in self.client.get_positions().markets}
        wanted = set(tickers)
        positions: dict[str, Decimal] = {}
        for a in self.store.attempts(outcome=AttemptOutcome.FILLED):
            if a.ticker in wanted and a.mode == EngineMode.SIMULATE.value:
                sign = 1 if a.direction == Direction.BUY_YES.value else -1
                positions[a.ticker] = positions.get(a.ticker, ZERO) + sign * a.fill_count
        return positions

    # -- acting ---------------------------------------------------------------------------------------------------

    def _simulate(self, base: AttemptRecord, market: Market, decided: Decided) -> AttemptRecord:
        book = self.client.get_orderbook(market.ticker)
        fee_type, multiplier = self.fees.for_market(market)
        fill = paper_fill(book, decided.side, decided.count, decided.limit, fee_type, multiplier)
        cid = f"paper-{uuid.uuid4()}"
        if fill.count == 0:
            return replace(base, outcome=AttemptOutcome.UNFILLED, client_order_id=cid,
                           reason=f"nothing offered at or better than {decided.limit} in the book now")
        return replace(base, outcome=AttemptOutcome.FILLED, client_order_id=cid, fill_count=fill.count,
                       fill_price=fill.average_price, fee=fill.fee)

    def _place(self, base: AttemptRecord, market: Market, decided: Decided) -> AttemptRecord:
        assert self.placer is not None
        try:
            result = self.placer.place(market, decided.side, decided.count, decided.limit)
        except OrderOutcomeUnknown as exc:
            return replace(base, outcome=AttemptOutcome.SUBMITTED, client_order_id=exc.client_order_id,
                           reason=f"outcome unknown, reconciled by the executor: {exc.message}")
        except RejectedError as exc:
            if exc.code in CLOSED_CODES:
                return replace(base, rule="market_closed", reason=f"the exchange says: {exc.code}: {exc.message}")
            return replace(base, outcome=AttemptOutcome.REJECTED, reason=f"{exc.code or exc.status}: {exc.message}")
        except UsageError as exc:  # the executor's own checks (grid, count) refused it before sending
            return replace(base, outcome=AttemptOutcome.REJECTED, reason=f"executor: {exc}")
        except ApiError as exc:  # the request certainly did not go through (the executor journalled it)
            return replace(base, outcome=AttemptOutcome.REJECTED, reason=f"{exc.code or exc.status}: {exc.message}")
        common = replace(base, order_id=result.order_id, client_order_id=result.client_order_id)
        if result.fill_count > 0:
            return replace(common, outcome=AttemptOutcome.FILLED, fill_count=result.fill_count,
                           fill_price=result.average_price, fee=result.fees, reason=f"status {result.status}")
        if result.status == "resting":
            return replace(common, outcome=AttemptOutcome.SUBMITTED, reason="resting")
        return replace(common, outcome=AttemptOutcome.UNFILLED, reason=f"status {result.status}")
