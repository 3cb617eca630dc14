"""The trade journal on DynamoDB (implements `store.journal.TradeJournal`; the contract is there).

Where each record lives (tables `{prefix}{env}_...`; `{g}` is the journal's generation, see "one exchange"):

    trades    day={g}{UTC date}  sk={time}#{order_id}#{fill_id}   the trade log: one item per fill, with its CSV
                                                                  line in pieces (the SQLite journal's texts)
    fill_ids  fill_id={g}{fill_id}                                 what makes a fill unique: its facts, and where
                                                                  its trade-log item is
    journal   pk={g}s#{UTC date}   sk={time}#{ticker}              settlements (unique by ticker and time)
              pk={g}e#{UTC date}   sk={time}#{id}                  errors
              (order events: `journal_orders`)
    meta      name=journal        the exchange identity and the current generation
              name=g{n}            the generation's sync cursors, its `tagged` flag and the UTC dates that hold
                                   fills, settlements, events and errors (string sets: a ranged read Queries only
                                   those dates, in order; nothing is ever scanned)
              name=counters        the ids of events and errors (atomic ADD)

Fills.  A few fills (up to 12, as the executor records them when they arrive) are one TransactWriteItems: each
fill-id item put on the condition `attribute_not_exists`, with its trade-log item; a failed condition names the
fills already held, which are compared and left out (a repeated fill is a conditional-write no-op).  A sync's
batch reads its fill-id items first (BatchGetItem, 100 a call): a known id with other facts refuses the whole
batch before anything is written; the new fills' trade-log items are then written (BatchWriteItem, 25 a call,
unprocessed items retried with backoff), and their fill-id items after them, so a fill whose id item exists is
always in the trade log; an interruption leaves trade-log items that the next `record_fills` of the same fills
writes again, identically.  The sync cursor moves last (a conditional update that only moves it forward), so an
interrupted sync starts again from the same point.

Exports.  The trade log is read date by date in (time, fill id) order, and each fill is labelled by its ticker's
position before it (a running sum in integer units from the first fill on: positions need the whole history,
whatever the date filter); the CSV lines are glued from the stored pieces.

One exchange.  `bind_exchange` with another identity starts a new generation: the old records stay, under the old
generation's keys (that is the archive: nothing is copied or deleted), and the journal reads and writes the new
one.  A process reads the generation when it opens the journal.
"""

from __future__ import annotations

import itertools
import json
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from kalshi_trading.errors import JournalError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.money import price_to_units
from kalshi_trading.store.dynamodb.codec import (
    day_of, fill_facts, fill_from, fill_item, iso, settlement_from, settlement_item,
)
from kalshi_trading.store.dynamodb.journal_orders import OrderEventsMixin, check_limit
from kalshi_trading.store.dynamodb.layout import read_layout
from kalshi_trading.store.dynamodb.wire import (
    TRANSACTION, Declined, Dynamo, Item, N, S, flag, integer, num, put, s, strings, text,
)
from kalshi_trading.store.journal import ErrorEntry, HistoryEntry, HistoryKind, SyncCursor, TradeJournal, TradeRow
from kalshi_trading.store.sqlite.codec import fixed, parse_iso, parse_time
from kalshi_trading.store.sqlite.journal_orders import clean_extra

log = logging.getLogger(__name__)

_CURSORS = {SyncCursor.FILLS: "c_fills", SyncCursor.SETTLEMENTS: "c_settlements"}
_LABELS = ("yes,buy", "yes,sell", "no,buy", "no,sell")
_JOURNAL = {"name": S("journal")}
# what an export reads of each trade-log item (less to send than the whole item)
_CSV_ATTRIBUTES = ("t", "f", "tk", "u", "h", "m", "y", "no")
_ROW_ATTRIBUTES = ("t", "f", "o", "tk", "u", "yp", "fee", "taker", "st")


def _by_time(items: Iterable[Item], newest_first: bool = False) -> Iterator[list[Item]]:
    """Trade-log items (in sort-key order) in groups of one time, each ordered by fill id (the contract's order;
    the sort key orders a time's fills by order id first)."""
    for _, group in itertools.groupby(items, key=lambda item: item["t"]["S"]):
        yield sorted(group, key=lambda item: item["f"]["S"], reverse=newest_first)


def _label(units: int, before: int) -> int:
    """0 buys YES, 1 sells YES, 2 buys NO, 3 sells NO (`store.journal.TradeRow`)."""
    if units > 0:
        return 3 if before < 0 else 0
    return 1 if before > 0 else 2


class DynamoJournal(OrderEventsMixin):
    """An open journal.  Use `DynamoJournal.open(db, location)` (the store does: `Store.journal()`)."""

    def __init__(self, db: Dynamo, location: str, clock: Callable[[], datetime]):
        self.db = db
        self._location = location
        self._clock = clock
        self._gen = 1
        self._g = "g1#"
        self._seen: set[tuple[str, str]] = set()  # (day set, day) already added by this process
        self._tagged = False

    @classmethod
    def open(cls, db: Dynamo, location: str, clock: Callable[[], datetime]) -> "DynamoJournal":
        journal = cls(db, location, clock)
        journal._use(integer(db.get("meta", _JOURNAL) or {}, "gen", 1))
        return journal

    def _use(self, generation: int) -> None:
        self._gen, self._g = generation, f"g{generation}#"
        self._seen.clear()
        self._tagged = False

    @property
    def location(self) -> str:
        return self._location

    def schema_version(self) -> int:
        versions = read_layout(self.db).versions
        if versions is None or "journal" not in versions:
            raise self.db.fail("the schema item is gone")
        return versions["journal"]

    def close(self) -> None:
        pass  # the client belongs to the store

    # -- the generation's meta item: cursors, day sets, the strategy flag ----------------------------------------

    @property
    def _meta_key(self) -> Item:
        return {"name": S(f"g{self._gen}")}

    def _meta(self) -> Item:
        return self.db.get("meta", self._meta_key) or {}

    def _note_days(self, which: str, days: Iterable[str]) -> None:
        """Add dates to a day set (before the records of those dates are written)."""
        new = sorted({d for d in days if (which, d) not in self._seen})
        if new:
            self.db.update("meta", self._meta_key, "ADD #d :days", {":days": {"SS": new}}, names={"#d": which})
            self._seen.update((which, d) for d in new)

    def _mark_tagged(self) -> None:
        if not self._tagged:
            self.db.update("meta", self._meta_key, "SET #t = :yes", {":yes": {"BOOL": True}}, names={"#t": "tagged"})
            self._tagged = True

    def _ranged(self, table: str, pk_name: str, kind: str, days_attribute: str, since: datetime | None,
                until: datetime | None, newest_first: bool = False, *, ticker_attribute: str = "tk",
                ticker: str | None = None) -> Iterator[Item]:
        """The records of `kind` from `since` (inclusive) to `until` (exclusive), by sort key: a Query per date
        of the day set that can hold any, in order (the unknown-time date sorts first)."""
        low, high = (iso(since) if since else None), (iso(until) if until else None)
        return self._ranged_texts(table, pk_name, kind, days_attribute, low, high, newest_first,
                                  ticker_attribute=ticker_attribute, ticker=ticker)

    def _ranged_texts(self, table: str, pk_name: str, kind: str, days_attribute: str, low: str | None,
                      high: str | None, newest_first: bool, *, ticker_attribute: str, ticker: str | None,
                      attributes: Sequence[str] = ()) -> Iterator[Item]:
        if low is not None and high is not None and low >= high:
            return
        days = sorted(strings(self._meta(), days_attribute), reverse=newest_first)
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        extra: dict[str, Any] = dict(projection=", ".join(names), names=names) if attributes else {}
        if ticker is not None:
            extra.update(filter_expression="#tk = :tk", values={":tk": S(ticker)},
                         names={**names, "#tk": ticker_attribute})
        for day in days:
            if (low is not None and day < low[:10]) or (high is not None and day > high[:10]):
                continue
            # a record at `high` has the sort key high + "#...": `<= high` leaves it out (until is exclusive)
            yield from self.db.query(table, pk_name, f"{self._g}{kind}{day}", low=low, high=high,
                                     forward=not newest_first, **extra)

    # -- the exchange this journal belongs to -----------------------------------------------------------------

    def bind_exchange(self, identity: str) -> str | None:
        """Tie the journal to one exchange; another identity starts a new generation (the old one is the archive).

        Returns where the archive is (None when nothing was archived)."""
        for _ in range(5):
            item = self.db.get("meta", _JOURNAL) or {}
            held, generation = s(item, "identity"), integer(item, "gen", 1)
            if held == identity:
                self._use(generation)
                return None
            names = {"#i": "identity", "#g": "gen"}
            if held is None:
                new, condition, values = generation, "attribute_not_exists(#i)", {}
            else:
                new, condition = generation + 1, "#i = :old AND #g = :gen"
                values = {":old": S(held), ":gen": N(generation)}
            done = self.db.update("meta", _JOURNAL, "SET #i = :id, #g = :new",
                                  {":id": S(identity), ":new": N(new), **values}, condition=condition, names=names)
            if done is None:
                continue  # another process bound it meanwhile: look again
            self._use(new)
            if held is None:
                return None
            archive = f"{self._location}, generation {generation}"
            log.warning("journal %s belonged to another exchange (%s, now %s): archived as %s, started afresh",
                        self._location, held, identity, archive)
            return archive
        raise self.db.fail("the exchange identity keeps changing under this process")

    def exchange_identity(self) -> str | None:
        return s(self.db.get("meta", _JOURNAL) or {}, "identity")

    # -- fills and settlements ---------------------------------------------------------------------------------

    def record_fills(self, fills: Iterable[Fill], *, advance_cursor: bool = False) -> int:
        """Store fills (the same fill again changes nothing); returns how many were new.  A different fill under
        a known id refuses the batch before anything is written.

        A few fills (up to 12: the executor's as they arrive) are one transaction of conditional puts, so a
        repeated fill is a conditional-write no-op; a sync's batch is checked with BatchGetItem and written with
        BatchWriteItem (see the module docstring)."""
        batch: dict[str, tuple[Fill, str]] = {}
        newest = ""
        for f in fills:
            facts = fill_facts(f)  # validates the fill (a MoneyError for an impossible one)
            newest = max(newest, iso(f.created_time))
            if f.fill_id in batch and batch[f.fill_id][1] != facts:
                raise self._different_fill(f.fill_id)
            batch[f.fill_id] = (f, facts)
        if 2 * len(batch) <= TRANSACTION:
            new = self._write_few(batch)
        else:
            self._drop_known(batch, [text(item, "fill_id")[len(self._g):] for item in self.db.batch_get(
                "fill_ids", [{"fill_id": S(self._g + fill_id)} for fill_id in batch], projection="fill_id")])
            new = len(batch)
            if batch:
                self._write_many([f for f, _ in batch.values()])
        if advance_cursor:
            self._advance_cursor(SyncCursor.FILLS, newest)
        return new

    def _drop_known(self, batch: dict[str, tuple[Fill, str]], known: Iterable[str]) -> None:
        """Take the fills the journal holds out of `batch`; one it holds with other facts refuses the batch."""
        ids = sorted(set(known))
        stored = self.db.batch_get("fill_ids", [{"fill_id": S(self._g + i)} for i in ids], projection="fill_id, facts")
        for item in stored:
            fill_id = text(item, "fill_id")[len(self._g):]
            if text(item, "facts") != batch[fill_id][1]:
                raise self._different_fill(fill_id)
        for fill_id in ids:
            batch.pop(fill_id, None)

    def _different_fill(self, fill_id: str) -> JournalError:
        return JournalError(
            f"the exchange reports fill {fill_id} with other details than journal {self._location} holds (the "
            "exchange was reset, or this journal belongs to another exchange or account); nothing was stored: "
            "start a new journal (another KALSHI_STORE prefix) and sync again")

    def _items(self, fills: list[Fill]) -> list[tuple[Item, Item]]:
        """Trade-log and fill-id items, each fill tagged with its order's strategy; their dates noted."""
        tags = self._order_tags({f.order_id for f in fills}) if flag(self._meta(), "tagged") else {}
        items = [fill_item(f, tags.get(f.order_id, ""), self._g) for f in fills]
        self._note_days("d_fills", (text(trade, "day")[len(self._g):] for trade, _ in items))
        return items

    def _write_few(self, batch: dict[str, tuple[Fill, str]]) -> int:
        """One transaction: each fill's id item on the condition that it is not there, and its trade-log item.
        A condition that fails names the known fills: they are checked and left out, and the rest tried again."""
        items = dict(zip(batch, self._items([f for f, _ in batch.values()]), strict=True))
        names = {"#id": "fill_id"}
        while items:
            ids = list(items)
            actions = [action for i in ids for action in (
                put(self.db.table("fill_ids"), items[i][1], "attribute_not_exists(#id)", names=names),
                put(self.db.table("trades"), items[i][0]))]
            try:
                self.db.transact(actions)
                return len(ids)
            except Declined as declined:
                failed = [ids[n // 2] for n, r in enumerate(declined.reasons) if r == "ConditionalCheckFailed"]
                self._drop_known(batch, failed or ids)  # no reasons given: look them all up
                if not set(items) - set(batch):
                    raise self.db.fail("a fill transaction was refused for no reason the journal can see") from None
                items = {i: item for i, item in items.items() if i in batch}
        return 0

    def _write_many(self, fills: list[Fill]) -> None:
        items = self._items(fills)
        self.db.batch_write("trades", puts=[trade for trade, _ in items])
        self.db.batch_write("fill_ids", puts=[guard for _, guard in items])  # after: the fill is there

    def _order_tags(self, order_ids: set[str]) -> dict[str, str]:
        """order id -> the strategy tag of its intent (from the order-id index), for those that have one."""
        keys = [{"pk": S(f"{self._g}o#{oid}"), "sk": S("-")} for oid in sorted(order_ids) if oid]
        return {text(item, "oid"): text(item, "st") for item in self.db.batch_get("journal", keys) if "st" in item}

    def record_settlements(self, settlements: Iterable[Settlement], *, advance_cursor: bool = False) -> int:
        """Store settlements (unique by ticker and settled time); returns how many were new."""
        batch: dict[tuple[str, str], Item] = {}
        for st in settlements:
            item = settlement_item(st, self._g)
            batch.setdefault((text(item, "pk"), text(item, "sk")), item)
        newest = max((text(item, "t") for item in batch.values()), default="")
        known = self.db.batch_get("journal", [{"pk": S(pk), "sk": S(sk)} for pk, sk in batch], projection="pk, sk")
        for item in known:
            del batch[(text(item, "pk"), text(item, "sk"))]
        if batch:
            self._note_days("d_settlements", (pk[len(self._g) + 2:] for pk, _ in batch))
            self.db.batch_write("journal", puts=list(batch.values()))
        if advance_cursor:
            self._advance_cursor(SyncCursor.SETTLEMENTS, newest)
        return len(batch)

    def _advance_cursor(self, which: SyncCursor, newest: str) -> None:
        if newest:
            self.db.update("meta", self._meta_key, "SET #c = :v", {":v": S(newest)},
                           condition="attribute_not_exists(#c) OR #c < :v", names={"#c": _CURSORS[which]})

    def sync_cursor(self, which: SyncCursor) -> datetime | None:
        """The newest created (fills) or settled (settlements) time a sync has stored; None before the first."""
        return parse_iso(s(self._meta(), _CURSORS[which]))

    def fills(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Fill]:
        """Fills oldest first (the order P&L wants) unless `newest_first`."""
        check_limit(limit)
        items = self._ranged("trades", "day", "", "d_fills", since, until, newest_first, ticker=ticker)
        chosen: list[Item] = []
        if limit != 0:
            for group in _by_time(items, newest_first):
                chosen.extend(group)
                if limit is not None and len(chosen) >= limit:
                    break
        return [fill_from(item) for item in chosen[:limit]]

    def settlements(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Settlement]:
        check_limit(limit)
        found = self._ranged("journal", "pk", "s#", "d_settlements", since, until, newest_first, ticker=ticker)
        return [settlement_from(item) for item in itertools.islice(found, limit)]

    def history(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """Fills, settlements and order events merged, newest first."""
        entries = [HistoryEntry(f.created_time, HistoryKind.FILL, f.ticker, f)
                   for f in self.fills(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(st.settled_time, HistoryKind.SETTLEMENT, st.ticker, st)
                    for st in self.settlements(since, until, ticker, limit, newest_first=True)]
        entries += [HistoryEntry(e.time, HistoryKind.ORDER, e.ticker, e)
                    for e in self.order_events(since, until, ticker, limit, newest_first=True)]
        floor = datetime.min.replace(tzinfo=timezone.utc)
        entries.sort(key=lambda e: e.time or floor, reverse=True)
        return entries[:limit] if limit is not None else entries

    # -- errors ----------------------------------------------------------------------------------------------

    def record_error(self, kind: str, message: str, context: Mapping[str, Any] | None = None) -> None:
        now = iso(self._clock())
        error_id = self.db.counter("error")
        self._note_days("d_errors", [day_of(now)])
        self.db.put("journal", {"pk": S(f"{self._g}e#{day_of(now)}"), "sk": S(f"{now}#{error_id:020d}"),
                                "time": S(now), "kind": S(kind), "message": S(message),
                                "context": S(clean_extra(context))})

    def errors(self, since: datetime | None = None, until: datetime | None = None,
               limit: int | None = None) -> list[ErrorEntry]:
        check_limit(limit)
        found = self._ranged("journal", "pk", "e#", "d_errors", since, until)
        return [ErrorEntry(parse_time(text(i, "time")), text(i, "kind"), text(i, "message"),
                           json.loads(text(i, "context"))) for i in itertools.islice(found, limit)]

    # -- exports ---------------------------------------------------------------------------------------------

    def trade_rows(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[TradeRow]:
        """The fills as trades-export rows in time order, labelled by the position before each."""
        labelled = self._labelled(since, until, ticker, _ROW_ATTRIBUTES)  # a naive time is refused here, at once
        return (_trade_row(item, label) for item, label in labelled)

    def trade_csv(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[list[str]]:
        """The export rows as CSV lines glued from the stored pieces, in chunks."""
        labelled = self._labelled(since, until, ticker, _CSV_ATTRIBUTES)
        lines = (item["h"]["S"] + _LABELS[label] + item["m"]["S"] + (item["y"]["S"] if label < 2 else item["no"]["S"])
                 for item, label in labelled)
        return _chunks(lines, 10_000)

    def _labelled(self, since: datetime | None, until: datetime | None, ticker: str | None,
                  attributes: Sequence[str]) -> Iterator[tuple[Item, int]]:
        low, high = (iso(since) if since else None), (iso(until) if until else None)
        items = self._ranged_texts("trades", "day", "", "d_fills", None, high, False, ticker_attribute="tk",
                                   ticker=ticker, attributes=attributes)
        return self._label_items(items, low)

    @staticmethod
    def _label_items(items: Iterator[Item], low: str | None) -> Iterator[tuple[Item, int]]:
        positions: dict[str, int] = {}
        for group in _by_time(items):
            for item in group:
                ticker, units = item["tk"]["S"], int(item["u"]["N"])
                before = positions.get(ticker, 0)
                positions[ticker] = before + units
                if low is None or item["t"]["S"] >= low:
                    yield item, _label(units, before)


def _trade_row(item: Item, label: int) -> TradeRow:
    units = abs(int(item["u"]["N"]))
    yes = price_to_units(num(item, "yp"))
    price = yes if label < 2 else 10_000 - yes
    fee = fixed(int(num(item, "fee") * 1_000_000), 6)
    return TradeRow(item["t"]["S"], item["f"]["S"], item["o"]["S"], item["tk"]["S"], "yes" if label < 2 else "no",
                    "sell" if label % 2 else "buy", fixed(units, 2), fixed(yes, 4), fixed(10_000 - yes, 4),
                    fixed(price, 4), fixed(price * units, 6), fee, "true" if flag(item, "taker") else "false",
                    item["st"]["S"])


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(lines, size)):
        yield chunk


def _is_a_journal(journal: DynamoJournal) -> TradeJournal:
    return journal  # mypy checks here that the adapter implements the whole port
