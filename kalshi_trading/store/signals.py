"""The signal store's port: the pipeline's audit trail (signals, paper and real attempts, cycles, source health) and
the lease that lets one pipeline at a time trade from a store.

Any adapter (SQLite today: `store/sqlite/signals.py`) implements `SignalStore`; `tests/store/test_signal_contract.py`
runs the same contract against every adapter.  Records carry domain values only (Decimal, aware UTC datetimes,
str, int and the enums below): no connections, row types or SQL.  The pipeline's own facts (`signals.types.Signal`,
`SourceHealth`) live above this layer; it converts them to these records.

The contract, in words (each point has a contract test):

- `record_*` return the new record's id (increasing within one store) and keep every field exactly (Decimals to the
  digit, times to the microsecond, UTC).  Ids mean nothing across stores.
- Queries: `since` inclusive, oldest first; `ticker` exact; a naive datetime is a `UsageError`; `limit` >= 0 keeps
  the newest `limit` (still oldest first).
- A cycle is begun, then finished once with its status and counts; health rows belong to a cycle.
- The lease: one holder per name at a time.  `acquire_lease` takes a free or expired lease (or renews the caller's
  own) and raises `LeaseHeld`, naming the holder and expiry, when someone else holds it; `release_lease` frees only
  the caller's own.
- Failures of the storage itself are `StorageError` (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, Sequence

from kalshi_trading.errors import StorageError
from kalshi_trading.money import ZERO


class AttemptOutcome(StrEnum):
    """What became of one attempt to act on a signal."""

    SUBMITTED = "submitted"  # the exchange accepted the order (resting): order id known, nothing filled yet
    FILLED = "filled"        # some or all filled (a real fill, or a paper fill modelled against the book)
    UNFILLED = "unfilled"    # an immediate-or-cancel order (real or paper) that found nothing at its limit
    REJECTED = "rejected"    # the exchange (or the executor's checks) refused it: `reason` holds why
    SKIPPED = "skipped"      # a rule of the engine skipped it: `rule` names the rule, `reason` says why


TRADED = (AttemptOutcome.SUBMITTED, AttemptOutcome.FILLED, AttemptOutcome.UNFILLED)  # an order was (paper-)sent


class CycleStatus(StrEnum):
    RUNNING = "running"    # begun, not finished (a crash leaves it so)
    OK = "ok"
    DEGRADED = "degraded"  # finished, but some source failed (the cycle went on without it)
    FAILED = "failed"      # the cycle itself failed: `error` says why


class LeaseHeld(StorageError):
    """Another process holds the store's lease: it is trading from this store."""

    def __init__(self, name: str, holder: str, expires: datetime):
        self.name = name
        self.holder = holder
        self.expires = expires
        super().__init__(f"another pipeline ({holder}) holds the {name!r} lease on this store until "
                         f"{expires.isoformat()}; refusing to trade twice (stop it, or wait for the lease to lapse)")


@dataclass(frozen=True)
class SignalRecord:
    """A stored signal (see `signals.types.Signal` for the meaning of each field)."""

    ticker: str
    family: str
    at: datetime
    model: str
    model_prob: Decimal
    market_mid: Decimal | None
    trade_price: Decimal | None
    edge_bps: int | None
    confidence: Decimal
    direction: str  # buy_yes | buy_no | none
    inputs: tuple[tuple[str, str], ...] = ()
    cycle_id: int | None = None
    id: int | None = None  # given by the store

    @property
    def actionable(self) -> bool:
        return self.direction != "none"


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt to act on a signal and its outcome.  Prices are on the bought contract (YES or NO)."""

    at: datetime
    ticker: str
    direction: str  # buy_yes | buy_no
    mode: str       # simulate | sim | demo | live
    outcome: AttemptOutcome
    count: Decimal                       # contracts asked for
    limit_price: Decimal | None = None   # the clamped limit (None when skipped before a price was set)
    signal_id: int | None = None
    cycle_id: int | None = None
    order_id: str | None = None          # the exchange's order id (real modes), or paper:<n>
    client_order_id: str | None = None
    fill_count: Decimal = ZERO
    fill_price: Decimal | None = None    # average fill price on the bought contract
    fee: Decimal | None = None
    rule: str | None = None              # the engine rule that skipped it
    reason: str | None = None            # why: the rule's reason, or the exchange's code and message
    model_prob: Decimal | None = None    # P(YES) by the model at entry
    edge_bps: int | None = None          # edge at entry
    id: int | None = None


@dataclass(frozen=True)
class HealthRecord:
    """How one outside source answered in one cycle."""

    cycle_id: int
    source: str
    status: str  # ok | failed | garbage | stale | skipped
    at: datetime
    latency_ms: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CycleRecord:
    """One pipeline cycle: discover, collect, model, signal, engine."""

    id: int
    started: datetime
    status: CycleStatus
    mode: str
    profile: str
    finished: datetime | None = None
    markets: int = 0
    signals: int = 0
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    acquired: datetime
    expires: datetime


class SignalStore(Protocol):
    """The pipeline's records in one environment's store."""

    def schema_version(self) -> int: ...

    def record_signal(self, signal: SignalRecord) -> int:
        """Store one signal; its id."""
        ...

    def record_attempt(self, attempt: AttemptRecord) -> int:
        """Store one attempt with its outcome; its id."""
        ...

    def signals(self, *, since: datetime | None = None, ticker: str | None = None, actionable: bool | None = None,
                limit: int | None = None) -> list[SignalRecord]:
        """Signals, oldest first (`actionable`: only those with a direction, or only those without)."""
        ...

    def attempts(self, *, since: datetime | None = None, ticker: str | None = None,
                 outcome: AttemptOutcome | None = None, limit: int | None = None) -> list[AttemptRecord]:
        """Attempts, oldest first."""
        ...

    def begin_cycle(self, started: datetime, *, mode: str, profile: str) -> int:
        """A new cycle, RUNNING; its id."""
        ...

    def finish_cycle(self, cycle_id: int, *, finished: datetime, status: CycleStatus, markets: int, signals: int,
                     attempts: int, error: str | None = None) -> None: ...

    def record_health(self, health: HealthRecord) -> None: ...

    def record_cycle(self, health: Sequence[HealthRecord], signals: Sequence[SignalRecord]) -> list[int]:
        """One cycle's health rows and signals together, all or none (one commit instead of one a row); the
        signals' ids, in order."""
        ...

    def health(self, cycle_id: int) -> list[HealthRecord]:
        """The sources' health in one cycle, in the order recorded."""
        ...

    def cycles(self, *, limit: int | None = None) -> list[CycleRecord]:
        """Cycles, newest first."""
        ...

    def acquire_lease(self, name: str, holder: str, *, now: datetime, ttl_seconds: float) -> Lease:
        """Take (or renew) the lease `name` for `holder` until now + ttl; LeaseHeld if another holds it."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Free the lease if `holder` holds it (anyone else's is left alone)."""
        ...

    def lease(self, name: str) -> Lease | None:
        """Who holds the lease (expired or not), or None."""
        ...

    def close(self) -> None: ...
