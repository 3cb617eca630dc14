"""One backtest: a recording replayed through the bot's own loop, strategy, risk engine and ledger.

    spec = BacktestSpec(Path("recordings"), strategy="mm", latency=timedelta(milliseconds=50))
    run = run_backtest(spec)            # a BacktestRun: what happened, for `report.build_report`

What differs from live trading is only what the loop is given (design.md: "only the exchange port, the feed and the
clock differ"): the replay clock (recorded receive time), the `BacktestFeed` (the replay feed with the simulated
exchange in step) and the `SimulatedExchange` as the exchange port.  The bot's state lives in a scratch store
(`scratch.py`) and the loop keeps no decision log.  The loop's timers run on recorded time: a timer pass every
`loop_interval_ms` of it, a reconciliation every 5 recorded seconds.  At the end of the recording every order is
cancelled, as at a bot's stop.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from kalshi_trading.auto.botconfig import BotConfig
from kalshi_trading.auto.loop import BotLoop
from kalshi_trading.auto.ports import MarketInfo
from kalshi_trading.auto.report import Metrics
from kalshi_trading.auto.ledger import BotFill
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.strategies.guard import GuardedStrategy, StrategyFailure
from kalshi_trading.auto.types import Strategy
from kalshi_trading.backtest.exchange import SimulatedExchange, micros
from kalshi_trading.backtest.feed import BacktestFeed
from kalshi_trading.backtest.markets import default_info
from kalshi_trading.backtest.matching import QueueModel
from kalshi_trading.backtest.scratch import ScratchState
from kalshi_trading.backtest.tape import Tape
from kalshi_trading.errors import UsageError
from kalshi_trading.replay.feed import ReplayClock, ReplayFeed
from kalshi_trading.replay.reader import Recording

log = logging.getLogger(__name__)

STRATEGIES = ("mm", "edge", "signals")
SIGNALS_REFUSED = (
    "--strategy signals cannot be backtested from a recording: the signal pipeline discovers its markets over REST "
    "and models them from outside sources (weather forecasts, spot indices, candles) that a market-data recording "
    "does not hold, so a replay could only fake them; its paper results are in `kalshi paper report`")
RECONCILE_EVERY = 5.0  # recorded seconds, as live
FLUSH_EVERY = 60.0  # recorded seconds between state flushes (no journal to feed; decisions are in memory)


@dataclass(frozen=True)
class BacktestSpec:
    """What to replay and how.  `config` is a configuration document (`BotConfig.from_mapping` validates it), so
    a spec crosses to a worker process as it is."""

    data: Path
    strategy: str = "mm"
    config: Mapping[str, Any] = field(default_factory=dict)
    latency: timedelta = timedelta(milliseconds=50)
    queue: QueueModel = QueueModel.CONSERVATIVE
    start: datetime | None = None
    end: datetime | None = None
    tickers: tuple[str, ...] = ()
    markets: Mapping[str, MarketInfo] = field(default_factory=dict)
    underlying: Path | None = None
    label: Mapping[str, str] = field(default_factory=dict)  # a sweep's values for this run
    exchange_time: bool = False  # replay on the exchange's clock (a simulator recorded faster than life)

    def bot_config(self) -> BotConfig:
        return BotConfig.from_mapping(self.config, source="backtest configuration")


@dataclass
class BacktestRun:
    """What one backtest saw and did (the report's input)."""

    spec: BacktestSpec
    tickers: list[str]
    markets: dict[str, MarketInfo]
    loop: BotLoop
    exchange: SimulatedExchange
    tape: Tape
    feed: BacktestFeed
    replay: ReplayFeed
    marks: dict[str, Decimal]
    positions: dict[str, Decimal]  # the bot's own (ledger) at the end
    started: datetime
    ended: datetime
    wall_seconds: float
    cpu_seconds: float
    problems: list[str] = field(default_factory=list)
    failure: StrategyFailure | None = None  # the strategy raised: the replay halted there
    strategy: Strategy | None = None  # the strategy that ran (inside its guard)
    bot_fills: list[BotFill] = field(default_factory=list)  # the bot's own record of its fills


def strategy_for(spec: BacktestSpec, markets: Mapping[str, MarketInfo]) -> Strategy:
    """The strategy the live bot would run, resolved as `kalshi auto` resolves it (a built-in, an installed entry
    point or `package.module:Class`: `auto.strategies.registry`); `signals` is refused (SIGNALS_REFUSED)."""
    from kalshi_trading.auto.strategies.registry import StrategyContext, resolve_strategy

    from kalshi_trading.auto.strategies import EdgeTaker

    name = spec.strategy.strip()
    if name.lower() == "signals":
        raise UsageError(SIGNALS_REFUSED)

    def underlying():
        if spec.underlying is None:
            raise UsageError(f"--strategy {name} values markets from the underlying's price: pass --underlying "
                             "FILE.csv (timestamp,price) covering the recording")
        from kalshi_trading.auto.pricing import CsvUnderlying

        return CsvUnderlying(spec.underlying)

    strategy = resolve_strategy(name, StrategyContext(underlying=underlying))
    if isinstance(strategy, EdgeTaker):  # its model values a market from its close time and strike
        missing = [t for t, m in markets.items() if m.close_time is None or m.strike_type is None]
        if missing:
            raise UsageError(f"--strategy {name} needs each market's close time and strike, which a recording "
                             f"does not hold: give them with --market-info FILE ({', '.join(missing[:3])})")
    return strategy


def run_backtest(spec: BacktestSpec) -> BacktestRun:
    """Replay `spec.data` through the bot's loop against the simulated exchange (see the module docstring)."""
    config = spec.bot_config()
    recording = Recording(spec.data)
    tickers = recording.check_markets(spec.tickers) if spec.tickers else list(recording.markets)
    markets = {t: spec.markets.get(t) or default_info(t) for t in tickers}
    failures: list[StrategyFailure] = []
    strategy = GuardedStrategy(strategy_for(spec, markets))  # told of a failure once the loop exists
    clock = ReplayClock()
    replay = ReplayFeed(recording, clock, start=spec.start, end=spec.end, exchange_time=spec.exchange_time)
    replay.subscribe(tickers)
    tape = Tape(replay.books, tickers)
    exchange = SimulatedExchange(replay.books, clock, markets, queue=spec.queue, latency=spec.latency,
                                 on_fill=tape.on_fill)
    done = threading.Event()
    exchange.on_placed = strategy.placed
    feed = BacktestFeed(replay, exchange, tape, done)
    feed.start()
    if not clock.started:
        raise UsageError(f"nothing was recorded in {spec.data} between the times asked for")
    started = clock.now()
    origin = micros(started)  # the loop's timers read seconds since the start (small floats stay exact to 1 us)
    wall, cpu = time.perf_counter(), time.process_time()
    with ScratchState() as state:
        risk = RiskEngine(config, clock.now)
        ledger = state.load_ledger()
        ledger.roll_day(started)
        loop = BotLoop(strategy=strategy, risk=risk, ledger=ledger, state=state, port=exchange, feed=feed,
                       markets=markets, clock=clock, config=config, metrics=Metrics(),
                       wall=lambda: (micros(clock.now()) - origin) / 1e6, reconcile_every=RECONCILE_EVERY,
                       reload_every=FLUSH_EVERY, flush_every=FLUSH_EVERY, decision_log=False)
        strategy.on_failure = lambda failure: stop_on(failure, loop, done, failures)
        loop.run(done)
        loop.cancel_all("the recording ended")
        loop.journal_fills(final=True)
        positions = ledger.positions()
        bot_fills = state.fills()
        state.flush()
    if feed.events_seen == 0:
        raise UsageError(f"nothing was recorded in {spec.data} between the times asked for")
    run = BacktestRun(spec, tickers, markets, loop, exchange, tape, feed, replay, final_marks(replay, tickers),
                      positions, started, clock.now(), time.perf_counter() - wall, time.process_time() - cpu,
                      strategy=strategy.inner, bot_fills=bot_fills)
    run.failure = failures[0] if failures else None
    run.problems = problems_of(run)
    return run


def stop_on(failure: StrategyFailure, loop: BotLoop, done: threading.Event, failures: list[StrategyFailure]) -> None:
    """The strategy raised (`GuardedStrategy`): halt as `kalshi auto` does (every order cancelled) and end the replay
    there; the report covers the run up to that point and names the failure."""
    failures.append(failure)
    change = loop.risk.halt(failure.reason(), "strategy")
    if change is not None:
        loop.on_state_change(change)
    done.set()


def final_marks(replay: ReplayFeed, tickers: list[str]) -> dict[str, Decimal]:
    """The last mid of each book (the book itself is stale once the recording ended)."""
    out = {}
    for t in tickers:
        book = replay.books.get(t)
        mid = None if book is None else (book.mid if not book.stale else book.mids.last)
        if mid is not None:
            out[t] = mid
    return out


def problems_of(run: BacktestRun) -> list[str]:
    """What the replay worked around, and anything that disagrees (the bot's positions against the exchange's)."""
    out = [str(p) for p in run.replay.problems]
    if run.failure is not None:
        out.append(f"{run.failure.reason()}: the replay halted at {run.failure.at.isoformat()} (orders cancelled)")
    theirs = run.exchange.positions()
    for t in sorted(set(theirs) | {t for t, p in run.positions.items() if p}):
        ours = run.positions.get(t, Decimal(0))
        if ours != theirs.get(t, Decimal(0)):
            out.append(f"{t}: the bot's position {ours} differs from the simulated exchange's {theirs.get(t, 0)}")
    return out
