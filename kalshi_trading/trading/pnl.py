"""Realized and unrealized P&L by lots, exact and fast.  Pure: no I/O.

Kalshi nets one signed position per market (+YES / -NO).  A fill with `book_side == "bid"` bought YES at
`yes_price` (+count); `"ask"` sold YES at `yes_price` (-count), which is the same as buying NO at `1 - yes_price`.
So a fill against the held side closes lots; a fill with the held side (or on a flat book) opens one; a fill larger
than the position closes everything and opens the remainder on the other side (a flip).

Lots are kept per side of the contract actually held: a YES lot costs `yes_price` per contract, a NO lot costs
`no_price`.  Closing YES lots disposes of them at the fill's `yes_price`; closing NO lots (a YES buy) disposes of
them at its `no_price`.  Realized P&L is gross (proceeds - cost, fees excluded), as the exchange reports it; fees
are summed separately and `net_pnl = realized_pnl - fees_paid`.

Arithmetic: the hot path is integers only.  Prices are 1/10,000 $, counts 1/100 contract, money 1e-6 $ (a price unit
times a count unit, so price x count is exact).  `Decimal` appears only at the edges: on the way in (with a per-book
cache, since prices and counts repeat) and in the reports.

Methods: "fifo" closes the oldest lot first.  "avg" keeps one pooled lot per position; closing part of it removes
`cost x closed / held` of its basis, floored to $0.000001, and the remainder stays in the open basis, so a position
closed in full always recovers its exact cost and FIFO and AVG agree once the book is flat.

Fee allocation (for the lot-by-lot tax export): each fill's fee is split pro rata by count between the part that
closes lots and the part that opens a new one; the closing part is split pro rata over the lots it closes, and a
lot's opening fee travels with the lot and is split pro rata when the lot is partly closed.  Each split is floored
to $0.000001 with the remainder going to the last piece, so the fees of closed lots plus the fees still attached to
open lots always add up exactly to the fees paid.  A settlement's `fee_cost` reports fees the position already
paid on its fills, so it is not added again; only when lots are made from the settlement itself (no fills) does it
count, split over those lots the same way.
`ClosedLot.gain = proceeds - cost - fees` (what a tax preparer wants); `realized_pnl` stays gross.

Settlement closes whatever is still open: a winning contract is disposed of at $1, a losing one at $0, a scalar
market at `value` (dollars per YES contract; NO gets `1 - value`), and a void market at its cost (gain 0).  If the
book holds nothing for the market but the settlement carries counts and costs (fills from before our records
began), lots are made from the settlement's own `yes_count`/`yes_total_cost` (or NO) with an unknown acquired time.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Iterable

from kalshi_trading.models import Fill, Settlement
from kalshi_trading.money import COUNT_UNITS, ONE, PRICE_UNITS, ZERO, MoneyError

log = logging.getLogger(__name__)

MONEY_UNITS = PRICE_UNITS * COUNT_UNITS  # 1e-6 $
METHODS = ("fifo", "avg")
_CACHE_LIMIT = 100_000  # per-book conversion caches stop growing here (bounded memory on odd input)
_FAR_PAST = datetime.min.replace(tzinfo=None)


@dataclass(frozen=True, slots=True)  # slots: a big report holds ~one of these per fill
class ClosedLot:
    """A disposed lot (or part of one): one row of a tax export.  `gain = proceeds - cost - fees`."""

    ticker: str
    side: str  # "yes" | "no": the contract that was held
    count: Decimal
    acquired_time: datetime | None
    disposed_time: datetime | None
    cost: Decimal
    proceeds: Decimal
    fees: Decimal
    gain: Decimal


@dataclass(frozen=True, slots=True)
class OpenLot:
    ticker: str
    side: str
    count: Decimal
    acquired_time: datetime | None
    cost: Decimal
    fees: Decimal  # opening fees still attached to the lot


@dataclass(frozen=True)
class TickerPnl:
    ticker: str
    position: Decimal  # signed: + YES, - NO
    cost_basis: Decimal  # of the open lots, fees excluded
    realized_pnl: Decimal  # gross: proceeds - cost of closed contracts (settlement included)
    fees_paid: Decimal  # trading fees (from fills; from the settlement only when no fills explain it)
    closed_lots: tuple[ClosedLot, ...] = ()
    open_lots: tuple[OpenLot, ...] = ()
    settled_result: str | None = None

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees_paid


@dataclass(frozen=True)
class PnlReport:
    method: str
    tickers: tuple[TickerPnl, ...]  # sorted by ticker

    @property
    def realized_pnl(self) -> Decimal:
        return sum((t.realized_pnl for t in self.tickers), ZERO)

    @property
    def fees_paid(self) -> Decimal:
        return sum((t.fees_paid for t in self.tickers), ZERO)

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees_paid

    @property
    def cost_basis(self) -> Decimal:
        return sum((t.cost_basis for t in self.tickers), ZERO)

    @property
    def closed_lots(self) -> tuple[ClosedLot, ...]:
        return tuple(lot for t in self.tickers for lot in t.closed_lots)

    def get(self, ticker: str) -> TickerPnl | None:
        for t in self.tickers:
            if t.ticker == ticker:
                return t
        return None


@dataclass(frozen=True)
class BookCarry:
    """One market's lot state in exact integer units (count 1/100 contract, money 1e-6 $): the signed position,
    the open lots `(count, cost, acquired_time, fee)` oldest first, gross realized P&L and fees paid.  Lets a book
    go on without the fills that made it (the bot prunes old fills from its state and keeps this instead)."""

    ticker: str
    position: int
    lots: tuple[tuple[int, int, datetime | None, int], ...]
    realized: int
    fees: int


def market_value(position: Decimal, mark_yes_price: Decimal) -> Decimal:
    """What an open position is worth at a YES mark: long YES `mark x position`, long NO `(1 - mark) x |position|`."""
    if position >= 0:
        return mark_yes_price * position
    return (ONE - mark_yes_price) * -position


def unrealized(position: Decimal, cost_basis: Decimal, mark_yes_price: Decimal) -> Decimal:
    """Mark-to-market gain of an open position: its market value less `cost_basis`."""
    return market_value(position, mark_yes_price) - cost_basis


def money(units: int) -> Decimal:
    """1e-6 $ integer units to a Decimal with six places (`0.017500`)."""
    return Decimal(units).scaleb(-6)  # exact, and always six places (even 0.000000)


def count_of(units: int) -> Decimal:
    return Decimal(units).scaleb(-2)


def _to_units(value: Decimal, scale: int, what: str) -> int:
    scaled = value * scale
    units = int(scaled)
    if units != scaled:
        raise MoneyError(f"{what} {value} is finer than 1/{scale}")
    return units


class _Book:
    """One market's mutable lot state.  Lots are (count, cost, acquired_time, fee) tuples in integer units;
    a partly closed lot is replaced at the head of the deque (tuples are cheaper to make than lists)."""

    __slots__ = ("ticker", "pos", "lots", "fees", "realized", "closed", "settled")

    def __init__(self, ticker: str):
        self.ticker = ticker
        self.pos = 0  # signed count units
        self.lots: deque[tuple] = deque()
        self.fees = 0
        self.realized = 0
        self.closed: list[tuple] = []  # (side, count, acquired, disposed, cost, proceeds, fees)
        self.settled: str | None = None


class LotBook:
    """Streaming lot accounting over many markets.  Feed fills oldest first, then settlements."""

    def __init__(self, method: str = "fifo", *, keep_lots: bool = True):
        if method not in METHODS:
            raise ValueError(f"unknown P&L method {method!r}; use one of {METHODS}")
        self.method = method
        self.keep_lots = keep_lots
        self._books: dict[str, _Book] = {}
        self._prices: dict[Decimal, int] = {}
        self._counts: dict[Decimal, int] = {}
        self._fees: dict[Decimal, int] = {}

    # -- input -----------------------------------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> None:
        self.apply_fills((fill,))

    def apply_fills(self, fills: Iterable[Fill]) -> None:
        """Apply fills in the order given (oldest first).  This loop is the hot path: integers only."""
        books, prices, counts, fee_cache = self._books, self._prices, self._counts, self._fees
        pooled = self.method == "avg"
        keep = self.keep_lots
        close = self._close_and_flip
        for f in fills:
            y = prices.get(f.yes_price)
            if y is None:
                y = self._price_units(f.yes_price)
            n = counts.get(f.count)
            if n is None:
                n = self._count_units(f.count)
            fee = fee_cache.get(f.fee)
            if fee is None:
                fee = self._money_units(f.fee)
            side = f.book_side
            if side == "bid":
                d = n
            elif side == "ask":
                d = -n
            else:
                raise ValueError(f"fill {f.fill_id}: book_side {side!r} is neither bid nor ask")
            book = books.get(f.ticker)
            if book is None:
                book = books[f.ticker] = _Book(f.ticker)
            book.fees += fee
            pos = book.pos
            if pos == 0 or (pos > 0) is (d > 0):
                # Opening (the common half): inlined rather than a call, for speed.
                cost = y * d if d > 0 else (PRICE_UNITS - y) * n
                lots = book.lots
                if pooled and lots:
                    c0, b0, t0, f0 = lots[0]
                    lots[0] = (c0 + n, b0 + cost, t0, f0 + fee)
                else:
                    lots.append((n, cost, f.created_time, fee))
                book.pos = pos + d
                continue
            # Closing.  Fast path, inlined: the front lot covers the whole fill (no flip, one lot touched).
            lot = book.lots[0]
            r = lot[0]
            if n > r:
                close(book, d, y, fee, f.created_time)
                continue
            if pos > 0:
                disposed, held = y * n, "yes"
            else:
                disposed, held = (PRICE_UNITS - y) * n, "no"
            if n == r:
                book.lots.popleft()
                cost, lot_fee = lot[1], lot[3]
            else:
                cost = lot[1] * n // r  # exact for FIFO (cost = price x r); floored for AVG
                lot_fee = lot[3] * n // r
                book.lots[0] = (r - n, lot[1] - cost, lot[2], lot[3] - lot_fee)
            book.realized += disposed - cost
            book.pos = pos + d
            if keep:
                book.closed.append((held, n, lot[2], f.created_time, cost, disposed, lot_fee + fee))

    def apply_units(self, ticker: str, signed_count: int, yes_price: int, fee: int, time: datetime | None) -> None:
        """The integer entry point: count in 1/100 contract (+ bought YES), price in 1/10,000 $, fee in 1e-6 $."""
        if signed_count == 0 or not 0 <= yes_price <= PRICE_UNITS or fee < 0:
            raise MoneyError(f"{ticker}: bad fill units count={signed_count} price={yes_price} fee={fee}")
        book = self._books.get(ticker)
        if book is None:
            book = self._books[ticker] = _Book(ticker)
        self._apply_units(book, signed_count, yes_price, fee, time)

    def _apply_units(self, book: _Book, d: int, y: int, fee: int, t: datetime | None) -> None:
        book.fees += fee
        pos = book.pos
        if pos == 0 or (pos > 0) is (d > 0):
            self._open(book, d, y, fee, t)
            book.pos = pos + d
        else:
            self._close_and_flip(book, d, y, fee, t)

    def _close_and_flip(self, book: _Book, d: int, y: int, fee: int, t: datetime | None) -> None:
        """A fill against the held side: close lots, and open the remainder on the other side if it flips."""
        pos = book.pos
        # Closing YES lots sells them at the YES price; closing NO lots (a YES buy) sells NO at 1 - YES price.
        if pos > 0:
            n, held, disposed = -d, pos, y
        else:
            n, held, disposed = d, -pos, PRICE_UNITS - y
        if n <= held:
            self._close(book, n, disposed, fee, t)
            book.pos = pos + d
            return
        close_fee = fee * held // n
        self._close(book, held, disposed, close_fee, t)
        book.pos = pos + d
        # Flip: the remainder opens a lot on the other side (the book is empty now, so AVG and FIFO agree).
        rest = n - held
        book.lots.append((rest, (PRICE_UNITS - disposed) * rest, t, fee - close_fee))

    def _open(self, book: _Book, d: int, y: int, fee: int, t: datetime | None) -> None:
        if d > 0:
            n, cost = d, y * d
        else:
            n, cost = -d, (PRICE_UNITS - y) * -d
        lots = book.lots
        if self.method == "avg" and lots:
            c0, b0, t0, f0 = lots[0]
            lots[0] = (c0 + n, b0 + cost, t0, f0 + fee)
        else:
            lots.append((n, cost, t, fee))

    def _close(self, book: _Book, q: int, disposed: int, fee: int, t: datetime | None) -> None:
        """Close `q` units from the front of the book, each disposed of at `disposed` per contract."""
        lots = book.lots
        closed = book.closed if self.keep_lots else None
        side = "yes" if book.pos > 0 else "no"
        realized = 0
        while q:
            lot = lots[0]
            r = lot[0]
            if r <= q:
                lots.popleft()
                take, cost, lot_fee = r, lot[1], lot[3]
            else:
                take = q
                cost = lot[1] * take // r  # exact for FIFO (cost = price x r); floored for AVG
                lot_fee = lot[3] * take // r
                lots[0] = (r - take, lot[1] - cost, lot[2], lot[3] - lot_fee)
            if take == q:
                close_fee = fee
            else:
                close_fee = fee * take // q
                fee -= close_fee
            q -= take
            proceeds = disposed * take
            realized += proceeds - cost
            if closed is not None:
                closed.append((side, take, lot[2], t, cost, proceeds, lot_fee + close_fee))
        book.realized += realized

    def apply_settlement(self, settlement: Settlement) -> None:
        """Close the market's remaining lots at the settlement payout; the position is flat afterwards."""
        book = self._books.get(settlement.ticker)
        if book is None:
            book = self._books[settlement.ticker] = _Book(settlement.ticker)
        # Fees are charged on fills only (reference section 8); a settlement's `fee_cost` reports the fees the
        # position already paid.  Count it only when no fills explain the position (lots made from the settlement).
        fee = 0
        if book.pos == 0:
            fee = self._money_units(settlement.fee)
            book.fees += fee
            self._lots_from_settlement(book, settlement)
        else:
            expected = self._count_units(settlement.yes_count) - self._count_units(settlement.no_count)
            if expected and expected != book.pos:
                log.warning("%s: settlement position %s differs from the fills' %s; using the fills",
                            settlement.ticker, count_of(expected), count_of(book.pos))
        result = settlement.market_result
        held = book.pos if book.pos > 0 else -book.pos
        if held:
            yes_held = book.pos > 0
            if result == "void":
                self._settle_void(book, held, fee, settlement.settled_time)
            else:
                self._close(book, held, self._payout(settlement, yes_held), fee, settlement.settled_time)
            book.pos = 0
        book.settled = result

    def _payout(self, s: Settlement, yes_held: bool) -> int:
        """Price units per contract of the held side."""
        if s.market_result == "yes":
            yes_pays = PRICE_UNITS
        elif s.market_result == "no":
            yes_pays = 0
        elif s.market_result == "scalar" and s.value is not None:
            yes_pays = self._price_units(s.value)
        else:
            raise MoneyError(f"{s.ticker}: cannot settle market_result {s.market_result!r} (value {s.value})")
        return yes_pays if yes_held else PRICE_UNITS - yes_pays

    def _settle_void(self, book: _Book, held: int, fee: int, t: datetime | None) -> None:
        # A void refunds cost: each lot is disposed of at exactly its cost, so the gain is zero (less fees).
        side = "yes" if book.pos > 0 else "no"
        for count, cost, acquired, lot_fee in book.lots:
            share = fee if count == held else fee * count // held
            fee -= share
            held -= count
            if self.keep_lots:
                book.closed.append((side, count, acquired, t, cost, cost, lot_fee + share))
        book.lots.clear()

    def _lots_from_settlement(self, book: _Book, s: Settlement) -> None:
        yes = self._count_units(s.yes_count)
        no = self._count_units(s.no_count)
        if yes and no:
            log.warning("%s: settlement holds both YES and NO; settling the net", s.ticker)
        if yes > no:
            book.lots.append((yes - no, self._money_units(s.yes_total_cost) * (yes - no) // yes, None, 0))
            book.pos = yes - no
        elif no > yes:
            book.lots.append((no - yes, self._money_units(s.no_total_cost) * (no - yes) // no, None, 0))
            book.pos = yes - no

    # -- conversions (cached per book: prices and counts repeat) ------------------------------------------------

    def _price_units(self, price: Decimal) -> int:
        units = _to_units(price, PRICE_UNITS, "price")
        if not 0 <= units <= PRICE_UNITS:
            raise MoneyError(f"price {price} is outside $0..$1")
        if len(self._prices) < _CACHE_LIMIT:
            self._prices[price] = units
        return units

    def _count_units(self, count: Decimal) -> int:
        units = _to_units(count, COUNT_UNITS, "count")
        if units < 0:
            raise MoneyError(f"count {count} is negative")
        if len(self._counts) < _CACHE_LIMIT:
            self._counts[count] = units
        return units

    def _money_units(self, amount: Decimal) -> int:
        units = _to_units(amount, MONEY_UNITS, "amount")
        if len(self._fees) < _CACHE_LIMIT:
            self._fees[amount] = units
        return units

    # -- carrying a book on without its fills ------------------------------------------------------------------

    def carry(self, ticker: str) -> BookCarry:
        """The market's lot state in exact units: what `resume` needs to go on without the fills that made it."""
        book = self._books.get(ticker) or _Book(ticker)
        return BookCarry(ticker, book.pos, tuple(book.lots), book.realized, book.fees)

    def resume(self, carry: BookCarry) -> None:
        """Replace the market's book with a carried state (closed lots are not carried)."""
        if len(carry.lots) > 1 and self.method == "avg":
            raise ValueError(f"{carry.ticker}: an average-cost book holds one pooled lot, not {len(carry.lots)}")
        held = sum(lot[0] for lot in carry.lots)
        if held != abs(carry.position):
            raise MoneyError(f"{carry.ticker}: carried lots hold {held} units for a position of {carry.position}")
        book = self._books[carry.ticker] = _Book(carry.ticker)
        book.pos = carry.position
        book.lots.extend(carry.lots)
        book.realized = carry.realized
        book.fees = carry.fees

    # -- output ----------------------------------------------------------------------------------------------

    def tickers(self) -> list[str]:
        return sorted(self._books)

    def realized_units(self) -> int:
        """Total gross realized P&L in 1e-6 $ (cheap: no Decimal)."""
        return sum(b.realized for b in self._books.values())

    def ticker_pnl(self, ticker: str, *, with_lots: bool = True) -> TickerPnl:
        book = self._books.get(ticker) or _Book(ticker)
        side = "yes" if book.pos > 0 else "no"
        closed: tuple[ClosedLot, ...] = ()
        opened: tuple[OpenLot, ...] = ()
        if with_lots:
            counts: dict[int, Decimal] = {}  # counts repeat; Decimal(units).scaleb(-6) is exact money
            closed = tuple([
                ClosedLot(ticker, s, counts.get(n) or counts.setdefault(n, count_of(n)), acq, disp,
                          Decimal(c).scaleb(-6), Decimal(p).scaleb(-6), Decimal(f).scaleb(-6),
                          Decimal(p - c - f).scaleb(-6))
                for s, n, acq, disp, c, p, f in book.closed
            ])
            opened = tuple(OpenLot(ticker, side, count_of(n), acq, money(c), money(f)) for n, c, acq, f in book.lots)
        return TickerPnl(
            ticker=ticker,
            position=count_of(book.pos),
            cost_basis=money(sum(lot[1] for lot in book.lots)),
            realized_pnl=money(book.realized),
            fees_paid=money(book.fees),
            closed_lots=closed,
            open_lots=opened,
            settled_result=book.settled,
        )

    def report(self, *, with_lots: bool = True) -> PnlReport:
        return PnlReport(self.method, tuple(self.ticker_pnl(t, with_lots=with_lots) for t in self.tickers()))


def _fill_time(fill: Fill) -> tuple:
    t = fill.created_time
    return (0, _FAR_PAST) if t is None else (1, t)


def compute_pnl(
    fills: Iterable[Fill],
    settlements: Iterable[Settlement] = (),
    method: str = "fifo",
    *,
    with_lots: bool = True,
    presorted: bool = False,
) -> PnlReport:
    """P&L of `fills` (sorted oldest first unless `presorted`) then `settlements` (by settled time)."""
    book = LotBook(method, keep_lots=with_lots)
    if not presorted:
        fills = list(fills)
        try:
            fills = sorted(fills, key=attrgetter("created_time"))  # fast path: every fill has a time
        except TypeError:  # some times are unknown: those go first (stable: ties keep input order)
            fills = sorted(fills, key=_fill_time)
    book.apply_fills(fills)
    for s in sorted(settlements, key=lambda s: (s.settled_time is not None, s.settled_time or _FAR_PAST)):
        book.apply_settlement(s)
    return book.report(with_lots=with_lots)
