"""The signal store on DynamoDB (implements `store.signals.SignalStore`; the contract is there).

Where each record lives (table `{prefix}{env}_signals`, keys pk / sk):

    sig#{UTC date}   {at}#{id:020d}   signals, by time (`signals()` Queries the dates of the day set in order)
    att#{UTC date}   {at}#{id:020d}   attempts, likewise
    cyc              {id:020d}        cycles (`cycles()`: one Query backwards, newest first)
    h#{cycle id}     {id:020d}        the sources' health in one cycle (one Query)
    lease#{name}     -                a lease: taken by a conditional put (compare-and-swap on what was read)

Ids come from atomic counters (`meta`, name=counters); the dates that hold signals and attempts are string sets in
`meta` (name=signals).  Decimals are kept as their text (`str(Decimal)`: every digit, as the contract wants),
times as fixed-width ISO-8601 UTC text.  `record_cycle` is one transaction when it fits DynamoDB's limit (25
items), and is written in batches beyond it; either way every record is checked before anything is written.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterator, Sequence

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store.dynamodb.codec import iso
from kalshi_trading.store.dynamodb.layout import read_layout
from kalshi_trading.store.dynamodb.wire import TRANSACTION, Dynamo, Item, N, S, integer, pad, put, s, strings, text
from kalshi_trading.store.signals import (
    AttemptOutcome, AttemptRecord, CycleRecord, CycleStatus, HealthRecord, Lease, LeaseHeld, SignalRecord,
    SignalStore,
)
from kalshi_trading.store.sqlite.codec import parse_iso, parse_time

log = logging.getLogger(__name__)

_META = {"name": S("signals")}


def _dec(item: Item, name: str) -> Decimal | None:
    value = s(item, name)
    return None if value is None else Decimal(value)


def _opt(item: Item, name: str) -> int | None:
    return None if name not in item else integer(item, name)


def _fields(pairs: dict[str, Any]) -> Item:
    """Attributes from values (None left out): str as S, int as N, Decimal as its exact text."""
    item: Item = {}
    for name, value in pairs.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise StorageError(f"signal store: {name} = {value!r} cannot be stored")
        item[name] = N(value) if isinstance(value, int) else S(str(value))
    return item


def _required(record: object, *names: str) -> None:
    for name in names:
        if not isinstance(getattr(record, name), (str, Decimal)):
            raise StorageError(f"signal store: a {type(record).__name__} needs a {name}, not "
                               f"{getattr(record, name)!r}; nothing was stored")


def _limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise UsageError(f"limit must be 0 or more, not {limit}")


class DynamoSignalStore:
    """The pipeline's records (the store opens it: `Store.signals()`)."""

    def __init__(self, db: Dynamo, location: str):
        self.db = db
        self.location = location
        self._seen: set[tuple[str, str]] = set()

    def schema_version(self) -> int:
        versions = read_layout(self.db).versions
        if versions is None or "signals" not in versions:
            raise self.db.fail("the schema item is gone")
        return versions["signals"]

    def close(self) -> None:
        pass  # the client belongs to the store

    # -- writes --------------------------------------------------------------------------------------------------

    def _note_days(self, which: str, days: set[str]) -> None:
        new = sorted(d for d in days if (which, d) not in self._seen)
        if new:
            self.db.update("meta", _META, "ADD #d :days", {":days": {"SS": new}}, names={"#d": which})
            self._seen.update((which, d) for d in new)

    @staticmethod
    def _signal_item(signal: SignalRecord, signal_id: int) -> Item:
        _required(signal, "ticker", "family", "model", "direction", "model_prob", "confidence")
        at = iso(signal.at)
        return {"pk": S(f"sig#{at[:10]}"), "sk": S(f"{at}#{pad(signal_id)}"), **_fields(dict(
            id=signal_id, cyc=signal.cycle_id, at=at, tk=signal.ticker, fam=signal.family, model=signal.model,
            mp=signal.model_prob, mid=signal.market_mid, tp=signal.trade_price, edge=signal.edge_bps,
            conf=signal.confidence, dir=signal.direction, inputs=json.dumps([list(p) for p in signal.inputs])))}

    def record_signal(self, signal: SignalRecord) -> int:
        self._signal_item(signal, 0)  # checked before an id is taken
        item = self._signal_item(signal, self.db.counter("signal"))
        self._note_days("d_sig", {text(item, "at")[:10]})
        self.db.put("signals", item)
        return integer(item, "id")

    def record_attempt(self, attempt: AttemptRecord) -> int:
        a = attempt
        _required(a, "ticker", "direction", "mode", "count")
        at = iso(a.at)
        attempt_id = self.db.counter("attempt")
        item = {"pk": S(f"att#{at[:10]}"), "sk": S(f"{at}#{pad(attempt_id)}"), **_fields(dict(
            id=attempt_id, cyc=a.cycle_id, sid=a.signal_id, at=at, tk=a.ticker, dir=a.direction, mode=a.mode,
            out=AttemptOutcome(a.outcome).value, n=a.count, lp=a.limit_price, oid=a.order_id, coid=a.client_order_id,
            fc=a.fill_count, fp=a.fill_price, fee=a.fee, rule=a.rule, reason=a.reason, mp=a.model_prob,
            edge=a.edge_bps))}
        self._note_days("d_att", {at[:10]})
        self.db.put("signals", item)
        return attempt_id

    def begin_cycle(self, started: datetime, *, mode: str, profile: str) -> int:
        when = iso(started)
        cycle_id = self.db.counter("cycle")
        self.db.put("signals", {"pk": S("cyc"), "sk": S(pad(cycle_id)), **_fields(dict(
            id=cycle_id, started=when, status=CycleStatus.RUNNING.value, mode=mode, profile=profile, markets=0,
            signals=0, attempts=0))})
        return cycle_id

    def finish_cycle(self, cycle_id: int, *, finished: datetime, status: CycleStatus, markets: int, signals: int,
                     attempts: int, error: str | None = None) -> None:
        values = _fields({":f": iso(finished), ":s": CycleStatus(status).value, ":m": markets, ":n": signals,
                          ":a": attempts})
        expression = "SET #f = :f, #s = :s, #m = :m, #n = :n, #a = :a"
        names = {"#f": "finished", "#s": "status", "#m": "markets", "#n": "signals", "#a": "attempts", "#e": "error",
                 "#pk": "pk"}
        if error is None:
            expression += " REMOVE #e"
        else:
            expression += ", #e = :e"
            values[":e"] = S(error)
        self.db.update("signals", {"pk": S("cyc"), "sk": S(pad(cycle_id))}, expression, values,
                       condition="attribute_exists(#pk)", names=names)

    @staticmethod
    def _health_item(health: HealthRecord, health_id: int) -> Item:
        _required(health, "source", "status")
        return {"pk": S(f"h#{health.cycle_id}"), "sk": S(pad(health_id)), **_fields(dict(
            id=health_id, cyc=health.cycle_id, src=health.source, status=health.status, at=iso(health.at),
            ms=health.latency_ms, reason=health.reason))}

    def record_health(self, health: HealthRecord) -> None:
        self._health_item(health, 0)
        self.db.put("signals", self._health_item(health, self.db.counter("health")))

    def record_cycle(self, health: Sequence[HealthRecord], signals: Sequence[SignalRecord]) -> list[int]:
        for row in health:
            self._health_item(row, 0)  # every record checked before anything is written
        for signal in signals:
            self._signal_item(signal, 0)
        if not health and not signals:
            return []
        first_h = self.db.counter("health", len(health)) - len(health) + 1 if health else 0
        first_s = self.db.counter("signal", len(signals)) - len(signals) + 1 if signals else 0
        items = [self._health_item(row, first_h + i) for i, row in enumerate(health)]
        ids = [first_s + i for i in range(len(signals))]
        items += [self._signal_item(signal, i) for signal, i in zip(signals, ids, strict=True)]
        self._note_days("d_sig", {iso(signal.at)[:10] for signal in signals})
        if len(items) <= TRANSACTION:
            self.db.transact([put(self.db.table("signals"), item) for item in items])
        else:
            log.info("signal store: a cycle of %d records is written in batches (over DynamoDB's transaction "
                     "limit)", len(items))
            self.db.batch_write("signals", puts=items)
        return ids

    # -- reads ---------------------------------------------------------------------------------------------------

    def _read(self, kind: str, days_attribute: str, since: datetime | None, limit: int | None,
              conditions: dict[str, tuple[str, Any]]) -> list[Item]:
        """Records of `kind` from `since` on, oldest first; with `limit`, the newest `limit` of them.
        `conditions`: attribute -> (operator, value) for the server to filter on."""
        _limit(limit)
        low = iso(since) if since is not None else None  # a naive datetime is a UsageError here
        if limit == 0:
            return []
        filters, names, values = [], {}, {}
        for i, (name, (op, value)) in enumerate(conditions.items()):
            filters.append(f"#f{i} {op} :f{i}")
            names[f"#f{i}"], values[f":f{i}"] = name, S(value)
        extra: dict[str, Any] = dict(filter_expression=" AND ".join(filters), names=names, values=values) \
            if filters else {}
        newest_first = limit is not None
        days = sorted(strings(self.db.get("meta", _META), days_attribute), reverse=newest_first)
        found: list[Item] = []
        for day in days:
            if low is not None and day < low[:10]:
                continue
            for item in self.db.query("signals", "pk", f"{kind}#{day}", low=low, forward=not newest_first,
                                      **extra):
                found.append(item)
                if limit is not None and len(found) >= limit:
                    return found[::-1]
        return found[::-1] if newest_first else found

    def signals(self, *, since: datetime | None = None, ticker: str | None = None, actionable: bool | None = None,
                limit: int | None = None) -> list[SignalRecord]:
        conditions: dict[str, tuple[str, Any]] = {}
        if ticker is not None:
            conditions["tk"] = ("=", ticker)
        if actionable is not None:
            conditions["dir"] = ("<>" if actionable else "=", "none")
        return [SignalRecord(
            ticker=text(i, "tk"), family=text(i, "fam"), at=parse_time(text(i, "at")), model=text(i, "model"),
            model_prob=Decimal(text(i, "mp")), market_mid=_dec(i, "mid"), trade_price=_dec(i, "tp"),
            edge_bps=_opt(i, "edge"), confidence=Decimal(text(i, "conf")), direction=text(i, "dir"),
            inputs=tuple((str(k), str(v)) for k, v in json.loads(text(i, "inputs"))), cycle_id=_opt(i, "cyc"),
            id=integer(i, "id"),
        ) for i in self._read("sig", "d_sig", since, limit, conditions)]

    def attempts(self, *, since: datetime | None = None, ticker: str | None = None,
                 outcome: AttemptOutcome | None = None, limit: int | None = None) -> list[AttemptRecord]:
        conditions: dict[str, tuple[str, Any]] = {}
        if ticker is not None:
            conditions["tk"] = ("=", ticker)
        if outcome is not None:
            conditions["out"] = ("=", AttemptOutcome(outcome).value)
        return [AttemptRecord(
            at=parse_time(text(i, "at")), ticker=text(i, "tk"), direction=text(i, "dir"), mode=text(i, "mode"),
            outcome=AttemptOutcome(text(i, "out")), count=Decimal(text(i, "n")), limit_price=_dec(i, "lp"),
            signal_id=_opt(i, "sid"), cycle_id=_opt(i, "cyc"), order_id=s(i, "oid"), client_order_id=s(i, "coid"),
            fill_count=Decimal(text(i, "fc")), fill_price=_dec(i, "fp"), fee=_dec(i, "fee"), rule=s(i, "rule"),
            reason=s(i, "reason"), model_prob=_dec(i, "mp"), edge_bps=_opt(i, "edge"), id=integer(i, "id"),
        ) for i in self._read("att", "d_att", since, limit, conditions)]

    def health(self, cycle_id: int) -> list[HealthRecord]:
        return [HealthRecord(integer(i, "cyc"), text(i, "src"), text(i, "status"), parse_time(text(i, "at")),
                             _opt(i, "ms"), s(i, "reason"))
                for i in self.db.query("signals", "pk", f"h#{cycle_id}")]

    def cycles(self, *, limit: int | None = None) -> list[CycleRecord]:
        _limit(limit)
        found: list[CycleRecord] = []
        if limit == 0:
            return found
        items: Iterator[Item] = self.db.query("signals", "pk", "cyc", forward=False)
        for i in items:
            found.append(CycleRecord(
                id=integer(i, "id"), started=parse_time(text(i, "started")), finished=parse_iso(s(i, "finished")),
                status=CycleStatus(text(i, "status")), mode=text(i, "mode"), profile=text(i, "profile"),
                markets=integer(i, "markets"), signals=integer(i, "signals"), attempts=integer(i, "attempts"),
                error=s(i, "error")))
            if limit is not None and len(found) >= limit:
                break
        return found

    # -- the lease -----------------------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, *, now: datetime, ttl_seconds: float) -> Lease:
        expires = now + timedelta(seconds=ttl_seconds)
        key = {"pk": S(f"lease#{name}"), "sk": S("-")}
        for _ in range(5):
            current = self.lease(name)
            if current is not None and current.holder != holder and current.expires > now:
                raise LeaseHeld(name, current.holder, current.expires)
            acquired = current.acquired if current is not None and current.holder == holder else now
            item = {**key, "holder": S(holder), "acquired": S(iso(acquired)), "expires": S(iso(expires))}
            if current is None:
                taken = self.db.put("signals", item, condition="attribute_not_exists(#pk)", names={"#pk": "pk"})
            else:  # compare-and-swap on what was read: a holder that changed meanwhile wins
                taken = self.db.put("signals", item, condition="#h = :h AND #x = :x",
                                    values={":h": S(current.holder), ":x": S(iso(current.expires))},
                                    names={"#h": "holder", "#x": "expires"})
            if taken:
                return Lease(name, holder, acquired, expires)
        raise StorageError(f"the {name!r} lease keeps changing hands; try again")

    def release_lease(self, name: str, holder: str) -> None:
        self.db.delete("signals", {"pk": S(f"lease#{name}"), "sk": S("-")}, condition="#h = :h",
                       values={":h": S(holder)}, names={"#h": "holder"})

    def lease(self, name: str) -> Lease | None:
        item = self.db.get("signals", {"pk": S(f"lease#{name}"), "sk": S("-")})
        if item is None:
            return None
        return Lease(name, text(item, "holder"), parse_time(text(item, "acquired")),
                     parse_time(text(item, "expires")))


def _is_a_signal_store(store: DynamoSignalStore) -> SignalStore:
    return store  # mypy checks here that the adapter implements the whole port
