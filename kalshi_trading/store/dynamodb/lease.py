"""Leases on DynamoDB (implements `store.lease.LeaseStore`; the contract is there).

One item per lease in the `bot` table: pk=`lease`, sk={name}, with the holder (`holder`: its fields as canonical
JSON, so that "the same holder" is one string comparison in a condition), `acquired` and `expires` (fixed-width
ISO-8601 UTC text: text order is time order).  `holders(prefix)` is one Query of that partition from `prefix` on.

`acquire` reads the leases named (BatchGetItem), refuses with `LeaseHeld` if one is another's and live, then
writes them all in ONE TransactWriteItems, each Put on the condition `attribute_not_exists(pk) OR expires <= now
OR holder = me`: of two processes racing, one transaction wins and the other is cancelled, re-reads, and is
refused naming the winner.  Beyond 25 names (the transaction limit on moto and dynalite) they are written 25 a
transaction, in order; if a later one is refused, the leases the earlier ones newly took are released again
(conditionally: only while still ours), so the result is all or none, though another process may see the first
ones taken for that moment.  `renew` is one conditional UpdateItem; `release` one conditional DeleteItem a name.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from kalshi_trading.store.dynamodb.wire import TRANSACTION, Declined, Dynamo, Item, S, put, text
from kalshi_trading.store.lease import Lease, LeaseHeld, LeaseHolder, LeaseLost, check_lease_args

PK = "lease"
_TRIES = 10  # a transaction refused by a lease that was free again when re-read: tries before giving up


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")


def holder_text(h: LeaseHolder) -> str:
    """The holder as canonical JSON: equal holders give equal text."""
    return json.dumps([h.name, h.host, h.pid, h.boot_id, _iso(h.started), h.pid_ns, h.start_ticks])


def _holder(raw: str) -> LeaseHolder:
    name, host, pid, boot_id, started, pid_ns, start_ticks = json.loads(raw)
    return LeaseHolder(name, host, int(pid), boot_id, datetime.fromisoformat(started), pid_ns, start_ticks)


def _item(lease: Lease) -> Item:
    return {"pk": S(PK), "sk": S(lease.name), "holder": S(holder_text(lease.holder)),
            "acquired": S(_iso(lease.acquired)), "expires": S(_iso(lease.expires))}


def _lease(item: Item) -> Lease:
    return Lease(text(item, "sk"), _holder(text(item, "holder")), datetime.fromisoformat(text(item, "acquired")),
                 datetime.fromisoformat(text(item, "expires")))


class DynamoLeases:
    """The leases of one environment's tables."""

    def __init__(self, db: Dynamo):
        self.db = db

    def _read(self, names: Sequence[str]) -> dict[str, Lease]:
        items = self.db.batch_get("bot", [{"pk": S(PK), "sk": S(name)} for name in names])
        return {lease.name: lease for lease in map(_lease, items)}

    def acquire(self, names: Sequence[str], holder: LeaseHolder, *, now: datetime,
                ttl_seconds: float) -> list[Lease]:
        check_lease_args(names, now, ttl_seconds)
        wanted = list(dict.fromkeys(names))
        expires = now + timedelta(seconds=ttl_seconds)
        for _ in range(_TRIES):
            current = self._read(wanted)
            for name in wanted:
                lease = current.get(name)
                if lease is not None and lease.holder != holder and not lease.expired(now):
                    raise LeaseHeld(lease)
            taken = [Lease(name, holder, current[name].acquired if name in current and
                           current[name].holder == holder else now, expires) for name in wanted]
            if self._write(taken, holder, now, newly=[n for n in wanted if n not in current or
                                                      current[n].holder != holder]):
                return taken
        raise self.db.fail("the leases kept changing under this request; nothing was taken")

    def _write(self, taken: list[Lease], holder: LeaseHolder, now: datetime, newly: list[str]) -> bool:
        """Write the leases, 25 a transaction; False (nothing kept) when one was taken meanwhile."""
        table, me = self.db.table("bot"), holder_text(holder)
        actions = [put(table, _item(lease), "attribute_not_exists(pk) OR expires <= :now OR holder = :me",
                       values={":now": S(_iso(now)), ":me": S(me)}) for lease in taken]
        done: list[str] = []
        for start in range(0, len(actions), TRANSACTION):
            try:
                self.db.transact(actions[start:start + TRANSACTION])
            except Declined:
                self.release([name for name in done if name in newly], holder)
                return False
            done += [lease.name for lease in taken[start:start + TRANSACTION]]
        return True

    def renew(self, name: str, holder: LeaseHolder, *, now: datetime, ttl_seconds: float) -> Lease:
        check_lease_args([name], now, ttl_seconds)
        expires = now + timedelta(seconds=ttl_seconds)
        try:
            response = self.db.call(
                "update_item", allow=("ConditionalCheckFailedException",), TableName=self.db.table("bot"),
                Key={"pk": S(PK), "sk": S(name)}, UpdateExpression="SET expires = :exp",
                ConditionExpression="holder = :me", ReturnValues="ALL_NEW",
                ExpressionAttributeValues={":exp": S(_iso(expires)), ":me": S(holder_text(holder))})
        except Declined:
            raise LeaseLost(name, self._read([name]).get(name)) from None
        attributes: Item = response.get("Attributes", {})
        return _lease(attributes)

    def release(self, names: Sequence[str], holder: LeaseHolder) -> None:
        check_lease_args(names)
        me = holder_text(holder)
        for name in dict.fromkeys(names):
            self.db.delete("bot", {"pk": S(PK), "sk": S(name)}, condition="holder = :me", values={":me": S(me)})

    def holders(self, prefix: str = "") -> list[Lease]:
        found: list[Lease] = []
        extra: dict[str, Any] = {"low": prefix} if prefix else {}
        for item in self.db.query("bot", "pk", PK, **extra):
            if not text(item, "sk").startswith(prefix):
                break
            found.append(_lease(item))
        return found

    def close(self) -> None:
        """Nothing to close: the store owns the client."""
