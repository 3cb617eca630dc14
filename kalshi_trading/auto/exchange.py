"""The loop's port to the exchange, and its REST implementation over `Executor` + `KalshiClient`.

Every write goes through the executor's journalled path: placements (write-ahead intent, tagged with the bot's
strategy), amends, decreases, cancels and batch cancels (each recorded as an order event), and the bot's fills
(recorded as they arrive).  So `kalshi history`, `kalshi pnl` and `kalshi export-trades` show everything the bot
did.  Reads go to the client.  The same class serves the simulator, demo and prod: only the client's base URL differs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable, Iterator, Protocol, Sequence

from kalshi_trading.api.client import KalshiClient
from kalshi_trading.auto.ledger import OrderRecord
from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.errors import ApiError, NotFoundError, RejectedError
from kalshi_trading.models import Action, BookSide, Fill, Market, Order, Side, TimeInForce
from kalshi_trading.trading.executor import Executor, OrderRef

log = logging.getLogger(__name__)


def is_post_only_cross(exc: ApiError) -> bool:
    """The exchange refused a post-only order (or amend) because it would have crossed the book: HTTP 400
    `invalid_order` with details "post only cross" (reference section 7)."""
    if not isinstance(exc, RejectedError):
        return False
    text = f"{exc.details or ''} {exc.message}".lower().replace("-", " ").replace("_", " ")
    return "post only" in text and "cross" in text


@dataclass(frozen=True)
class Placed:
    order_id: str
    client_order_id: str
    filled: Decimal
    remaining: Decimal
    status: str  # resting | executed | canceled


class ExchangePort(Protocol):
    """What the loop and reconciliation need from an exchange (a fake one in unit tests)."""

    def place(self, target: TargetOrder, market: Market | None, ioc: bool) -> Placed: ...

    def amend(self, order: OrderRecord, target: TargetOrder, market: Market | None = None) -> Placed: ...

    def decrease(self, order: OrderRecord, reduce_to: Decimal) -> Decimal: ...

    def cancel(self, order: OrderRecord) -> Decimal: ...

    def cancel_orders(self, orders: Iterable[OrderRef]) -> int: ...

    def resting_orders(self, tickers: Iterable[str] | None = None) -> list[Order]: ...

    def fills_since(self, ts: datetime | None) -> Iterator[Fill]: ...

    def order_fills(self, order_id: str) -> Iterator[Fill]: ...

    def positions(self) -> dict[str, Decimal]: ...

    def record_fills(self, fills: Sequence[Fill]) -> int: ...


class RestExchange:
    """`ExchangePort` over HTTP: writes through the executor, reads through the client."""

    def __init__(self, client: KalshiClient, executor: Executor, *, post_only: bool = True,
                 client_order_ids: Callable[[], str] | None = None, strategy: str | None = None,
                 on_placed: Callable[[TargetOrder, str], None] | None = None):
        self.client = client
        self.executor = executor
        self.post_only = post_only
        self.client_order_ids = client_order_ids  # the bot's tagged ids (see reconcile.order_tag)
        self.strategy = strategy  # kept with each placement's intent: the journal tags the bot's fills with it
        self.on_placed = on_placed  # told (target, order id) after each placement the exchange accepted

    def place(self, target: TargetOrder, market: Market | None, ioc: bool) -> Placed:
        action = Action.BUY if target.book_side is BookSide.BID else Action.SELL
        result = self.executor.place_limit_order(
            target.ticker, Side.YES, action, target.count, target.yes_price,
            time_in_force=TimeInForce.IOC if ioc else TimeInForce.GTC,
            post_only=self.post_only and not ioc, market=market,
            client_order_id=self.client_order_ids() if self.client_order_ids else None, strategy=self.strategy)
        if self.on_placed is not None:
            self.on_placed(target, result.order_id)
        return Placed(result.order_id, result.client_order_id, result.fill_count, result.remaining_count,
                      result.status)

    def amend(self, order: OrderRecord, target: TargetOrder, market: Market | None = None) -> Placed:
        """New price and remaining count (the exchange takes the new total: filled + remaining)."""
        ack = self.executor.amend_known(order.ref(), yes_price=target.yes_price, total=order.filled + target.count,
                                        market=market)
        status = "resting" if ack.remaining_count > 0 else "executed"
        return Placed(order.order_id, order.client_order_id, ack.fill_count, ack.remaining_count, status)

    def decrease(self, order: OrderRecord, reduce_to: Decimal) -> Decimal:
        """Reduce the order's remaining count to `reduce_to`; returns the remaining count the exchange states."""
        return self.executor.decrease_known(order.ref(), reduce_to=reduce_to).remaining_count

    def cancel(self, order: OrderRecord) -> Decimal:
        """Cancel one order; an order already gone (filled or cancelled) counts as cancelled."""
        try:
            return self.executor.cancel_known(order.ref()).reduced_by
        except NotFoundError:
            log.info("cancel %s on %s: already gone", order.order_id, order.ticker)
            return Decimal(0)

    def cancel_orders(self, orders: Iterable[OrderRef]) -> int:
        """Cancel orders in batches; returns how many the exchange cancelled."""
        return len(self.executor.cancel_known_orders(orders))

    def resting_orders(self, tickers: Iterable[str] | None = None) -> list[Order]:
        if tickers is None:
            return list(self.client.iter_orders(status="resting"))
        out: list[Order] = []
        for t in tickers:
            out.extend(self.client.iter_orders(ticker=t, status="resting"))
        return out

    def fills_since(self, ts: datetime | None) -> Iterator[Fill]:
        return self.client.iter_fills(min_ts=int(ts.timestamp()) - 2 if ts is not None else None)

    def order_fills(self, order_id: str) -> Iterator[Fill]:
        return self.client.iter_fills(order_id=order_id)

    def positions(self) -> dict[str, Decimal]:
        return {p.ticker: p.position for p in self.client.get_positions().markets}

    def record_fills(self, fills: Sequence[Fill]) -> int:
        return self.executor.record_fills(fills)
