"""The loop's port to the exchange, and its REST implementation over `Executor` + `KalshiClient`.

Writes go through the executor (write-ahead journal, validation against a cached `Market`), except
amends and cancels, which need no preview and go straight to the client.  The same class serves
the simulator, demo and prod: only the client's base URL differs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Iterable, Iterator, Protocol

from kalshi_trading.auto.ledger import OrderRecord
from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.errors import NotFoundError, RejectedError
from kalshi_trading.models import Action, BookSide, Fill, Market, Order, Side, TimeInForce

log = logging.getLogger(__name__)
trades_log = logging.getLogger("kalshi_trading.trades")

BATCH = 20


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

    def amend(self, order: OrderRecord, target: TargetOrder) -> Placed: ...

    def cancel(self, order: OrderRecord) -> Decimal: ...

    def cancel_orders(self, orders: Iterable[tuple[str, str]]) -> int: ...

    def resting_orders(self, tickers: Iterable[str] | None = None) -> list[Order]: ...

    def fills_since(self, ts: datetime | None) -> Iterator[Fill]: ...

    def positions(self) -> dict[str, Decimal]: ...


class RestExchange:
    """`ExchangePort` over HTTP."""

    def __init__(self, client, executor, *, post_only: bool = True,
                 client_order_ids: Callable[[], str] | None = None):
        self.client = client
        self.executor = executor
        self.post_only = post_only
        self.client_order_ids = client_order_ids  # the bot's tagged ids (see reconcile.order_tag)

    def place(self, target: TargetOrder, market: Market | None, ioc: bool) -> Placed:
        action = Action.BUY if target.book_side is BookSide.BID else Action.SELL
        result = self.executor.place_limit_order(
            target.ticker, Side.YES, action, target.count, target.yes_price,
            time_in_force=TimeInForce.IOC if ioc else TimeInForce.GTC,
            post_only=self.post_only and not ioc, market=market,
            client_order_id=self.client_order_ids() if self.client_order_ids else None)
        return Placed(result.order_id, result.client_order_id, result.fill_count, result.remaining_count,
                      result.status)

    def amend(self, order: OrderRecord, target: TargetOrder) -> Placed:
        total = order.filled + target.count
        ack = self.client.amend_order(order.order_id, ticker=order.ticker, book_side=order.book_side,
                                      yes_price=target.yes_price, count=total)
        trades_log.info("AMEND %s order=%s yes_price=%s total=%s", order.ticker, order.order_id,
                        target.yes_price, total)
        status = "resting" if ack.remaining_count > 0 else "executed"
        return Placed(order.order_id, order.client_order_id, ack.fill_count, ack.remaining_count, status)

    def cancel(self, order: OrderRecord) -> Decimal:
        """Cancel one order; an order already gone (filled or cancelled) counts as cancelled."""
        try:
            ack = self.client.cancel_order(order.order_id, order.ticker)
        except NotFoundError:
            trades_log.info("CANCEL %s order=%s (already gone)", order.ticker, order.order_id)
            return Decimal(0)
        trades_log.info("CANCEL %s order=%s reduced_by=%s", order.ticker, order.order_id, ack.reduced_by)
        return ack.reduced_by

    def cancel_orders(self, orders: Iterable[tuple[str, str]]) -> int:
        """Cancel (order_id, ticker) pairs in batches; returns how many the exchange cancelled."""
        ids = [oid for oid, _ in orders]
        done = 0
        for i in range(0, len(ids), BATCH):
            chunk = ids[i:i + BATCH]
            try:
                results = self.client.batch_cancel(chunk)
            except RejectedError as exc:  # e.g. batch endpoint refused: one by one
                log.warning("batch cancel refused (%s); cancelling one by one", exc)
                for oid in chunk:
                    try:
                        self.client.cancel_order(oid)
                        done += 1
                    except NotFoundError:
                        pass
                continue
            for r in results:
                if r.error is None:
                    done += 1
                elif getattr(r.error, "code", None) not in ("not_found", None):
                    log.warning("cancel failed: %s", r.error)
        trades_log.info("CANCEL batch of %d orders: %d cancelled", len(ids), done)
        return done

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
