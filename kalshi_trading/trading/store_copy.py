"""Copying one store into another (`kalshi store copy`): the journal, every bot state, the signal records, the
runtime configuration and the alert events, through the storage port only, so any pair of adapters works (SQLite
to PostgreSQL, ...).

Idempotent: what the target already holds is not written again (fills and bot fills by their ids; order events per
client order id, by their kind and time; settlements by market and time; signals, attempts, cycles, events and
decisions by their whole content, counted, so two equal records stay two).  Times are kept: the target is opened
with a clock the copy sets to each record's own time before writing it.  Leases are not copied (they belong to the
running processes).  Afterwards `verify` compares both stores: the number of records of each kind, and the realized
P&L and the fees the journal's fills and settlements give.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Hashable, Iterable, Sequence

from kalshi_trading.errors import ConfigError, StorageError, UsageError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.store import Store
from kalshi_trading.store.alerts import AlertEvent
from kalshi_trading.store.botstate import BotStore
from kalshi_trading.store.journal import EventKind, OrderEvent, SyncCursor, TradeJournal
from kalshi_trading.store.signals import CycleStatus, SignalStore
from kalshi_trading.trading.pnl import compute_pnl

log = logging.getLogger(__name__)

ALL = 10**12  # "every row" for the bounded log reads


class ReplayClock:
    """The target store's clock during a copy: the time of the record being written."""

    def __init__(self) -> None:
        self.at = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Row:
    """One line of the verification: a kind of record (or a total) in both stores."""

    what: str
    source: str
    target: str
    copied: int | None = None  # written by this copy (None for totals)

    @property
    def ok(self) -> bool:
        return self.source == self.target


@dataclass
class CopyReport:
    copied: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)  # what the port cannot carry over, said plainly
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)


class StoreCopy:
    """Copy `source` into `target` (the target opened with `clock`, a ReplayClock)."""

    def __init__(self, source: Store, target: Store, clock: ReplayClock):
        self.source = source
        self.target = target
        self.clock = clock
        self.report = CopyReport()

    def run(self) -> CopyReport:
        """Copy everything, then verify; the report says what was copied and what the stores hold."""
        self.copy_journal(self.source.journal(), self.target.journal())
        for bot in self.source.bots():
            self.copy_bot(bot, self.source.bot_state(bot=bot), self.target.bot_state(bot=bot))
        self.copy_signals(self.source.signals(), self.target.signals())
        self.copy_runtime()
        self.copy_alerts()
        self.report.rows = verify(self.source, self.target, self.report.copied)
        return self.report

    # --- the journal ---------------------------------------------------------------------------------
    def copy_journal(self, src: TradeJournal, tgt: TradeJournal) -> None:
        identity, theirs = src.exchange_identity(), tgt.exchange_identity()
        if identity is not None and theirs is not None and identity != theirs:
            raise ConfigError(f"the target journal ({tgt.location}) records another exchange than the source's; "
                              "refusing to mix them", fix="copy into an empty store")
        if identity is not None and theirs is None:
            tgt.bind_exchange(identity)
        self._order_events(src, tgt)
        self._synced(src, tgt, SyncCursor.FILLS, src.fills(), tgt.fills(), lambda f: f.fill_id,
                     lambda f: f.created_time, tgt.record_fills, "journal fills")
        self._synced(src, tgt, SyncCursor.SETTLEMENTS, src.settlements(), tgt.settlements(),
                     lambda s: (s.ticker, s.settled_time), lambda s: s.settled_time, tgt.record_settlements,
                     "journal settlements")
        have = [(e.time, e.kind, e.message) for e in tgt.errors()]
        for e in _missing_by(src.errors(), have, lambda e: (e.time, e.kind, e.message)):
            self.clock.at = e.time
            tgt.record_error(e.kind, e.message, e.context)
            self.report.copied["journal errors"] += 1

    def _order_events(self, src: TradeJournal, tgt: TradeJournal) -> None:
        theirs: dict[str, list[OrderEvent]] = {}
        for e in tgt.order_events():
            theirs.setdefault(e.client_order_id, []).append(e)
        mine: dict[str, list[OrderEvent]] = {}
        for e in src.order_events():
            mine.setdefault(e.client_order_id, []).append(e)
        for coid, events in mine.items():
            there = theirs.get(coid, [])
            if [(e.kind, e.time) for e in there] != [(e.kind, e.time) for e in events[:len(there)]]:
                raise StorageError(f"order {coid}: the target journal's events differ from the source's; "
                                   "refusing to mix them (copy into an empty store)")
            for event in events[len(there):]:
                self._write_event(tgt, event)

    def _write_event(self, tgt: TradeJournal, e: OrderEvent) -> None:
        self.clock.at = e.time
        if e.kind is EventKind.INTENT:
            if e.ticker is None or e.book_side is None or e.yes_price is None or e.count is None:
                raise StorageError(f"order {e.client_order_id}: its intent lacks a ticker, side, price or count")
            tgt.record_intent(e.client_order_id, e.ticker, e.book_side, e.yes_price, e.count,
                              e.time_in_force or "", e.env or "", e.extra, owner=e.owner, deadline=e.deadline)
        elif tgt.record_outcome(e.client_order_id, e.kind.value, order_id=e.order_id, status=e.status, code=e.code,
                                message=e.message, yes_price=e.yes_price, count=e.count, extra=e.extra) is None:
            raise StorageError(f"order {e.client_order_id}: the target journal could not record its {e.kind} event")
        self.report.copied["journal order events"] += 1

    def _synced(self, src: TradeJournal, tgt: TradeJournal, cursor: SyncCursor, source: Sequence,
                target: Sequence, key: Callable, when: Callable, write: Callable[..., int], what: str) -> None:
        """Fills or settlements: those up to the source's sync cursor move the target's cursor there too."""
        known = {key(r) for r in target}
        new = [r for r in source if key(r) not in known]
        mark = src.sync_cursor(cursor)
        if new and mark is not None:
            synced = [r for r in new if when(r) is not None and when(r) <= mark]
            self.report.copied[what] += write(synced, advance_cursor=True) if synced else 0
            new = [r for r in new if not (when(r) is not None and when(r) <= mark)]
        if new:
            self.report.copied[what] += write(new)

    # --- bot states ----------------------------------------------------------------------------------
    def copy_bot(self, bot: str, src: BotStore, tgt: BotStore) -> None:
        label = f"bot {bot}"
        for key in src.keys():
            if tgt.get(key) != src.get(key):
                tgt.put(key, src.get(key))
                self.report.copied[f"{label} keys"] += 1
        folded = [s for s in src.fills() if s.folded]
        if folded:
            self.report.skipped.append(f"{label}: {len(folded)} fills folded into the carried state by an upgrade "
                                       "from schema 1 (kept there; the port writes no folded fill)")
        if src.carried() or src.carried_stats():
            tgt.prune(0, 0, src.carried(), src.carried_stats())  # writes the carried rows, deletes nothing
        for stored in src.fills():
            if not stored.folded and tgt.write_fill(stored.fill):
                self.report.copied[f"{label} fills"] += 1
        if sorted(src.orders(), key=lambda o: o.order_id) != tgt.orders():
            tgt.replace_orders(src.orders())
            self.report.copied[f"{label} working orders"] += len(src.orders())
        have = [(e.ts, e.kind, e.message) for e in tgt.events(ALL)]
        for e in _missing_by(src.events(ALL), have, lambda e: (e.ts, e.kind, e.message)):
            tgt.log_event(e.ts, e.kind, e.message, e.data)
            self.report.copied[f"{label} events"] += 1
        seen = [(d.ts, d.ticker) for d in tgt.decisions(ALL)]
        for d in _missing_by(src.decisions(ALL), seen, lambda d: (d.ts, d.ticker)):
            tgt.log_decision(d.ts, d.ticker, d.inputs, d.targets, d.actions)
            self.report.copied[f"{label} decisions"] += 1
        tgt.flush()

    # --- signals ---------------------------------------------------------------------------------------
    def copy_signals(self, src: SignalStore, tgt: SignalStore) -> None:
        cycles: dict[int, int] = {}  # source cycle id -> target cycle id
        theirs: dict[tuple, list[int]] = {}
        for c in reversed(tgt.cycles()):
            theirs.setdefault((c.started, c.mode, c.profile), []).append(c.id)
        for c in reversed(src.cycles()):
            ids = theirs.get((c.started, c.mode, c.profile))
            if ids:
                cycles[c.id] = ids.pop(0)
                continue
            new = cycles[c.id] = tgt.begin_cycle(c.started, mode=c.mode, profile=c.profile)
            if c.status is not CycleStatus.RUNNING and c.finished is not None:
                tgt.finish_cycle(new, finished=c.finished, status=c.status, markets=c.markets, signals=c.signals,
                                 attempts=c.attempts, error=c.error)
            for h in src.health(c.id):
                tgt.record_health(replace(h, cycle_id=new))
            self.report.copied["signal cycles"] += 1
        signal_ids = self._records(src.signals(), tgt.signals(), cycles, {}, tgt.record_signal, "signals")
        self._records(src.attempts(), tgt.attempts(), cycles, signal_ids, tgt.record_attempt, "signal attempts")

    def _records(self, source: Sequence, target: Sequence, cycles: dict[int, int], signal_ids: dict[int, int],
                 write: Callable, what: str) -> dict[int, int]:
        """Signals or attempts not in the target yet (by content, their cycle and signal ids translated)."""
        def as_target(r):
            moved = replace(r, id=None, cycle_id=cycles.get(r.cycle_id) if r.cycle_id is not None else None)
            if hasattr(moved, "signal_id") and moved.signal_id is not None:
                moved = replace(moved, signal_id=signal_ids.get(moved.signal_id))
            return moved

        have = Counter(replace(r, id=None) for r in target)
        by_content = {replace(r, id=None): r.id for r in target}
        ids: dict[int, int] = {}
        for r in source:
            moved = as_target(r)
            if have[moved] > 0:
                have[moved] -= 1
                ids[r.id] = by_content[moved]
                continue
            ids[r.id] = write(moved)
            self.report.copied[what] += 1
        return ids

    # --- runtime configuration ------------------------------------------------------------------------
    def copy_runtime(self) -> None:
        src, tgt = self.source.runtime_config().snapshot(), self.target.runtime_config()
        there = tgt.snapshot()
        for ticker, record in src.markets.items():
            theirs = there.markets.get(ticker)
            if theirs is None or dict(theirs.values) != dict(record.values):
                tgt.put_market(ticker, record.values, updated_by=record.updated_by, now=record.updated_at)
                self.report.copied["runtime markets"] += 1
        g = src.global_record
        if g is not None and (there.global_record is None or dict(there.global_record.values) != dict(g.values)):
            tgt.put_global(g.values, updated_by=g.updated_by, now=g.updated_at)
            self.report.copied["runtime global"] += 1


    def copy_alerts(self) -> None:
        """The alert events, by their whole content (ids aside), counted: two equal events stay two."""
        src, tgt = self.source.alerts(), self.target.alerts()
        for event in _missing_by(src.events(), (_alert_key(e) for e in tgt.events()), _alert_key):
            tgt.record(replace(event, id=None))
            self.report.copied["alert events"] += 1


def _alert_key(e: AlertEvent) -> tuple:
    return (e.at, e.source, e.kind, e.severity, e.channel, e.status, e.text, e.rule, e.reason)


def _missing_by(source: Iterable, have: Iterable[Hashable], key: Callable) -> list:
    """The source's records whose key the target lacks (as a multiset)."""
    left = Counter(have)
    out = []
    for r in source:
        k = key(r)
        if left[k] > 0:
            left[k] -= 1
        else:
            out.append(r)
    return out


# --- verification --------------------------------------------------------------------------------------
def _counts(store: Store) -> dict[str, int]:
    journal = store.journal()
    out = {"journal order events": len(journal.order_events()), "journal fills": len(journal.fills()),
           "journal settlements": len(journal.settlements()), "journal errors": len(journal.errors())}
    for bot in store.bots():
        state = store.bot_state(bot=bot)
        label = f"bot {bot}"
        out[f"{label} keys"] = len(state.keys())
        out[f"{label} fills"] = len([s for s in state.fills() if not s.folded])
        out[f"{label} working orders"] = len(state.orders())
        out[f"{label} carried states"] = len(state.carried()) + len(state.carried_stats())
        out[f"{label} events"] = len(state.events(ALL))
        out[f"{label} decisions"] = len(state.decisions(ALL))
    signals = store.signals()
    cycles = signals.cycles()
    out.update({"signal cycles": len(cycles), "signal health": sum(len(signals.health(c.id)) for c in cycles),
                "signals": len(signals.signals()), "signal attempts": len(signals.attempts())})
    snap = store.runtime_config().snapshot()
    out.update({"runtime markets": len(snap.markets), "runtime global": int(snap.global_record is not None)})
    out["alert events"] = len(store.alerts().events())
    return out


def pnl_totals(fills: Iterable[Fill], settlements: Iterable[Settlement]) -> tuple[Decimal, Decimal]:
    """(realized P&L, fees) of a journal's fills and settlements (FIFO lots, as `kalshi pnl`)."""
    report = compute_pnl(fills, settlements, method="fifo", with_lots=False)
    return report.realized_pnl, report.fees_paid


def verify(source: Store, target: Store, copied: Counter[str] | None = None) -> list[Row]:
    """Both stores side by side: records of each kind, then the journal's realized P&L and fees."""
    mine, theirs = _counts(source), _counts(target)
    copied = copied or Counter()
    rows = [Row(what, str(mine.get(what, 0)), str(theirs.get(what, 0)), copied.get(what, 0))
            for what in dict.fromkeys([*mine, *theirs])]
    (realized, fees) = pnl_totals(source.journal().fills(), source.journal().settlements())
    (realized_there, fees_there) = pnl_totals(target.journal().fills(), target.journal().settlements())
    rows.append(Row("realized P&L", str(realized), str(realized_there)))
    rows.append(Row("fees", str(fees), str(fees_there)))
    return rows


def same_store(a: Store, b: Store) -> bool:
    """Whether two URLs name one store (copying a store onto itself is refused)."""
    if a.url.directory is not None and b.url.directory is not None:
        return a.url.directory.resolve() == b.url.directory.resolve()
    return a.url.masked == b.url.masked and a.url.text == b.url.text


def copy_store(source: Store, target: Store, clock: ReplayClock) -> CopyReport:
    """Copy `source` into `target` (opened with `clock`) and verify; see the module docstring."""
    if same_store(source, target):
        raise UsageError(f"--from and --to name the same store ({source.url.masked})")
    return StoreCopy(source, target, clock).run()
