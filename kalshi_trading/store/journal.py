"""The trade journal's port: what the services need from storage, over domain types only.

Any adapter (SQLite today) implements `TradeJournal`; `tests/store/test_journal_contract.py` runs the same contract
against every adapter.  Nothing here names a database: no connections, cursors, row ids or SQL types.  Records carry
domain values (Decimal, UTC-aware datetime, `Fill`, `Settlement`) and the enums below.

The contract, in words (each point has a contract test):

- Order events.  An order's life starts with an `intent`, committed durably before the order is sent (unique per
  client_order_id), followed by outcomes: accepted / rejected, amended / decreased / cancelled, `reconciled` (a later
  process asked the exchange).  The newest outcome wins: a `reconciled` event with status `not_placed` can be followed
  by another `reconciled` event carrying the order id, when the order turns up after all.  An outcome carries the
  intent's ticker, side, time in force and environment.  Intents keep their writer (`IntentOwner`) and the time after
  which nobody can still be sending them (`deadline`).
- Fills are unique by fill id: the same fill again changes nothing; a different fill under a known id is refused
  (`JournalError`, nothing of that batch stored).  Settlements are unique by (ticker, settled time).
- Queries: `since` inclusive, `until` exclusive, times UTC-aware (a naive datetime is a `UsageError`); oldest first
  unless `newest_first`; `limit` >= 0.
- Export rows (`trade_rows`) come in time order (created time, then fill id) and each is labelled by the ticker's
  position before it over *all* earlier fills, whatever the date filter (see `TradeRow`).  `trade_csv` gives the
  same rows as CSV text (`render_csv`), rendered by the store where it can do so faster (SQLite glues stored
  pieces: typed rows cost 4-6x more per row to turn into CSV in Python).
- One exchange per journal (`bind_exchange`): another identity archives everything recorded so far and starts empty.
- Schema versions: a journal written by an older program is upgraded in place when opened; a newer one is refused
  and left untouched; `schema_version()` says which version the open journal is.
- Failures of the storage itself are `JournalError` (exit 3), except `record_outcome`, which logs and returns None:
  it is called after the exchange acted, and the pending intent is settled later.
- Text fields are stored as given; `extra` and error `context` keys that look like credentials are dropped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Protocol, Sequence

from kalshi_trading.models import Fill, Settlement

NOT_PLACED = "not_placed"  # the status of a `reconciled` event whose order never reached the exchange
LEGACY_IN_FLIGHT_S = 600  # an intent recorded before deadlines were: nothing can be in flight 10 min after it
SECRET_WORDS = ("key", "secret", "signature", "authorization", "password", "header", "token")


class EventKind(StrEnum):
    """What an order event records (a StrEnum: compares equal to its text)."""

    INTENT = "intent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    AMENDED = "amended"
    DECREASED = "decreased"
    CANCELLED = "cancelled"
    RECONCILED = "reconciled"


OUTCOME_KINDS = tuple(k.value for k in EventKind if k is not EventKind.INTENT)


class HistoryKind(StrEnum):
    FILL = "fill"
    SETTLEMENT = "settlement"
    ORDER = "order"


class SyncCursor(StrEnum):
    """What a sync pulls from the exchange; the journal keeps how far each has got."""

    FILLS = "fills"
    SETTLEMENTS = "settlements"


@dataclass(frozen=True)
class IntentOwner:
    """The process that wrote an order intent, named so that a reused pid is not mistaken for it.

    A value the journal keeps with the intent.  What it means (is that process still running?) and how the current
    process is named belong to `trading.intent_owner`.
    """

    host: str
    boot_id: str | None
    pid_ns: int | None
    pid: int
    start_ticks: int | None  # field 22 of /proc/<pid>/stat: start time in clock ticks since boot


@dataclass(frozen=True)
class OrderEvent:
    """One order event.  `id` orders the events of one journal (it means nothing across journals)."""

    id: int
    time: datetime
    kind: EventKind
    client_order_id: str
    order_id: str | None = None
    env: str | None = None
    ticker: str | None = None
    book_side: str | None = None
    yes_price: Decimal | None = None
    count: Decimal | None = None
    time_in_force: str | None = None
    status: str | None = None
    code: str | None = None
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    owner: IntentOwner | None = field(default=None, compare=False)  # intents: the process that wrote it
    deadline: datetime | None = field(default=None, compare=False)  # intents: no one sends it after this


@dataclass(frozen=True)
class ErrorEntry:
    time: datetime
    kind: str
    message: str
    context: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class HistoryEntry:
    time: datetime | None
    kind: HistoryKind
    ticker: str | None
    record: Fill | Settlement | OrderEvent


class TradeRow(NamedTuple):
    """One fill as a row of the trades export: exact texts, in the CSV's column order.

    The side and action depend on the ticker's position before the fill (netting): a YES buy while long NO is a NO
    sale, an ask while long YES is a YES sale, otherwise the fill buys the side it takes.  A fill that flips the
    position is labelled as the sale of the side held before it, with its whole count.  `price` is the price of
    `side`, `notional` = price x contracts.  Prices have 4 decimals, counts 2, money 6; times are fixed-width ISO-8601
    UTC (`2026-03-01T12:01:00.000000Z`, empty when unknown).
    """

    created_time: str
    fill_id: str
    order_id: str
    ticker: str
    side: str  # yes | no
    action: str  # buy | sell
    contracts: str  # the CSV's `count` column (a NamedTuple cannot name a field `count`)
    yes_price: str
    no_price: str
    price: str
    notional: str
    fee: str
    is_taker: str  # true | false
    strategy: str  # the strategy that placed the fill's order (its intent's `strategy`), empty for manual orders


def render_csv(rows: Iterable[TradeRow], chunk: int = 10_000) -> Iterator[list[str]]:
    """Rows as CSV lines (RFC 4180 as `csv.writer` writes it, CRLF, no header), in chunks: what `trade_csv` must
    yield; an adapter that cannot render natively returns `render_csv(self.trade_rows(...))`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    lines: list[str] = []
    for row in rows:
        writer.writerow(row)
        lines.append(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        if len(lines) >= chunk:
            yield lines
            lines = []
    if lines:
        yield lines


class TradeJournal(Protocol):
    """The trade journal: order intents and events, fills, settlements, errors (see the module docstring)."""

    @property
    def location(self) -> str:
        """Where the journal lives, for messages (never a password)."""
        ...

    def schema_version(self) -> int:
        """The schema version of the open journal (after any upgrade)."""
        ...

    def close(self) -> None: ...

    # -- the exchange this journal belongs to

    def bind_exchange(self, identity: str) -> str | None:
        """Tie the journal to one exchange; another identity archives the journal's records and empties it.

        Returns where the archive went (None when nothing was archived)."""
        ...

    def exchange_identity(self) -> str | None: ...

    # -- order intents and events

    def record_intent(
        self, client_order_id: str, ticker: str, book_side: str, yes_price: Decimal, count: Decimal,
        time_in_force: str, env: str, extra: Mapping[str, Any] | None = None, *, owner: IntentOwner | None = None,
        deadline: datetime | None = None,
    ) -> OrderEvent:
        """Durably record that an order is about to be sent (committed before this returns)."""
        ...

    def record_outcome(
        self, client_order_id: str, kind: str, *, order_id: str | None = None, status: str | None = None,
        code: str | None = None, message: str | None = None, yes_price: Decimal | None = None,
        count: Decimal | None = None, extra: Mapping[str, Any] | None = None,
    ) -> OrderEvent | None:
        """What happened to an order (one of OUTCOME_KINDS); a storage failure is logged and gives None."""
        ...

    def mark_reconciled(self, client_order_id: str, order_id: str | None, status: str) -> OrderEvent | None: ...

    def record_late_placement(self, client_order_id: str, order_id: str, status: str) -> OrderEvent | None: ...

    def pending_intents(self) -> list[OrderEvent]:
        """Intents with no outcome yet, oldest first."""
        ...

    def not_placed_intents(self, since: datetime) -> list[OrderEvent]:
        """Intents whose newest outcome, recorded at or after `since`, says the order never reached the exchange."""
        ...

    def known_order_ids(self, order_ids: Iterable[str]) -> set[str]:
        """Which of these order ids some order event names."""
        ...

    def strategies(self, ids: Iterable[str]) -> dict[str, str]:
        """The strategy that placed each of these orders (order ids or client order ids), from its intent's
        `strategy` tag (the bot's); orders placed by hand are left out."""

    def order_events(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, client_order_id: str | None = None, newest_first: bool = False,
    ) -> list[OrderEvent]: ...

    # -- fills and settlements

    def record_fills(self, fills: Iterable[Fill], *, advance_cursor: bool = False) -> int:
        """Store fills in one transaction; returns how many were new.  With `advance_cursor` (a sync) the fills'
        cursor moves to the newest created time among them, in the same transaction."""
        ...

    def record_settlements(self, settlements: Iterable[Settlement], *, advance_cursor: bool = False) -> int: ...

    def sync_cursor(self, which: SyncCursor) -> datetime | None:
        """The newest time a sync has stored for `which` (None before the first)."""
        ...

    def fills(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Fill]: ...

    def settlements(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None, newest_first: bool = False,
    ) -> list[Settlement]: ...

    def history(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """Fills, settlements and order events merged, newest first."""
        ...

    def trade_rows(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[TradeRow]:
        """The fills as trades-export rows, in time order (read lazily: close the iterator or read it to the end)."""
        ...

    def trade_csv(
        self, since: datetime | None = None, until: datetime | None = None, ticker: str | None = None,
    ) -> Iterator[Sequence[str]]:
        """`trade_rows` as CSV lines, exactly as `render_csv` writes them, in chunks (one line per fill)."""
        ...

    # -- errors

    def record_error(self, kind: str, message: str, context: Mapping[str, Any] | None = None) -> None: ...

    def errors(
        self, since: datetime | None = None, until: datetime | None = None, limit: int | None = None,
    ) -> list[ErrorEntry]: ...
