"""The bot state on DynamoDB (implements `store.botstate.BotStore`; the contract is there).

Where each fact lives (tables `{prefix}{env}_...`), for the default bot; a named bot's (`Store.bot_state(bot=)`)
are the same with every `pk`, decision `day` and counter name prefixed `b#{name}#`, and its key/value state in
`bot` (pk=`b#{name}#kv`, sk={key}) so that its keys are one Query.  The default bot's items are where they always
were: a store written before named bots existed is read as it is.

    state      name={key}                       the key/value state (`put`/`get`: risk state, bot id, markets...),
                                                 each value one JSON text (`keys()`: a Scan of the names, for a
                                                 copy; `global_config` and `config_version` are the runtime
                                                 configuration's and refused here)
    bot        pk=fill       sk={seq:020d}      fills and adjustments in the order written (`fills()`: one Query
                                                 from the prune floor on)
               pk=key#{key}  sk=-               what makes a fill unique: written with its fill in one
                                                 transaction, on the condition that it is not there yet
               pk=order      sk={order_id}      the working orders (one Query, by order id)
               pk=prune      sk=-               the prune floor (fills at or below it are gone) and the version
                                                 of the carried rows in force
               pk=carry#{v}  sk={method}#{ticker}   carried lot states of version v
               pk=stats#{v}  sk={ticker}        carried activity totals of version v
               pk=event      sk={id:020d}       the event log (newest first: one Query backwards)
    decisions  day={UTC date} sk={timestamp}#{id:020d}   the decision log, written in batches (BatchWriteItem)
    meta       name=counters (fill seq, event and decision ids: atomic ADD), name=bot (the dates that hold
               decisions, how far each log was trimmed), name=bots (the names of the bot states opened)

A fill and the end of its order are one transaction.  A prune cannot delete thousands of fills atomically, so it
writes the new carried rows under a new version, then moves the floor and the version in ONE conditional update
(the commit: only if nobody pruned meanwhile); the fills below the floor and the old rows are deleted afterwards,
and are invisible from the commit on (an interruption leaves only garbage nobody reads).  `replace_orders` is one
transaction for up to 25 changes (DynamoDB's limit), in steps of 25 beyond (logged).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from kalshi_trading.errors import JournalError, StorageError, UsageError
from kalshi_trading.models import BookSide
from kalshi_trading.store.base import DEFAULT_BOT, check_bot_name
from kalshi_trading.store.botstate import (
    RESERVED_KEYS, BotEvent, BotFill, BotStore, CarriedLot, CarriedState, CarriedStats, CostMethod, Decision,
    FillSource, Json, LogBounds, StoredFill, StoredOrder,
)
from kalshi_trading.store.dynamodb.layout import read_layout
from kalshi_trading.store.dynamodb.wire import (
    TRANSACTION, Declined, Dynamo, Item, N, S, delete, integer, num, pad, put, s, strings, text,
)

log = logging.getLogger(__name__)

RUNTIME_NAMES = frozenset({"global_config", "config_version"})  # `state` items of the runtime configuration


def _iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise UsageError(f"naive datetime {ts} (times must be timezone-aware UTC)")
    return ts.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _fill_item(p: str, seq: int, f: BotFill) -> Item:
    return {"pk": S(f"{p}fill"), "sk": S(pad(seq)), "seq": N(seq), "key": S(f.key), "oid": S(f.order_id),
            "tk": S(f.ticker), "bs": S(f.book_side.value), "px": N(f.yes_price), "n": N(f.count), "fee": N(f.fee),
            "ts": S(_iso(f.ts)), "src": S(f.source.value)}


def _fill(item: Item) -> BotFill:
    return BotFill(text(item, "key"), text(item, "oid"), text(item, "tk"), BookSide(text(item, "bs")),
                   num(item, "px"), num(item, "n"), num(item, "fee"), datetime.fromisoformat(text(item, "ts")),
                   FillSource(text(item, "src")))


def _order_item(p: str, o: StoredOrder) -> Item:
    if not o.order_id:
        raise UsageError("a working order needs an order id")
    return {"pk": S(f"{p}order"), "sk": S(o.order_id), "tk": S(o.ticker), "bs": S(o.book_side.value),
            "px": N(o.yes_price), "n": N(o.count), "x": N(o.cancelled), "tag": S(o.tag), "coid": S(o.client_order_id)}


def _order(item: Item) -> StoredOrder:
    return StoredOrder(text(item, "sk"), text(item, "tk"), BookSide(text(item, "bs")), num(item, "px"),
                       num(item, "n"), num(item, "x"), text(item, "tag"), text(item, "coid"))


def _carry_item(p: str, version: str, c: CarriedState) -> Item:
    lots = [[size, cost, None if t is None else t.isoformat(), fee] for size, cost, t, fee in c.lots]
    return {"pk": S(f"{p}carry#{version}"), "sk": S(f"{c.method.value}#{c.ticker}"), "method": S(c.method.value),
            "tk": S(c.ticker), "pos": N(c.position), "lots": S(json.dumps(lots)), "real": N(c.realized),
            "fees": N(c.fees)}


def _carry(item: Item) -> CarriedState:
    lots = tuple(CarriedLot(int(size), int(cost), None if t is None else datetime.fromisoformat(t), int(fee))
                 for size, cost, t, fee in json.loads(text(item, "lots")))
    return CarriedState(CostMethod(text(item, "method")), text(item, "tk"), int(num(item, "pos")), lots,
                        int(num(item, "real")), int(num(item, "fees")))


def _stats_item(p: str, version: str, st: CarriedStats) -> Item:
    return {"pk": S(f"{p}stats#{version}"), "sk": S(st.ticker), "fills": N(st.fills), "vol": N(st.volume),
            "max": N(st.max_abs_position)}


def _stats(item: Item) -> CarriedStats:
    return CarriedStats(text(item, "sk"), int(num(item, "fills")), num(item, "vol"), num(item, "max"))


def _rekeyed(item: Item, pk: str) -> Item:
    return {**item, "pk": S(pk)}


class DynamoBotState:
    """An open bot state.  Use `DynamoBotState(db, location, bounds)` (the store does: `Store.bot_state()`)."""

    def __init__(self, db: Dynamo, location: str, bounds: LogBounds | None = None, *, bot: str = DEFAULT_BOT):
        self._db: Dynamo | None = db
        self._location = location if bot == DEFAULT_BOT else f"{location}, bot {bot}"
        self.bot = bot
        self._p = bot_prefix(bot)  # every partition and counter of this bot starts so ('' for the default bot)
        self._prune_key = {"pk": S(f"{self._p}prune"), "sk": S("-")}
        self._meta_key = {"name": S(f"{self._p}bot")}
        self.bounds = bounds or LogBounds()
        self._pending: list[tuple[str, str, str, str, str]] = []
        self._days: set[str] = set()  # decision dates this process has added to the day set

    @property
    def location(self) -> str:
        return self._location

    @property
    def closed(self) -> bool:
        return self._db is None

    @property
    def db(self) -> Dynamo:
        if self._db is None:
            raise JournalError(f"{self._location}: the bot state is closed")
        return self._db

    def schema_version(self) -> int:
        versions = read_layout(self.db).versions
        if versions is None or "bot" not in versions:
            raise self.db.fail("the schema item is gone")
        return versions["bot"]

    def close(self) -> None:
        if self._db is not None:
            try:
                self.flush()
            finally:
                self._db = None  # closed: any later use is a JournalError

    # --- key/value ----------------------------------------------------------------------------------
    def get(self, key: str) -> Json:
        table, item_key = self._kv(key)
        item = self.db.get(table, item_key)
        return None if item is None else json.loads(text(item, "value"))

    def put(self, key: str, value: Json) -> None:
        if key in RESERVED_KEYS or (not self._p and key in RUNTIME_NAMES):
            raise ValueError(f"bot state key {key!r} belongs to the store")
        table, item_key = self._kv(key)
        self.db.put(table, {**item_key, "value": S(json.dumps(value))})

    def keys(self) -> list[str]:
        if self._p:
            found = [text(item, "sk") for item in self.db.query("bot", "pk", f"{self._p}kv", projection="sk")]
        else:  # the default bot's keys are the `state` table's names: a Scan (a copy's listing, never a loop's)
            found = [text(item, "name") for item in self.db.scan("state", projection="#n", names={"#n": "name"})]
        return sorted(k for k in found if k not in RESERVED_KEYS and (self._p or k not in RUNTIME_NAMES))

    def _kv(self, key: str) -> tuple[str, Item]:
        """Where a key's value lives: the `state` table by name for the default bot (as ever), the bot's `kv`
        partition of the `bot` table for a named one (so its keys are one Query)."""
        if not isinstance(key, str) or not key:
            raise UsageError("a bot state key cannot be empty")
        if self._p:
            return "bot", {"pk": S(f"{self._p}kv"), "sk": S(key)}
        return "state", {"name": S(key)}

    # --- fills --------------------------------------------------------------------------------------
    def write_fill(self, fill: BotFill, ends_order: str | None = None) -> bool:
        _iso(fill.ts)  # a naive time is refused before anything is written
        db = self.db
        seq = db.counter(f"{self._p}bot_fill")
        bot = db.table("bot")
        actions = [put(bot, {"pk": S(f"{self._p}key#{fill.key}"), "sk": S("-"), "seq": N(seq)},
                       "attribute_not_exists(#pk)", names={"#pk": "pk"}),
                   put(bot, _fill_item(self._p, seq, fill))]
        if ends_order is not None:
            actions.append(delete(bot, {"pk": S(f"{self._p}order"), "sk": S(ends_order)}))
        try:
            db.transact(actions)
        except Declined:  # a known key: nothing stored, but its order's end still counts
            if ends_order is not None:
                db.delete("bot", {"pk": S(f"{self._p}order"), "sk": S(ends_order)})
            return False
        return True

    def _floor(self) -> tuple[int, str | None]:
        pointer = self.db.get("bot", self._prune_key) or {}
        return integer(pointer, "floor"), s(pointer, "vid")

    def fills(self) -> list[StoredFill]:
        floor, _ = self._floor()
        return [StoredFill(int(num(item, "seq")), _fill(item))
                for item in self.db.query("bot", "pk", f"{self._p}fill", low=pad(floor + 1))]

    def last_fill(self) -> BotFill | None:
        processed = [stored for stored in self.fills() if not stored.fill.is_adjustment]
        if not processed:
            return None
        return max(processed, key=lambda stored: (stored.fill.ts, stored.seq)).fill

    # --- orders -------------------------------------------------------------------------------------
    def save_order(self, order: StoredOrder) -> None:
        self.db.put("bot", _order_item(self._p, order))

    def remove_order(self, order_id: str) -> None:
        if order_id:
            self.db.delete("bot", {"pk": S(f"{self._p}order"), "sk": S(order_id)})

    def replace_orders(self, orders: Iterable[StoredOrder]) -> None:
        # all read before any write
        wanted = {item["sk"]["S"]: item for item in (_order_item(self._p, o) for o in orders)}
        db = self.db
        current = {text(item, "sk"): item for item in db.query("bot", "pk", f"{self._p}order")}
        bot = db.table("bot")
        actions = [delete(bot, {"pk": S(f"{self._p}order"), "sk": S(oid)})
                   for oid in sorted(set(current) - set(wanted))]
        actions += [put(bot, item) for oid, item in sorted(wanted.items()) if current.get(oid) != item]
        if len(actions) > TRANSACTION:
            log.warning("bot state %s: replacing the working orders takes %d changes, written in steps of %d "
                        "(DynamoDB's transaction limit)", self._location, len(actions), TRANSACTION)
        for start in range(0, len(actions), TRANSACTION):
            db.transact(actions[start:start + TRANSACTION])

    def orders(self) -> list[StoredOrder]:
        return [_order(item) for item in self.db.query("bot", "pk", f"{self._p}order")]

    # --- carried state ------------------------------------------------------------------------------
    def carried(self) -> list[CarriedState]:
        _, version = self._floor()
        return [] if version is None else [_carry(i) for i in self._version_items("carry", version)]

    def carried_stats(self) -> list[CarriedStats]:
        _, version = self._floor()
        return [] if version is None else [_stats(i) for i in self._version_items("stats", version)]

    def prune(self, through_seq: int, count: int, carried: Iterable[CarriedState],
              stats: Iterable[CarriedStats]) -> bool:
        rows, totals = list(carried), list(stats)  # consumed before anything is written
        db = self.db
        floor, version = self._floor()
        held = db.count("bot", "pk", f"{self._p}fill", low=pad(floor + 1), high=pad(through_seq)) \
            if through_seq > floor else 0
        if held != count:
            return False  # another process pruned (some of) them: the fold was computed over other fills
        new = uuid.uuid4().hex
        carry = {text(i, "sk"): _rekeyed(i, f"{self._p}carry#{new}") for i in self._version_items("carry", version)}
        carry.update({text(i, "sk"): i for i in (_carry_item(self._p, new, c) for c in rows)})
        kept = {text(i, "sk"): _rekeyed(i, f"{self._p}stats#{new}") for i in self._version_items("stats", version)}
        kept.update({text(i, "sk"): i for i in (_stats_item(self._p, new, st) for st in totals)})
        written = [*carry.values(), *kept.values()]
        db.batch_write("bot", puts=written)
        committed = db.update(
            "bot", self._prune_key, "SET #f = :floor, #v = :new",
            {":floor": N(max(floor, through_seq)), ":new": S(new), **({":old": S(version)} if version else {})},
            condition="#v = :old" if version else "attribute_not_exists(#v)", names={"#f": "floor", "#v": "vid"})
        try:
            if committed is None:  # pruned by another process meanwhile: nothing of ours is in force
                db.batch_write("bot", deletes=[_key(i) for i in written])
                return False
            gone = list(db.query("bot", "pk", f"{self._p}fill", low=pad(floor + 1), high=pad(through_seq)))
            stale = [_key(i) for i in self._version_items("carry", version) + self._version_items("stats", version)]
            db.batch_write("bot", deletes=[_key(i) for i in gone] + stale +
                           [{"pk": S(f"{self._p}key#{text(i, 'key')}"), "sk": S("-")} for i in gone])
        except StorageError as exc:  # garbage left behind is invisible (below the floor, or of no version)
            log.warning("bot state %s: cleaning up after a prune failed: %s", self._location, exc)
        return committed is not None

    def _version_items(self, kind: str, version: str | None) -> list[Item]:
        return [] if version is None else list(self.db.query("bot", "pk", f"{self._p}{kind}#{version}"))

    # --- logs ---------------------------------------------------------------------------------------
    def log_event(self, ts: datetime, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        when = _iso(ts)
        db = self.db
        event_id = db.counter(f"{self._p}bot_event")
        db.put("bot", {"pk": S(f"{self._p}event"), "sk": S(pad(event_id)), "id": N(event_id), "ts": S(when),
                       "kind": S(kind), "message": S(message), "data": S(json.dumps(data or {}, default=str))})

    def events(self, limit: int = 100, kinds: Sequence[str] | None = None) -> list[BotEvent]:
        found: list[BotEvent] = []
        extra: dict[str, Any] = {}
        if kinds:
            marks = {f":k{i}": S(k) for i, k in enumerate(kinds)}
            extra = dict(filter_expression=f"#kind IN ({', '.join(marks)})", values=marks, names={"#kind": "kind"})
        if limit > 0:
            for item in self.db.query("bot", "pk", f"{self._p}event", forward=False, **extra):
                found.append(BotEvent(int(num(item, "id")), datetime.fromisoformat(text(item, "ts")),
                                      text(item, "kind"), text(item, "message"), json.loads(text(item, "data"))))
                if len(found) >= limit:
                    break
        return found[::-1]

    def log_decision(self, ts: datetime, ticker: str, inputs: dict[str, Any], targets: list[Any],
                     actions: list[Any]) -> None:
        self._pending.append((_iso(ts), ticker, json.dumps(inputs, default=str), json.dumps(targets, default=str),
                              json.dumps(actions, default=str)))

    def decisions(self, limit: int = 100) -> list[Decision]:
        self.flush()
        found: list[Decision] = []
        days = sorted(strings(self.db.get("meta", self._meta_key), "d_decisions"), reverse=True)
        for day in days:
            if len(found) >= limit:
                break
            for item in self.db.query("decisions", "day", day, forward=False):
                found.append(Decision(int(num(item, "id")), datetime.fromisoformat(text(item, "ts")),
                                      text(item, "tk"), json.loads(text(item, "in")), json.loads(text(item, "tg")),
                                      json.loads(text(item, "ac"))))
                if len(found) >= limit:
                    break
        return found[::-1]

    def flush(self) -> None:
        if self._db is None:
            return  # closed: the close flushed
        db = self._db
        if self._pending:
            pending = self._pending
            first = db.counter(f"{self._p}decision", len(pending)) - len(pending) + 1
            items = [{"day": S(self._p + ts[:10]), "sk": S(f"{ts}#{pad(first + i)}"), "id": N(first + i), "ts": S(ts),
                      "tk": S(ticker), "in": S(inputs), "tg": S(targets), "ac": S(actions)}
                     for i, (ts, ticker, inputs, targets, actions) in enumerate(pending)]
            new_days = sorted({self._p + ts[:10] for ts, *_ in pending} - self._days)
            if new_days:
                db.update("meta", self._meta_key, "ADD #d :days", {":days": {"SS": new_days}},
                          names={"#d": "d_decisions"})
                self._days.update(new_days)
            db.batch_write("decisions", puts=items)
            self._pending = []
        self._trim(db)

    def _trim(self, db: Dynamo) -> None:
        """Keep the newest `bounds` rows of each log (by id): delete what is older, oldest date first."""
        newest = db.get("meta", {"name": S("counters")}) or {}
        meta = db.get("meta", self._meta_key) or {}
        decisions_cut = integer(newest, f"{self._p}decision") - self.bounds.decisions
        if decisions_cut > integer(meta, "trimmed_decisions"):
            self._trim_decisions(db, decisions_cut, sorted(strings(meta, "d_decisions")))
            db.update("meta", self._meta_key, "SET #t = :cut", {":cut": N(decisions_cut)},
                      names={"#t": "trimmed_decisions"})
        events_cut = integer(newest, f"{self._p}bot_event") - self.bounds.events
        if events_cut > integer(meta, "trimmed_events"):
            old = db.query("bot", "pk", f"{self._p}event", high=pad(events_cut), projection="pk, sk")
            db.batch_write("bot", deletes=[_key(i) for i in old])
            db.update("meta", self._meta_key, "SET #t = :cut", {":cut": N(events_cut)}, names={"#t": "trimmed_events"})

    def _trim_decisions(self, db: Dynamo, cut: int, days: list[str]) -> None:
        for day in days:
            items = list(db.query("decisions", "day", day, projection="#d, sk, id", names={"#d": "day"}))
            doomed = [{"day": i["day"], "sk": i["sk"]} for i in items if int(num(i, "id")) <= cut]
            db.batch_write("decisions", deletes=doomed)
            if len(doomed) < len(items):
                return  # the newer rows start in this date
            if day < days[-1]:  # an emptied date leaves the day set (never the newest: it may be written now)
                db.update("meta", self._meta_key, "DELETE #d :day", {":day": {"SS": [day]}},
                          names={"#d": "d_decisions"})
                self._days.discard(day)


def bot_prefix(bot: str) -> str:
    """What starts every partition, day and counter name of a bot: nothing for the default bot (its items are
    where they always were), `b#{name}#` for a named one (a bot name has no `#`, no default key starts so)."""
    return "" if check_bot_name(bot) == DEFAULT_BOT else f"b#{bot}#"


def _key(item: Item) -> Item:
    return {"pk": item["pk"], "sk": item["sk"]}


def _is_a_bot_store(state: DynamoBotState) -> BotStore:
    return state  # mypy checks here that the adapter implements the whole port
