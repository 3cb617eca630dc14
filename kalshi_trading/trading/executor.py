"""Order executor: validate against the market, preview, write-ahead journal, send, record the outcome.

The trader speaks (contract yes|no, action buy|sell, price on that contract); the exchange speaks V2
(`bid`/`ask` at a YES price).  The mapping follows the reference's direction table exactly
(`models.to_book_side`, `models.to_yes_price`).

Write-ahead: the intent, with its `client_order_id`, its writer (this process) and the time after which no
retry can still be sending it, is committed to the journal before the order is sent, then the outcome.  If the
process dies in between, `reconcile()` (at the next start, in any process) asks the exchange which intents
became orders; an intent whose writer may still be sending it is left alone (see `intents`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Iterable, Sequence

from kalshi_trading import ids
from kalshi_trading.api.client import KalshiClient, OrderOutcomeUnknown, new_client_order_id
from kalshi_trading.errors import (
    ApiError,
    JournalError,
    NotFoundError,
    RejectedError,
    RequestNotSent,
    ResponseFormatError,
    TransientError,
    UsageError,
)
from kalshi_trading.models import (
    Action,
    BookSide,
    CancelAck,
    DecreaseAck,
    Fill,
    Market,
    Order,
    OrderAck,
    OrderRequest,
    Side,
    TimeInForce,
    to_book_side,
    to_yes_price,
)
from kalshi_trading.money import ONE, ZERO, is_valid_count
from kalshi_trading.trading import intents
from kalshi_trading.trading.fees import FeeSchedule
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.trading.intent_owner import current_owner
from kalshi_trading.trading.preview import AmendPreview, OrderPreview, Previewer, to_contract

__all__ = ["Executor", "OrderPreview", "AmendPreview", "OrderRef", "OrderResult", "parse_side", "parse_action"]

log = logging.getLogger(__name__)
trades_log = logging.getLogger("kalshi_trading.trades")

DEFAULT_SLIPPAGE = Decimal("0.05")
CANCEL_BATCH = 20  # orders per batch cancel request  # market orders never pay more than 5¢ beyond the best price


@dataclass(frozen=True)
class OrderResult:
    env: str
    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    status: str
    fill_count: Decimal
    remaining_count: Decimal
    average_price: Decimal | None  # on the trader's contract
    fees: Decimal | None
    unfilled_count: Decimal = ZERO
    recovered: bool = False


@dataclass(frozen=True)
class OrderRef:
    """An order the caller already knows (e.g. the bot's own), so a write to it needs no read first.

    `client_order_id` keys its journal events (`order:<id>` when unknown); `book_side` is needed to amend."""

    order_id: str
    ticker: str
    client_order_id: str = ""
    book_side: BookSide | None = None

    @classmethod
    def of(cls, order: Order) -> "OrderRef":
        side = BookSide(order.book_side) if order.book_side in (BookSide.BID.value, BookSide.ASK.value) else None
        return cls(order.order_id, order.ticker, order.client_order_id, side)

    @property
    def journal_key(self) -> str:
        return self.client_order_id or f"order:{self.order_id}"


def parse_side(value: str) -> Side:
    try:
        return Side(value.lower())
    except ValueError:
        raise UsageError(f"side must be yes or no, not {value!r}") from None


def parse_action(value: str) -> Action:
    try:
        return Action(value.lower())
    except ValueError:
        raise UsageError(f"action must be buy or sell, not {value!r}") from None


class Executor:
    """Places, previews, amends and cancels orders through one client and one journal."""

    def __init__(self, client: KalshiClient, journal: TradeJournal, env: str, *,
                 slippage: Decimal = DEFAULT_SLIPPAGE, clock: Callable[[], datetime] | None = None):
        self.client = client
        self.journal = journal
        self.env = env.upper()
        self.slippage = slippage
        self.fees = FeeSchedule(client)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.previewer = Previewer(client, self.fees, self.env, self._clock)

    # ----------------------------------------------------------------- validation and preview
    def market(self, ticker: str) -> Market:
        """The market, or a clear error for an unknown ticker."""
        ticker = ids.market_ticker(ticker)  # UsageError naming the documented form
        try:
            return self.client.get_market(ticker)
        except NotFoundError:
            raise NotFoundError(f"no market {ticker}", status=404, code="not_found") from None

    def validate(self, market: Market, side: Side, count: Decimal, price: Decimal) -> Decimal:
        """Refuse before any write: trading closed, price off the grid, bad count.  Returns the YES price."""
        if not market.is_trading:
            raise RejectedError(f"{market.ticker} is not open for trading (status {market.status})",
                                code="market_closed")
        if not isinstance(count, Decimal) or not is_valid_count(count):
            raise UsageError(f"count {count} must be a positive multiple of 0.01 contracts")
        if not (ZERO < price < ONE):
            raise UsageError(f"price {price} must be between 0 and 1 dollar, exclusive")
        yes_price = to_yes_price(side, price)
        if not market.price_grid.contains(yes_price):
            grid = market.price_grid
            lo, hi = grid.floor(yes_price), grid.ceil(yes_price)
            near = ", ".join(_plain(p) for p in sorted(to_yes_price(side, q) for q in (lo, hi) if q is not None))
            raise UsageError(
                f"price {_plain(price)} is not on {market.ticker}'s tick grid (a {side.value.upper()} price, step "
                f"{_plain(grid.step_at(yes_price))}); nearest {side.value.upper()} prices: {near}"
            )
        return yes_price

    def preview(self, ticker: str, side: Side, action: Action, count: Decimal, price: Decimal, *,
                time_in_force: TimeInForce = TimeInForce.GTC, post_only: bool = False, reduce_only: bool = False,
                expiration: datetime | None = None, market: Market | None = None) -> OrderPreview:
        """What the order would do to cash, position and risk (see `trading.preview`); nothing is sent."""
        market = market or self.market(ticker)
        yes_price = self.validate(market, side, count, price)
        return self.previewer.order(market, side, action, count, price, yes_price, to_book_side(side, action),
                                    time_in_force=time_in_force, post_only=post_only, reduce_only=reduce_only,
                                    expiration=expiration)

    # ----------------------------------------------------------------- placing
    def place_limit_order(self, ticker: str, side: Side, action: Action, count: Decimal, price: Decimal, *,
                          time_in_force: TimeInForce = TimeInForce.GTC, post_only: bool = False,
                          expiration: datetime | None = None, reduce_only: bool = False,
                          market: Market | None = None, client_order_id: str | None = None,
                          strategy: str | None = None) -> OrderResult:
        """Validate, journal the intent, send, journal the outcome (`client_order_id`: default a new uuid;
        `strategy`: the bot's strategy that places it, kept with the intent so its fills are tagged)."""
        market = market or self.market(ticker)
        yes_price = self.validate(market, side, count, price)
        expiration_ts = None
        if expiration is not None:
            if time_in_force is not TimeInForce.GTC:
                raise UsageError("an expiry needs time in force gtc")
            if expiration <= self._clock():
                raise UsageError(f"expiry {expiration.isoformat()} is in the past")
            expiration_ts = int(expiration.timestamp())
        request = OrderRequest(
            ticker=market.ticker, book_side=to_book_side(side, action), count=count, yes_price=yes_price,
            time_in_force=time_in_force, client_order_id=client_order_id or new_client_order_id(), post_only=post_only,
            reduce_only=reduce_only, expiration_ts=expiration_ts,
        )
        ack = self._send(request, side, action, price, strategy)
        return self._result(request, ack, side, action)

    def _send(self, request: OrderRequest, side: Side, action: Action, price: Decimal,
              strategy: str | None = None) -> OrderAck:
        cid = request.client_order_id
        extra: dict[str, object] = {"side": side.value, "action": action.value, "price": str(price),
                                    "post_only": request.post_only, "reduce_only": request.reduce_only}
        if strategy:
            extra["strategy"] = strategy
        self.journal.record_intent(
            cid, request.ticker, request.book_side.value, request.yes_price, request.count,
            request.time_in_force.value, self.env.lower(), extra=extra,
            owner=current_owner(), deadline=self._clock() + intents.in_flight_limit(self.client),
        )
        trades_log.info("SUBMIT %s %s %s %s %s @ %s (yes %s) %s cid=%s", self.env, action.value, request.count,
                        side.value, request.ticker, price, request.yes_price, request.time_in_force.value, cid,
                        extra={"market": request.ticker, "action": action.value, "side": side.value, "price": price,
                               "yes_price": request.yes_price, "size": request.count, "client_order_id": cid,
                               "env": self.env})
        try:
            ack = self.client.create_order(request)
        except OrderOutcomeUnknown as exc:
            # The intent stays pending on purpose: reconcile() settles it against the exchange.
            self.journal.record_error("order_outcome_unknown", str(exc), {"client_order_id": cid})
            trades_log.warning("UNKNOWN %s cid=%s: %s", request.ticker, cid, exc.message,
                               extra={"market": request.ticker, "action": "unknown", "client_order_id": cid,
                                      "reason": exc.message})
            raise
        except ApiError as exc:
            self.journal.record_outcome(cid, "rejected", code=exc.code or str(exc.status), message=exc.message)
            self.journal.record_error("order_rejected", str(exc), {"client_order_id": cid, "ticker": request.ticker})
            trades_log.info("REJECTED %s cid=%s code=%s %s", request.ticker, cid, exc.code, exc.message,
                            extra={"market": request.ticker, "action": "rejected", "client_order_id": cid,
                                   "code": exc.code, "reason": exc.message})
            raise
        status = _status_of(ack, request)
        self.journal.record_outcome(cid, "accepted", order_id=ack.order_id, status=status,
                                    count=ack.fill_count, extra={"remaining": str(ack.remaining_count)})
        trades_log.info("ACCEPTED %s order=%s cid=%s filled=%s remaining=%s status=%s", request.ticker,
                        ack.order_id, cid, ack.fill_count, ack.remaining_count, status,
                        extra={"market": request.ticker, "action": "accepted", "order_id": ack.order_id,
                               "client_order_id": cid, "filled": ack.fill_count, "remaining": ack.remaining_count})
        return ack

    def _result(self, request: OrderRequest, ack: OrderAck, side: Side, action: Action) -> OrderResult:
        avg = None
        fees = None
        if ack.fill_count > 0:
            fills = list(self.client.iter_fills(order_id=ack.order_id))
            if fills:
                filled = sum((f.count for f in fills), ZERO)
                yes_avg = sum((f.count * f.yes_price for f in fills), ZERO) / filled
                avg = yes_avg if side is Side.YES else ONE - yes_avg
                fees = sum((f.fee for f in fills), ZERO)
                for f in fills:
                    trades_log.info("FILL %s order=%s %s %s @ yes %s fee %s", f.ticker, f.order_id, f.book_side,
                                    f.count, f.yes_price, f.fee,
                                    extra={"market": f.ticker, "action": "fill", "order_id": f.order_id,
                                           "side": f.book_side, "yes_price": f.yes_price, "size": f.count})
            elif ack.average_fill_price is not None:
                avg = ack.average_fill_price if side is Side.YES else ONE - ack.average_fill_price
        status = _status_of(ack, request)
        unfilled = request.count - ack.fill_count if status != "resting" else ZERO
        return OrderResult(
            env=self.env, order_id=ack.order_id, client_order_id=ack.client_order_id or request.client_order_id,
            ticker=request.ticker, side=side, action=action, status=status, fill_count=ack.fill_count,
            remaining_count=ack.remaining_count, average_price=avg, fees=fees, unfilled_count=unfilled,
            recovered=ack.order is not None,
        )

    def market_order_price(self, market: Market, side: Side, action: Action, count: Decimal,
                           max_price: Decimal | None = None) -> Decimal:
        """The protective limit for an emulated market order: the price that fills `count` on the
        current book, never beyond `max_price` or best + slippage (on the trader's contract)."""
        book = self.client.get_orderbook(market.ticker)
        book_side = to_book_side(side, action)
        levels = book.yes_asks if book_side is BookSide.BID else book.yes_bids
        if not levels:
            raise RejectedError(f"no one is {'selling' if action is Action.BUY else 'buying'} {side.value.upper()} "
                                f"on {market.ticker} right now; place a limit order instead", code="no_liquidity")
        needed, worst = count, levels[0].price
        for level in levels:
            worst = level.price
            needed -= level.count
            if needed <= 0:
                break
        best = levels[0].price
        if book_side is BookSide.BID:
            bound = min(worst, best + self.slippage)
            limit_yes = bound if max_price is None else min(bound, to_yes_price(side, max_price))
        else:
            bound = max(worst, best - self.slippage)
            limit_yes = bound if max_price is None else max(bound, to_yes_price(side, max_price))
        grid = market.price_grid
        snapped = grid.floor(limit_yes) if book_side is BookSide.BID else grid.ceil(limit_yes)
        if snapped is None:
            raise UsageError(f"max price {max_price} leaves no valid price on {market.ticker}'s grid")
        return snapped if side is Side.YES else ONE - snapped

    def place_market_order(self, ticker: str, side: Side, action: Action, count: Decimal,
                           max_price: Decimal | None = None) -> OrderResult:
        """No market orders on Kalshi: an immediate-or-cancel limit at a protective price."""
        market = self.market(ticker)
        if max_price is not None and not (ZERO < max_price < ONE):
            raise UsageError(f"max price {max_price} must be between 0 and 1 dollar, exclusive")
        price = self.market_order_price(market, side, action, count, max_price)
        return self.place_limit_order(ticker, side, action, count, price, time_in_force=TimeInForce.IOC, market=market)

    # ----------------------------------------------------------------- managing
    # Every write to an existing order goes through one journalled path (`*_known`): the manual commands read the
    # order first to know it; the bot knows its own orders and calls these directly.

    def cancel(self, order_id: str) -> CancelAck:
        """Cancel one order (read first: an unknown id is a clear NotFoundError)."""
        return self.cancel_known(OrderRef.of(self.status(order_id)))

    def cancel_known(self, ref: OrderRef) -> CancelAck:
        """Cancel an order the caller knows, and journal it.  NotFoundError: it is gone (filled or cancelled)."""
        ack = self.client.cancel_order(ref.order_id, ref.ticker)
        self._journal_cancel(ref, ack.reduced_by, ack.already_gone)
        return ack

    def cancel_known_orders(self, refs: Iterable[OrderRef]) -> list[CancelAck]:
        """Cancel known orders in batches (one by one where the batch endpoint is refused), journalling each;
        returns the acks of those the exchange cancelled (an order already gone is skipped quietly)."""
        refs = list(refs)
        acks: list[CancelAck] = []
        for i in range(0, len(refs), CANCEL_BATCH):
            chunk = refs[i:i + CANCEL_BATCH]
            try:
                results = self.client.batch_cancel([r.order_id for r in chunk])
            except RejectedError as exc:
                log.warning("batch cancel refused (%s); cancelling one by one", exc)
                for ref in chunk:
                    try:
                        acks.append(self.cancel_known(ref))
                    except NotFoundError:
                        pass
                continue
            for result in results:
                ref = chunk[result.index]
                if isinstance(result.ack, CancelAck):
                    self._journal_cancel(ref, result.ack.reduced_by, result.ack.already_gone)
                    acks.append(result.ack)
                elif isinstance(result.error, ApiError) and result.error.code != "not_found":
                    log.warning("cancel of %s failed: %s", ref.order_id, result.error)
        return acks

    def cancel_all(self, ticker: str | None = None) -> list[CancelAck]:
        """Cancel every resting order (of one market when `ticker` is given)."""
        if ticker is None:
            orders = self.open_orders()
            self.client.cancel_all()
            acks = [CancelAck(o.order_id, o.client_order_id, o.remaining_count) for o in orders]
        else:
            orders = self.open_orders(self.market(ticker).ticker)
            acks = []
            results = self.client.batch_cancel([o.order_id for o in orders]) if orders else []
            for result in results:
                if result.error is not None:
                    raise result.error
                if isinstance(result.ack, CancelAck):
                    acks.append(result.ack)
        for order in orders:
            self._journal_cancel(OrderRef.of(order), order.remaining_count)
        return acks

    def _journal_cancel(self, ref: OrderRef, reduced_by: Decimal, already_gone: bool = False) -> None:
        self.journal.record_outcome(ref.journal_key, "cancelled", order_id=ref.order_id, status="canceled",
                                    count=reduced_by)
        trades_log.info("CANCEL %s order=%s reduced_by=%s%s", ref.ticker, ref.order_id, reduced_by,
                        " (already gone)" if already_gone else "",
                        extra={"market": ref.ticker, "action": "cancel", "order_id": ref.order_id, "size": reduced_by})

    def preview_amend(self, order_id: str, *, price: Decimal | None = None,
                      count: Decimal | None = None) -> AmendPreview:
        """What an amend would do (crossing, taker fee, cash and position); nothing is sent."""
        order, market, side, yes_price, new_remaining = self._amend_terms(order_id, price, count)
        return self.previewer.amend(market, order, side, yes_price, new_remaining)

    def amend(self, order_id: str, *, price: Decimal | None = None, count: Decimal | None = None) -> OrderAck:
        """New price (on the order's own contract) and/or new remaining count."""
        order, _, _, yes_price, new_remaining = self._amend_terms(order_id, price, count)
        return self.amend_known(OrderRef.of(order), yes_price=yes_price, total=order.fill_count + new_remaining)

    def amend_known(self, ref: OrderRef, *, yes_price: Decimal, total: Decimal,
                    market: Market | None = None) -> OrderAck:
        """Amend an order the caller knows to a YES price and a new total count (filled + remaining), and journal
        it; with `market`, the price and count are checked against it first (nothing is sent if they are bad)."""
        if ref.book_side is None:
            raise UsageError(f"amending order {ref.order_id} needs its book side")
        if market is not None:
            self.validate(market, Side.YES, total, yes_price)
        try:
            ack = self.client.amend_order(ref.order_id, ticker=ref.ticker, book_side=ref.book_side,
                                          yes_price=yes_price, count=total)
        except (TransientError, ResponseFormatError) as exc:
            if isinstance(exc, RequestNotSent):
                raise
            kind = TransientError if isinstance(exc, TransientError) else ResponseFormatError
            raise kind(f"the amend of order {ref.order_id} may or may not have been applied ({exc.message}); "
                       f"check it with `kalshi order status {ref.order_id}` before trying again",
                       status=exc.status, code=exc.code, method=exc.method, path=exc.path) from exc
        self.journal.record_outcome(ref.journal_key, "amended", order_id=ref.order_id, yes_price=yes_price,
                                    count=total)
        trades_log.info("AMEND %s order=%s yes_price=%s total=%s", ref.ticker, ref.order_id, yes_price, total,
                        extra={"market": ref.ticker, "action": "amend", "order_id": ref.order_id,
                               "yes_price": yes_price, "size": total})
        return ack

    def _amend_terms(self, order_id: str, price: Decimal | None,
                     count: Decimal | None) -> tuple[Order, Market, Side, Decimal, Decimal]:
        """(order, market, contract, new YES price, new remaining), validated on the order's own contract."""
        if price is None and count is None:
            raise UsageError("give a new price, a new count, or both")
        order = self.status(order_id)
        if not order.is_open:
            raise RejectedError(f"order {order.order_id} is {order.status}; only resting orders can be amended",
                                code="invalid_order")
        market = self.market(order.ticker)
        # "sell YES @ 70" and "buy NO @ 30" are the same V2 ask: read a new price on the contract the order
        # was placed on (from the journal), or as a YES price for orders placed elsewhere.
        side = self._placed_side(order)
        new_price = to_contract(side, order.yes_price) if price is None else price
        new_remaining = order.remaining_count if count is None else count
        yes_price = self.validate(market, side, new_remaining, new_price)
        return order, market, side, yes_price, new_remaining

    def _placed_side(self, order: Order) -> Side:
        if order.client_order_id:
            for event in self.journal.order_events(client_order_id=order.client_order_id):
                if event.kind == "intent" and event.extra.get("side") in ("yes", "no"):
                    return Side(event.extra["side"])
        return Side.YES

    def decrease(self, order_id: str, *, reduce_by: Decimal | None = None,
                 reduce_to: Decimal | None = None) -> DecreaseAck:
        """Reduce an order's remaining count (by or to a number)."""
        return self.decrease_known(OrderRef.of(self.status(order_id)), reduce_by=reduce_by, reduce_to=reduce_to)

    def decrease_known(self, ref: OrderRef, *, reduce_by: Decimal | None = None,
                       reduce_to: Decimal | None = None) -> DecreaseAck:
        """Reduce an order the caller knows, and journal it."""
        ack = self.client.decrease_order(ref.order_id, reduce_by=reduce_by, reduce_to=reduce_to)
        self.journal.record_outcome(ref.journal_key, "decreased", order_id=ref.order_id, count=ack.remaining_count)
        trades_log.info("DECREASE %s order=%s remaining=%s", ref.ticker, ref.order_id, ack.remaining_count,
                        extra={"market": ref.ticker, "action": "decrease", "order_id": ref.order_id,
                               "remaining": ack.remaining_count})
        return ack

    # ----------------------------------------------------------------- fills
    def record_fills(self, fills: Sequence[Fill]) -> int:
        """Journal fills as they arrive (the bot's; duplicates ignored), so history, P&L and exports have them
        before any `kalshi sync`.  A journal that fails now is logged, not raised: the fills are the exchange's,
        and the next sync records them.  Returns how many were new."""
        if not fills:
            return 0
        try:
            return self.journal.record_fills(fills)
        except JournalError as exc:
            log.error("%d fills could not be journalled (a later `kalshi sync` records them): %s", len(fills), exc)
            return 0

    def status(self, order_id: str) -> Order:
        if not order_id or not order_id.strip():
            raise UsageError("an order id is required")
        try:
            return self.client.get_order(order_id.strip())
        except NotFoundError:
            raise NotFoundError(f"no order {order_id}", status=404, code="not_found") from None

    def open_orders(self, ticker: str | None = None) -> list[Order]:
        orders = list(self.client.iter_orders(ticker=ticker, status="resting"))
        intents.relink_from_orders(self.journal, orders, self._clock())  # an order that landed after "not placed"
        return orders

    # ----------------------------------------------------------------- crash recovery
    def reconcile(self) -> list[tuple[str, str | None, str]]:
        """Settle intents no process can still be sending, and re-check recent `not_placed` ones:
        (client_order_id, order_id or None, status) for each record changed."""
        return intents.reconcile(self.client, self.journal, self.env, self._clock())


def _plain(amount: Decimal) -> str:
    """0.2500 -> 0.25: prices in messages as the trader writes them."""
    return f"{amount.normalize():f}"


def _status_of(ack: OrderAck, request: OrderRequest) -> str:
    """resting / executed (all filled) / canceled (IOC or FoK remainder, STP), as the Order would say."""
    if ack.order is not None:
        return ack.order.status
    if ack.remaining_count > 0 and request.time_in_force is TimeInForce.GTC:
        return "resting"
    if ack.fill_count >= request.count:
        return "executed"
    return "canceled"
