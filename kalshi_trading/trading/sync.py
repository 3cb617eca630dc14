"""Syncing the journal with the exchange: pull fills and settlements newer than the last seen into the store.

A service over the client and the journal (the store does no network I/O).  Each kind is fetched in full from its
cursor less an overlap, then stored together with its new cursor in one transaction, so an interrupted sync
stores nothing of that kind and the next one starts from the same point.  Records are unique (fills by id,
settlements by ticker and time), so the overlap and repeated syncs change nothing; a fill whose id the journal
holds for a different fill is refused (JournalError), nothing of that batch stored.  Fills of orders the journal
does not know are matched against recent `not_placed` intents (`intents.relink_from_fills`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Protocol

from kalshi_trading.models import Fill, Order, Settlement
from kalshi_trading.store.journal import SyncCursor, TradeJournal
from kalshi_trading.trading import intents

log = logging.getLogger(__name__)

SYNC_OVERLAP_SECONDS = 300  # re-read this much before the newest seen record; uniqueness absorbs the repeats
_NO_TIME = datetime.min.replace(tzinfo=timezone.utc)


class SyncClient(Protocol):
    """What a sync needs from the exchange client (min_ts: Unix seconds)."""

    def iter_fills(self, *, min_ts: int | None = None) -> Iterable[Fill]: ...

    def iter_settlements(self, *, min_ts: int | None = None) -> Iterable[Settlement]: ...

    def get_order(self, order_id: str) -> Order: ...  # a fill of an order the journal does not know


@dataclass(frozen=True)
class SyncResult:
    new_fills: int
    new_settlements: int
    fills: tuple[Fill, ...] = ()  # the new ones themselves, when the caller asked for them (`new_records`)
    settlements: tuple[Settlement, ...] = ()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _from(journal: TradeJournal, which: SyncCursor) -> int | None:
    """The `min_ts` to ask the exchange for: the cursor less the overlap (None: everything)."""
    cursor = journal.sync_cursor(which)
    return None if cursor is None else int(cursor.timestamp()) - SYNC_OVERLAP_SECONDS


def sync_journal(client: SyncClient, journal: TradeJournal, *, clock: Callable[[], datetime] = _utc_now,
                 new_records: bool = False) -> SyncResult:
    """Pull fills and settlements newer than the last seen (less an overlap) into `journal`; safe to repeat.  With
    `new_records` the result also holds the records the journal did not have (one local read per kind)."""
    fills = sorted(client.iter_fills(min_ts=_from(journal, SyncCursor.FILLS)),
                   key=lambda f: (f.created_time or _NO_TIME, f.fill_id))
    fresh_fills = _unknown_fills(journal, fills) if new_records else ()
    new_fills = journal.record_fills(fills, advance_cursor=True)
    intents.relink_from_fills(journal, client, fills, clock())
    settlements = list(client.iter_settlements(min_ts=_from(journal, SyncCursor.SETTLEMENTS)))
    fresh_settlements = _unknown_settlements(journal, settlements) if new_records else ()
    new_settlements = journal.record_settlements(settlements, advance_cursor=True)
    log.info("journal sync: %d new fills, %d new settlements", new_fills, new_settlements)
    return SyncResult(new_fills, new_settlements, fresh_fills, fresh_settlements)


def _earliest(times: list[datetime | None]) -> datetime | None:
    """The earliest of `times` (None when any is unknown: then every record is compared)."""
    return None if not times or any(t is None for t in times) else min(t for t in times if t is not None)


def _unknown_fills(journal: TradeJournal, fills: list[Fill]) -> tuple[Fill, ...]:
    if not fills:
        return ()
    known = {f.fill_id for f in journal.fills(since=_earliest([f.created_time for f in fills]))}
    return tuple(f for f in fills if f.fill_id not in known)


def _unknown_settlements(journal: TradeJournal, settlements: list[Settlement]) -> tuple[Settlement, ...]:
    if not settlements:
        return ()
    known = {(s.ticker, s.settled_time) for s in
             journal.settlements(since=_earliest([s.settled_time for s in settlements]))}
    return tuple(s for s in settlements if (s.ticker, s.settled_time) not in known)
