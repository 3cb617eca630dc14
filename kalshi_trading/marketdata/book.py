"""The local order book of one market, kept from a snapshot plus deltas, in integer sub-units.

Prices are held as integer 1/10,000 of a dollar and sizes as integer 1/100 of a contract
(`money.PRICE_UNITS`, `money.COUNT_UNITS`), so applying a delta is two dict operations and a
comparison; `Decimal` appears only at the edges (the public accessors and `depth`).

Like the REST book (reference sections 4 and 7) each side holds resting *bids*: YES bids at YES
prices and NO bids at NO prices.  The best YES ask is `1 - best NO bid`.

Staleness: a book is usable only after a snapshot and until something makes it doubtful (a
sequence gap or duplicate seen by the feed, a delta before any snapshot, a level driven below
zero, a disconnect).  A stale book answers `None` for every price and size, so it can never be
used for a decision, and asks (through `resync_wanted`) for a fresh snapshot.
"""

from __future__ import annotations


from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from kalshi_trading.models import OrderBook, PriceLevel
from kalshi_trading.money import PRICE_UNITS

PRICE_PLACES = 4  # PRICE_UNITS = 10**4
COUNT_PLACES = 2  # COUNT_UNITS = 10**2
ONE_DOLLAR = PRICE_UNITS
_POW10 = tuple(10**i for i in range(19))
_CENT_UNITS = PRICE_UNITS // 100


class BookDataError(ValueError):
    """A price or size that is not an exact fixed-point amount on our sub-unit grid."""


# ----------------------------------------------------------------------------------- parsing at the edge
def fixed_to_units(text: str, places: int) -> int:
    """Exact fixed-point text ("0.5600", "-10.00", "0.42") to integer units of 10**-places.

    The fast path of the feed: no Decimal, one `replace` and one `int`.  Digits finer than the unit
    must be zeros ("0.560000" is fine, "0.56001" is refused).
    """
    dot = text.find(".")
    if dot < 0:
        return int(text) * _POW10[places]
    digits = len(text) - dot - 1
    n = int(text.replace(".", "", 1))
    if digits == places:
        return n
    if digits < places:
        return n * _POW10[places - digits]
    q, r = divmod(n, _POW10[digits - places])
    if r:
        raise BookDataError(f"{text!r} is finer than 1e-{places}")
    return q


def value_to_units(value: Any, places: int) -> int:
    """A wire amount in any tolerated form (text, int, float number, Decimal) to integer units."""
    if isinstance(value, str):
        try:
            return fixed_to_units(value.strip(), places)
        except ValueError as exc:
            raise BookDataError(f"{value!r} is not a fixed-point amount") from exc
    if isinstance(value, bool):
        raise BookDataError(f"{value!r} is not an amount")
    if isinstance(value, int):
        return value * _POW10[places]
    if isinstance(value, float):
        # A JSON number: its shortest repr is the decimal the sender wrote.
        return value_to_units(repr(value), places)
    if isinstance(value, Decimal):
        scaled = value.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise BookDataError(f"{value} is finer than 1e-{places}")
        return int(scaled)
    raise BookDataError(f"{value!r} is not an amount")


def price_units(value: Any) -> int:
    """Dollars (text/number/Decimal) to 1/10,000 $ units."""
    return value_to_units(value, PRICE_PLACES)


def count_units(value: Any) -> int:
    """Contracts (text/number/Decimal) to 1/100 contract units."""
    return value_to_units(value, COUNT_PLACES)


_DECIMALS: tuple[dict[int, Decimal], dict[int, Decimal]] = ({}, {})  # units -> Decimal (prices, sizes): immutable
_DECIMALS_MAX = 100_000


def units_price(units: int) -> Decimal:
    """1/10,000 $ units to a Decimal with 4 places ("0.5600")."""
    d = _DECIMALS[0].get(units)
    if d is None:
        d = Decimal(units).scaleb(-PRICE_PLACES)
        if len(_DECIMALS[0]) < _DECIMALS_MAX:
            _DECIMALS[0][units] = d
    return d


def units_count(units: int) -> Decimal:
    """1/100 contract units to a Decimal with 2 places ("10.00")."""
    d = _DECIMALS[1].get(units)
    if d is None:
        d = Decimal(units).scaleb(-COUNT_PLACES)
        if len(_DECIMALS[1]) < _DECIMALS_MAX:
            _DECIMALS[1][units] = d
    return d


def _best_first(levels: dict[int, int], best: int, n: int | None) -> list[int]:
    """The `n` highest prices of a side (all of them when `n` is None), highest first; the best alone without
    sorting the side."""
    if n is None or n >= len(levels):
        return sorted(levels, reverse=True)
    if n == 1:
        return [best]
    return sorted(levels, reverse=True)[:n]


def snapshot_levels(msg: Mapping, side: str) -> list[tuple[int, int]]:
    """One side of a WS snapshot (or REST `orderbook_fp`) as [(price units, size units)].

    Current keys first (`yes_dollars_fp`, then `yes_dollars`: [price$, count]); then the legacy
    `yes` list in integer cents.  Sizes may be strings or numbers.  A missing side is empty.
    """
    raw = msg.get(f"{side}_dollars_fp")
    if raw is None:
        raw = msg.get(f"{side}_dollars")
    if raw is not None:
        return [(price_units(p), count_units(c)) for p, c in raw]
    raw = msg.get(side)
    if raw is None:
        return []
    return [(_legacy_cents(p), count_units(c)) for p, c in raw]


_PRICE_CACHE: dict[str, int] = {}  # price text -> units; bounded by the few thousand prices a grid has
_PRICE_CACHE_MAX = 100_000


def _cached_price(text: str) -> int:
    units = fixed_to_units(text, PRICE_PLACES)
    if len(_PRICE_CACHE) < _PRICE_CACHE_MAX:
        _PRICE_CACHE[text] = units
    return units


def delta_fields(msg: Mapping) -> tuple[bool, int, int]:
    """(is YES side, price units, signed size change units) of a WS delta, current or legacy shape.

    The current shape (`price_dollars` and `delta_fp` as text) takes a fast path: prices come from a
    cache of the grid's few thousand strings, and a 2-place size is one `replace` and one `int`.
    """
    price = msg.get("price_dollars")
    delta = msg.get("delta_fp")
    if type(price) is str and type(delta) is str:
        price_u = _PRICE_CACHE.get(price)
        if price_u is None:
            price_u = _cached_price(price)
        if len(delta) > 3 and delta[-3] == ".":
            delta_u = int(delta.replace(".", "", 1))
        else:
            delta_u = fixed_to_units(delta, COUNT_PLACES)
        side = msg["side"]
        if side == "yes":
            return True, price_u, delta_u
        if side == "no":
            return False, price_u, delta_u
    return _delta_fields_any(msg)


def _delta_fields_any(msg: Mapping) -> tuple[bool, int, int]:
    side = msg["side"]
    if side not in ("yes", "no"):
        raise BookDataError(f"unknown book side {side!r}")
    price = msg.get("price_dollars")
    price_u = _legacy_cents(msg["price"]) if price is None else price_units(price)
    delta = msg.get("delta_fp")
    delta_u = count_units(msg["delta"] if delta is None else delta)
    return side == "yes", price_u, delta_u


def _legacy_cents(value: Any) -> int:
    """Legacy integer (or fractional) cents to 1/10,000 $ units: 42 -> 4200."""
    if type(value) is int:
        return value * _CENT_UNITS
    return value_to_units(value, 2)


# ----------------------------------------------------------------------------------- price window
class PriceWindow:
    """Timestamped prices over a sliding time horizon, for volatility estimates.

    Prices are kept in units; `points()` hands out (datetime, float dollars) pairs, the shape
    `auto.pricing.realized_volatility` reads (a volatility is an estimate, not money).
    """

    __slots__ = ("horizon", "_items")

    def __init__(self, horizon: timedelta = timedelta(minutes=15), maxlen: int = 50_000):
        self.horizon = horizon
        self._items: deque[tuple[datetime, int]] = deque(maxlen=maxlen)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, ts: datetime, units: int) -> None:
        """Record a price; drops what fell out of the horizon as of `ts`."""
        items = self._items
        items.append((ts, units))
        cutoff = ts - self.horizon
        while items and items[0][0] < cutoff:
            items.popleft()

    @property
    def last(self) -> Decimal | None:
        return units_price(self._items[-1][1]) if self._items else None

    def points(self, since: datetime | None = None) -> list[tuple[datetime, float]]:
        return [(ts, u / PRICE_UNITS) for ts, u in self._items if since is None or ts >= since]

    def prices(self) -> list[tuple[datetime, Decimal]]:
        return [(ts, units_price(u)) for ts, u in self._items]

    def volatility(self, since: datetime | None = None) -> float | None:
        """Annualised realized volatility of the window's prices (None with too few points)."""
        from kalshi_trading.marketdata.stats import realized_volatility

        return realized_volatility(self.points(since))


# ----------------------------------------------------------------------------------- the book
class LocalBook:
    """Both sides of one market: `apply_snapshot`, then `apply_delta` (integer units) until stale."""

    __slots__ = ("ticker", "_yes", "_no", "_best_yes", "_best_no", "_live", "has_snapshot", "stale_reason",
                 "resync_wanted", "resyncs", "updated", "mids", "trades", "_last_mid")

    def __init__(self, ticker: str, window: timedelta = timedelta(minutes=15)):
        self.ticker = ticker
        self._yes: dict[int, int] = {}  # YES bids: YES price units -> size units
        self._no: dict[int, int] = {}  # NO bids: NO price units -> size units
        self._best_yes = 0  # 0 = empty side (no valid price is 0)
        self._best_no = 0
        self._live = False  # has a snapshot and is not stale: the one flag the hot path reads
        self.has_snapshot = False
        self.stale_reason: str | None = "no snapshot yet"
        self.resync_wanted = False
        self.resyncs = 0
        self.updated: datetime | None = None
        self.mids = PriceWindow(window)
        self.trades = PriceWindow(window)
        self._last_mid = -1

    def __repr__(self) -> str:
        state = "live" if self._live else f"stale: {self.stale_reason}"
        return f"LocalBook({self.ticker}, {len(self._yes)}+{len(self._no)} levels, {state})"

    # ---------------------------------------------------------------- writes
    def apply_snapshot(self, yes_levels: Iterable[tuple[int, int]], no_levels: Iterable[tuple[int, int]],
                       ts: datetime | None = None) -> bool:
        """Replace both sides (levels in units; sizes <= 0 dropped).  Returns True if this ended a resync."""
        self._yes = {p: s for p, s in yes_levels if s > 0}
        self._no = {p: s for p, s in no_levels if s > 0}
        self._best_yes = max(self._yes, default=0)
        self._best_no = max(self._no, default=0)
        was_resync = self.has_snapshot and not self._live
        if was_resync:
            self.resyncs += 1
        self.has_snapshot = True
        self._live = True
        self.stale_reason = None
        self.resync_wanted = False
        if ts is not None:
            self.updated = ts
        return was_resync

    def apply_delta(self, yes: bool, price: int, delta: int) -> bool:
        """Add `delta` size units at `price` units on one side; a level at or below zero goes.

        Returns False (and changes nothing) when the book is stale; a delta before any snapshot
        marks it stale.  A level driven below zero means we missed something: stale too.
        """
        if not self._live:
            if not self.has_snapshot:
                self.mark_stale("delta before snapshot")
            return False
        levels = self._yes if yes else self._no
        size = levels.get(price, 0) + delta
        if size > 0:
            levels[price] = size
            if yes:
                if price > self._best_yes:
                    self._best_yes = price
            elif price > self._best_no:
                self._best_no = price
            return True
        if price in levels:
            del levels[price]
            if yes:
                if price == self._best_yes:
                    self._best_yes = max(levels, default=0)
            elif price == self._best_no:
                self._best_no = max(levels, default=0)
        if size < 0:
            self.mark_stale("negative level")
            return False
        return True

    def apply_message(self, msg: Mapping) -> bool:
        """Apply a WS `orderbook_delta` payload (current or legacy shape, read by `delta_fields`); see `apply_delta`.
        Raises `BookDataError`/`ValueError`/`KeyError` for an unreadable message.  (The feed itself calls
        `delta_fields` and `apply_delta`, since its `BookUpdated` names the level changed.)"""
        return self.apply_delta(*delta_fields(msg))

    def mark_stale(self, reason: str) -> None:
        """Stop answering prices until a fresh snapshot; asks the feed for one."""
        if self._live or not self.has_snapshot:  # keep the first reason of a stale spell
            self.stale_reason = reason
        self._live = False
        self.resync_wanted = True

    def record_mid(self, ts: datetime) -> None:
        """Add the current mid to the `mids` window when it changed (a live two-sided book only)."""
        if self._live and self._best_yes and self._best_no:
            twice = self._best_yes + ONE_DOLLAR - self._best_no
            if twice != self._last_mid:
                self._last_mid = twice
                self.mids.add(ts, twice // 2)

    def record_trade(self, ts: datetime, yes_price_units: int) -> None:
        self.trades.add(ts, yes_price_units)

    # ---------------------------------------------------------------- integer reads (hot path)
    @property
    def stale(self) -> bool:
        return not self._live

    def top_units(self) -> tuple[int, int, int, int] | None:
        """(best bid, its size, best ask, its size) in units, 0s for an empty side; None when stale."""
        if not self._live:
            return None
        b, n = self._best_yes, self._best_no
        return (b, self._yes[b] if b else 0, ONE_DOLLAR - n if n else 0, self._no[n] if n else 0)

    @property
    def best_bid_units(self) -> int:
        """Best YES bid in units (0 = none).  Not guarded by `stale`: check it yourself."""
        return self._best_yes

    @property
    def best_ask_units(self) -> int:
        """Best YES ask in units (0 = none).  Not guarded by `stale`: check it yourself."""
        return ONE_DOLLAR - self._best_no if self._best_no else 0

    def size_at(self, yes: bool, price: int) -> int:
        """Size units resting at `price` units on one side (YES bids, or NO bids at NO prices); 0 when none.
        Not guarded by `stale`: check it yourself (a backtest's queue model reads its levels here)."""
        return (self._yes if yes else self._no).get(price, 0)

    def size_through(self, yes: bool, price: int) -> int:
        """Size units resting on one side at `price` or better (bids at or above it).  Not guarded by `stale`."""
        return sum(s for p, s in (self._yes if yes else self._no).items() if p >= price)

    def levels_units(self) -> tuple[dict[int, int], dict[int, int]]:
        """Copies of (YES bids, NO bids) in units, whatever the staleness (tests, diagnostics)."""
        return dict(self._yes), dict(self._no)

    # ---------------------------------------------------------------- Decimal reads (a BookView)
    @property
    def best_bid(self) -> Decimal | None:
        return units_price(self._best_yes) if self._live and self._best_yes else None

    @property
    def best_bid_size(self) -> Decimal | None:
        return units_count(self._yes[self._best_yes]) if self._live and self._best_yes else None

    @property
    def best_ask(self) -> Decimal | None:
        return units_price(ONE_DOLLAR - self._best_no) if self._live and self._best_no else None

    @property
    def best_ask_size(self) -> Decimal | None:
        return units_count(self._no[self._best_no]) if self._live and self._best_no else None

    @property
    def mid(self) -> Decimal | None:
        if not (self._live and self._best_yes and self._best_no):
            return None
        return units_price(self._best_yes + ONE_DOLLAR - self._best_no) / 2

    @property
    def spread(self) -> Decimal | None:
        if not (self._live and self._best_yes and self._best_no):
            return None
        return units_price(ONE_DOLLAR - self._best_no - self._best_yes)

    def yes_bids(self, n: int | None = None) -> tuple[PriceLevel, ...]:
        """YES bids, best (highest) first; empty when stale."""
        if not self._live:
            return ()
        levels = self._yes
        return tuple(PriceLevel(units_price(p), units_count(levels[p])) for p in _best_first(levels, self._best_yes, n))

    def yes_asks(self, n: int | None = None) -> tuple[PriceLevel, ...]:
        """NO bids seen as YES asks at 1 - price, best (lowest) first; empty when stale."""
        if not self._live:
            return ()
        levels = self._no
        return tuple(PriceLevel(units_price(ONE_DOLLAR - p), units_count(levels[p]))
                     for p in _best_first(levels, self._best_no, n))

    def depth(self, n: int) -> tuple[tuple[PriceLevel, ...], tuple[PriceLevel, ...]]:
        """Up to `n` levels a side: (YES bids best-first, YES asks best-first)."""
        return self.yes_bids(n), self.yes_asks(n)

    def total_size(self) -> tuple[Decimal, Decimal]:
        """(all YES bid size, all YES ask size) in contracts."""
        return units_count(sum(self._yes.values())), units_count(sum(self._no.values()))

    def to_orderbook(self) -> OrderBook:
        """The REST-shaped domain book (YES bids and NO bids, best first); empty when stale."""
        if not self._live:
            return OrderBook(self.ticker, (), ())
        no = tuple(PriceLevel(units_price(p), units_count(self._no[p])) for p in sorted(self._no, reverse=True))
        return OrderBook(self.ticker, self.yes_bids(), no)

    @classmethod
    def from_orderbook(cls, book: OrderBook, ts: datetime | None = None) -> "LocalBook":
        local = cls(book.ticker)
        local.apply_snapshot(*orderbook_units(book), ts=ts)
        return local


def orderbook_units(book: OrderBook) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A domain `OrderBook` (REST) as ([(YES price u, size u)], [(NO price u, size u)])."""
    return ([(price_units(lvl.price), count_units(lvl.count)) for lvl in book.yes_bids],
            [(price_units(lvl.price), count_units(lvl.count)) for lvl in book.no_bids])


def levels_equal(book: LocalBook, yes: Sequence[tuple[int, int]], no: Sequence[tuple[int, int]]) -> bool:
    """Whether the book holds exactly these levels (sizes <= 0 ignored)."""
    mine_yes, mine_no = book.levels_units()
    return mine_yes == {p: s for p, s in yes if s > 0} and mine_no == {p: s for p, s in no if s > 0}
