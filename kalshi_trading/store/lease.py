"""The lease port: named leases with an expiry, so that several processes sharing one store (bots on several
machines) never act on the same thing at once.  A bot leases every market it trades (`market/<ticker>`) and its own
name (`bot/<name>`); a second bot asking for one of them is refused with the holder's identity and the expiry.

Any adapter (SQLite today: `store/sqlite/lease.py`) implements `LeaseStore`; `tests/store/test_lease_contract.py`
runs the same contract against every adapter.

The contract, in words (each point has a contract test):

- `acquire(names, holder, now=, ttl_seconds=)` takes every lease named, all or none, in one atomic step: each must
  be free, expired (at `now`) or the holder's own (then renewed).  Otherwise `LeaseHeld` names the first lease held
  by another, its holder and expiry, and nothing changes.  A lease runs until `now + ttl`; `acquired` is when the
  holder first took it (kept through renewals).
- `renew(name, holder, ...)` extends the holder's own lease (even if it lapsed meanwhile, as long as nobody took
  it); a lease now held by another, or gone, raises `LeaseLost` and changes nothing.
- `release(names, holder)` frees those of the holder's own leases; anyone else's are left alone.
- `holders(prefix)` lists the leases (expired ones included) whose names start with `prefix`, by name.
- Times are the callers' UTC clocks (processes on several machines need synchronised clocks; a TTL well above their
  skew).  A naive datetime, an empty name or a TTL <= 0 is a `UsageError`; failures of the storage a `StorageError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Sequence

from kalshi_trading.errors import StorageError, UsageError


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease: a process named so that a reused pid is not mistaken for it (host, boot, pid and the
    time it started; on Linux also its pid namespace and start time in clock ticks, by which a process on the same
    machine can tell that the holder is gone), and what it is (`name`, e.g. `bot east`).  Every field is kept
    exactly; two holders are the same when every field is equal."""

    name: str
    host: str
    pid: int
    boot_id: str
    started: datetime
    pid_ns: int | None = None
    start_ticks: int | None = None

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid} on {self.host}, started {self.started.isoformat(timespec='seconds')})"


@dataclass(frozen=True)
class Lease:
    name: str
    holder: LeaseHolder
    acquired: datetime
    expires: datetime

    def expired(self, now: datetime) -> bool:
        return self.expires <= now


class LeaseHeld(StorageError):
    """Another process holds a lease this one asked for (exit 3)."""

    def __init__(self, lease: Lease):
        self.lease = lease
        super().__init__(f"{lease.name} is held by {lease.holder} until {lease.expires.isoformat(timespec='seconds')}"
                         "; stop that process, or wait for its lease to lapse if it died")


class LeaseLost(StorageError):
    """A lease this process held is gone or held by another now (`current`: the lease as it is, or None)."""

    def __init__(self, name: str, current: Lease | None):
        self.name = name
        self.current = current
        who = f"taken over by {current.holder}" if current is not None else "gone"
        super().__init__(f"the lease on {name} is {who}")


def check_lease_args(names: Sequence[str], now: datetime | None = None, ttl_seconds: float | None = None) -> None:
    """The arguments every adapter refuses alike."""
    if isinstance(names, str):
        raise UsageError("lease names come as a list")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"{name!r} is not a lease name")
    if now is not None and now.tzinfo is None:
        raise UsageError(f"naive datetime {now} (times must be timezone-aware UTC)")
    if ttl_seconds is not None and not ttl_seconds > 0:
        raise UsageError(f"a lease's time to live must be more than 0 seconds, not {ttl_seconds}")


class LeaseStore(Protocol):
    """Leases in one environment's store (see the module docstring for the contract)."""

    def acquire(self, names: Sequence[str], holder: LeaseHolder, *, now: datetime,
                ttl_seconds: float) -> list[Lease]:
        """Take (or renew) every lease named, all or none; LeaseHeld names the first held by another."""
        ...

    def renew(self, name: str, holder: LeaseHolder, *, now: datetime, ttl_seconds: float) -> Lease:
        """Extend the holder's own lease to now + ttl; LeaseLost when it is gone or another's."""
        ...

    def release(self, names: Sequence[str], holder: LeaseHolder) -> None:
        """Free those of these leases the holder holds."""
        ...

    def holders(self, prefix: str = "") -> list[Lease]:
        """The leases whose names start with `prefix` (expired ones too), by name."""
        ...

    def close(self) -> None: ...
