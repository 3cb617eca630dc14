"""Crypto.com Exchange market WebSocket: the BTC_USD ticker and the BTCUSD-INDEX index, pushed.

`CryptoComStream` owns one background thread (`websockets.sync.client`, as `marketdata/feed_ws.py` uses): it
connects to `{base}/exchange/v1/market`, waits `settle_delay` (the venue asks for about 1 s before the first
request), subscribes to `ticker.<instrument>` and `index.<index>`, and keeps the newest ticker quote and index
point.  The server's `{"id": n, "method": "public/heartbeat"}` is answered with
`{"id": n, "method": "public/respond-heartbeat"}` at once (an unanswered heartbeat gets us disconnected).
A lost connection is reopened with exponential backoff and jitter, and everything is subscribed again.
Frames that are not in the documented shape are logged and skipped; nothing here raises into the caller.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from kalshi_trading.marketdata.feed_ws import Backoff
from kalshi_trading.signals.collectors.bitcoin import IndexPoint
from kalshi_trading.signals.collectors.fetch import (Clock, SourceProblem, epoch_time, field, garbage, items, obj,
                                                     optional_price, price, utcnow)
from kalshi_trading.signals.collectors.tickers import BtcQuote
from kalshi_trading.signals.types import SourceHealth, SourceStatus

log = logging.getLogger(__name__)

WS_BASE = "wss://stream.crypto.com"
WS_PATH = "/exchange/v1/market"
SOURCE = "cryptocom-ws"


@dataclass
class StreamStats:
    connects: int = 0
    heartbeats_answered: int = 0
    frames: int = 0
    bad_frames: int = 0


class CryptoComStream:
    """The newest pushed ticker and index; see the module docstring.  Use as a context manager or start()/stop()."""

    def __init__(self, base_url: str = WS_BASE, instrument: str = "BTC_USD", index: str = "BTCUSD-INDEX", *,
                 settle_delay: float = 1.0, open_timeout: float = 5.0, read_timeout: float = 60.0,
                 backoff: Backoff = Backoff(), clock: Clock = utcnow):
        self.url = base_url.rstrip("/") + WS_PATH
        self.instrument = instrument
        self.index = index
        self.settle_delay = settle_delay
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.backoff = backoff
        self.clock = clock
        self.stats = StreamStats()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: ClientConnection | None = None
        self._quote: BtcQuote | None = None
        self._index: IndexPoint | None = None
        self._last_error: str | None = None

    # ------------------------------------------------------------------ public
    def start(self) -> None:
        """Connect and subscribe in the background (returns at once)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="cryptocom-ws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the connection and end the thread."""
        self._stopping.set()
        with self._lock:
            conn = self._conn
        if conn is not None:
            conn.close()
        if self._thread is not None:
            self._thread.join(timeout=self.open_timeout + self.settle_delay + 5)
            self._thread = None

    def __enter__(self) -> CryptoComStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def latest_quote(self) -> BtcQuote | None:
        """The newest ticker pushed (source `cryptocom-ws`), or None before the first."""
        with self._lock:
            return self._quote

    def latest_index(self) -> IndexPoint | None:
        """The newest index point pushed, or None before the first."""
        with self._lock:
            return self._index

    def health(self, max_age_s: float = 30.0) -> SourceHealth:
        """OK with a fresh ticker, STALE with an old one, FAILED with none (with the last connection error)."""
        now = self.clock()
        quote = self.latest_quote()
        if quote is None:
            return SourceHealth(SOURCE, SourceStatus.FAILED, now, None, self._last_error or "no ticker pushed yet")
        age = (now - quote.at).total_seconds()
        if age > max_age_s:
            return SourceHealth(SOURCE, SourceStatus.STALE, now, None,
                                f"last ticker is {age:.0f} s old (limit {max_age_s:g} s)")
        return SourceHealth(SOURCE, SourceStatus.OK, now)

    # ------------------------------------------------------------------ the connection thread
    def _run(self) -> None:
        attempts = 0
        while not self._stopping.is_set():
            try:
                with ws_connect(self.url, open_timeout=self.open_timeout, ping_interval=None, close_timeout=2) as conn:
                    with self._lock:
                        self._conn = conn
                    self.stats.connects += 1
                    got_data = self._session(conn)
                    reason = "connection closed"
            except (OSError, TimeoutError, WebSocketException) as exc:
                got_data, reason = False, f"cannot connect: {exc}"
            finally:
                with self._lock:
                    self._conn = None
            if self._stopping.is_set():
                return
            attempts = 1 if got_data else attempts + 1
            self._last_error = reason
            delay = self.backoff.delay(attempts)
            log.info("Crypto.com WebSocket: %s; reconnecting in %.2f s", reason, delay)
            self._stopping.wait(delay)

    def _session(self, conn: ClientConnection) -> bool:
        """Subscribe, then read until the connection dies or we stop; True if any frame came."""
        if self._stopping.wait(self.settle_delay):
            return False
        conn.send(json.dumps({"id": 1, "method": "subscribe", "nonce": int(time.time() * 1000),
                              "params": {"channels": [f"ticker.{self.instrument}", f"index.{self.index}"]}}))
        got_data = False
        while not self._stopping.is_set():
            try:
                raw = conn.recv(timeout=self.read_timeout)
            except TimeoutError:
                log.info("Crypto.com WebSocket: nothing for %g s", self.read_timeout)
                return got_data
            except ConnectionClosed:
                return got_data
            got_data = True
            self.stats.frames += 1
            self._frame(conn, raw)
        return got_data

    def _frame(self, conn: ClientConnection, raw: str | bytes) -> None:
        try:
            env = obj(json.loads(raw), "the frame")
            if env.get("method") == "public/heartbeat":
                conn.send(json.dumps({"id": env.get("id"), "method": "public/respond-heartbeat"}))
                self.stats.heartbeats_answered += 1
                return
            code = env.get("code", 0)
            if code not in (0, "0"):
                log.warning("Crypto.com WebSocket error %s: %s", code, env.get("message"))
                self._last_error = f"code {code}: {env.get('message')}"
                return
            if isinstance(env.get("result"), dict):
                self._push(env["result"])
        except (SourceProblem, ValueError) as exc:  # json's JSONDecodeError is a ValueError
            self.stats.bad_frames += 1
            log.warning("Crypto.com WebSocket: skipped a frame: %s", exc)
        except ConnectionClosed:
            pass  # the reader sees the close next

    def _push(self, result: dict[str, Any]) -> None:
        channel = str(result.get("channel") or "")
        subscription = str(result.get("subscription") or "")
        data = items(field(result, "data", "result"), "result.data")
        if not data:
            return
        received = self.clock()
        if channel == "ticker" or subscription.startswith("ticker."):
            row = obj(data[-1], "ticker data")
            bid, ask = optional_price(row.get("b"), "b"), optional_price(row.get("k"), "k")
            last = optional_price(row.get("a"), "a")
            if last is None and (bid is None or ask is None or bid > ask):
                raise garbage("a ticker with neither a two-sided book nor a last price")
            quote = BtcQuote(SOURCE, bid, ask, last, epoch_time(field(row, "t", "ticker"), "t", True), received)
            with self._lock:
                self._quote = quote
        elif channel == "index" or subscription.startswith("index."):
            row = obj(data[-1], "index data")
            point = IndexPoint(price(field(row, "v", "index"), "v"), epoch_time(field(row, "t", "index"), "t", True))
            with self._lock:
                self._index = point

