"""Prometheus metrics of a running bot or pipeline (needs prometheus-client: the `metrics` extra).

Custom collectors read what the run already keeps, when `/metrics` is scraped, so the decision path pays nothing:

- counters straight from the loop's `auto.report.Metrics` (orders placed/amended/decreased/cancelled/rejected,
  fills, volume, fees, API errors by call and error class, feed resyncs and disconnects, risk denials);
- gauges from the newest `ops.alerts.BotSnapshot`, which the run takes on the loop's own thread between passes
  (every status tick, 0.5 s): P&L today, realized/unrealized/fees/net, exposure, positions, working orders, the risk
  state.  The ledger is never read from the scraping thread (it is the loop's alone).  Money gauges are floats
  because Prometheus has no other number: they are for graphs and alerts; the exact Decimal figures stay in the
  store and in `kalshi pnl`;
- histograms folded from the samples the loop already appends (`Metrics.tick_latency`: a whole pass with its I/O,
  `Metrics.decision_latency`: strategy + diff + risk) and from the timed store calls (`ops.runtime.TimedCalls`):
  each scrape takes the samples appended since the previous one (found by the identity of the last one taken; a
  bounded deque that rotated more than its length between two scrapes loses the oldest) into cumulative buckets;
- the pipeline's figures from `PipelineStats`, updated once per cycle.

`registry(*collectors)` and `render(registry)` are reusable (the dashboard serves the same collectors on its port);
`serve()` starts prometheus-client's own HTTP server on a daemon thread.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kalshi_trading.auto.report import Metrics
from kalshi_trading.errors import ConfigError
from kalshi_trading.ops.alerts import BotSnapshot
from kalshi_trading.signals.pipeline import CycleResult
from kalshi_trading.signals.types import SourceStatus

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0)
CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RISK_STATES = ("active", "reducing", "halted")


class NewSamples:
    """The items another thread appended to a bounded deque since the last `take()` (see the module docstring)."""

    def __init__(self, samples: deque):
        self.samples = samples
        self._last: object | None = None

    def take(self) -> list:
        for _ in range(3):  # a copy made while another thread appends may be refused; it is made again
            try:
                items = list(self.samples)
                break
            except RuntimeError:
                continue
        else:
            return []
        new = items
        if self._last is not None:
            for i in range(len(items) - 1, -1, -1):
                if items[i] is self._last:
                    new = items[i + 1:]
                    break
        if items:
            self._last = items[-1]
        return new


@dataclass
class Buckets:
    """A cumulative histogram (counts per upper bound, sum, count) fed one value at a time."""

    bounds: Sequence[float] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def add(self, values: Iterable[float]) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)
        for v in values:
            self.counts[bisect.bisect_left(self.bounds, v)] += 1
            self.total += v
            self.n += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, count at or below it) per bucket, +Inf last."""
        counts = self.counts or [0] * (len(self.bounds) + 1)
        running, out = 0, []
        for bound, c in zip([repr(b) for b in self.bounds] + ["+Inf"], counts, strict=True):
            running += c
            out.append((bound, running))
        return out

    def family(self, name: str, doc: str, labels: Sequence[str], values: Sequence[str]) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(name, doc, labels=list(labels))
        fam.add_metric(list(values), self.cumulative(), self.total)
        return fam


class StoreTimes:
    """Durations of store calls by operation, folded from `(op, seconds)` samples at scrape time."""

    def __init__(self, part: str, samples: deque):
        self.part = part
        self._new = NewSamples(samples)
        self.by_op: dict[str, Buckets] = {}

    def fold(self) -> None:
        for op, seconds in self._new.take():
            self.by_op.setdefault(op, Buckets()).add((seconds,))

    def families(self) -> Iterator[Metric]:
        fam = HistogramMetricFamily("kalshi_store_seconds", "Store calls the run makes anyway, by part and operation",
                                    labels=["part", "op"])
        for op, b in sorted(self.by_op.items()):
            fam.add_metric([self.part, op], b.cumulative(), b.total)
        yield fam


class BotCollector(Collector):
    """One bot's metrics: counters from `metrics`, gauges from `snapshot()`, histograms from the samples."""

    def __init__(self, bot: str, metrics: Metrics, snapshot: Callable[[], BotSnapshot | None],
                 resyncs: Callable[[], int | None] = lambda: None, store: StoreTimes | None = None):
        self.bot = bot
        self.metrics = metrics
        self.snapshot = snapshot
        self.resyncs = resyncs
        self.store = store
        self._lock = threading.Lock()
        self._tick = NewSamples(metrics.tick_latency)
        self._decision = NewSamples(metrics.decision_latency)
        self.tick_buckets = Buckets()
        self.decision_buckets = Buckets()

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # two scrapes at once must not fold the same samples twice
            self.tick_buckets.add(self._tick.take())
            self.decision_buckets.add(self._decision.take())
            if self.store is not None:
                self.store.fold()
            yield from self._counters()
            yield from self._gauges()
            b = [self.bot]
            yield self.tick_buckets.family("kalshi_bot_loop_seconds", "One decision pass with its I/O (wall)",
                                           ["bot"], b)
            yield self.decision_buckets.family("kalshi_bot_decision_seconds",
                                               "Decision only: strategy + diff + risk (wall)", ["bot"], b)
            if self.store is not None:
                yield from self.store.families()

    def _counters(self) -> Iterator[Metric]:
        m, b = self.metrics, [self.bot]
        orders = CounterMetricFamily("kalshi_bot_orders", "Order actions the exchange accepted, and rejections",
                                     labels=["bot", "action"])
        for action, n in (("placed", m.placed), ("amended", m.amended), ("decreased", m.decreased),
                          ("cancelled", m.cancelled), ("rejected", m.rejected)):
            orders.add_metric(b + [action], n)
        yield orders
        for name, doc, value in (
                ("kalshi_bot_fills", "Fills", m.fills),
                ("kalshi_bot_volume_contracts", "Contracts filled", float(m.volume)),
                ("kalshi_bot_fees_dollars", "Fees paid (float; exact in the store)", float(m.fees)),
                ("kalshi_bot_risk_denials", "Risk checks that withheld an order", m.denials),
                ("kalshi_bot_feed_resyncs", "Order book resyncs", max(m.resyncs, self.resyncs() or 0)),
                ("kalshi_bot_feed_disconnects", "Feed disconnects", m.disconnects)):
            fam = CounterMetricFamily(name, doc, labels=["bot"])
            fam.add_metric(b, value)
            yield fam
        errors = CounterMetricFamily("kalshi_bot_api_errors", "API errors by call and error class",
                                     labels=["bot", "call", "error"])
        for (call, error), n in sorted(Counter(dict(m.api_error_kinds)).items()):
            errors.add_metric(b + [call, error], n)
        yield errors

    def _gauges(self) -> Iterator[Metric]:
        snap, b = self.snapshot(), [self.bot]
        if snap is None:
            return
        for name, doc, value in (
                ("kalshi_bot_pnl_today_dollars", "Realized today (net of fees) + unrealized: what the loss limit "
                                                 "sees (float; exact in the store)", snap.pnl_today),
                ("kalshi_bot_exposure_dollars", "Dollars at risk: positions at their marks + working orders",
                 snap.exposure),
                ("kalshi_bot_working_orders", "Working orders", snap.working),
                ("kalshi_bot_snapshot_timestamp_seconds", "Exchange time of the snapshot these gauges are from",
                 snap.at.timestamp())):
            fam = GaugeMetricFamily(name, doc, labels=["bot"])
            fam.add_metric(b, float(value))
            yield fam
        pnl = GaugeMetricFamily("kalshi_bot_pnl_dollars", "P&L since the state began (float; exact in the store)",
                                labels=["bot", "kind"])
        for kind, value in (("realized", snap.realized), ("unrealized", snap.unrealized), ("fees", snap.fees),
                            ("net", snap.net)):
            pnl.add_metric(b + [kind], float(value))
        yield pnl
        pos = GaugeMetricFamily("kalshi_bot_position_contracts", "Position per market (+YES / -NO)",
                                labels=["bot", "market"])
        for ticker, p in sorted(snap.positions.items()):
            pos.add_metric(b + [ticker], float(p))
        yield pos
        risk = GaugeMetricFamily("kalshi_bot_risk_state", "1 for the risk engine's current state",
                                 labels=["bot", "state"])
        for state in RISK_STATES:
            risk.add_metric(b + [state], 1.0 if snap.risk_state == state else 0.0)
        yield risk


class PipelineStats:
    """The pipeline's running totals and its latest source health, updated once per cycle (`add`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cycles: Counter[str] = Counter()
        self.signals: Counter[tuple[str, str]] = Counter()
        self.attempts: Counter[str] = Counter()
        self.health: dict[str, tuple[bool, float | None]] = {}
        self.down_cycles: dict[str, int] = {}
        self.last_cycle: float | None = None
        self.durations = Buckets(CYCLE_BUCKETS)

    def add(self, result: CycleResult) -> None:
        with self._lock:
            self.cycles[result.status.value] += 1
            for s in result.signals:
                self.signals[(s.family.value, "true" if s.actionable else "false")] += 1
            for a in result.attempts:
                self.attempts[a.outcome.value] += 1
            for h in result.health:
                up = h.status in (SourceStatus.OK, SourceStatus.SKIPPED)
                latency = None if h.latency_ms is None else h.latency_ms / 1000
                self.health[h.source] = (up, latency)
                self.down_cycles[h.source] = 0 if up else self.down_cycles.get(h.source, 0) + 1
            self.last_cycle = result.finished.timestamp()
            self.durations.add(((result.finished - result.started).total_seconds(),))


class PipelineCollector(Collector):
    def __init__(self, stats: PipelineStats, store: StoreTimes | None = None):
        self.stats = stats
        self.store = store

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        with s._lock:
            cycles = CounterMetricFamily("kalshi_pipeline_cycles", "Cycles by status", labels=["status"])
            for status, n in sorted(s.cycles.items()):
                cycles.add_metric([status], n)
            signals = CounterMetricFamily("kalshi_pipeline_signals", "Signals by family", labels=["family",
                                                                                                   "actionable"])
            for (family, actionable), n in sorted(s.signals.items()):
                signals.add_metric([family, actionable], n)
            attempts = CounterMetricFamily("kalshi_pipeline_attempts", "Attempts by outcome", labels=["outcome"])
            for outcome, n in sorted(s.attempts.items()):
                attempts.add_metric([outcome], n)
            up = GaugeMetricFamily("kalshi_pipeline_source_up", "1 when the source answered in the last cycle "
                                   "that asked it", labels=["source"])
            latency = GaugeMetricFamily("kalshi_pipeline_source_latency_seconds", "The source's last answer time",
                                        labels=["source"])
            down = GaugeMetricFamily("kalshi_pipeline_source_down_cycles", "Cycles in a row the source was down",
                                     labels=["source"])
            for source, (ok, seconds) in sorted(s.health.items()):
                up.add_metric([source], 1.0 if ok else 0.0)
                down.add_metric([source], float(s.down_cycles.get(source, 0)))
                if seconds is not None:
                    latency.add_metric([source], seconds)
            yield from (cycles, signals, attempts, up, latency, down)
            if s.last_cycle is not None:
                last = GaugeMetricFamily("kalshi_pipeline_last_cycle_timestamp_seconds", "When the last cycle "
                                         "finished (exchange time)")
                last.add_metric([], s.last_cycle)
                yield last
            yield s.durations.family("kalshi_pipeline_cycle_seconds", "Cycle duration (exchange time)", [], [])
        if self.store is not None:
            self.store.fold()
            yield from self.store.families()


def registry(*collectors: Collector) -> CollectorRegistry:
    """A registry of our own (never the process-global one) holding `collectors`."""
    reg = CollectorRegistry(auto_describe=False)
    for c in collectors:
        reg.register(c)
    return reg


def render(reg: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format (what `/metrics` answers)."""
    return generate_latest(reg)


class MetricsServer:
    """prometheus-client's HTTP server on a daemon thread: `/metrics` (any path answers the same)."""

    def __init__(self, reg: CollectorRegistry, host: str, port: int):
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=reg)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}", "--metrics-port",
                              "choose a free port (or 0 for any)") from None
        self.host = host
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
