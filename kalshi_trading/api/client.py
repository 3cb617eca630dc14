"""The Kalshi REST client: one method per endpoint, typed models out, safe retries.

Names say what they cost: every `get_*`/`iter_*`/`create_*` here goes to the network.
Order creation is never duplicated: the `client_order_id` is fixed before the first attempt, and a
409 `order_already_exists` on a repeat means the first attempt landed (the order is fetched and
returned).  A 404 on a repeated cancel means the order is already gone.

The boundary is checked both ways: every ticker and id is validated (`kalshi_trading.ids`, UsageError) before
any request and percent-encoded as a path segment; every answer is checked for the shape the code needs
(`parse`), and a mismatch is a ResponseFormatError naming the endpoint (`@_reads`) and the field.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote

from kalshi_trading import ids
from kalshi_trading.api import parse
from kalshi_trading.api.batch import BatchRead, ReadPool, read_chunks, unique_tickers
from kalshi_trading.api.boundary import named as _named
from kalshi_trading.api.boundary import optional as _opt
from kalshi_trading.api.boundary import reads as _reads
from kalshi_trading.api.boundary import segment as _seg
from kalshi_trading.api.historical import HistoricalReads
from kalshi_trading.api.ratelimit import RateLimiter
from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.api.signer import KalshiAuth, Signer
from kalshi_trading.api.transport import Transport
from kalshi_trading.errors import (
    ApiError,
    ConflictError,
    NotFoundError,
    RateLimited,
    RejectedError,
    RequestNotSent,
    ResponseFormatError,
    TransientError,
    UsageError,
)
from kalshi_trading.models import (
    Balance,
    BatchItemResult,
    BookSide,
    CancelAck,
    Candle,
    DecreaseAck,
    Event,
    ExchangeStatus,
    EventPosition,
    Fill,
    Market,
    MarketPosition,
    Order,
    OrderAck,
    OrderBook,
    OrderRequest,
    Positions,
    QueuePosition,
    Series,
    Settlement,
    Trade,
)
from kalshi_trading.money import fmt_count, fmt_dollars

if TYPE_CHECKING:  # cryptography is imported lazily (start-up time)
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # pages of one listing (up to a million items): more means the cursor never ends
MAX_IDLE_PAGES = 5  # pages in a row that bring nothing new yet name a next page


class _Paging:
    """Where a listing's cursor leads: the end (no cursor, or one seen before), the next page, or an error when the
    exchange keeps naming new pages that bring nothing (or too many of them): a command must end."""

    def __init__(self, route: str):
        self.route = route
        self.cursors: set[str] = set()
        self.idle = 0

    def goes_on(self, cursor: str, new_items: int) -> bool:
        """True to fetch the page `cursor` names; False at the end; ResponseFormatError for an endless cursor."""
        if not cursor or cursor in self.cursors:
            return False
        self.cursors.add(cursor)
        self.idle = 0 if new_items else self.idle + 1
        if self.idle >= MAX_IDLE_PAGES or len(self.cursors) >= MAX_PAGES:
            why = (f"{self.idle} pages in a row with nothing new" if self.idle >= MAX_IDLE_PAGES
                   else f"more than {MAX_PAGES} pages")
            raise ResponseFormatError(f"the response's 'cursor' never ends ({why})", method="GET", path=self.route)
        return True

ORDERS = "/portfolio/events/orders"
MARKET_STATUSES = ("unopened", "open", "paused", "closed", "settled")
MARKETS_PER_REQUEST = 100  # tickers per GET /markets?tickers= (no documented cap; keeps the URL short)
ORDERBOOKS_PER_REQUEST = 100  # GET /markets/orderbooks takes 1 to 100 tickers


class OrderOutcomeUnknown(TransientError):
    """Retries ran out after the order may have reached the exchange; reconcile by client_order_id."""

    def __init__(self, client_order_id: str, ticker: str, cause: ApiError):
        self.client_order_id = client_order_id
        self.ticker = ticker
        super().__init__(
            f"order {client_order_id} on {ticker} may or may not have been placed ({cause.message}); "
            "check open orders before trying again",
            status=cause.status, code=cause.code, method="POST", path=ORDERS,
        )


def new_client_order_id() -> str:
    return str(uuid.uuid4())


def _ts(value: datetime | int | None) -> int | None:
    """Query timestamps are Unix seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def _bool(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def order_body(req: OrderRequest, client_order_id: str) -> dict[str, Any]:
    """The V2 create body for one request (reference section 6)."""
    body: dict[str, Any] = {
        "ticker": ids.market_ticker(req.ticker),
        "side": req.book_side.value,
        "count": fmt_count(req.count),
        "price": fmt_dollars(req.yes_price),
        "time_in_force": req.time_in_force.value,
        "self_trade_prevention_type": req.self_trade_prevention.value,
        "client_order_id": ids.client_order_id(client_order_id),
    }
    if req.post_only:
        body["post_only"] = True
    if req.reduce_only:
        body["reduce_only"] = True
    if req.expiration_ts is not None:
        body["expiration_time"] = req.expiration_ts
    if req.order_group_id:
        body["order_group_id"] = req.order_group_id
    if req.cancel_order_on_pause:
        body["cancel_order_on_pause"] = True
    body.update(req.extra)
    return body


class KalshiClient(HistoricalReads):
    """Typed access to the Trade API v2 (the historical tier's reads come from `HistoricalReads`)."""

    def __init__(self, transport: Transport, *, env: str = "sim"):
        self.transport = transport
        self.env = env

    @classmethod
    def build(
        cls,
        base_url: str,
        key_id: str | None,
        private_key: RSAPrivateKey | None = None,
        *,
        env: str = "sim",
        rate_tier: str | None = "basic",
        timeout: tuple[float, float] = (3.05, 10.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> "KalshiClient":
        auth = KalshiAuth(Signer(key_id, private_key, wall_clock)) if key_id and private_key is not None else None
        limiter = RateLimiter.for_tier(rate_tier, clock, sleep) if rate_tier else None
        transport = Transport(base_url, auth, limiter, retry, timeout, sleep=sleep, clock=clock)
        return cls(transport, env=env)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "KalshiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- plumbing
    def _get(self, route: str, params: dict | None = None) -> Any:
        """The answer's JSON object (anything else, an empty body included, is a ResponseFormatError)."""
        return parse.as_object(self.transport.request("GET", route, params=params).body, "the response")

    def _pages(self, route: str, key: str, params: dict, id_of: Callable[[Mapping], object],
               limit: int | None = None) -> Iterator[Mapping]:
        """Follow `cursor` to the end (`""`, null or missing), de-duplicating by id."""
        params = {k: v for k, v in params.items() if v is not None}
        seen: set[str] = set()
        pages = _Paging(route)
        cursor = None
        while True:
            page_params = dict(params)
            if cursor:
                page_params["cursor"] = cursor
            body = self._get(route, page_params)
            new = 0
            for item in parse.objects(body, key, "the response"):
                ident = id_of(item)
                ident = ident if isinstance(ident, str) else repr(ident)  # a wrong-typed id fails in parse, not here
                if ident in seen:
                    continue
                seen.add(ident)
                new += 1
                yield item
            cursor = parse.text(body, "cursor", "the response", "")
            if not pages.goes_on(cursor, new):
                return

    # ----------------------------------------------------------------- exchange
    @_reads("GET /exchange/status")
    def get_exchange_status(self) -> ExchangeStatus:
        return parse.exchange_status(self._get("/exchange/status"))

    @_reads("GET /exchange/schedule")
    def get_exchange_schedule(self) -> dict:
        return dict(parse.field_obj(self._get("/exchange/schedule"), "schedule", "the response"))

    # ----------------------------------------------------------------- market data
    @_reads("GET /markets")
    def iter_markets(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Iterable[str] | None = None,
        status: str | None = None,
        min_close_ts: int | datetime | None = None,
        max_close_ts: int | datetime | None = None,
        min_created_ts: int | datetime | None = None,
        max_created_ts: int | datetime | None = None,
        min_settled_ts: int | datetime | None = None,
        max_settled_ts: int | datetime | None = None,
        mve_filter: str | None = None,
        page_size: int = 200,
        limit: int | None = None,
    ) -> Iterator[Market]:
        if status is not None and status not in MARKET_STATUSES:
            raise UsageError(f"market status filter must be one of {', '.join(MARKET_STATUSES)}")
        params = {
            "limit": page_size,
            "event_ticker": _opt(ids.event_ticker, event_ticker),
            "series_ticker": _opt(ids.series_ticker, series_ticker),
            "tickers": ",".join(ids.market_ticker(t) for t in tickers) if tickers else None,
            "status": status,
            "min_close_ts": _ts(min_close_ts),
            "max_close_ts": _ts(max_close_ts),
            "min_created_ts": _ts(min_created_ts),
            "max_created_ts": _ts(max_created_ts),
            "min_settled_ts": _ts(min_settled_ts),
            "max_settled_ts": _ts(max_settled_ts),
            "mve_filter": mve_filter,
        }
        for n, item in enumerate(self._pages("/markets", "markets", params, lambda m: m.get("ticker"))):
            if limit is not None and n >= limit:
                return
            yield parse.market(item)

    @_reads("GET /markets/{ticker}")
    def get_market(self, ticker: str) -> Market:
        body = self._get(f"/markets/{_seg(ids.market_ticker(ticker))}")
        return parse.market(parse.field_obj(body, "market", "the response"))

    @_reads("GET /markets/{ticker}/orderbook")
    def get_orderbook(self, ticker: str, depth: int | None = None) -> OrderBook:
        ticker = ids.market_ticker(ticker)
        return parse.orderbook(ticker, self._get(f"/markets/{_seg(ticker)}/orderbook", {"depth": depth}))

    @_reads("GET /markets/orderbooks")
    def get_orderbooks(self, tickers: Iterable[str]) -> list[OrderBook]:
        body = self._get("/markets/orderbooks", {"tickers": [ids.market_ticker(t) for t in tickers]})
        return [parse.orderbook(parse.text(item, "ticker", "OrderBookResponse"), item)
                for item in parse.objects(body, "orderbooks", "the response")]

    @_reads("GET /markets/trades")
    def iter_trades(self, ticker: str | None = None, min_ts: int | datetime | None = None,
                    max_ts: int | datetime | None = None, limit: int | None = None) -> Iterator[Trade]:
        params = {"limit": 1000, "ticker": _opt(ids.market_ticker, ticker), "min_ts": _ts(min_ts),
                  "max_ts": _ts(max_ts)}
        for n, item in enumerate(self._pages("/markets/trades", "trades", params, lambda t: t.get("trade_id"))):
            if limit is not None and n >= limit:
                return
            yield parse.trade(item)

    @_reads("GET /series/{series_ticker}/markets/{ticker}/candlesticks")
    def get_candlesticks(self, series_ticker: str, ticker: str, start_ts: int | datetime, end_ts: int | datetime,
                         period_interval: int = 60) -> list[Candle]:
        body = self._get(
            f"/series/{_seg(ids.series_ticker(series_ticker))}/markets/{_seg(ids.market_ticker(ticker))}/candlesticks",
            {"start_ts": _ts(start_ts), "end_ts": _ts(end_ts), "period_interval": period_interval},
        )
        return [parse.candle(c) for c in parse.objects(body, "candlesticks", "the response")]

    @_reads("GET /events")
    def iter_events(self, *, series_ticker: str | None = None, status: str | None = None,
                    with_nested_markets: bool = False) -> Iterator[Event]:
        params = {"limit": 200, "series_ticker": _opt(ids.series_ticker, series_ticker), "status": status,
                  "with_nested_markets": _bool(with_nested_markets)}
        for item in self._pages("/events", "events", params, lambda e: e.get("event_ticker")):
            yield parse.event(item)

    @_reads("GET /events/{event_ticker}")
    def get_event(self, event_ticker: str, with_nested_markets: bool = True) -> Event:
        body = self._get(f"/events/{_seg(ids.event_ticker(event_ticker))}",
                         {"with_nested_markets": _bool(with_nested_markets)})
        return parse.event(parse.field_obj(body, "event", "the response"),
                           parse.objects(body, "markets", "the response", required=False))

    @_reads("GET /series/{series_ticker}")
    def get_series(self, series_ticker: str) -> Series:
        body = self._get(f"/series/{_seg(ids.series_ticker(series_ticker))}")
        return parse.series(parse.field_obj(body, "series", "the response"))

    @_reads("GET /series")
    def list_series(self, category: str | None = None) -> list[Series]:
        body = self._get("/series", {"category": category})
        return [parse.series(s) for s in parse.objects(body, "series", "the response")]

    # ----------------------------------------------------------------- portfolio
    @_reads("GET /portfolio/balance")
    def get_balance(self) -> Balance:
        return parse.balance(self._get("/portfolio/balance"))

    @_reads("GET /portfolio/positions")
    def get_positions(self, *, ticker: str | None = None, event_ticker: str | None = None,
                      count_filter: str | None = None) -> Positions:
        """All pages of market and event positions (unsettled only, as the exchange defines them)."""
        params = {"limit": 1000, "ticker": _opt(ids.market_ticker, ticker),
                  "event_ticker": _opt(ids.event_ticker, event_ticker), "count_filter": count_filter}
        markets: list[MarketPosition] = []
        events: list[EventPosition] = []
        cursor = None
        seen_m: set[str] = set()
        seen_e: set[str] = set()
        pages = _Paging("/portfolio/positions")
        while True:
            body = self._get("/portfolio/positions", {**params, "cursor": cursor} if cursor else params)
            before = len(markets) + len(events)
            for item in parse.objects(body, "market_positions", "the response"):
                position = parse.market_position(item)
                if position.ticker not in seen_m:
                    seen_m.add(position.ticker)
                    markets.append(position)
            for item in parse.objects(body, "event_positions", "the response"):
                event_position = parse.event_position(item)
                if event_position.event_ticker not in seen_e:
                    seen_e.add(event_position.event_ticker)
                    events.append(event_position)
            cursor = parse.text(body, "cursor", "the response", "")
            if not pages.goes_on(cursor, len(markets) + len(events) - before):
                return Positions(tuple(markets), tuple(events))

    @_reads("GET /portfolio/fills")
    def iter_fills(self, *, ticker: str | None = None, order_id: str | None = None,
                   min_ts: int | datetime | None = None, max_ts: int | datetime | None = None) -> Iterator[Fill]:
        params = {"limit": 1000, "ticker": _opt(ids.market_ticker, ticker), "order_id": _opt(ids.order_id, order_id),
                  "min_ts": _ts(min_ts), "max_ts": _ts(max_ts)}
        for item in self._pages("/portfolio/fills", "fills", params, lambda f: f.get("fill_id") or f.get("trade_id")):
            yield parse.fill(item)

    @_reads("GET /portfolio/settlements")
    def iter_settlements(self, *, ticker: str | None = None, event_ticker: str | None = None,
                         min_ts: int | datetime | None = None, max_ts: int | datetime | None = None
                         ) -> Iterator[Settlement]:
        params = {"limit": 1000, "ticker": _opt(ids.market_ticker, ticker),
                  "event_ticker": _opt(ids.event_ticker, event_ticker),
                  "min_ts": _ts(min_ts), "max_ts": _ts(max_ts)}
        key = lambda s: f"{s.get('ticker')}|{s.get('settled_time')}"  # noqa: E731  settlements carry no id
        for item in self._pages("/portfolio/settlements", "settlements", params, key):
            yield parse.settlement(item)

    # ----------------------------------------------------------------- order reads
    @_reads("GET /portfolio/orders")
    def iter_orders(self, *, ticker: str | None = None, event_ticker: str | None = None, status: str | None = None,
                    min_ts: int | datetime | None = None, max_ts: int | datetime | None = None) -> Iterator[Order]:
        params = {"limit": 1000, "ticker": _opt(ids.market_ticker, ticker),
                  "event_ticker": _opt(ids.event_ticker, event_ticker), "status": status,
                  "min_ts": _ts(min_ts), "max_ts": _ts(max_ts)}
        for item in self._pages("/portfolio/orders", "orders", params, lambda o: o.get("order_id")):
            yield parse.order(item)

    @_reads("GET /portfolio/orders/{order_id}")
    def get_order(self, order_id: str) -> Order:
        body = self._get(f"/portfolio/orders/{_seg(ids.order_id(order_id))}")
        return parse.order(parse.field_obj(body, "order", "the response"))

    def find_order_by_client_id(self, ticker: str, client_order_id: str) -> Order | None:
        """Fills and order writes do not key on client_order_id; the order list does carry it."""
        for order in self.iter_orders(ticker=ticker):
            if order.client_order_id == client_order_id:
                return order
        return None

    @_reads("GET /portfolio/orders/{order_id}/queue_position")
    def get_queue_position(self, order_id: str) -> Decimal:
        body = self._get(f"/portfolio/orders/{_seg(ids.order_id(order_id))}/queue_position")
        return parse.count(body, "queue_position", "QueuePosition")

    @_reads("GET /portfolio/orders/queue_positions")
    def get_queue_positions(self, market_tickers: Iterable[str] | None = None,
                            event_ticker: str | None = None) -> list[QueuePosition]:
        params = {"market_tickers": ",".join(ids.market_ticker(t) for t in market_tickers) if market_tickers else None,
                  "event_ticker": _opt(ids.event_ticker, event_ticker)}
        body = self._get("/portfolio/orders/queue_positions", params)
        return [parse.queue_position(q) for q in parse.objects(body, "queue_positions", "the response")]

    # ----------------------------------------------------------------- order writes (V2)
    @_reads(f"POST {ORDERS}")
    def create_order(self, request: OrderRequest) -> OrderAck:
        """Place one order; safe to retry because its client_order_id is fixed before the first attempt.

        A success whose answer cannot be read means the order was placed: it is looked up by its
        client_order_id, and if that fails too the outcome is unknown (OrderOutcomeUnknown).
        """
        client_order_id = request.client_order_id or new_client_order_id()
        body = order_body(request, client_order_id)
        try:
            resp = self.transport.request("POST", ORDERS, body=body)
            return parse.order_ack(resp.body, client_order_id)
        except ConflictError as exc:
            if exc.code == "order_already_exists" and exc.attempt > 1:
                return self._recover_ack(request.ticker, client_order_id)
            raise
        except TransientError as exc:
            raise OrderOutcomeUnknown(client_order_id, request.ticker, exc) from None
        except ResponseFormatError as exc:
            return self._ack_despite(_named(exc, f"POST {ORDERS}"), request.ticker, client_order_id)

    def _ack_despite(self, unreadable: ResponseFormatError, ticker: str, client_order_id: str) -> OrderAck:
        log.warning("the answer to order %s could not be read (%s); looking the order up", client_order_id,
                    unreadable)
        try:
            return self._recover_ack(ticker, client_order_id)
        except ApiError:
            raise OrderOutcomeUnknown(client_order_id, ticker, unreadable) from None

    def _recover_ack(self, ticker: str, client_order_id: str) -> OrderAck:
        order = self.find_order_by_client_id(ticker, client_order_id)
        if order is None:
            raise ConflictError(
                f"client_order_id {client_order_id} exists on the exchange but the order was not found",
                status=409, code="order_already_exists",
            )
        log.info("order %s landed on an earlier attempt; recovered as %s", client_order_id, order.order_id)
        return OrderAck(order.order_id, client_order_id, order.fill_count, order.remaining_count, order=order)

    @_reads(f"DELETE {ORDERS}/{{order_id}}")
    def cancel_order(self, order_id: str, ticker: str | None = None) -> CancelAck:
        order_id = ids.order_id(order_id)
        try:
            resp = self.transport.request("DELETE", f"{ORDERS}/{_seg(order_id)}",
                                          params={"market_ticker": _opt(ids.market_ticker, ticker)})
        except NotFoundError as exc:
            if exc.attempt > 1:
                order = self.get_order(order_id)
                return CancelAck(order_id, order.client_order_id, Decimal(0), already_gone=True, order=order)
            raise
        return parse.cancel_ack(resp.body)

    @_reads(f"POST {ORDERS}/{{order_id}}/amend")
    def amend_order(self, order_id: str, *, ticker: str, book_side: BookSide, yes_price: Decimal, count: Decimal,
                    client_order_id: str | None = None, updated_client_order_id: str | None = None) -> OrderAck:
        """`count` is the new total (filled + remaining); the same amend re-sent is harmless, so it is retried."""
        order_id = ids.order_id(order_id)
        body = {"ticker": ids.market_ticker(ticker), "side": book_side.value, "price": fmt_dollars(yes_price),
                "count": fmt_count(count)}
        if client_order_id:
            body["client_order_id"] = ids.client_order_id(client_order_id)
        if updated_client_order_id:
            body["updated_client_order_id"] = ids.client_order_id(updated_client_order_id)
        resp = self.transport.request("POST", f"{ORDERS}/{_seg(order_id)}/amend", body=body)
        return parse.order_ack(resp.body, client_order_id or "")

    @_reads(f"POST {ORDERS}/{{order_id}}/decrease")
    def decrease_order(self, order_id: str, *, reduce_by: Decimal | None = None, reduce_to: Decimal | None = None,
                       ticker: str | None = None) -> DecreaseAck:
        """Exactly one of reduce_by / reduce_to.  Only `reduce_to` is idempotent, so only it is retried."""
        if (reduce_by is None) == (reduce_to is None):
            raise UsageError("give exactly one of reduce_by or reduce_to")
        order_id = ids.order_id(order_id)
        body: dict[str, Any] = {"market_ticker": ids.market_ticker(ticker)} if ticker else {}
        if reduce_by is not None:
            body["reduce_by"] = fmt_count(reduce_by)
        elif reduce_to is not None:
            body["reduce_to"] = fmt_count(reduce_to)
        retry_on = None if reduce_to is not None else _only_if_not_sent
        resp = self.transport.request("POST", f"{ORDERS}/{_seg(order_id)}/decrease", body=body, retry_on=retry_on)
        return parse.decrease_ack(resp.body)

    @_reads(f"POST {ORDERS}/batched")
    def batch_create(self, requests_: list[OrderRequest]) -> list[BatchItemResult]:
        """Per-item results; each item keeps its client_order_id across retries, and a 409 on a repeat is recovered.

        When the answer (or one item of it) cannot be read, those items' outcome is unknown (OrderOutcomeUnknown).
        """
        cids = [r.client_order_id or new_client_order_id() for r in requests_]
        body = {"orders": [order_body(r, cid) for r, cid in zip(requests_, cids, strict=True)]}
        try:
            resp = self.transport.request("POST", f"{ORDERS}/batched", body=body, cost_items=len(requests_))
            items = parse.batch_items(resp.body, len(requests_))
        except (TransientError, ResponseFormatError) as exc:
            cause = _named(exc, f"POST {ORDERS}/batched") if isinstance(exc, ResponseFormatError) else exc
            return [BatchItemResult(i, error=OrderOutcomeUnknown(cid, r.ticker, cause))
                    for i, (r, cid) in enumerate(zip(requests_, cids, strict=True))]
        return [self._batch_created(i, item, requests_[i].ticker, cids[i], resp.attempts)
                for i, item in enumerate(items)]

    def _batch_created(self, i: int, item: Mapping, ticker: str, cid: str, attempts: int) -> BatchItemResult:
        err = item.get("error")
        if not err:
            try:
                return BatchItemResult(i, ack=parse.order_ack(item, cid))
            except ResponseFormatError as exc:
                return BatchItemResult(i, error=OrderOutcomeUnknown(cid, ticker, _named(exc, f"POST {ORDERS}/batched")))
        code, message, details = parse.item_error(err)
        if code == "order_already_exists" and attempts > 1:
            try:
                return BatchItemResult(i, ack=self._recover_ack(ticker, cid))
            except ApiError as exc:
                return BatchItemResult(i, error=exc)
        return BatchItemResult(i, error=RejectedError(message, code=code, details=details))

    @_reads(f"DELETE {ORDERS}/batched")
    def batch_cancel(self, order_ids: list[str]) -> list[BatchItemResult]:
        order_ids = [ids.order_id(oid) for oid in order_ids]
        body = {"orders": [{"order_id": oid} for oid in order_ids]}
        resp = self.transport.request("DELETE", f"{ORDERS}/batched", body=body, cost_items=len(order_ids))
        results = []
        for i, item in enumerate(parse.batch_items(resp.body, len(order_ids))):
            err = item.get("error")
            if err:
                code, message, details = parse.item_error(err)
                if code == "not_found" and resp.attempts > 1:
                    results.append(BatchItemResult(i, ack=CancelAck(order_ids[i], "", Decimal(0), already_gone=True)))
                    continue
                results.append(BatchItemResult(i, error=RejectedError(message, code=code, details=details)))
            else:
                results.append(BatchItemResult(i, ack=parse.cancel_ack(item)))
        return results

    def cancel_all(self) -> None:
        self.transport.request("DELETE", ORDERS)

    # ----------------------------------------------------------------- account
    @_reads("GET /account/limits")
    def get_account_limits(self) -> dict:
        return self._get("/account/limits")

    # ----------------------------------------------------------------- batch reads (api/batch.py)
    def get_markets_by_tickers(self, tickers: Iterable[str], *, pool: ReadPool | None = None) -> BatchRead[Market]:
        """Markets by ticker: `GET /markets?tickers=A,B` (comma form), MARKETS_PER_REQUEST a request, the
        requests concurrent on `pool`.  A ticker the answer leaves out is `unknown`; a request that fails after
        retries puts its tickers in `failed` (the others are still returned)."""
        wanted = [ids.market_ticker(t) for t in unique_tickers(tickers)]
        return read_chunks(wanted, MARKETS_PER_REQUEST, self._markets_chunk, pool)

    def get_orderbooks_by_tickers(self, tickers: Iterable[str], depth: int | None = None, *,
                                  pool: ReadPool | None = None) -> BatchRead[OrderBook]:
        """Order books by ticker: `GET /markets/orderbooks?tickers=A&tickers=B` (repeated key, 1 to
        ORDERBOOKS_PER_REQUEST a request), concurrent on `pool`.  A request refused because of one ticker
        (404) is split in halves until the unknown ticker is alone, so one bad ticker costs the others nothing."""
        return read_chunks([ids.market_ticker(t) for t in unique_tickers(tickers)], ORDERBOOKS_PER_REQUEST,
                           lambda chunk: self._orderbooks_chunk(chunk, depth, pool), pool)

    def _markets_chunk(self, chunk: Sequence[str]) -> BatchRead[Market]:
        wanted = set(chunk)
        found = {m.ticker: m for m in self.iter_markets(tickers=chunk, page_size=MARKETS_PER_REQUEST)
                 if m.ticker in wanted}
        return BatchRead(found, tuple(t for t in chunk if t not in found))

    @_reads("GET /markets/orderbooks")
    def _orderbooks_chunk(self, chunk: Sequence[str], depth: int | None, pool: ReadPool | None
                          ) -> BatchRead[OrderBook]:
        try:
            body = self._get("/markets/orderbooks", {"tickers": list(chunk), "depth": depth})
        except RejectedError as exc:  # 404 (or 400) for the whole request: find the ticker(s) it is about
            if len(chunk) == 1:
                if isinstance(exc, NotFoundError):
                    return BatchRead(unknown=(chunk[0],))
                raise
            half = len(chunk) // 2
            return read_chunks(chunk, half + len(chunk) % 2,
                               lambda part: self._orderbooks_chunk(part, depth, pool), pool)
        items = body.get("orderbooks") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ResponseFormatError("orderbooks response has no 'orderbooks' list", path="/markets/orderbooks")
        wanted = set(chunk)
        found: dict[str, OrderBook] = {}
        for item in items:
            ticker = item.get("ticker") if isinstance(item, dict) else None
            if not isinstance(ticker, str):
                raise ResponseFormatError("orderbooks entry without a ticker", path="/markets/orderbooks")
            if ticker in wanted:  # never attribute a book to a market that was not asked for
                found[ticker] = parse.orderbook(ticker, item)
        return BatchRead(found, tuple(t for t in chunk if t not in found))


    # --- small reads the bot uses (typed here so nothing outside api/ touches the transport) ----------------
    @property
    def base_url(self) -> str:
        """The REST base URL this client talks to (with its /trade-api/v2 suffix)."""
        return self.transport.base_url

    def get_user_data_timestamp(self) -> datetime:
        """The exchange's clock: when user data (fills, positions) was last validated (`as_of_time`)."""
        body = self._get("/exchange/user_data_timestamp")
        ts = parse.timestamp(body.get("as_of_time")) if isinstance(body, dict) else None
        if ts is None:
            raise ResponseFormatError("no as_of_time in the answer", path="/exchange/user_data_timestamp",
                                      method="GET")
        return ts

    def get_sim_underlying(self, series_ticker: str) -> UnderlyingQuote:
        """The simulator's underlying spot for a series (`GET /sim/underlying/{series}`; 404 on a real exchange)."""
        route = f"/sim/underlying/{quote(series_ticker.upper(), safe='')}"
        body = self._get(route)
        try:
            ts = parse.timestamp(body.get("ts"))
            price = Decimal(str(body["price"]))
            vol = body.get("volatility")
            volatility = Decimal(str(vol)) if vol is not None else None
        except (AttributeError, KeyError, TypeError, ArithmeticError) as exc:
            raise ResponseFormatError(f"unreadable underlying price: {exc}", path=route, method="GET") from None
        if ts is None or not price.is_finite() or price <= 0:
            raise ResponseFormatError("underlying price without a time or with a non-positive price", path=route,
                                      method="GET")
        return UnderlyingQuote(series_ticker.upper(), ts, price, volatility)


@dataclass(frozen=True)
class UnderlyingQuote:
    """A simulated underlying's spot (model input) at an exchange time."""

    series_ticker: str
    ts: datetime
    price: Decimal
    volatility: Decimal | None = None


def _only_if_not_sent(error: ApiError, attempt: int) -> bool:
    """Retry a non-idempotent write only when the exchange certainly did not process it."""
    return isinstance(error, (RateLimited, RequestNotSent))
