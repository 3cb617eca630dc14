"""The bot state's port: the facts one bot keeps across restarts, over domain values only.

Any adapter (SQLite today: `store/sqlite/botstate.py`) implements `BotStore`; `tests/store/test_botstate_contract.py`
runs the same contract against every adapter.  Nothing here names a database: no connections, row ids or SQL types.
Prices, counts and money are exact `Decimal` (or integer sub-units, where a record says so), times UTC-aware.

The store keeps facts; it computes nothing.  What derives from them (positions and P&L through `trading.pnl`, an
order's filled and remaining counts, which fills a prune may take and what they fold into) is the bot's service
(`auto/state.py`), so every adapter gets the arithmetic right by not doing any.

The contract, in words (each point has a contract test):

- Values.  A `BotFill`, `StoredOrder`, `CarriedState` or `CarriedStats` comes back equal to what was written
  (Decimal by value: `1.10` may come back as `1.1`; times equal and UTC-aware).  A naive datetime is a `UsageError`.
- Key/value.  `put` stores a JSON value (None, bool, int, str, lists and string-keyed dicts of them) under a key;
  `get` returns it, or None for a key never written; `keys` lists the keys written.  Keys in `RESERVED_KEYS`
  belong to the adapter (never listed).
- Fills (and position adjustments) are unique by `key`: writing a known key again stores nothing (the first stays)
  and returns False (its `ends_order` still ends that order).  Each stored fill gets a sequence number
  (`StoredFill.seq`): strictly increasing in the order the fills were written, never reused within one store,
  meaningful only for ordering and for `prune`.  A fill and the end of the working order it completes
  (`ends_order`) are written in one transaction.
- Working orders: `save_order` writes or replaces one (by order id), `remove_order` forgets one (an unknown id is no
  error), `replace_orders` swaps the whole set in one transaction; `orders()` lists them by order id.
- Carried state: what pruned fills contributed, one `CarriedState` per (method, ticker) and one `CarriedStats` per
  ticker.  `prune(through_seq, count, ...)` deletes every fill with `seq <= through_seq` and writes the given carried
  rows (replacing those of the same key) in ONE transaction, and only if exactly `count` fills are at or below
  `through_seq` when it runs (so a fold computed over them is still right); otherwise, or if anything fails (the
  iterables may be consumed inside the transaction), nothing changes.  Returns whether it pruned.
- Logs.  `log_event` is written at once; `log_decision` is buffered until `flush()` (or `decisions()`, or `close()`).
  A flush keeps only the newest `LogBounds` rows of each log.  Both read back oldest first, at most `limit` of the
  newest.  Values in their data that are not JSON (Decimal, datetime) come back as their `str()`.
- Schema versions: a state written by an older program is upgraded in place when opened (one transaction); a newer
  one is refused (`JournalError`, exit 3) and left untouched; `schema_version()` says which version is open.
- Failures of the storage itself are `JournalError` (exit 3) naming the location; so is any use after `close()`
  (but `close()` and `flush()`, which have nothing left to do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, Iterable, NamedTuple, Protocol, Sequence, TypeAlias

from kalshi_trading.models import BookSide, Fill, Side
from kalshi_trading.money import COUNT_UNITS, PRICE_UNITS

# A JSON value, as `put` takes and `get` gives it back (containers hold JSON values too).
Json: TypeAlias = None | bool | int | float | str | list[Any] | dict[str, Any]

RESERVED_KEYS = frozenset({"schema", "fills.seq_floor"})  # the adapter's own keys: `put` refuses them
MONEY_UNITS = PRICE_UNITS * COUNT_UNITS  # carried money is in 1e-6 $ (a price unit times a count unit)


class FillSource(str, Enum):
    """Where the bot learnt of a fill; ADJUSTMENT is not a fill but a correction to the exchange's position."""

    FEED = "feed"
    REST = "rest"
    STARTUP = "startup"
    ADJUSTMENT = "adjustment"


class CostMethod(StrEnum):
    """How a carried lot state was kept: average cost (one pooled lot) or FIFO lots (`trading.pnl`'s methods)."""

    AVG = "avg"
    FIFO = "fifo"


@dataclass(frozen=True)
class BotFill:
    """One execution of one of the bot's orders (or, with source ADJUSTMENT, a position correction)."""

    key: str  # trade id (or fill id) + order id: the same execution seen twice has one key
    order_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal
    fee: Decimal
    ts: datetime
    source: FillSource = FillSource.REST

    @property
    def signed(self) -> Decimal:
        return self.count if self.book_side is BookSide.BID else -self.count

    @property
    def is_adjustment(self) -> bool:
        return self.source is FillSource.ADJUSTMENT

    def as_fill(self) -> Fill:
        """The domain Fill a lot book takes (fill id = key)."""
        outcome = Side.YES if self.book_side is BookSide.BID else Side.NO
        return Fill(self.key, self.order_id, self.ticker, outcome, self.book_side, self.count,
                    self.yes_price, False, self.fee, self.ts)


@dataclass(frozen=True)
class StoredFill:
    """A fill as the store holds it: its place in the order of application, and whether it is `folded` (already
    counted in the carried state: the fills of a state upgraded from schema 1, kept for de-duplication and their
    orders' filled counts)."""

    seq: int
    fill: BotFill
    folded: bool = False


@dataclass(frozen=True)
class StoredOrder:
    """A working order of the bot as stored: its size as placed or amended (`count`, filled included) and what was
    taken off (`cancelled`); filled and remaining derive from its fills."""

    order_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal
    cancelled: Decimal
    tag: str = ""
    client_order_id: str = ""


class CarriedLot(NamedTuple):
    """One open lot of a carried state, in integer units: size 1/100 contract, cost and fee 1e-6 $."""

    size: int
    cost: int
    acquired: datetime | None
    fee: int


@dataclass(frozen=True)
class CarriedState:
    """One market's lot state under one cost method, left by fills that were pruned: the signed position
    (1/100 contract), the open lots oldest first, gross realized P&L and fees paid (1e-6 $)."""

    method: CostMethod
    ticker: str
    position: int
    lots: tuple[CarriedLot, ...]
    realized: int
    fees: int


@dataclass(frozen=True)
class CarriedStats:
    """One market's activity totals carried past pruned fills: fills counted, contracts traded, largest position."""

    ticker: str
    fills: int
    volume: Decimal
    max_abs_position: Decimal


@dataclass(frozen=True)
class BotEvent:
    """A risk denial, a state change, a reconciliation finding, a reload: kept (bounded) with its reason.
    `id` orders the events of one store (it means nothing across stores)."""

    id: int
    ts: datetime
    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Decision:
    """One pass of the loop over one market: its inputs, the strategy's targets, the actions taken."""

    id: int
    ts: datetime
    ticker: str
    inputs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    targets: list[Any] = field(default_factory=list, compare=False, hash=False)
    actions: list[Any] = field(default_factory=list, compare=False, hash=False)


@dataclass(frozen=True)
class LogBounds:
    """How many rows of each log a flush keeps (the newest)."""

    decisions: int = 5000
    events: int = 2000


class BotStore(Protocol):
    """The bot's durable facts (see the module docstring for the contract)."""

    @property
    def location(self) -> str:
        """Where the state lives, for messages (a file path with SQLite; never a password)."""
        ...

    def schema_version(self) -> int:
        """The schema version of the open state (after any upgrade)."""
        ...

    def close(self) -> None:
        """Flush buffered decisions and release the state; any later use is a JournalError."""
        ...

    # -- key/value: the risk state, the bot's id, its markets, the day's P&L folded before an upgrade...

    def get(self, key: str) -> Json:
        """The value stored under `key` (None when never written)."""
        ...

    def put(self, key: str, value: Json) -> None:
        """Store a JSON value under `key` (committed at once)."""
        ...

    def keys(self) -> list[str]:
        """Every key written (not the adapter's own `RESERVED_KEYS`), sorted: what a copy of the state copies."""
        ...

    # -- fills and adjustments, in the order they were applied

    def write_fill(self, fill: BotFill, ends_order: str | None = None) -> bool:
        """Store a fill (or adjustment) and, in the same transaction, forget the working order it completes.

        Returns False (storing no fill) when its key is stored already."""
        ...

    def fills(self) -> list[StoredFill]:
        """Every stored fill and adjustment, in the order they were written (by `seq`)."""
        ...

    def last_fill(self) -> BotFill | None:
        """The processed fill (not an adjustment) with the newest time; of equal times, the last written."""
        ...

    # -- working orders

    def save_order(self, order: StoredOrder) -> None: ...

    def remove_order(self, order_id: str) -> None: ...

    def replace_orders(self, orders: Iterable[StoredOrder]) -> None:
        """The working orders become exactly `orders`, in one transaction."""
        ...

    def orders(self) -> list[StoredOrder]:
        """The working orders, by order id."""
        ...

    # -- what pruned fills contributed

    def carried(self) -> list[CarriedState]:
        """Every carried lot state, by (method, ticker)."""
        ...

    def carried_stats(self) -> list[CarriedStats]:
        """Every market's carried activity totals, by ticker."""
        ...

    def prune(self, through_seq: int, count: int, carried: Iterable[CarriedState],
              stats: Iterable[CarriedStats]) -> bool:
        """Delete the fills with `seq <= through_seq` and write these carried rows, in one transaction, provided
        exactly `count` fills are at or below `through_seq`; otherwise change nothing and return False."""
        ...

    # -- logs (bounded)

    def log_event(self, ts: datetime, kind: str, message: str, data: dict[str, Any] | None = None) -> None: ...

    def events(self, limit: int = 100, kinds: Sequence[str] | None = None) -> list[BotEvent]:
        """The newest `limit` events (of `kinds`, when given), oldest first."""
        ...

    def log_decision(self, ts: datetime, ticker: str, inputs: dict[str, Any], targets: list[Any],
                     actions: list[Any]) -> None:
        """Buffer one decision row (written by the next `flush`)."""
        ...

    def decisions(self, limit: int = 100) -> list[Decision]:
        """The newest `limit` decisions, oldest first (buffered ones flushed first)."""
        ...

    def flush(self) -> None:
        """Write buffered decisions and trim both logs to their bounds."""
        ...
