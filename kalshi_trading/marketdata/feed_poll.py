"""The fallback source: poll the REST order book (and recent trades) behind the `MarketFeed` interface.

Every `interval` seconds a background thread reads `GET /markets/{ticker}/orderbook` for each
market (through `KalshiClient`, with its rate limiter and retries) and queues the whole book;
`events()` installs it and reports `BookUpdated` only when something changed.  With `trades` the
thread also reads the public trades newer than the last one seen.  A failing exchange yields one
`Disconnected`, marks the books stale, and the first good poll after it a `Reconnected`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Iterable

from kalshi_trading.marketdata.book import orderbook_units
from kalshi_trading.marketdata.events import FeedError, TradeMsg, utcnow, wire_enum
from kalshi_trading.marketdata.feed import QueueFeed
from kalshi_trading.errors import ApiError, RejectedError, TransientError
from kalshi_trading.models import BookSide, Side

log = logging.getLogger(__name__)


class PollingFeed(QueueFeed):
    """Books (and trades) from REST polling; same interface as `WebSocketFeed`."""

    def __init__(self, client, interval: float = 1.0, *, trades: bool = True, depth: int | None = None,
                 max_backoff: float = 30.0):
        super().__init__(resync_timeout=max(5.0, 3 * interval))
        self.client = client
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
        self._thread = threading.Thread(target=self._run, name="kalshi-poll-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._poll_now.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._wake()

    def __enter__(self) -> "PollingFeed":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
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
                for ticker in tickers:
                    self._poll(ticker)
            except TransientError as exc:
                failures += 1
                if not self._down:
                    self._put("disconnected", f"REST polling failed: {exc}")
                    self._down = True
                self._stopping.wait(min(self.max_backoff, self.interval * 2 ** failures))
                continue
            failures = 0
            self._stats.polls += 1
            self._poll_now.wait(self.interval)
            self._poll_now.clear()

    def _poll(self, ticker: str) -> None:
        try:
            book = self.client.get_orderbook(ticker, self.depth)
        except RejectedError as exc:  # e.g. an unknown ticker: say so, keep polling the others
            self._put("event", FeedError(exc.code or exc.status or "rejected", str(exc), utcnow()))
            return
        if self._down:  # the first good answer after an outage: books resync from here
            self._down = False
            self._put("reconnected", 1)
        yes, no = orderbook_units(book)
        self._put("book", (ticker, yes, no, utcnow()))
        if self.trades:
            self._poll_trades(ticker)

    def _poll_trades(self, ticker: str) -> None:
        since = self._since.get(ticker) or utcnow()
        try:
            found = list(self.client.iter_trades(ticker, min_ts=since - timedelta(seconds=1), limit=200))
        except ApiError as exc:
            if isinstance(exc, TransientError):
                raise
            log.info("trades of %s unavailable: %s", ticker, exc)
            return
        fresh = [t for t in found if t.trade_id not in self._seen_trades]
        fresh.sort(key=lambda t: t.created_time or since)
        for t in fresh:
            self._seen_trades.add(t.trade_id)
            ts = t.created_time or utcnow()
            if ts > since:
                self._since[ticker] = ts
            self._put("trade", TradeMsg(ticker, t.trade_id, t.yes_price, t.count,
                                        wire_enum(Side, t.taker_outcome_side), wire_enum(BookSide, t.taker_book_side),
                                        ts.astimezone(timezone.utc)))
