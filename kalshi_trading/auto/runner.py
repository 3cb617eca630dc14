"""Start, run and stop one bot: state, recovery, the loop, the kill switch; and the operator's commands.

Start: load state -> restore the risk state -> fetch the markets -> reconcile with the exchange (the
bot's orders on markets this run does not trade cancelled, fills since the last processed one, open
orders on its markets adopted or cancelled per `on_start`, positions) -> trade.  Every order the bot
sends carries its tag (`reconcile.order_tag`), so one sent just before a crash is found at the restart.
Stop (end of `duration`, Ctrl-C, SIGTERM, `kalshi auto kill`, or an unexpected exception): every order
of the bot is cancelled before the process exits.  A PID file in the state directory lets
`kalshi auto kill` find the process; if it is gone, `kill` cancels the bot's known orders itself.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable

from kalshi_trading.auto.botconfig import BotConfig, Reloader
from kalshi_trading.auto.exchange import ExchangePort, RestExchange
from kalshi_trading.auto.leases import MarketLeases
from kalshi_trading.auto.loop import BotLoop
from kalshi_trading.auto.outage import Outages, wait_for_store
from kalshi_trading.auto.ports import Clock, FeedPort, MarketInfo
from kalshi_trading.auto.reconcile import ReconcileResult, new_client_order_id, order_tag, reconcile_start, tagged
from kalshi_trading.auto.report import Metrics, build_report
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.state import BotState
from kalshi_trading.auto.strategies.guard import GuardedStrategy, StrategyFailure
from kalshi_trading.auto.types import RiskState, Strategy
from kalshi_trading.errors import ApiError, RiskDenied, StorageError, UsageError
from kalshi_trading.models import Order
from kalshi_trading.store.lease import LeaseHeld
from kalshi_trading.trading.executor import Executor, OrderRef

if TYPE_CHECKING:  # types only: the bot takes them from its caller
    from kalshi_trading.api.client import KalshiClient
    from kalshi_trading.trading.executor import Executor

log = logging.getLogger(__name__)

PID_FILE = "bot.pid"
DEFAULT_BOT = "default"  # the bot of `kalshi auto` without --bot (store.base.DEFAULT_BOT)
RUN_STARTED = "run_started"  # state key: exchange time the last run's trading began
ORDER_HISTORY_MARGIN = timedelta(minutes=5)  # clock leeway when listing the orders of the last run


# --- PID file -------------------------------------------------------------------------------------
def pid_path(state_dir: Path, bot: str = DEFAULT_BOT) -> Path:
    """The PID file of the bot named `bot` (the default bot's is `bot.pid`, another's `bot-<name>.pid`)."""
    return Path(state_dir) / (PID_FILE if bot == DEFAULT_BOT else f"bot-{bot}.pid")


def read_pid(state_dir: Path, bot: str = DEFAULT_BOT) -> int | None:
    try:
        return int(pid_path(state_dir, bot).read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PidFile:
    """Claims the state directory for this process; refuses if another live bot holds it."""

    def __init__(self, state_dir: Path, bot: str = DEFAULT_BOT):
        self.path = pid_path(state_dir, bot)
        self.bot = bot

    def __enter__(self) -> "PidFile":
        other = read_pid(self.path.parent, self.bot)
        if other and other != os.getpid() and pid_alive(other):
            named = "" if self.bot == DEFAULT_BOT else f" --bot {self.bot}"
            raise UsageError(f"bot {self.bot!r} is already running here (pid {other}); stop it with `kalshi auto "
                             f"kill{named}`, or run another bot with --bot NAME")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{os.getpid()}\n")
        return self

    def __exit__(self, *exc) -> None:
        if read_pid(self.path.parent, self.bot) == os.getpid():
            try:
                self.path.unlink()
            except OSError:
                pass


# --- run ------------------------------------------------------------------------------------------
@dataclass
class BotSetup:
    """Everything a run needs, built by the caller (the CLI, a test, the benchmark)."""

    client: KalshiClient
    executor: Executor
    state: BotState
    strategy: Strategy
    config: BotConfig
    tickers: tuple[str, ...]
    clock: Clock
    feed: FeedPort
    feed_name: str = "ws"
    env: str = "SIM"
    watcher: Reloader | None = None
    leases: MarketLeases | None = None  # taken before the start-up reconciliation, released at the stop
    on_start: str = "cancel"
    reconcile_every: float = 5.0
    on_alert: Callable[[str, str], None] = field(default=lambda level, message: None)
    # whether the store answers (None: it does); with it, a store outage mid-run is ridden out (auto/outage.py)
    # instead of ending the run
    probe_store: Callable[[], StorageError | None] | None = None


def market_infos(client: KalshiClient, executor: Executor, tickers: Iterable[str]) -> dict[str, MarketInfo]:
    out = {}
    for t in tickers:
        m = client.get_market(t)
        fee_type, multiplier = executor.fees.for_market(m)
        out[m.ticker] = MarketInfo(m.ticker, m.price_grid, fee_type, multiplier, m.close_time, m.strike_type,
                                   m.floor_strike, m.cap_strike, m)
    return out


def restore_risk(state: BotState, config: BotConfig, clock: Clock) -> RiskEngine:
    risk = RiskEngine(config, clock.now)
    saved = state.risk_state()
    if saved:
        risk.from_state(saved)
    return risk


class BotRun:
    """One run: `prepare()` (recovery), `run()` (the loop), `shutdown()` (cancel all), `report()`."""

    def __init__(self, setup: BotSetup):
        self.setup = setup
        self.metrics = Metrics()
        self.loop: BotLoop | None = None
        self.startup: ReconcileResult | None = None
        self.shutdown_cancelled = 0
        self.strategy: GuardedStrategy | None = None  # the setup's strategy behind its fence (prepare)
        self.failure: StrategyFailure | None = None  # why the strategy was stopped, if it was
        self._stop: threading.Event | None = None
        self._allow_halted = False
        self.outages = Outages()

    def prepare(self, allow_halted: bool = False) -> BotLoop:
        s = self.setup
        self._allow_halted = allow_halted
        risk = restore_risk(s.state, s.config, s.clock)
        if risk.state is RiskState.HALTED and not allow_halted:
            raise RiskDenied("state", f"the bot is HALTED since {risk.since.isoformat()}: {risk.reason}. "
                                      "A person must run `kalshi auto resume` before it trades again")
        if s.leases is not None:  # before anything touches an order on these markets
            s.leases.on_bot_lost = self._bot_lease_lost
            s.leases.acquire()
        ledger = s.state.load_ledger()
        ledger.roll_day(s.clock.now())
        markets = market_infos(s.client, s.executor, s.tickers)
        tag = order_tag(s.state.bot_id())
        self.strategy = GuardedStrategy(s.strategy, on_failure=self._strategy_failed)
        port = RestExchange(s.client, s.executor, client_order_ids=lambda: new_client_order_id(tag),
                            strategy=s.strategy.name, on_placed=self.strategy.placed)
        started = s.clock.now()
        self.startup = reconcile_start(port, ledger, s.state, markets, s.clock.now, on_unknown=s.on_start,
                                       tag=tag, recent_orders=self._last_run_orders(), marks=_market_marks(markets),
                                       foreign=s.leases.foreign if s.leases is not None else ())
        s.state.put("markets", list(markets))
        s.state.put("env", s.env)
        s.state.put(RUN_STARTED, started.isoformat())
        ledger.prune(s.clock.now())
        self.loop = BotLoop(strategy=self.strategy, risk=risk, ledger=ledger, state=s.state, port=port, feed=s.feed,
                            markets=markets, clock=s.clock, config=s.config, watcher=s.watcher,
                            metrics=self.metrics, reconcile_every=s.reconcile_every, on_alert=s.on_alert,
                            leases=s.leases)
        return self.loop

    def _last_run_orders(self) -> Iterable[Order]:
        """The account's orders since the last run began (finished ones too): where a tagged order the
        state never recorded (sent just before a crash) is found with its fills.  Empty on a first run."""
        try:
            since = datetime.fromisoformat(self.setup.state.text(RUN_STARTED) or "") - ORDER_HISTORY_MARGIN
        except (TypeError, ValueError):
            return ()
        return self.setup.client.iter_orders(min_ts=since)

    def run(self, stop: threading.Event, duration: float | None,
            on_status: Callable[[], None] | None = None) -> None:
        loop = self.loop or self.prepare()
        deadline = None if duration is None else time.monotonic() + duration
        self._stop = stop
        self.setup.feed.start()
        while True:
            try:
                loop.run(stop, deadline, on_status)
                return
            except LeaseHeld:
                raise
            except StorageError as exc:
                if self.setup.probe_store is None:
                    raise
                again = self._ride_out(exc, stop, deadline)
                if again is None:
                    raise
                loop = again

    def _ride_out(self, exc: StorageError, stop: threading.Event, deadline: float | None) -> BotLoop | None:
        """The store stopped answering: cancel every order through the exchange, wait for the store, then start
        again as after a crash (auto/outage.py).  None when the run ends first (stopped, or its time is up)."""
        s = self.setup
        assert s.probe_store is not None, "only called with a probe"
        self.outages.began()
        log.critical("the store stopped answering (%s): cancelling every order; nothing is sent until it answers",
                     exc)
        s.on_alert("store", f"STORE UNREACHABLE: {exc}. Every order cancelled; trading resumes when it answers")
        if self.loop is not None:
            try:
                resting = list(self.loop.port.resting_orders(self.loop.tickers))
            except ApiError:
                resting = []
            self.outages.cancelled += len(resting)
            try:
                self.loop.cancel_all("store unreachable")
            except StorageError as again:  # the cancels went to the exchange; only their bookkeeping failed
                log.warning("orders cancelled, but not recorded (%s); the restart's reconciliation settles them",
                            again)
        while wait_for_store(s.probe_store, stop, deadline):
            try:
                loop = self.prepare(self._allow_halted)
            except LeaseHeld:
                raise
            except StorageError as again:  # it answered, then failed again: keep waiting
                log.warning("the store failed again while the bot restarted: %s", again)
                continue
            self.outages.ended()
            summary = self.startup.summary() if self.startup is not None else "nothing to do"
            log.warning("the store answers again: trading resumes (start-up reconciliation: %s)", summary)
            s.on_alert("store", f"store reachable again; trading resumes (reconciliation: {summary})")
            return loop
        return None

    def _strategy_failed(self, failure: StrategyFailure) -> None:
        """The strategy raised while deciding (before any write of that pass): halt with the reason (the
        loop cancels every order of the bot) and end the run."""
        self.failure = failure
        loop = self.loop
        if loop is not None:
            change = loop.risk.halt(failure.reason(), "strategy")
            if change is not None:
                loop.on_state_change(change)
        if self._stop is not None:
            self._stop.set()

    def _bot_lease_lost(self, why: str) -> None:
        """Another process runs as this bot now: stop (every order of this run is cancelled on the way out)."""
        log.critical("%s: stopping the bot", why)
        self.setup.on_alert("halt", f"{why}: another process runs as this bot; stopping")
        if self._stop is not None:
            self._stop.set()

    def shutdown(self, reason: str) -> int:
        """Cancel every order of the bot, journal its last fills and persist, then release the leases; safe to call
        after any failure."""
        loop = self.loop
        try:
            if loop is not None:
                self.shutdown_cancelled = loop.cancel_all(reason)
                loop.journal_fills(final=True)
                self.setup.state.save_risk(loop.risk.to_state())
        finally:
            try:
                self.setup.feed.stop()
            finally:
                try:
                    self.setup.state.flush()
                finally:
                    if self.setup.leases is not None:
                        self.setup.leases.release()
        return self.shutdown_cancelled

    def report(self) -> dict[str, Any]:
        loop = self.loop
        s = self.setup
        resyncs = getattr(s.feed, "resyncs", None)
        if loop is None:
            raise UsageError("the bot never started")
        doc = build_report(self.metrics, loop.ledger, loop.marks(), risk_state=loop.risk.state.value,
                           risk_reason=loop.risk.reason, tickers=loop.tickers, strategy=s.strategy.name,
                           env=s.env, feed=s.feed_name, feed_resyncs=resyncs if isinstance(resyncs, int) else None)
        if self.outages.spans:  # the store went away mid-run (auto/outage.py)
            doc["store_outages"] = {"spans": self.outages.summary(), "cancelled": self.outages.cancelled}
        if self.startup is not None:  # what the start found: orders retired, positions left on other markets
            doc["startup"] = {"summary": self.startup.summary(), "retired_orders": self.startup.retired,
                              "untraded_positions": self.startup.untraded}
        return doc


def _market_marks(markets: dict[str, MarketInfo]) -> dict[str, Decimal]:
    """A price per market from the start-up read (mid of the best quotes, else the last trade), for position
    adjustments the start-up reconciliation has no fill price for."""
    out = {}
    for t, info in markets.items():
        m = info.market
        if m is None:
            continue
        bid, ask = m.best_yes_bid, m.best_yes_ask
        price = (bid + ask) / 2 if bid is not None and ask is not None else (m.last_price or None)
        if price is not None and 0 < price < 1:
            out[t] = price.quantize(Decimal("0.0001"))
    return out


def install_stop_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set `stop` (the loop then cancels everything); returns a function restoring them."""
    previous = {}

    def handler(signum, frame):
        log.warning("signal %s: stopping, cancelling every order", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


# --- operator commands ----------------------------------------------------------------------------
def resume(state: BotState, config: BotConfig, clock: Clock, who: str = "operator") -> tuple[str, str]:
    """Put a halted (or reducing) bot back to ACTIVE; a running bot picks the request up within a second."""
    risk = restore_risk(state, config, clock)
    old = risk.state.value
    risk.resume(f"resumed by {who} (kalshi auto resume)")
    state.save_risk(risk.to_state())
    state.put("resume_request", clock.now().isoformat())
    state.put("halt_request", None)  # a kill switch's request the bot never took is lifted with the halt
    state.log_event(clock.now(), "risk_state", f"risk state {old} -> active: resumed by {who}")
    return old, risk.state.value


def kill(state_dir: Path, state: BotState, port_factory: Callable[[], ExchangePort] | None, *,
         wait: float = 20.0, sleep: Callable[[float], None] = time.sleep, bot: str = DEFAULT_BOT,
         foreign: Collection[str] = ()) -> dict[str, Any]:
    """Stop a running bot (SIGTERM; it cancels its orders); if it is gone, cancel its known orders here (on its
    markets, but on those another bot holds now (`foreign`) only its own: tagged or known)."""
    pid = read_pid(state_dir, bot)
    result: dict[str, Any] = {"pid": pid, "signalled": False, "exited": False, "cancelled_here": 0}
    if pid is not None and pid_alive(pid) and pid != os.getpid():
        os.kill(pid, signal.SIGTERM)
        result["signalled"] = True
        waited = 0.0
        while waited < wait and pid_alive(pid) and read_pid(state_dir, bot) == pid:
            sleep(0.1)
            waited += 0.1
        result["exited"] = not pid_alive(pid) or read_pid(state_dir, bot) != pid
        if result["exited"]:
            return result
    if port_factory is None:
        return result
    port = port_factory()
    ledger = state.load_ledger()
    refs = {o.order_id: o.ref() for o in ledger.orders.values()}
    markets = set(state.texts("markets"))
    tag = order_tag(state.bot_id())
    try:
        for o in port.resting_orders(None):  # on its markets, and its tagged orders on any market
            if (o.ticker in markets and o.ticker not in foreign) or tagged(o, tag):
                refs.setdefault(o.order_id, OrderRef.of(o))
    except ApiError as exc:
        log.warning("could not list resting orders: %s", exc)
    if refs:
        result["cancelled_here"] = port.cancel_orders(refs.values())
    ledger.clear_orders()
    state.log_event(datetime_now(), "kill", f"kalshi auto kill: {len(refs)} orders cancelled via the API "
                                            f"(bot process {'gone' if not result['signalled'] else 'not exiting'})")
    if read_pid(state_dir, bot) == pid and not pid_alive(pid):
        try:
            pid_path(state_dir, bot).unlink()
        except OSError:
            pass
    return result


def datetime_now() -> datetime:
    from datetime import timezone

    return datetime.now(timezone.utc)


def status(state_dir: Path, state: BotState, method: str = "avg", bot: str = DEFAULT_BOT) -> dict[str, Any]:
    """What the state file says: running or not, risk state, positions, P&L (by `method`), working orders,
    recent events."""
    pid = read_pid(state_dir, bot)
    ledger = state.load_ledger(method)
    ledger.roll_day(datetime_now())
    risk = state.risk_state() or {"state": "active", "reason": "never run", "since": None}
    return {
        "bot": bot,
        "running": pid_alive(pid),
        "pid": pid if pid_alive(pid) else None,
        "env": state.get("env"),
        "markets": state.texts("markets"),
        "risk_state": risk.get("state"),
        "risk_reason": risk.get("reason"),
        "risk_since": risk.get("since"),
        "positions": {t: str(p) for t, p in ledger.positions().items() if p},
        "pnl_method": method,
        "realized_pnl": str(ledger.realized()),
        "fees": str(ledger.fees()),
        "realized_today_net": str(ledger.realized_today),
        "working_orders": [{"order_id": o.order_id, "ticker": o.ticker, "side": o.book_side.value,
                            "yes_price": str(o.yes_price), "remaining": str(o.remaining)}
                           for o in ledger.orders.values()],
        "last_fill": ledger.last_fill_ts.isoformat() if ledger.last_fill_ts else None,
        "events": state.events(10),
        "state_file": state.location,
    }
