"""Leases in SQLite: `leases.sqlite` beside the journal (implements `store.lease.LeaseStore`).

A lease is one row; taking, renewing and releasing run in a `BEGIN IMMEDIATE` transaction, so of two processes
on this machine asking at once one waits for the other and then sees its row.  Times are fixed-width ISO-8601 UTC
text (text order is time order).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

from kalshi_trading.store.lease import Lease, LeaseHeld, LeaseHolder, LeaseLost, check_lease_args
from kalshi_trading.store.sqlite.codec import iso, parse_time
from kalshi_trading.store.sqlite.smallfile import FileKind, SmallFile

KIND = FileKind("lease file", application_id=0x4B4C5345, version=1, schema="""
CREATE TABLE leases (
    name TEXT PRIMARY KEY, holder_name TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    boot_id TEXT NOT NULL, started TEXT NOT NULL, pid_ns INTEGER, start_ticks INTEGER, acquired TEXT NOT NULL,
    expires TEXT NOT NULL
);;
""")  # "KLSE": kalshi leases

_COLUMNS = "name, holder_name, host, pid, boot_id, started, pid_ns, start_ticks, acquired, expires"


def _lease(row: Sequence[Any]) -> Lease:
    name, holder_name, host, pid, boot_id, started, pid_ns, start_ticks, acquired, expires = row
    holder = LeaseHolder(holder_name, host, int(pid), boot_id, parse_time(started), pid_ns, start_ticks)
    return Lease(name, holder, parse_time(acquired), parse_time(expires))


class SqliteLeases:
    """The lease file of one store directory (created on first use)."""

    def __init__(self, path: Path):
        self.file = SmallFile(path, KIND)

    def _current(self, name: str) -> Lease | None:
        row = self.file.run(f"SELECT {_COLUMNS} FROM leases WHERE name = ?", (name,)).fetchone()
        return None if row is None else _lease(row)

    def _write(self, lease: Lease) -> None:
        h = lease.holder
        self.file.run(f"INSERT OR REPLACE INTO leases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (lease.name, h.name, h.host, h.pid, h.boot_id, iso(h.started), h.pid_ns, h.start_ticks,
                       iso(lease.acquired), iso(lease.expires)))

    def acquire(self, names: Sequence[str], holder: LeaseHolder, *, now: datetime,
                ttl_seconds: float) -> list[Lease]:
        check_lease_args(names, now, ttl_seconds)
        expires = now + timedelta(seconds=ttl_seconds)
        taken = []
        with self.file.transaction():
            for name in dict.fromkeys(names):
                current = self._current(name)
                if current is not None and current.holder != holder and not current.expired(now):
                    raise LeaseHeld(current)
                acquired = current.acquired if current is not None and current.holder == holder else now
                lease = Lease(name, holder, acquired, expires)
                self._write(lease)
                taken.append(lease)
        return taken

    def renew(self, name: str, holder: LeaseHolder, *, now: datetime, ttl_seconds: float) -> Lease:
        check_lease_args([name], now, ttl_seconds)
        with self.file.transaction():
            current = self._current(name)
            if current is None or current.holder != holder:
                raise LeaseLost(name, current)
            lease = Lease(name, holder, current.acquired, now + timedelta(seconds=ttl_seconds))
            self._write(lease)
        return lease

    def release(self, names: Sequence[str], holder: LeaseHolder) -> None:
        check_lease_args(names)
        if not self.file.exists:
            return
        with self.file.transaction():
            for name in names:
                current = self._current(name)
                if current is not None and current.holder == holder:
                    self.file.run("DELETE FROM leases WHERE name = ?", (name,))

    def holders(self, prefix: str = "") -> list[Lease]:
        if not self.file.exists:
            return []
        rows = self.file.run(f"SELECT {_COLUMNS} FROM leases ORDER BY name").fetchall()
        return [_lease(r) for r in rows if r[0].startswith(prefix)]

    def close(self) -> None:
        self.file.close()
