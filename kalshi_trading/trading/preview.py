"""Previews of orders and amends: the book, the account and the fee schedule read once, then `order_effects`.

Cash in a preview is available cash, the figure `GET /portfolio/balance` reports (and `kalshi balance` shows):
what the account could spend now, after the collateral its resting orders hold.  A preview shows it right
after the order is placed (fills against the book as it stands, the rest held or cancelled) and once the
whole order has filled, so every figure can be checked against the balance afterwards.

How much of a position covers each of the account's own resting orders is not on the wire; it is taken
oldest order first, which is what the exchange does for orders placed while the position was held.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable

from kalshi_trading.models import (
    Action,
    BookSide,
    Market,
    Order,
    OrderBook,
    PriceLevel,
    Side,
    TimeInForce,
)
from kalshi_trading.money import ONE, ZERO, fee_rate
from kalshi_trading.trading.fees import FeeSchedule
from kalshi_trading.trading.order_effects import (
    AccountState,
    FeeRates,
    OrderEffects,
    OrderTerms,
    coverage,
    hold_for,
    order_effects,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderPreview:
    """What an order would do, shown before it is sent.  `*_after` figures are for the whole order filled."""

    env: str
    ticker: str
    title: str
    side: Side
    action: Action
    count: Decimal
    price: Decimal  # on the trader's contract
    yes_price: Decimal
    book_side: BookSide
    time_in_force: TimeInForce
    notional: Decimal
    would_cross: bool
    fee_kind: str  # taker | maker | taker + maker
    estimated_fee: Decimal
    max_loss: Decimal
    position_before: Decimal
    position_after: Decimal
    cash_before: Decimal
    cash_after: Decimal
    post_only: bool = False
    reduce_only: bool = False
    expiration: datetime | None = None
    effects: OrderEffects | None = None
    best_price: Decimal | None = None  # the best opposite quote, on the trader's contract

    @property
    def cash_now(self) -> Decimal:
        """Available cash right after the order is placed."""
        return self.effects.cash_now if self.effects is not None else self.cash_before

    @property
    def position_now(self) -> Decimal:
        return self.effects.position_now if self.effects is not None else self.position_before


@dataclass(frozen=True)
class AmendPreview:
    """What an amend would do: the order before and after, and its effects on the account."""

    env: str
    ticker: str
    title: str
    order_id: str
    side: Side  # the contract the order was placed on (YES for orders placed elsewhere)
    action: Action
    book_side: BookSide
    filled: Decimal
    old_price: Decimal  # on the order's contract
    new_price: Decimal
    old_remaining: Decimal
    new_remaining: Decimal
    would_cross: bool
    best_price: Decimal | None  # the best opposite quote, on the order's contract
    requeued: bool  # leaves its place in the queue (new price or larger size)
    cash_before: Decimal
    effects: OrderEffects

    @property
    def yes_price(self) -> Decimal:
        return to_contract(self.side, self.new_price)


def to_contract(side: Side, yes_price: Decimal) -> Decimal:
    """A YES price on the trader's contract (NO at 1 - p); the mapping is its own inverse."""
    return yes_price if side is Side.YES else ONE - yes_price


def action_of(side: Side, book_side: BookSide) -> Action:
    """bid = buy YES / sell NO; ask = sell YES / buy NO."""
    return Action.BUY if (book_side is BookSide.BID) == (side is Side.YES) else Action.SELL


def opposite_levels(book: OrderBook, book_side: BookSide) -> tuple[PriceLevel, ...]:
    """What an order on `book_side` can take: asks (lowest first) for a bid, bids (highest first) for an ask."""
    return book.yes_asks if book_side is BookSide.BID else book.yes_bids


def crosses(book_side: BookSide, yes_price: Decimal, best: Decimal | None) -> bool:
    if best is None:
        return False
    return best <= yes_price if book_side is BookSide.BID else best >= yes_price


class Previewer:
    """Reads what a preview needs (book, balance, position, own resting orders, fees) and computes it."""

    def __init__(self, client, fees: FeeSchedule, env: str, clock: Callable[[], datetime]):
        self.client = client
        self.fees = fees
        self.env = env
        self._clock = clock

    def order(self, market: Market, side: Side, action: Action, count: Decimal, price: Decimal, yes_price: Decimal,
              book_side: BookSide, *, time_in_force: TimeInForce, post_only: bool, reduce_only: bool,
              expiration: datetime | None, book: OrderBook | None = None) -> OrderPreview:
        """The preview of a new order (validated by the caller); refuses a crossing post-only order."""
        from kalshi_trading.errors import UsageError

        book = book or self.client.get_orderbook(market.ticker)
        levels = opposite_levels(book, book_side)
        best = levels[0].price if levels else None
        would_cross = crosses(book_side, yes_price, best)
        if post_only and would_cross and best is not None:
            raise UsageError(f"post-only order to {action.value} {side.value.upper()} at {_cents(price)} would cross "
                             f"the book: the best {side.value.upper()} {'ask' if action is Action.BUY else 'bid'} is "
                             f"{_cents(to_contract(side, best))}; nothing was sent")
        own = self._own_orders(market.ticker)
        state, own_cross = self._state(market.ticker, book_side, own, exclude=None)
        rates = self.rates(market)
        terms = OrderTerms(book_side, count, yes_price, time_in_force, reduce_only)
        effects = order_effects(state.account, terms, levels, rates, own_cross)
        if reduce_only and effects.count <= 0:
            held = "NO" if book_side is BookSide.BID else "YES"
            raise UsageError(f"reduce-only: {action.value} {side.value.upper()} only reduces a {held} position, and "
                             f"there is none free to reduce; nothing was sent")
        return OrderPreview(
            env=self.env, ticker=market.ticker, title=market.title, side=side, action=action, count=count,
            price=price, yes_price=yes_price, book_side=book_side, time_in_force=time_in_force,
            notional=count * price, would_cross=would_cross, fee_kind=fee_kind(effects, time_in_force),
            estimated_fee=effects.fees, max_loss=effects.max_loss, position_before=effects.position_before,
            position_after=effects.position_if_filled, cash_before=effects.cash_before,
            cash_after=effects.cash_if_filled, post_only=post_only, reduce_only=reduce_only, expiration=expiration,
            effects=effects, best_price=to_contract(side, best) if best is not None else None,
        )

    def amend(self, market: Market, order: Order, side: Side, yes_price: Decimal,
              new_remaining: Decimal) -> AmendPreview:
        """The preview of an amend (validated by the caller): a re-priced or grown order re-enters the book as
        a new arrival and may cross it; a shrink at the same price only releases collateral."""
        book_side = BookSide(order.book_side)
        requeued = yes_price != order.yes_price or new_remaining > order.remaining_count
        book = self.client.get_orderbook(market.ticker)
        levels = opposite_levels(book, book_side)
        best = levels[0].price if levels else None
        own = self._own_orders(market.ticker)
        state, own_cross = self._state(market.ticker, book_side, own, exclude=order)
        rates = self.rates(market)
        # The order's current hold comes back to available cash before it is re-reserved.
        old_held = hold_for(book_side, order.remaining_count - state.excluded_cover, order.yes_price, rates.taker)
        account = AccountState(state.account.balance + old_held, state.account.position, state.account.committed)
        terms = OrderTerms(book_side, new_remaining, yes_price, TimeInForce.GTC)
        effects = order_effects(account, terms, levels if requeued else (), rates, own_cross)
        return AmendPreview(
            env=self.env, ticker=market.ticker, title=market.title, order_id=order.order_id, side=side,
            action=action_of(side, book_side), book_side=book_side, filled=order.fill_count,
            old_price=to_contract(side, order.yes_price), new_price=to_contract(side, yes_price),
            old_remaining=order.remaining_count, new_remaining=new_remaining,
            would_cross=requeued and crosses(book_side, yes_price, best),
            best_price=to_contract(side, best) if best is not None else None, requeued=requeued,
            cash_before=state.account.balance, effects=effects,
        )

    def rates(self, market: Market) -> FeeRates:
        """Taker and maker fee coefficients of the market (none while its fee waiver lasts)."""
        waiver = market.fee_waiver_expiration_time
        if waiver is not None and waiver > self._clock():
            return FeeRates(ZERO, ZERO)
        fee_type, multiplier = self.fees.for_market(market)
        return FeeRates(fee_rate(fee_type, True, multiplier), fee_rate(fee_type, False, multiplier))

    # ------------------------------------------------------------------ account reads
    def _own_orders(self, ticker: str) -> list[Order]:
        orders = [o for o in self.client.iter_orders(ticker=ticker, status="resting")
                  if o.ticker == ticker and o.is_open]
        orders.reverse()  # listed newest first
        # Oldest first: the exchange covers older orders with a position first.
        return sorted(orders, key=lambda o: (o.created_time is None, o.created_time or datetime.min))

    def _state(self, ticker: str, book_side: BookSide, own: list[Order], exclude: Order | None):
        balance = self.client.get_balance().balance
        position = ZERO
        for pos in self.client.get_positions(ticker=ticker).markets:
            if pos.ticker == ticker:
                position = pos.position
        opposite = max(-position, ZERO) if book_side is BookSide.BID else max(position, ZERO)
        same = [o for o in own if o.book_side == book_side.value]
        covers = coverage(opposite, [o.remaining_count for o in same])
        excluded = sum((c for o, c in zip(same, covers, strict=True)
                        if exclude is not None and o.order_id == exclude.order_id), ZERO)
        others = [o.yes_price for o in own if o.book_side != book_side.value]
        own_cross = None
        if others:
            own_cross = min(others) if book_side is BookSide.BID else max(others)
        return _State(AccountState(balance, position, sum(covers, ZERO) - excluded), excluded), own_cross


@dataclass(frozen=True)
class _State:
    account: AccountState
    excluded_cover: Decimal  # what covered the order being amended


def fee_kind(effects: OrderEffects, time_in_force: TimeInForce) -> str:
    """taker, maker, or both: an IOC or FoK order never rests, so it is always a taker."""
    if time_in_force is not TimeInForce.GTC or effects.resting <= 0:
        return "taker"
    return "taker + maker" if effects.executions else "maker"


def _cents(price: Decimal) -> str:
    return f"{(price * 100).normalize():f}¢"
