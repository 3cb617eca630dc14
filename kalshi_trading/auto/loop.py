"""The bot's loop: events in, targets out, diffed against working orders, gated by risk, sent, recorded.

Each pass over a market (once the loop has caught up with the feed after book or trade events for it, and
for every market on a timer that is the floor): build a snapshot, ask the strategy for targets, `diff.plan`
them against the working orders, pass every new or amended order through the risk engine, send (through the
executor's journalled path), record.  A burst of book deltas is decided once, on the book it ends with, never
on the half-applied books in between; a crossed or locked book (no exchange shows one: the view is mid-update)
decides nothing, nor does a book that does not show the bot's own last write yet, and a pass stops sending when the
book moves under it (it is decided again on the newer book).  `Pacing` holds back what must wait: a side whose
post-only order crossed (until a newer book, then one tick less aggressive), and every order while the risk
engine's order-rate window is full.

Fills from the feed update the ledger at once and reach the journal from their REST records within a
flush interval; a periodic REST reconciliation catches anything the feed missed.  The `Ledger` owns the bot's
state and persists every change (through `BotState`); the loop only tells it what happened.  The configuration file
is re-read when it changes (a bad edit is rejected, the last good configuration stays).  Breaching the
daily loss limit halts: everything is cancelled, nothing is quoted until a person resumes.

The loop never asks whether it trades on a simulator: the exchange port and the feed hide the URL.
Time comes from an injected `Clock` (exchange time, with the rate at which it runs against the wall).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from kalshi_trading.auto.botconfig import BotConfig, Reloader
from kalshi_trading.auto.diff import describe_target, plan
from kalshi_trading.auto.exchange import ExchangePort
from kalshi_trading.auto.leases import MarketLeases
from kalshi_trading.auto.ledger import BotFill, FillSource, Ledger
from kalshi_trading.auto.pacing import BookMark, BookWatch, Pacing, crossed
from kalshi_trading.auto.ports import Clock, FeedPort, MarketInfo, feed_fill, ticker_mid
from kalshi_trading.auto.strategies.guard import GuardedStrategy
from kalshi_trading.auto.reconcile import ReconcileResult, catch_up_fills, reconcile
from kalshi_trading.auto.report import Metrics
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.sending import SendPath
from kalshi_trading.auto.state import BotState
from kalshi_trading.auto.types import (BookBand, BookBanded, BookStaleEvent, BookUpdate, BookView, Event,
                                       MarketClosed, MarketSnapshot, RiskContext, RiskState, SimpleBookView,
                                       SpreadGated, StateChange, Strategy,
                                       TimerEvent, TradeEvent)
from kalshi_trading.errors import ApiError
from kalshi_trading.marketdata.events import (BookStale, BookUpdated, Disconnected, FeedError, FeedEvent, FillMsg,
                                              LifecycleEvent, LifecycleMsg, PositionMsg, Reconnected, Resynced,
                                              TickerMsg, TradeMsg, UserOrderMsg)
from kalshi_trading.models import OrderStatus
from kalshi_trading.trading.executor import OrderRef

log = logging.getLogger(__name__)

STALE_BOOK = SimpleBookView(stale=True)
MAX_WAIT = 0.05  # wall seconds handed to feed.events() at a time


class BotLoop(SendPath):
    """One bot's decision loop over a fixed set of markets."""

    def __init__(self, *, strategy: Strategy, risk: RiskEngine, ledger: Ledger, state: BotState,
                 port: ExchangePort, feed: FeedPort, markets: Mapping[str, MarketInfo], clock: Clock,
                 config: BotConfig, watcher: Reloader | None = None, metrics: Metrics | None = None,
                 wall: Callable[[], float] = time.monotonic, can_amend: bool = True,
                 reconcile_every: float = 5.0, reload_every: float = 1.0, flush_every: float = 1.0,
                 on_alert: Callable[[str, str], None] | None = None, decision_log: bool = True,
                 leases: MarketLeases | None = None):
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
        # asked once: a protocol check is slow, and `observe` runs on every pass
        self._gated: SpreadGated | None = strategy if isinstance(strategy, SpreadGated) else None
        self._banded: BookBanded | None = strategy if isinstance(strategy, BookBanded) else None
        self._quiet: dict[str, BookBand] = {}  # markets whose last pass changed nothing -> the book band it read
        self.decision_log = decision_log  # every pass into the state's decision log (a backtest's is thrown away)
        self.leases = leases  # the run's market leases, renewed by the housekeeping (None: no store leases)
        self._next_lease = 0.0
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
        self.pacing = Pacing()
        self.watch = BookWatch(feed.books, wall)
        self._pending: dict[str, Event] = {}  # markets with book/trade news not decided on yet -> latest event
        self._stash: list[FeedEvent] = []  # feed events drained during a pass, handled at its end
        self._requests: queue.SimpleQueue[tuple[Callable[[BotLoop], Any], Future]] = queue.SimpleQueue()

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

    def mark(self, ticker: str) -> BookMark:
        """The book a decision on `ticker` sees now."""
        return self.watch.mark(ticker)

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
        self._pending.pop(ticker, None)
        snap = self.snapshot(ticker, now)
        halted = self.risk.state is RiskState.HALTED or ticker in self.closed
        book = snap.book
        held = None if halted or book.stale else self._unsettled(ticker, book)
        if held is not None:  # decide on the next book; change nothing meanwhile
            self._quiet.pop(ticker, None)
            self.observe(ticker, now)
            self.state.log_decision(now, ticker, {"event": type(event).__name__, "bid": book.best_bid,
                                                  "ask": book.best_ask, "held": held}, [], [])
            return []
        targets = [] if halted else self.pacing.clamp(self.strategy.targets(event, snap), snap.grid)
        self.pacing.still_wanted(ticker, targets)
        working = [o for o in self.ledger.orders.values() if o.ticker == ticker]
        cfg = snap.config
        actions = plan(targets, working, can_amend=self.can_amend, price_tolerance=cfg.reprice_tolerance,
                       min_size_change=cfg.min_size_change)
        acting = any(a.kind != "keep" for a in actions)
        if self._banded is not None:
            self._settle(ticker, snap, halted or acting)
        self._decide += time.perf_counter() - started
        before = self.metrics.actions
        done = self._execute(actions, now, self.mark(ticker))
        if self.metrics.actions != before:
            self.await_book(ticker)
        self.observe(ticker, now, None if acting else snap)
        stash, self._stash = self._stash, []
        for ev in stash:  # what the feed brought during the pass (its market's news: decided again)
            self.handle(ev, defer=True)
        self.metrics.ticks += 1
        self.metrics.decision_latency.append(self._decide)
        self.metrics.tick_latency.append(time.perf_counter() - started)
        if not self.decision_log:
            return done
        self.state.log_decision(now, ticker, {
            "event": type(event).__name__, "bid": book.best_bid, "ask": book.best_ask, "stale": book.stale,
            "position": snap.position, "risk": self.risk.state.value}, [describe_target(t) for t in targets], done)
        return done

    def _settle(self, ticker: str, snap: MarketSnapshot, acting: bool) -> None:
        """After a pass that changes nothing, remember the book band the strategy read (`BookBanded`): news outside
        it cannot change its decision, so the market is not decided again until news inside it, or anything else
        (`wake`)."""
        band = None if acting or self._banded is None else self._banded.book_band(snap)
        if band is None:
            self._quiet.pop(ticker, None)
        else:
            self._quiet[ticker] = band

    def wake(self) -> None:
        """Something besides a market's book changed (a fill, an order's news, the risk state, the configuration, a
        reconciliation, a timer pass): every market is decided again on its next news."""
        self._quiet.clear()

    def await_book(self, ticker: str) -> None:
        """The exchange changed `ticker`'s book in a way the bot knows of (its own write, a fill or a vanished
        order learned before the feed showed it): decide on it again once the book has moved on."""
        self.watch.expect(ticker)

    def _unsettled(self, ticker: str, book: BookView) -> str | None:
        """Why the book is not one to decide on yet (None: it is): crossed or locked (caught mid-update), or not
        showing a change the bot knows of (its own old orders would look like someone else's, a quote that just
        filled would be re-placed through the order that took it)."""
        if crossed(book):
            self.metrics.held_crossed += 1
            return "crossed book"
        if self.watch.waiting(ticker):
            self.metrics.held_echo += 1
            return "the book does not show the last write or fill yet"
        return None

    def observe(self, ticker: str, now: datetime, snap: MarketSnapshot | None = None) -> None:
        """Note for the report whether `ticker` has both quotes working, and whether the strategy's spread gate
        is open (a closed market's gate is shut).  `snap`: the pass's own snapshot, when the pass changed nothing."""
        sides = {o.book_side for o in self.ledger.orders.values() if o.ticker == ticker}
        gate = None
        if isinstance(self.strategy, GuardedStrategy):  # what `kalshi auto` runs: the strategy behind its guard
            inner = self.strategy.inner_gate_open(snap or self.snapshot(ticker, now))
            gate = None if inner is None else ticker not in self.closed and inner
        elif self._gated is not None:
            gate = ticker not in self.closed and self._gated.gate_open(snap or self.snapshot(ticker, now))
        self.metrics.observe(ticker, now, len(sides) == 2, gate)

    # --- fills, risk ----------------------------------------------------------------------------------
    def apply_fill(self, fill: BotFill) -> bool:
        """Count a fill once (the ledger persists it); let the risk engine see the new P&L.  A feed fill is
        journalled once its REST record is fetched (`journal_fills`)."""
        if fill.ticker not in self.markets and fill.order_id not in self.ledger.orders:
            return False
        if not self.ledger.apply_fill(fill):
            return False
        self.wake()
        if fill.source is FillSource.FEED:
            self.unjournalled[fill.key] = fill.ts
        self.metrics.fills += 1
        self.metrics.on_fill(fill)
        self.update_risk()
        if fill.ticker in self.markets:
            self._news_of_orders(fill.ticker)
            self.observe(fill.ticker, self.clock.now())
        return True

    def _news_of_orders(self, ticker: str) -> None:
        """One of the bot's orders filled or went: unless book news came with it (the exchange sends the book's
        deltas first), the book does not show it yet, so the market waits for the book to move on."""
        if ticker not in self._pending:
            self.await_book(ticker)

    def update_risk(self) -> list[StateChange]:
        changes = self.risk.update(self.risk_context())
        for change in changes:
            self.on_state_change(change)
        return changes

    def on_state_change(self, change: StateChange) -> None:
        self.wake()
        msg = f"risk state {change.old.value} -> {change.new.value}: {change.reason}"
        self.state.log_event(change.ts, "risk_state", msg, {"old": change.old.value, "new": change.new.value})
        self.state.save_risk(self.risk.to_state())
        self.metrics.risk_events.append({"ts": change.ts, "kind": "risk_state", "message": msg})
        if change.must_cancel_all:
            log.critical("HALTED: %s; cancelling every order; `kalshi auto resume` to trade again", change.reason,
                         extra={"action": "halt", "reason": change.reason, "rule": self.risk.rule})
            self.on_alert("halt", f"HALTED: {change.reason}. All orders cancelled; run `kalshi auto resume` "
                                  "to trade again.")
            self.cancel_all("halted")
        else:
            self.on_alert("risk", msg)

    def cancel_all(self, reason: str) -> int:
        """Cancel every order of the bot (and anything resting on its markets); forget them."""
        self.wake()
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
        """`kalshi auto resume` from another terminal leaves a request in the state file; so does the kill switch
        (`ops/killswitch.py`: a halt request, taken first: the bot halts and cancels its orders)."""
        halt = self.state.get("halt_request")
        if halt is not None:
            self.state.put("halt_request", None)
            why = halt.get("reason") if isinstance(halt, dict) else None
            change = self.risk.halt(str(why or "halted by the kill switch"))
            if change is not None:
                self.on_state_change(change)
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

    def drop_market(self, ticker: str, why: str) -> None:
        """Stop trading `ticker` for the rest of the run (its lease was lost: another bot trades it now): cancel the
        bot's own orders there and forget the market, so that no pass, reconciliation or final cancel-all of this
        bot touches it again (an order whose cancel failed stays the bot's, cancelled again at the stop)."""
        if ticker not in self.markets:
            return
        self.wake()
        mine = [o for o in self.ledger.orders.values() if o.ticker == ticker]
        for order in mine:
            self._cancel(order)
        del self.markets[ticker]
        self.tickers = tuple(self.markets)
        self._pending.pop(ticker, None)
        left = len([o for o in self.ledger.orders.values() if o.ticker == ticker])
        msg = f"{ticker}: no longer traded by this bot: {why}; {len(mine) - left} of its orders there cancelled"
        log.error(msg)
        self.state.log_event(self.clock.now(), "market_dropped", msg, {"ticker": ticker})
        self.metrics.risk_events.append({"ts": self.clock.now(), "kind": "market_dropped", "message": msg})
        self.on_alert("lease", msg)

    def reconcile(self) -> None:
        try:
            result = reconcile(self.port, self.ledger, self.state, self.tickers, self.clock.now,
                               suspects=self._suspects, marks=self.marks(),
                               foreign=self.leases.foreign if self.leases is not None else ())
        except ApiError as exc:
            self._api_error("reconcile", exc)
        else:
            self._took(result)
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
        self._took(result)
        if result.new_fills:
            self.update_risk()

    def _took(self, result: ReconcileResult) -> None:
        """What a fetch of fills brought: their journal records settle pending feed fills; new ones are counted and
        awaited in the book."""
        for key in result.journalled:
            self.unjournalled.pop(key, None)
        for fill in result.new_fills:
            self.metrics.fills += 1
            self.metrics.on_fill(fill)
        self._await_fills(result.new_fills)

    def _await_fills(self, fills: Iterable[BotFill]) -> None:
        """Fills learned over REST before the feed showed them: their markets wait for the book to move on."""
        for t in {f.ticker for f in fills if f.ticker in self.markets}:
            self.await_book(t)

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

    def decide_pending(self) -> None:
        """Decide every market with book or trade news not decided on yet (once each, on its latest book)."""
        while self._pending:
            ticker, event = next(iter(self._pending.items()))
            self.tick(ticker, event)  # removes it from _pending

    def _news(self, ticker: str, event: Event, defer: bool, book: bool = True) -> None:
        if ticker not in self.markets:
            return
        self._quiet.pop(ticker, None)
        if book:
            self.watch.saw(ticker)
            self.metrics.book_events += 1
        if defer:
            self._pending[ticker] = event
        else:
            self.tick(ticker, event)

    def handle(self, ev: FeedEvent, defer: bool = False) -> None:
        """Act on one feed event; an event type this loop does not know is a programming error.

        With `defer` (the run loop) a book update or trade only marks its market for `decide_pending`, so a
        burst of deltas is decided once, on the book it ends with; without it the market is decided at once."""
        now = self.clock.now()
        kind = type(ev)
        if kind is not BookUpdated and kind is not TradeMsg and kind is not TickerMsg:
            self.wake()
        match ev:
            case BookUpdated(ticker=t):
                band = self._quiet.get(t)
                if band is not None and ev.yes is not None and not band.touches(ev.yes, ev.price, ev.delta):
                    self.watch.saw(t)  # below what the last pass read: nothing to decide
                    self.metrics.book_events += 1
                    self.metrics.unread += 1
                else:
                    self._news(t, BookUpdate(t, now), defer)
            case Resynced(ticker=t):
                self.metrics.resyncs += 1
                self._news(t, BookUpdate(t, now), defer)
            case BookStale(ticker=t, reason=why):
                self.metrics.stale_books += 1
                # the strategy sees a stale book and wants nothing: quotes come off at once
                self._news(t, BookStaleEvent(t, why, now), False)
            case TradeMsg(ticker=t) if t in self._quiet:
                self.metrics.unread += 1  # a banded strategy does not read trades
            case TradeMsg(ticker=t):
                self._news(t, TradeEvent(t, ev.yes_price, ev.count, ev.taker_book_side, ev.ts), defer, book=False)
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
            self._news_of_orders(ev.ticker)
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
        self._next_lease = w + (self.leases.every if self.leases is not None else 0.0)
        self.metrics.started(w, self.clock.now())
        while not stop.is_set() and (deadline is None or self.wall() < deadline):
            # Short waits: a feed's events() may restart its wait whenever anything (even nothing it
            # reports) arrives, so a long timeout could keep control from the loop.
            timeout = min(MAX_WAIT, max(0.0, self._next_timer - self.wall()))
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - self.wall()))
            for ev in self.feed.events(timeout):
                self.handle(ev, defer=True)
                self.catch_up()
                self.decide_pending()
                self.housekeeping(on_status, status_every)
                if stop.is_set() or (deadline is not None and self.wall() >= deadline):
                    break
            self.catch_up()
            self.decide_pending()
            self.housekeeping(on_status, status_every)
        self.metrics.stopped(self.wall(), self.clock.now())
        self.journal_fills()
        self.state.flush()

    def catch_up(self) -> None:
        """Handle, without waiting, whatever the feed has received and not handed over yet, so the next decision
        sees the newest book (book news only marks its market; `decide_pending` decides).  A feed without a
        `drain()` hands everything over through `events()` alone."""
        drain = getattr(self.feed, "drain", None)
        if drain is None:
            return
        for ev in drain():
            self.handle(ev, defer=True)

    def request(self, fn: Callable[["BotLoop"], Any]) -> Future:
        """From any thread: run `fn(loop)` on the loop's own thread at its next housekeeping (e.g. a halt or a
        status read from the Telegram control channel); its result, or its exception, comes back in the future."""
        future: Future = Future()
        self._requests.put((fn, future))
        return future

    def _serve_requests(self) -> None:
        while True:
            try:
                fn, future = self._requests.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                self.wake()
                try:
                    future.set_result(fn(self))
                except Exception as exc:  # noqa: BLE001 - handed to the requester, whose error it is
                    future.set_exception(exc)

    def housekeeping(self, on_status: Callable[[], None] | None = None, status_every: float = 0.5) -> None:
        """Whatever is due: requests from other threads, the leases' renewal (first: a market lost is not decided
        again), the timer pass, a config reload, a reconciliation, a log flush, a status line."""
        self._serve_requests()
        w = self.wall()
        if self.leases is not None and w >= self._next_lease:
            self.wake()
            for ticker, why in self.leases.renew().items():
                self.drop_market(ticker, why)
            self._next_lease = w + self.leases.every
        if w >= self._next_timer:
            self.wake()
            self.catch_up()  # the timer pass decides every market: on the newest books
            self.timer_pass()
            interval = self.interval()
            # Catch up a pass that ran late (the timer keeps exchange time), unless far behind.
            self._next_timer += interval
            if w - self._next_timer > 5 * interval:
                self._next_timer = w + interval
        if w >= self._next_reload:
            self.wake()
            self.reload_config()
            self._next_reload = w + self.reload_every
        if self._reconcile_soon or w >= self._next_reconcile:
            self.wake()
            self.reconcile()
            self._next_reconcile = w + self.reconcile_every
        if w >= self._next_flush:
            self.wake()
            self.journal_fills()
            self.state.flush()
            self._next_flush = w + self.flush_every
        if on_status is not None and w >= self._next_status:
            on_status()
            self._next_status = w + status_every
