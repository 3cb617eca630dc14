"""Leases in PostgreSQL (implements `store.lease.LeaseStore`): one row per lease in the environment schema's
`store_leases` (the holder's every field, `acquired` and `expires` as timestamptz).

`acquire` runs in one transaction: for each name (in sorted order, so two acquirers never deadlock) an
`INSERT ... ON CONFLICT DO UPDATE ... WHERE` the row is expired or the holder's own; a row it may not take
returns nothing, and then the transaction is rolled back (all or none) and `LeaseHeld` names the first such lease
in the caller's order.  Of two processes racing for one name, the second waits on the first's row lock and then
sees its lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence

from kalshi_trading.errors import StorageError
from kalshi_trading.store.lease import Lease, LeaseHeld, LeaseHolder, LeaseLost, LeaseStore, check_lease_args
from kalshi_trading.store.postgres.codec import aware
from kalshi_trading.store.postgres.db import Connection, Database

_COLUMNS = "name, holder_name, host, pid, boot_id, started, pid_ns, start_ticks, acquired, expires"
_SAME_HOLDER = ("l.holder_name = {0}.holder_name AND l.host = {0}.host AND l.pid = {0}.pid AND "
                "l.boot_id = {0}.boot_id AND l.started = {0}.started AND "
                "l.pid_ns IS NOT DISTINCT FROM {0}.pid_ns AND l.start_ticks IS NOT DISTINCT FROM {0}.start_ticks")
_ACQUIRE = (f"INSERT INTO store_leases AS l ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET holder_name = EXCLUDED.holder_name, host = EXCLUDED.host, "
            "pid = EXCLUDED.pid, boot_id = EXCLUDED.boot_id, started = EXCLUDED.started, pid_ns = EXCLUDED.pid_ns, "
            "start_ticks = EXCLUDED.start_ticks, expires = EXCLUDED.expires, "
            f"acquired = CASE WHEN {_SAME_HOLDER.format('EXCLUDED')} THEN l.acquired ELSE EXCLUDED.acquired END "
            f"WHERE l.expires <= EXCLUDED.acquired OR ({_SAME_HOLDER.format('EXCLUDED')}) RETURNING {_COLUMNS}")
_MINE = ("holder_name = %s AND host = %s AND pid = %s AND boot_id = %s AND started = %s AND "
         "pid_ns IS NOT DISTINCT FROM %s AND start_ticks IS NOT DISTINCT FROM %s")


def _holder_row(h: LeaseHolder) -> tuple[Any, ...]:
    return (h.name, h.host, h.pid, h.boot_id, aware(h.started), h.pid_ns, h.start_ticks)


def _lease(row: Sequence[Any]) -> Lease:
    name, holder_name, host, pid, boot_id, started, pid_ns, start_ticks, acquired, expires = row
    holder = LeaseHolder(holder_name, host, int(pid), boot_id, started,
                         None if pid_ns is None else int(pid_ns), None if start_ticks is None else int(start_ticks))
    return Lease(name, holder, acquired, expires)


def _current(conn: Connection, name: str) -> Lease | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM store_leases WHERE name = %s", (name,)).fetchone()
    return None if row is None else _lease(row)


class PostgresLeases:
    """The leases of one environment's schema, over the store's connection pool."""

    def __init__(self, db: Database):
        self._db = db

    def acquire(self, names: Sequence[str], holder: LeaseHolder, *, now: datetime,
                ttl_seconds: float) -> list[Lease]:
        check_lease_args(names, now, ttl_seconds)
        now = aware(now)
        expires = now + timedelta(seconds=ttl_seconds)
        wanted = list(dict.fromkeys(names))
        with self._db.transaction(StorageError, "taking leases") as conn:
            taken: dict[str, Lease] = {}
            refused: dict[str, Lease] = {}
            for name in sorted(wanted):
                row = conn.execute(_ACQUIRE, (name, *_holder_row(holder), now, expires)).fetchone()
                if row is not None:
                    taken[name] = _lease(row)
                elif (current := _current(conn, name)) is not None:
                    refused[name] = current
            first = next((name for name in wanted if name in refused), None)
            if first is not None:
                raise LeaseHeld(refused[first])  # the transaction rolls back: none is taken
        return [taken[name] for name in wanted]

    def renew(self, name: str, holder: LeaseHolder, *, now: datetime, ttl_seconds: float) -> Lease:
        check_lease_args([name], now, ttl_seconds)
        expires = aware(now) + timedelta(seconds=ttl_seconds)
        with self._db.transaction(StorageError, "renewing a lease") as conn:
            row = conn.execute(f"UPDATE store_leases SET expires = %s WHERE name = %s AND {_MINE} "
                               f"RETURNING {_COLUMNS}", (expires, name, *_holder_row(holder))).fetchone()
            if row is None:
                raise LeaseLost(name, _current(conn, name))
        return _lease(row)

    def release(self, names: Sequence[str], holder: LeaseHolder) -> None:
        check_lease_args(names)
        with self._db.transaction(StorageError, "releasing leases") as conn:
            conn.execute(f"DELETE FROM store_leases WHERE name = ANY(%s) AND {_MINE}",
                         (list(names), *_holder_row(holder)))

    def holders(self, prefix: str = "") -> list[Lease]:
        rows = self._db.rows(f"SELECT {_COLUMNS} FROM store_leases WHERE starts_with(name, %s) ORDER BY name",
                             (prefix,), StorageError, "reading the leases")
        return [_lease(row) for row in rows]

    def close(self) -> None:
        """Nothing of its own to close: the store's pool is closed with the store."""


def _is_a_lease_store(store: PostgresLeases) -> LeaseStore:
    return store  # mypy checks here that the adapter implements the whole port
