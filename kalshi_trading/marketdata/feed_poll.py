"""The fallback source: poll the REST order book (and recent trades) behind the `MarketFeed` interface.

Every `interval` seconds a background thread reads the books of all markets with the batch endpoint
`GET /markets/orderbooks` (100 a request, the requests concurrent; through `KalshiClient`, with its rate
limiter and retries) and queues each whole book; `events()` installs it and reports `BookUpdated` only when
something changed.  With `trades` the thread also reads each market's public trades newer than the last one
seen, concurrently.  So a poll costs two round trips however many markets are watched.  A failing exchange
(no book read) yields one `Disconnected`, marks the books stale, and the first good poll after it a
`Reconnected`; books that could not be read while others were are marked stale (`BookStale`) until read
again, never left looking current.  An unknown ticker is reported (`FeedError`) and the others keep polling.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable

from kalshi_trading.api.batch import BatchRead, ReadPool, is_network
from kalshi_trading.errors import ApiError, TransientError
from kalshi_trading.marketdata.book import orderbook_units
from kalshi_trading.marketdata.events import BookStale, FeedError, FeedEvent, TradeMsg, utcnow
from kalshi_trading.marketdata.feed import QueueFeed
from kalshi_trading.models import Trade

if TYPE_CHECKING:
    from kalshi_trading.api.client import KalshiClient

log = logging.getLogger(__name__)


class PollingFeed(QueueFeed):
    """Books (and trades) from REST polling; same interface as `WebSocketFeed`."""

    def __init__(self, client: KalshiClient, interval: float = 1.0, *, trades: bool = True, depth: int | None = None,
                 max_backoff: float = 30.0, workers: int = 4):
        super().__init__(resync_timeout=max(5.0, 3 * interval))
        self.client = client
        self.workers = workers
        self._pool: ReadPool | None = None
        self.interval = interval
        self.trades = trades
        self.depth = depth
        self.max_backoff = max_backoff
        self._tickers: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._poll_now = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_trades: set[str] = set()
        self._since: dict[str, datetime] = {}
        self._down = False

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._pool = ReadPool(self.workers, name="kalshi-poll")
        self._thread = threading.Thread(target=self._run, name="kalshi-poll-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._poll_now.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            if not self._thread.is_alive():
                self._thread = None
        if self._pool is not None and self._thread is None:  # (a poll thread that did not end keeps its pool)
            self._pool.close()
            self._pool = None
        self._wake()

    def __enter__(self) -> "PollingFeed":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def subscribe(self, tickers: Iterable[str]) -> None:
        new = [t for t in dict.fromkeys(t.strip().upper() for t in tickers) if t]
        with self._lock:
            for t in new:
                if t not in self._tickers:
                    self._tickers.append(t)
                    self._since[t] = utcnow()
                    self._keeper.add(t)
        self._poll_now.set()

    def unsubscribe(self, tickers: Iterable[str]) -> None:
        gone = {t.strip().upper() for t in tickers}
        with self._lock:
            self._tickers = [t for t in self._tickers if t not in gone]
        for t in gone:
            self._keeper.remove(t)

    def _request_resync(self, tickers: list[str]) -> None:
        self._poll_now.set()  # every poll is a full book: just poll sooner

    # ---------------------------------------------------------------- the polling thread
    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            with self._lock:
                tickers = list(self._tickers)
            try:
                self._poll(tickers)
            except TransientError as exc:
                failures += 1
                if not self._down:
                    self._put("disconnected", f"REST polling failed: {exc}")
                    self._down = True
                self._stopping.wait(min(self.max_backoff, self.interval * 2 ** failures))
                continue
            except Exception as exc:  # the thread's top level: e.g. a refused key; `events()` raises it
                log.error("REST polling stopped: %s", exc)
                self._put("fatal", exc)
                return
            failures = 0
            self._stats.polls += 1
            self._poll_now.wait(self.interval)
            self._poll_now.clear()

    def _poll(self, tickers: list[str]) -> None:
        """One poll of every book (batch reads), then of the trades of those read."""
        if not tickers:
            return
        read: BatchRead = self.client.get_orderbooks_by_tickers(tickers, self.depth, pool=self._pool)
        unavailable = read.unavailable
        if unavailable and len(unavailable) == len(tickers):
            raise read.failed[unavailable[0]]  # nothing could be read: the exchange is away
        now = utcnow()
        for t in read.unknown:  # say so, keep polling the others
            self._put("event", FeedError("not_found", f"no market {t}", now))
        for t, exc in read.failed.items():
            if not is_network(exc):
                self._put("event", FeedError(exc.code or exc.status or "rejected", f"{t}: {exc}", now))
        if self._down:  # the first answer after an outage: books resync from here
            self._down = False
            self._put("reconnected", 1)
        if unavailable:
            reason = f"REST poll failed: {read.failed[unavailable[0]]}"
            log.warning("books of %s not read: %s", ", ".join(unavailable), reason)
            self._put("unavailable", (unavailable, reason))
        for t in tickers:
            book = read.found.get(t)
            if book is not None:
                yes, no = orderbook_units(book)
                self._put("book", (t, yes, no, now))
        if self.trades:
            self._poll_trades([t for t in tickers if t in read.found])

    def _handle(self, kind: str, payload: Any) -> list[FeedEvent]:
        if kind != "unavailable":
            return super()._handle(kind, payload)
        tickers, reason = payload  # these books were not read now: they must not look current
        events: list[FeedEvent] = []
        for t in tickers:
            book = self.books.get(t)
            if book is not None and not book.stale:
                book.mark_stale(reason)
                events.append(BookStale(t, reason, utcnow()))
        return events

    def _poll_trades(self, tickers: list[str]) -> None:
        with ReadPool(1) if self._pool is None else nullcontext(self._pool) as pool:
            futures = [pool.submit(self._read_trades, t) for t in tickers]
            pool.wait(futures)
        for ticker, future in zip(tickers, futures, strict=True):
            error = future.exception()
            if error is None:
                self._queue_trades(ticker, *future.result())
            elif isinstance(error, ApiError):  # read again next poll: `since` has not moved
                log.info("trades of %s unavailable: %s", ticker, error)
            else:
                raise error

    def _read_trades(self, ticker: str) -> tuple[datetime, list]:
        since = self._since.get(ticker) or utcnow()
        return since, list(self.client.iter_trades(ticker, min_ts=since - timedelta(seconds=1), limit=200))

    def _queue_trades(self, ticker: str, since: datetime, found: list[Trade]) -> None:
        fresh = [t for t in found if t.trade_id not in self._seen_trades]
        fresh.sort(key=lambda t: t.created_time or since)
        for t in fresh:
            self._seen_trades.add(t.trade_id)
            ts = t.created_time or utcnow()
            if ts > since:
                self._since[ticker] = ts
            self._put("trade", TradeMsg(ticker, t.trade_id, t.yes_price, t.count,
                                        t.taker_outcome_side, t.taker_book_side,
                                        ts.astimezone(timezone.utc)))
