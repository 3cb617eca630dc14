"""What an order does to cash, position and risk: one pure function, the rule the exchange applies.

Cash here is *available* cash, the figure `GET /portfolio/balance` reports: total cash minus what resting
orders hold as collateral.  The rule (reference section 8 and the simulator's ledger):

- Kalshi nets one signed position per market (+YES / -NO).  Every execution of `c` contracts at YES price
  `q` has a leg price: `q` for a bid (buy YES / sell NO), `1 - q` for an ask (sell YES / buy NO).
- The part of `c` that meets an opposite position (NO held for a bid, YES held for an ask) *closes* it and
  pays `1 - leg` per contract (selling YES you hold at `q` pays `q`; buying YES while holding NO releases the
  NO's `1 - q`).  Contracts of that opposite position already promised to your own resting orders on the
  same side cannot be closed again: those orders cover first.
- The rest *opens* exposure and costs `leg` per contract (selling YES from flat costs `1 - q`: it is buying NO).
- Each execution pays its fee, rounded up to $0.0001: the taker rate when the order takes liquidity now,
  the maker rate when its resting remainder is filled later.
- A resting remainder holds `leg x uncovered + taker fee(uncovered)` at its limit price, where `uncovered`
  is the part no opposite position covers; that hold leaves available cash until the order fills or ends.

Everything is `Decimal`, exact; nothing here does I/O.  Fees are computed per price level: the exchange
charges them per execution (per resting order met), so a level made of several orders can cost up to $0.0001
per extra order more than shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from kalshi_trading.models import BookSide, PriceLevel, TimeInForce
from kalshi_trading.money import ONE, ZERO, trading_fee


@dataclass(frozen=True)
class FeeRates:
    """The quadratic fee coefficients of one market: takers, and makers (often 0)."""

    taker: Decimal
    maker: Decimal


@dataclass(frozen=True)
class AccountState:
    """What the account holds in the market before the order."""

    balance: Decimal  # available cash, as GET /portfolio/balance reports it
    position: Decimal  # signed: + YES, - NO
    committed: Decimal = ZERO  # of the opposite position, already covering own resting orders on this side


@dataclass(frozen=True)
class OrderTerms:
    """The order as the exchange sees it: a bid or an ask at a YES limit price."""

    book_side: BookSide
    count: Decimal
    yes_price: Decimal
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False


@dataclass(frozen=True)
class Execution:
    """One fill of the order (or of its resting remainder) and what it does to cash."""

    count: Decimal
    yes_price: Decimal
    is_taker: bool
    fee: Decimal
    closing: Decimal  # contracts that close an opposite position
    leg: Decimal  # price paid per contract on the order's leg

    @property
    def opening(self) -> Decimal:
        return self.count - self.closing

    @property
    def cash(self) -> Decimal:
        """Signed change in cash: closing proceeds, minus the cost of what it opens, minus the fee."""
        return self.closing * (ONE - self.leg) - self.opening * self.leg - self.fee

    @property
    def at_risk(self) -> Decimal:
        """What this fill can still lose at settlement: the contracts it opens may expire worthless."""
        return self.opening * self.leg + self.fee


@dataclass(frozen=True)
class OrderEffects:
    """The order's effect on the account: right after it is placed, and once all of it has filled."""

    book_side: BookSide
    count: Decimal  # after a reduce-only cap
    executions: tuple[Execution, ...]  # taker fills against the book as it stands
    resting: Decimal  # left on the book (GTC)
    unfilled: Decimal  # cancelled at once (IOC / FoK remainder, self-trade prevention)
    held: Decimal  # collateral the resting remainder holds
    required: Decimal  # available cash the exchange asks for when the order arrives
    cash_before: Decimal
    cash_now: Decimal  # available cash right after placing
    position_before: Decimal
    position_now: Decimal
    maker_fill: Execution | None  # the resting remainder filled at its limit, as a maker
    self_trade: bool = False  # the order would meet one of the account's own resting orders

    @property
    def filled_now(self) -> Decimal:
        return sum((e.count for e in self.executions), ZERO)

    @property
    def taker_fee(self) -> Decimal:
        return sum((e.fee for e in self.executions), ZERO)

    @property
    def maker_fee(self) -> Decimal:
        return self.maker_fill.fee if self.maker_fill is not None else ZERO

    @property
    def final_executions(self) -> tuple[Execution, ...]:
        return self.executions + ((self.maker_fill,) if self.maker_fill is not None else ())

    @property
    def fees(self) -> Decimal:
        """Every fee, if all of the order that can fill does."""
        return self.taker_fee + self.maker_fee

    @property
    def cash_if_filled(self) -> Decimal:
        """Available cash once the whole order has filled (resting part at its limit); no hold remains."""
        return self.cash_before + sum((e.cash for e in self.final_executions), ZERO)

    @property
    def position_if_filled(self) -> Decimal:
        filled = sum((e.count for e in self.final_executions), ZERO)
        return self.position_before + (filled if self.book_side is BookSide.BID else -filled)

    @property
    def max_loss(self) -> Decimal:
        """The most the order can cost at settlement: what it pays for the contracts it opens, plus fees."""
        return sum((e.at_risk for e in self.final_executions), ZERO)

    @property
    def insufficient(self) -> bool:
        """The exchange would refuse the order for want of available cash."""
        return self.required > self.cash_before


def order_effects(state: AccountState, terms: OrderTerms, book: Sequence[PriceLevel], rates: FeeRates,
                  own_cross: Decimal | None = None) -> OrderEffects:
    """The order's effects, exactly as the exchange books them.

    `book` is the opposite side at YES prices, best first (asks ascending for a bid, bids descending for an
    ask).  `own_cross` is the best price of the account's own resting orders on that side, if any: meeting
    one cancels the incoming order there (self-trade prevention `taker_at_cross`)."""
    bid = terms.book_side is BookSide.BID
    opposite = max(-state.position, ZERO) if bid else max(state.position, ZERO)
    free = max(opposite - state.committed, ZERO)
    count = min(terms.count, free) if terms.reduce_only else terms.count
    covered = min(count, free)
    levels, meets_own = _crossing(book, terms, own_cross)
    fills = _walk(levels, count)
    if terms.time_in_force is TimeInForce.FOK and sum((c for c, _ in fills), ZERO) < count:
        fills = []
    executions: list[Execution] = []
    closable = covered
    for fill_count, price in fills:
        execution = _execution(terms.book_side, fill_count, price, rates.taker, True, closable)
        closable -= execution.closing
        executions.append(execution)
    filled = sum((e.count for e in executions), ZERO)
    rest = count - filled
    self_trade = meets_own and rest > 0
    resting = rest if terms.time_in_force is TimeInForce.GTC and not self_trade else ZERO
    held = _hold(terms.book_side, resting - min(resting, closable), terms.yes_price, rates.taker)
    sign = 1 if bid else -1
    maker = None
    if resting > 0:
        maker = _execution(terms.book_side, resting, terms.yes_price, rates.maker, False, closable)
    return OrderEffects(
        book_side=terms.book_side, count=count, executions=tuple(executions), resting=resting,
        unfilled=rest - resting, held=held,
        required=_hold(terms.book_side, count - covered, terms.yes_price, rates.taker),
        cash_before=state.balance,
        cash_now=state.balance + sum((e.cash for e in executions), ZERO) - held,
        position_before=state.position, position_now=state.position + sign * filled,
        maker_fill=maker, self_trade=self_trade,
    )


def coverage(opposite: Decimal, remaining: Iterable[Decimal]) -> list[Decimal]:
    """How much of an opposite position each resting order on one side covers, oldest order first."""
    left, out = max(opposite, ZERO), []
    for count in remaining:
        take = min(count, left)
        out.append(take)
        left -= take
    return out


def hold_for(book_side: BookSide, uncovered: Decimal, yes_price: Decimal, taker_rate: Decimal) -> Decimal:
    """Collateral a resting order holds for its uncovered remainder (public for amend previews)."""
    return _hold(book_side, uncovered, yes_price, taker_rate)


def _hold(book_side: BookSide, uncovered: Decimal, yes_price: Decimal, taker_rate: Decimal) -> Decimal:
    if uncovered <= 0:
        return ZERO
    leg = yes_price if book_side is BookSide.BID else ONE - yes_price
    return leg * uncovered + trading_fee(uncovered, yes_price, taker_rate)


def _crossing(book: Sequence[PriceLevel], terms: OrderTerms,
              own_cross: Decimal | None) -> tuple[list[PriceLevel], bool]:
    """The levels the order can take, stopping before an own resting order (where it is cancelled)."""
    bid = terms.book_side is BookSide.BID
    out: list[PriceLevel] = []
    for level in book:
        if (level.price > terms.yes_price) if bid else (level.price < terms.yes_price):
            break
        if own_cross is not None and ((level.price >= own_cross) if bid else (level.price <= own_cross)):
            return out, True
        out.append(level)
    return out, False


def _walk(levels: Iterable[PriceLevel], count: Decimal) -> list[tuple[Decimal, Decimal]]:
    fills: list[tuple[Decimal, Decimal]] = []
    need = count
    for level in levels:
        if need <= 0:
            break
        take = min(need, level.count)
        if take > 0:
            fills.append((take, level.price))
            need -= take
    return fills


def _execution(book_side: BookSide, count: Decimal, yes_price: Decimal, rate: Decimal, is_taker: bool,
               closable: Decimal) -> Execution:
    leg = yes_price if book_side is BookSide.BID else ONE - yes_price
    return Execution(count=count, yes_price=yes_price, is_taker=is_taker, fee=trading_fee(count, yes_price, rate),
                     closing=min(count, max(closable, ZERO)), leg=leg)
