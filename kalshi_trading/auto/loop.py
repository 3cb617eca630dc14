"""The bot's loop: events in, targets out, diffed against working orders, gated by risk, sent, recorded.

Each pass over a market (on a book or trade event for it, and for every market on a timer that is the
floor): build a snapshot, ask the strategy for targets, `diff.plan` them against the working orders,
pass every new or amended order through the risk engine, send (through the executor's journalled path),
record.  Fills from the feed update the ledger at once and reach the journal from their REST records within a
flush interval; a periodic REST reconciliation catches anything the feed missed.  The `Ledger` owns the bot's
state and persists every change (through `BotState`); the loop only tells it what happened.  The configuration file
is re-read when it changes (a bad edit is rejected, the last good configuration stays).  Breaching the
daily loss limit halts: everything is cancelled, nothing is quoted until a person resumes.

The loop never asks whether it trades on a simulator: the exchange port and the feed hide the URL.
Time comes from an injected `Clock` (exchange time, with the rate at which it runs against the wall).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from kalshi_trading.auto.botconfig import BotConfig, ConfigWatcher
from kalshi_trading.auto.diff import Action, describe_target, plan
from kalshi_trading.auto.exchange import ExchangePort
from kalshi_trading.auto.ledger import BotFill, FillSource, Ledger, OrderRecord
from kalshi_trading.auto.ports import Clock, FeedPort, MarketInfo, feed_fill, ticker_mid
from kalshi_trading.auto.reconcile import bot_fill, catch_up_fills, reconcile
from kalshi_trading.auto.report import Metrics
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.state import BotState
from kalshi_trading.auto.types import (BookStaleEvent, BookUpdate, BookView, Event, MarketClosed, MarketSnapshot,
                                       RiskContext, RiskState, SimpleBookView, StateChange, Strategy, TargetOrder,
                                       TimerEvent, TradeEvent)
from kalshi_trading.errors import ApiError, NotFoundError, RejectedError, TransientError
from kalshi_trading.marketdata.events import (BookStale, BookUpdated, Disconnected, FeedError, FeedEvent, FillMsg,
                                              LifecycleEvent, LifecycleMsg, PositionMsg, Reconnected, Resynced,
                                              TickerMsg, TradeMsg, UserOrderMsg)
from kalshi_trading.models import OrderStatus
from kalshi_trading.money import ZERO
from kalshi_trading.trading.executor import OrderRef

log = logging.getLogger(__name__)

STALE_BOOK = SimpleBookView(stale=True)
MAX_WAIT = 0.05  # wall seconds handed to feed.events() at a time


class BotLoop:
    """One bot's decision loop over a fixed set of markets."""

    def __init__(self, *, strategy: Strategy, risk: RiskEngine, ledger: Ledger, state: BotState,
                 port: ExchangePort, feed: FeedPort, markets: Mapping[str, MarketInfo], clock: Clock,
                 config: BotConfig, watcher: ConfigWatcher | None = None, metrics: Metrics | None = None,
                 wall: Callable[[], float] = time.monotonic, can_amend: bool = True,
                 reconcile_every: float = 5.0, reload_every: float = 1.0, flush_every: float = 1.0,
                 on_alert: Callable[[str, str], None] | None = None, decision_log: bool = True):
        self.strategy = strategy
        self.risk = risk
        self.ledger = ledger
        self.state = state
        self.port = port
        self.feed = feed
        self.markets = dict(markets)
        self.tickers = tuple(self.markets)
        self.clock = clock
        self.config = config
        self.watcher = watcher
        self.metrics = metrics or Metrics()
        self.wall = wall
        self.can_amend = can_amend
        self.reconcile_every = reconcile_every
        self.reload_every = reload_every
        self.flush_every = flush_every
        self.on_alert = on_alert or (lambda level, message: None)
        self.decision_log = decision_log  # every pass into the state's decision log (a backtest's is thrown away)
        self._suspects: dict = {}
        self._next_timer = 0.0
        self._next_reconcile = 0.0
        self._next_reload = 0.0
        self._next_flush = 0.0
        self._next_status = 0.0
        self._reconcile_soon = False
        self._decide = 0.0  # seconds of pure decision time in the current pass
        self.closed: dict[str, str] = {}  # markets that stopped trading -> why (never quoted again this run)
        self.quotes: dict[str, TickerMsg] = {}  # the latest `ticker` message per market (a mark when no book)
        self.unjournalled: dict[str, datetime] = {}  # feed fills whose REST record is not journalled yet -> time
        self.started_at = clock.now()

    # --- inputs ---------------------------------------------------------------------------------------
    def book(self, ticker: str) -> BookView:
        return self.feed.books.get(ticker) or STALE_BOOK

    def marks(self) -> dict[str, Decimal]:
        out = {}
        for t in set(self.tickers) | set(self.ledger.tickers()):
            b = self.feed.books.get(t)
            mid = b.mid if b is not None else None
            if mid is None:
                mid = ticker_mid(self.quotes.get(t))
            if mid is not None:
                out[t] = mid
        return out

    def risk_context(self, exclude: Iterable[str] = ()) -> RiskContext:
        exclude = set(exclude)
        marks = self.marks()
        return RiskContext(
            positions=self.ledger.positions(),
            working=tuple(o.view() for o in self.ledger.orders.values() if o.order_id not in exclude),
            marks=marks,
            realized_pnl_today=self.ledger.realized_today,
            unrealized_pnl=self.ledger.unrealized(marks),
            book_stale={t: self.book(t).stale for t in self.tickers},
            grids={t: m.grid for t, m in self.markets.items()},
        )

    def snapshot(self, ticker: str, now: datetime) -> MarketSnapshot:
        info = self.markets[ticker]
        return MarketSnapshot(
            ticker=ticker, book=self.book(ticker), position=self.ledger.position(ticker),
            working=self.ledger.working_on(ticker), config=self.config.market(ticker), grid=info.grid,
            fee_type=info.fee_type, fee_multiplier=info.fee_multiplier, now=now, close_time=info.close_time,
            strike_type=info.strike_type, floor_strike=info.floor_strike, cap_strike=info.cap_strike)

    # --- one decision pass ----------------------------------------------------------------------------
    def tick(self, ticker: str, event: Event) -> list[dict]:
        """Decide and act on one market; returns what was done (also written to the decision log)."""
        started = time.perf_counter()
        self._decide = 0.0
        now = self.clock.now()
        snap = self.snapshot(ticker, now)
        halted = self.risk.state is RiskState.HALTED or ticker in self.closed
        targets = [] if halted else self.strategy.targets(event, snap)
        working = [o for o in self.ledger.orders.values() if o.ticker == ticker]
        actions = plan(targets, working, can_amend=self.can_amend)
        self._decide += time.perf_counter() - started
        done = self._execute(actions, now)
        self.metrics.ticks += 1
        self.metrics.decision_latency.append(self._decide)
        self.metrics.tick_latency.append(time.perf_counter() - started)
        if not self.decision_log:
            return done
        book = snap.book
        self.state.log_decision(now, ticker, {
            "event": type(event).__name__, "bid": book.best_bid, "ask": book.best_ask, "stale": book.stale,
            "position": snap.position, "risk": self.risk.state.value}, [describe_target(t) for t in targets], done)
        return done

    def _execute(self, actions: list[Action], now: datetime) -> list[dict]:
        done = []
        for a in actions:
            if a.kind == "keep":
                continue
            if a.kind == "cancel":
                assert a.order is not None, "plan() gives every cancel its order"
                self._cancel(a.order)
            elif a.kind in ("amend", "place"):
                assert a.target is not None, "plan() gives every amend and place its target"
                t0 = time.perf_counter()
                exclude = (a.order.order_id,) if a.order is not None else ()
                decision = self.risk.check(a.target, self.risk_context(exclude))
                self._decide += time.perf_counter() - t0
                if not decision.allowed:
                    self.metrics.denials += 1
                    self.state.log_event(now, "denied", f"[{decision.rule}] {decision.reason}",
                                         {"target": describe_target(a.target)})
                    if a.order is not None:  # the old price is no longer wanted either
                        self._cancel(a.order)
                    done.append({**a.describe(), "denied": decision.rule, "why": decision.reason})
                    continue
                if a.kind == "amend":
                    assert a.order is not None, "plan() gives every amend its order"
                    self._amend(a.order, a.target, now)
                else:
                    self._place(a.target, a.ioc, now)
            else:
                continue  # keep
            done.append(a.describe())
        return done

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

    def _amend(self, order: OrderRecord, target: TargetOrder, now: datetime) -> None:
        info = self.markets.get(order.ticker)
        try:
            placed = self.port.amend(order, target, info.market if info else None)
        except NotFoundError:  # filled or cancelled meanwhile: forget it, the next pass places afresh
            self.ledger.drop(order.order_id)
            self._reconcile_soon = True
            return
        except ApiError as exc:
            self._api_error("amend", exc)
            self._cancel(order)
            return
        self.metrics.amended += 1
        before = order.filled
        self.ledger.amended(order.order_id, target.yes_price, placed.filled, placed.remaining)
        if placed.filled > before:
            self._fetch_fills(order.order_id, now)

    def _place(self, target: TargetOrder, ioc: bool, now: datetime) -> None:
        info = self.markets.get(target.ticker)
        try:
            placed = self.port.place(target, info.market if info else None, ioc)
        except TransientError as exc:  # includes an outcome unknown: reconciliation settles it
            self._api_error("place", exc)
            self._reconcile_soon = True
            return
        except ApiError as exc:
            self.metrics.rejected += 1
            self.state.log_event(now, "rejected", str(exc), {"target": describe_target(target)})
            return
        self.metrics.placed += 1
        if placed.remaining > 0 and placed.status == "resting":
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
        log.warning("%s failed: %s", what, exc)
        self.state.log_event(self.clock.now(), "api_error", f"{what}: {exc}")

    # --- fills, risk ----------------------------------------------------------------------------------
    def apply_fill(self, fill: BotFill) -> bool:
        """Count a fill once (the ledger persists it); let the risk engine see the new P&L.  A feed fill is
        journalled once its REST record is fetched (`journal_fills`)."""
        if fill.ticker not in self.markets and fill.order_id not in self.ledger.orders:
            return False
        if not self.ledger.apply_fill(fill):
            return False
        if fill.source is FillSource.FEED:
            self.unjournalled[fill.key] = fill.ts
        self.metrics.fills += 1
        self.metrics.on_fill(fill)
        self.update_risk()
        return True

    def update_risk(self) -> list[StateChange]:
        changes = self.risk.update(self.risk_context())
        for change in changes:
            self.on_state_change(change)
        return changes

    def on_state_change(self, change: StateChange) -> None:
        msg = f"risk state {change.old.value} -> {change.new.value}: {change.reason}"
        self.state.log_event(change.ts, "risk_state", msg, {"old": change.old.value, "new": change.new.value})
        self.state.save_risk(self.risk.to_state())
        self.metrics.risk_events.append({"ts": change.ts, "kind": "risk_state", "message": msg})
        if change.must_cancel_all:
            log.critical("HALTED: %s; cancelling every order; `kalshi auto resume` to trade again", change.reason)
            self.on_alert("halt", f"HALTED: {change.reason}. All orders cancelled; run `kalshi auto resume` "
                                  "to trade again.")
            self.cancel_all("halted")
        else:
            self.on_alert("risk", msg)

    def cancel_all(self, reason: str) -> int:
        """Cancel every order of the bot (and anything resting on its markets); forget them."""
        refs = {o.order_id: o.ref() for o in self.ledger.orders.values()}
        try:
            for o in self.port.resting_orders(self.tickers):
                refs.setdefault(o.order_id, OrderRef.of(o))
        except ApiError as exc:
            self._api_error("list orders", exc)
        n = 0
        if refs:
            try:
                n = self.port.cancel_orders(refs.values())
            except ApiError as exc:
                self._api_error("cancel all", exc)
                for rec in list(self.ledger.orders.values()):
                    self._cancel(rec)
        self.metrics.cancelled += n
        self.ledger.clear_orders()
        self.state.log_event(self.clock.now(), "cancel_all", f"{reason}: {n} orders cancelled")
        return n

    # --- housekeeping ---------------------------------------------------------------------------------
    def check_resume(self) -> None:
        """`kalshi auto resume` from another terminal leaves a request in the state file."""
        request = self.state.get("resume_request")
        if request is None:
            return
        self.state.put("resume_request", None)
        if self.risk.state is not RiskState.ACTIVE:
            change = self.risk.resume("resumed by operator (kalshi auto resume)")
            if change is not None:
                self.on_state_change(change)

    def reload_config(self) -> None:
        self.check_resume()
        if self.watcher is None:
            return
        result = self.watcher.poll()
        if result.error is not None:
            self.state.log_event(result.at, "config_rejected", str(result.error))
            self.metrics.risk_events.append({"ts": result.at, "kind": "config_rejected",
                                             "message": str(result.error)})
            self.on_alert("config", f"configuration rejected, the last good one stays in force: {result.error}")
        elif result.changed:
            self.config = result.config
            self.risk.update_config(result.config)
            self.state.log_event(result.at, "config_reloaded", f"configuration reloaded from {self.watcher.path}")
            self.on_alert("config", f"configuration reloaded from {self.watcher.path}")

    def reconcile(self) -> None:
        try:
            result = reconcile(self.port, self.ledger, self.state, self.tickers, self.clock.now,
                               suspects=self._suspects, marks=self.marks())
        except ApiError as exc:
            self._api_error("reconcile", exc)
        else:
            for key in result.journalled:
                self.unjournalled.pop(key, None)
            for fill in result.new_fills:
                self.metrics.fills += 1
                self.metrics.on_fill(fill)
            if result.changed:
                self.update_risk()
        self._reconcile_soon = False
        self.metrics.reconciles += 1

    def journal_fills(self, final: bool = False) -> None:
        """Journal the feed's fills from their REST records (the journal must hold what a sync would); a fill the
        exchange does not list yet stays pending for the next flush.  `final` (at a stop, after the last cancel):
        also every fill since the newest one seen, so a fill that landed after the last pass is in the report, the
        journal and the positions alike."""
        times = list(self.unjournalled.values())
        if final:
            times.append(self.ledger.last_fill_ts or self.started_at)
        if not times:
            return
        try:
            result = catch_up_fills(self.port, self.ledger, self.tickers, self.clock.now(),
                                    min(times))
        except ApiError as exc:
            self._api_error("journal fills", exc)
            return
        for key in result.journalled:
            self.unjournalled.pop(key, None)
        for fill in result.new_fills:
            self.metrics.fills += 1
            self.metrics.on_fill(fill)
        if result.new_fills:
            self.update_risk()

    def timer_pass(self) -> None:
        now = self.clock.now()
        if self.ledger.roll_day(now):
            self.prune_fills(now)
        self.update_risk()
        self.metrics.timer_passes += 1
        for t in self.tickers:
            self.tick(t, TimerEvent(now))
        self.metrics.sample(now, self.ledger, self.marks(), self.tickers, self.risk.state.value)

    def prune_fills(self, now: datetime) -> None:
        """Drop processed-fill rows older than the daily P&L window (the state file does not grow forever)."""
        self.ledger.prune(now)

    def interval(self) -> float:
        """Wall seconds between timer passes: the configured exchange-time interval over the clock's rate."""
        rate = self.clock.rate
        return self.config.loop_interval_ms / 1000.0 / (rate if rate > 0.01 else 1.0)

    def handle(self, ev: FeedEvent) -> None:
        """Act on one feed event; an event type this loop does not know is a programming error."""
        now = self.clock.now()
        match ev:
            case BookUpdated(ticker=t):
                if t in self.markets:
                    self.tick(t, BookUpdate(t, now))
            case Resynced(ticker=t):
                self.metrics.resyncs += 1
                if t in self.markets:
                    self.tick(t, BookUpdate(t, now))
            case BookStale(ticker=t, reason=why):
                self.metrics.stale_books += 1
                if t in self.markets:  # the strategy sees a stale book and wants nothing: quotes come off
                    self.tick(t, BookStaleEvent(t, why, now))
            case TradeMsg(ticker=t):
                if t in self.markets:
                    self.tick(t, TradeEvent(t, ev.yes_price, ev.count, ev.taker_book_side, ev.ts))
            case FillMsg():
                fill = feed_fill(ev)
                if fill is None:
                    self._reconcile_soon = True
                else:
                    self.apply_fill(fill)
            case UserOrderMsg():
                self.on_user_order(ev, now)
            case PositionMsg(ticker=t, position=pos):
                if (t in self.markets or t in self.ledger.stats) and pos != self.ledger.position(t):
                    self._reconcile_soon = True  # the exchange knows fills we have not seen yet
            case TickerMsg(ticker=t):
                self.quotes[t] = ev
            case LifecycleMsg():
                self.on_lifecycle(ev, now)
            case Disconnected() | Reconnected():
                self.metrics.disconnects += isinstance(ev, Disconnected)
                self._reconcile_soon = True
            case FeedError(code=code, message=message):
                self.metrics.feed_errors += 1
                log.warning("feed error %s: %s", code, message)
            case _:
                raise TypeError(f"the loop does not handle feed events of type {type(ev).__name__}")

    def on_user_order(self, ev: UserOrderMsg, now: datetime) -> None:
        """An order changed on the exchange: notice cancels and fills the bot did not cause at once."""
        rec = self.ledger.orders.get(ev.order_id)
        if rec is None:
            return
        if ev.fill_count is not None and ev.fill_count > rec.filled:
            self._reconcile_soon = True  # the fills themselves come from the fill channel or REST
        if ev.status in (OrderStatus.CANCELED, OrderStatus.EXECUTED):
            self.ledger.drop(ev.order_id)
            if ev.status is OrderStatus.CANCELED:
                self.state.log_event(now, "order_cancelled", f"{ev.order_id} on {ev.ticker} was cancelled outside "
                                                             "the bot")
        elif ev.remaining_count is not None and ev.remaining_count != rec.remaining:
            self.ledger.amended(ev.order_id, ev.yes_price if ev.yes_price is not None else rec.yes_price,
                                ev.fill_count if ev.fill_count is not None else rec.filled, ev.remaining_count)

    def on_lifecycle(self, ev: LifecycleMsg, now: datetime) -> None:
        """A market that closes, pauses or settles stops being quoted and its orders are cancelled."""
        t = ev.ticker
        if t not in self.markets:
            return
        if ev.event_type.stops_trading and t not in self.closed:
            self.closed[t] = ev.event_type.value
            self.state.log_event(now, "market_closed", f"{t}: {ev.event_type.value}; its orders are cancelled")
            self.tick(t, MarketClosed(t, ev.event_type.value, now))
        elif ev.event_type is LifecycleEvent.ACTIVATED:
            self.closed.pop(t, None)
        elif ev.event_type is LifecycleEvent.CLOSE_DATE_UPDATED and ev.close_ts is not None:
            self.markets[t] = replace(self.markets[t], close_time=ev.close_ts)

    def run(self, stop: threading.Event, deadline: float | None = None,
            on_status: Callable[[], None] | None = None, status_every: float = 0.5) -> None:
        """Run until `stop` is set or the wall clock passes `deadline`.

        Feed events are handled as they come (a feed's iterator is never abandoned mid-batch, so no
        queued fill is lost); timer passes, reloads, reconciliations and flushes run between them.
        """
        self.feed.subscribe(self.tickers)
        w = self.wall()
        self._next_timer = w
        self._next_reconcile = w + self.reconcile_every
        self._next_reload = w + self.reload_every
        self._next_flush = w + self.flush_every
        self._next_status = w
        self.metrics.started(w, self.clock.now())
        while not stop.is_set() and (deadline is None or self.wall() < deadline):
            # Short waits: a feed's events() may restart its wait whenever anything (even nothing it
            # reports) arrives, so a long timeout could keep control from the loop.
            timeout = min(MAX_WAIT, max(0.0, self._next_timer - self.wall()))
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - self.wall()))
            for ev in self.feed.events(timeout):
                self.handle(ev)
                self.housekeeping(on_status, status_every)
                if stop.is_set() or (deadline is not None and self.wall() >= deadline):
                    break
            self.housekeeping(on_status, status_every)
        self.metrics.stopped(self.wall(), self.clock.now())
        self.journal_fills()
        self.state.flush()

    def housekeeping(self, on_status: Callable[[], None] | None = None, status_every: float = 0.5) -> None:
        """Whatever is due: the timer pass, a config reload, a reconciliation, a log flush, a status line."""
        w = self.wall()
        if w >= self._next_timer:
            self.timer_pass()
            interval = self.interval()
            # Catch up a pass that ran late (the timer keeps exchange time), unless far behind.
            self._next_timer += interval
            if w - self._next_timer > 5 * interval:
                self._next_timer = w + interval
        if w >= self._next_reload:
            self.reload_config()
            self._next_reload = w + self.reload_every
        if self._reconcile_soon or w >= self._next_reconcile:
            self.reconcile()
            self._next_reconcile = w + self.reconcile_every
        if w >= self._next_flush:
            self.journal_fills()
            self.state.flush()
            self._next_flush = w + self.flush_every
        if on_status is not None and w >= self._next_status:
            on_status()
            self._next_status = w + status_every
