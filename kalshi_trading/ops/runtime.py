"""Ops around a running bot or pipeline: alert rules, digests and metrics, never in the way of a decision.

`BotOps` (for `kalshi auto`): the loop's status callback (its housekeeping, every 0.5 s wall, between passes) takes a
`BotSnapshot` — a handful of reads of the ledger, the risk engine and the counters, on the loop's own thread — and
publishes it by reference; a daemon thread of ours evaluates the alert rules over the newest snapshot, sends the
periodic digest (every `digest_every` of exchange time) and probes the store (`Store.check()`, every
`store_check_every` wall seconds).  The loop never waits on it: the `Sink` takes messages without blocking.  When the
run ends `close()` stops the thread, evaluates once more over a final snapshot (a halt that ended the run is alerted),
sends the final digest and probes the store once more.

`PipelineOps` (for `kalshi pipeline run`): after each cycle (between cycles, on the pipeline's thread) the cycle's
digests, the source-down rule, the store probe and the metrics totals.

A failure of the ops themselves is logged with its traceback and never stops trading (the `except Exception` blocks
below are the ops' boundary with the run).  Every message also goes to the log (`LoggingSink`: a level per severity,
the rule and kind as `extra=` fields), so an alert is in `kalshi.log` (and `errors.log` from warning up) whether or
not a channel is configured.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from kalshi_trading.auto.risk import exposure
from kalshi_trading.errors import KalshiError
from kalshi_trading.ops.alerts import AlertEngine, BotSnapshot, CycleSnapshot, StoreProbe
from kalshi_trading.ops.digest import bot_digest, cycle_digests
from kalshi_trading.ops.notify.message import Message, Sink
from kalshi_trading.ops.settings import AlertSettings
from kalshi_trading.store.alerts import Severity

if TYPE_CHECKING:
    from kalshi_trading.auto.loop import BotLoop
    from kalshi_trading.auto.runner import BotRun
    from kalshi_trading.ops.metrics import MetricsServer, PipelineStats
    from kalshi_trading.signals.pipeline import CycleResult, Pipeline
    from kalshi_trading.store import Store

log = logging.getLogger(__name__)

LEVELS = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.CRITICAL: logging.CRITICAL}
STORE_SAMPLES = 20_000  # timed store calls kept between two scrapes


class LoggingSink:
    """Logs every message (and every suppressed one), then hands it to `inner` (a channel dispatcher), if any."""

    def __init__(self, inner: Sink | None = None):
        self.inner = inner

    @staticmethod
    def _extra(message: Message, reason: str = "") -> dict[str, Any]:
        return {"kind": message.kind.value, "severity": message.severity.value, "rule": message.rule,
                "source": message.source, "reason": reason}

    def submit(self, message: Message) -> None:
        text = message.text.replace("\n", " | ")
        log.log(LEVELS[message.severity], "%s %s%s: %s", message.kind.value.upper(), message.severity.value,
                f" [{message.rule}]" if message.rule else "", f"{message.title}: {text}" if message.title else text,
                extra=self._extra(message))
        if self.inner is not None:
            self.inner.submit(message)

    def suppressed(self, message: Message, reason: str) -> None:
        log.info("suppressed %s [%s] %s: %s", message.kind.value, message.rule, message.title, reason,
                 extra=self._extra(message, reason))
        if self.inner is not None:
            self.inner.suppressed(message, reason)


class TimedCalls:
    """A port (a bot's state store, a signal store) whose every method call appends `(name, seconds)` to `samples`
    — a deque append on the caller's thread; the histogram is folded at scrape time (`ops.metrics.StoreTimes`)."""

    def __init__(self, inner: object, samples: deque):
        self._inner = inner
        self._samples = samples

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value
        samples = self._samples

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                samples.append((name, time.perf_counter() - started))

        return timed


def probe_store(store: Store, now: datetime) -> StoreProbe:
    """Whether the store answers its check (never raises)."""
    try:
        status = store.check()
        problem = None if status.ok else str(status.problem)
    except (KalshiError, OSError) as exc:  # a check that cannot even run: unreachable
        problem = f"{type(exc).__name__}: {exc}"
    return StoreProbe(now, store.url.masked, problem)


def bot_snapshot(loop: BotLoop, bot: str, env: str) -> BotSnapshot:
    """The bot as it is now.  Call it on the loop's thread (it reads the ledger and the clock)."""
    ctx = loop.risk_context()
    ledger, m, risk = loop.ledger, loop.metrics, loop.risk
    return BotSnapshot(
        at=loop.clock.now(), bot=bot, env=env, started=loop.started_at, risk_state=risk.state.value,
        risk_reason=risk.reason, risk_rule=risk.rule, max_daily_loss=loop.config.max_daily_loss,
        pnl_today=ctx.realized_pnl_today + ctx.unrealized_pnl, realized=ledger.realized(),
        unrealized=ctx.unrealized_pnl, fees=ledger.fees(), exposure=exposure(ctx), positions=dict(ctx.positions),
        markets=loop.tickers, working=len(ctx.working), fills=m.fills, volume=m.volume, last_fill=ledger.last_fill_ts,
        placed=m.placed, amended=m.amended + m.decreased, cancelled=m.cancelled, rejected=m.rejected,
        api_errors=m.api_errors, api_error_kinds=dict(m.api_error_kinds))


@dataclass(frozen=True)
class MetricsPlace:
    """Where to serve `/metrics` (checked by the CLI: loopback unless allowed)."""

    host: str
    port: int


class BotOps:
    """Alert rules, digests and metrics around one `BotRun` (see the module docstring)."""

    def __init__(self, run: BotRun, *, bot: str, env: str, settings: AlertSettings, sink: Sink | None,
                 store: Store | None = None, metrics: MetricsPlace | None = None, tick: float = 0.25):
        self.run = run
        self.bot = bot
        self.env = env
        self.settings = settings
        self.sink = LoggingSink(sink)
        self.engine = AlertEngine(settings, self.sink, bot)
        self.store = store
        self.tick = tick
        self.latest: BotSnapshot | None = None
        self._digested: BotSnapshot | None = None
        self._seen: BotSnapshot | None = None
        self._next_probe = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.store_samples: deque = deque(maxlen=STORE_SAMPLES)
        state = run.setup.state
        state.store = TimedCalls(state.store, self.store_samples)  # a proxy of the port
        self.server: MetricsServer | None = None
        if metrics is not None:
            self.server = self._serve(metrics)

    def _serve(self, place: MetricsPlace) -> MetricsServer:
        from kalshi_trading.ops.metrics import BotCollector, MetricsServer, StoreTimes, registry

        m = self.run.metrics
        feed = self.run.setup.feed

        def resyncs() -> int | None:
            value = getattr(feed, "resyncs", None)  # the WebSocket feed counts its own; the polling feed has none
            return value if isinstance(value, int) else None

        collector = BotCollector(self.bot, m, lambda: self.latest, resyncs, StoreTimes("bot_state",
                                                                                     self.store_samples))
        return MetricsServer(registry(collector), place.host, place.port)

    # --- on the loop's thread -------------------------------------------------------------------------------
    def status(self, inner: Callable[[], None] | None = None) -> Callable[[], None]:
        """The run's status callback: `inner` (the status line), then a snapshot for the rules and the metrics."""

        def on_status() -> None:
            if inner is not None:
                inner()
            try:
                self.publish()
            except Exception:  # noqa: BLE001 - the ops' boundary: a failure of ours never stops trading
                log.exception("ops: could not take the bot's snapshot; alerts and metrics may be stale")

        return on_status

    def publish(self) -> None:
        loop = self.run.loop
        if loop is None:
            return
        self.latest = bot_snapshot(loop, self.bot, self.env)
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._work, name="kalshi-ops", daemon=True)
            self._thread.start()

    # --- on the ops thread ----------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self._evaluate(final=False)
            except Exception:  # noqa: BLE001 - the ops thread's top level: log, go on with the next tick
                log.exception("ops: evaluating the alert rules failed")

    def _evaluate(self, final: bool) -> None:
        snap = self.latest
        if snap is not None and snap is not self._seen:
            self._seen = snap
            self.engine.observe_bot(snap)
            self._digest(snap, final)
        if self.store is not None and (final or time.monotonic() >= self._next_probe):
            self._next_probe = time.monotonic() + self.settings.store_check_every.total_seconds()
            at = snap.at if snap is not None else datetime.now(timezone.utc)
            self.engine.observe_store(probe_store(self.store, at))

    def _digest(self, snap: BotSnapshot, final: bool) -> None:
        every = self.settings.digest_every
        if every is None:
            return
        since = self._digested.at if self._digested is not None else snap.started
        if final or snap.at - since >= every:
            self.sink.submit(bot_digest(snap, self._digested, final=final))
            self._digested = snap

    def close(self) -> None:
        """Stop the ops thread; the last evaluation, the final digest; stop serving metrics.  Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            loop = self.run.loop
            if loop is not None:
                self.latest = bot_snapshot(loop, self.bot, self.env)
                self._evaluate(final=True)
            elif self.store is not None:
                self.engine.observe_store(probe_store(self.store, datetime.now(timezone.utc)))
        except Exception:  # noqa: BLE001 - the ops' boundary: the command's own outcome stands
            log.exception("ops: the final evaluation failed")
        finally:
            if self.server is not None:
                self.server.close()


class PipelineOps:
    """Digests, the source-down and store rules, and the metrics of a pipeline run (see the module docstring)."""

    def __init__(self, pipeline: Pipeline, *, mode: str, settings: AlertSettings, sink: Sink | None,
                 store: Store | None = None, metrics: MetricsPlace | None = None):
        self.pipeline = pipeline
        self.mode = mode
        self.settings = settings
        self.sink = LoggingSink(sink)
        self.engine = AlertEngine(settings, self.sink, "pipeline")
        self.store = store
        self._next_probe = 0.0
        self.store_samples: deque = deque(maxlen=STORE_SAMPLES)
        pipeline.store = TimedCalls(pipeline.store, self.store_samples)  # a timing proxy
        pipeline.engine.store = TimedCalls(pipeline.engine.store, self.store_samples)
        self.stats: PipelineStats | None = None
        self.server: MetricsServer | None = None
        if metrics is not None:
            from kalshi_trading.ops.metrics import MetricsServer, PipelineCollector, PipelineStats, StoreTimes, registry

            self.stats = PipelineStats()
            self.server = MetricsServer(registry(PipelineCollector(self.stats, StoreTimes("signals",
                                                                                         self.store_samples))),
                                        metrics.host, metrics.port)

    def on_cycle(self, inner: Callable[[CycleResult], None] | None = None) -> Callable[[CycleResult], None]:
        """The pipeline's per-cycle callback: `inner` (the status line), then ours."""

        def on_cycle(result: CycleResult) -> None:
            if inner is not None:
                inner(result)
            try:
                self.observe(result)
            except Exception:  # noqa: BLE001 - the ops' boundary: a failure of ours never stops the pipeline
                log.exception("ops: the cycle's digests or alerts failed")

        return on_cycle

    def observe(self, result: CycleResult) -> None:
        if self.stats is not None:
            self.stats.add(result)
        if self.settings.cycle_digests:
            for message in cycle_digests(result, mode=self.mode, actionable_only=self.settings.actionable_only):
                self.sink.submit(message)
        self.engine.observe_cycle(CycleSnapshot(result.finished, result.cycle_id, result.status.value, result.health,
                                                result.error))
        self._probe(result.finished)

    def _probe(self, at: datetime, force: bool = False) -> None:
        if self.store is not None and (force or time.monotonic() >= self._next_probe):
            self._next_probe = time.monotonic() + self.settings.store_check_every.total_seconds()
            self.engine.observe_store(probe_store(self.store, at))

    def close(self) -> None:
        """A last store probe (a run that ended on its store is alerted); stop serving metrics."""
        try:
            self._probe(datetime.now(timezone.utc), force=True)
        except Exception:  # noqa: BLE001 - the ops' boundary: the command's own outcome stands
            log.exception("ops: the last store probe failed")
        finally:
            if self.server is not None:
                self.server.close()
                self.server = None
