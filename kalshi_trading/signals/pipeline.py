"""The pipeline runner: one cycle = discover -> collect and model (one source per family) -> signals -> engine.

Every cycle is recorded (begun, then finished OK, DEGRADED when a source failed, or FAILED with the error when the
cycle itself could not run, e.g. discovery found the exchange unavailable), with each source's health.  A source
that fails or answers garbage costs only its own family's signals for that cycle.  Sources run concurrently.

One pipeline per store: the runner holds the store's `pipeline` lease, renewed at every cycle; a second runner on
the same store is refused (`LeaseHeld`), and a runner that finds its lease taken over stops.  `run` stops after the
current cycle when its `stop` event is set (the CLI sets it on the first Ctrl-C), when `duration` has passed, or
after one cycle with `once`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping, Sequence

from kalshi_trading.errors import ApiError, KalshiError
from kalshi_trading.models import Market
from kalshi_trading.signals.discovery import Discoverer, DiscoveryResult
from kalshi_trading.signals.engine import Engine
from kalshi_trading.signals.profiles import PipelineConfig
from kalshi_trading.signals.sources import FeeOf, SignalSource, SourceAnswer, evaluate
from kalshi_trading.signals.types import Family, Signal, SourceHealth, SourceStatus
from kalshi_trading.store.signals import AttemptRecord, CycleStatus, HealthRecord, Lease, SignalRecord, SignalStore

log = logging.getLogger(__name__)

LEASE = "pipeline"
_HEALTHY = (SourceStatus.OK, SourceStatus.SKIPPED)
# what a misbehaving source may raise; it is that source's failure for the cycle, not the cycle's
_SOURCE_ERRORS = (KalshiError, ValueError, TypeError, KeyError, IndexError, ArithmeticError, OSError)


def holder_name() -> str:
    """This process, as the lease names it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def to_record(signal: Signal, cycle_id: int | None) -> SignalRecord:
    return SignalRecord(ticker=signal.ticker, family=signal.family.value, at=signal.at, model=signal.model,
                        model_prob=signal.model_prob, market_mid=signal.market_mid, trade_price=signal.trade_price,
                        edge_bps=signal.edge_bps, confidence=signal.confidence, direction=signal.direction.value,
                        inputs=signal.inputs, cycle_id=cycle_id)


@dataclass(frozen=True)
class CycleResult:
    cycle_id: int
    status: CycleStatus
    started: datetime
    finished: datetime
    markets: int = 0
    signals: tuple[Signal, ...] = ()
    attempts: tuple[AttemptRecord, ...] = ()
    health: tuple[SourceHealth, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None

    @property
    def actionable(self) -> int:
        return sum(1 for s in self.signals if s.actionable)


@dataclass
class Pipeline:
    """Runs cycles for one store, one exchange, one configuration."""

    discoverer: Discoverer
    store: SignalStore
    config: PipelineConfig
    engine: Engine
    sources: Mapping[Family, SignalSource]
    fee_of: FeeOf
    clock: Callable[[], datetime]
    holder: str = field(default_factory=holder_name)
    lease: Lease | None = None
    # called as each cycle starts, before discovery (e.g. `live.OutsideData.prepare`: the outside sources are asked
    # while discovery reads the exchange); it must not raise
    prepare: Callable[[datetime], None] | None = None

    @property
    def lease_ttl(self) -> float:
        return max(self.config.lease_ttl_s, 3 * self.config.interval_s)

    def acquire(self) -> Lease:
        """Take (or renew) the store's pipeline lease; LeaseHeld (exit 3) when another runner holds it."""
        self.lease = self.store.acquire_lease(LEASE, self.holder, now=self.clock(), ttl_seconds=self.lease_ttl)
        return self.lease

    def release(self) -> None:
        if self.lease is not None:
            self.store.release_lease(LEASE, self.holder)
            self.lease = None

    def cycle(self) -> CycleResult:
        """One cycle, recorded whatever happens; exchange failures make it FAILED (the runner goes on)."""
        self.acquire()
        started = self.clock()
        cycle_id = self.store.begin_cycle(started, mode=self.engine.mode.value, profile=self.config.profile.name)
        try:
            result = self._cycle(cycle_id, started)
        except ApiError as exc:
            log.warning("cycle %d failed: %s", cycle_id, exc)
            result = CycleResult(cycle_id, CycleStatus.FAILED, started, self.clock(), error=str(exc)[:500])
        self.store.finish_cycle(cycle_id, finished=result.finished, status=result.status, markets=result.markets,
                                signals=len(result.signals), attempts=len(result.attempts), error=result.error)
        return result

    def _cycle(self, cycle_id: int, started: datetime) -> CycleResult:
        if self.prepare is not None:
            self.prepare(started)
        found = self.discoverer.discover(self.config.discovery, started)
        by_family = self._by_family(found)
        answers = self._collect(by_family, started)
        # families sharing outside sources (both bitcoin families) report the same rows: each is stored once
        health = tuple(dict.fromkeys(h for answer in answers.values() for h in answer.health))
        signals = self._signals(by_family, answers)
        ids = self.store.record_cycle(  # one commit for the cycle's rows
            [HealthRecord(cycle_id, h.source, h.status.value, h.at, h.latency_ms, h.reason) for h in health],
            [to_record(s, cycle_id) for s in signals])
        pairs = list(zip(signals, ids, strict=True))
        attempts = self.engine.run(pairs, cycle_id, found.tickers)
        status = CycleStatus.OK if all(h.status in _HEALTHY for h in health) else CycleStatus.DEGRADED
        return CycleResult(cycle_id, status, started, self.clock(), len(found.found), tuple(signals),
                           tuple(attempts), health, found.notes)

    def _by_family(self, found: DiscoveryResult) -> dict[Family, list[Market]]:
        by_family: dict[Family, list[Market]] = {}
        for d in found.found:
            if d.family is not None and d.family in self.sources:
                by_family.setdefault(d.family, []).append(d.market)
        return by_family

    def _collect(self, by_family: Mapping[Family, Sequence[Market]], now: datetime) -> dict[Family, SourceAnswer]:
        """Every family's source at once; one that raises is a FAILED source, not a failed cycle."""
        if not by_family:
            return {}
        with ThreadPoolExecutor(max_workers=len(by_family), thread_name_prefix="signal-source") as pool:
            futures = {family: pool.submit(self.sources[family], markets, now)
                       for family, markets in by_family.items()}
            answers: dict[Family, SourceAnswer] = {}
            for family, future in futures.items():
                try:
                    answers[family] = future.result()
                except _SOURCE_ERRORS as exc:
                    log.warning("source for %s failed: %s: %s", family.value, type(exc).__name__, exc)
                    answers[family] = SourceAnswer(health=(SourceHealth(
                        f"{family.value}-source", SourceStatus.FAILED, now,
                        reason=f"{type(exc).__name__}: {exc}"[:200]),))
        return answers

    def _signals(self, by_family: Mapping[Family, Sequence[Market]],
                 answers: Mapping[Family, SourceAnswer]) -> list[Signal]:
        signals: list[Signal] = []
        for family, answer in answers.items():
            markets = {m.ticker: m for m in by_family.get(family, ())}
            for ticker, probability in answer.probabilities.items():
                market = markets.get(ticker)
                if market is not None:
                    signals.append(evaluate(market, family, probability, self.clock(), self.fee_of))
            signals.extend(s for s in answer.signals if s.ticker in markets)
        return signals

    def run(self, *, once: bool = False, duration: float | None = None, stop: threading.Event | None = None,
            on_cycle: Callable[[CycleResult], None] | None = None,
            wall: Callable[[], float] = time.monotonic) -> list[CycleResult]:
        """Cycles until `stop` is set, `duration` wall seconds have passed, or one cycle (`once`); the lease is
        released at the end."""
        stop = stop or threading.Event()
        started = wall()
        results: list[CycleResult] = []
        self.acquire()
        try:
            while True:
                result = self.cycle()
                results.append(result)
                if on_cycle is not None:
                    on_cycle(result)
                if once or stop.is_set():
                    break
                left = None if duration is None else duration - (wall() - started)
                if left is not None and left <= 0:
                    break
                wait = self.config.interval_s if left is None else min(self.config.interval_s, left)
                if stop.wait(wait) or (duration is not None and wall() - started >= duration):
                    break
        finally:
            self.release()
        return results
