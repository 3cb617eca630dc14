"""The live WebSocket feed (reference section 11): signed handshake, commands, heartbeats, reconnects.

One background thread owns the connection (`websockets.sync.client`): it connects with freshly
signed headers (`GET /trade-api/ws/v2`), subscribes, reads frames and queues them; commands may
be sent from any thread.  Pings from the server are answered by `websockets` itself; when nothing
at all arrives for `read_timeout` seconds we ping the server, and no pong within `ping_timeout`
means a dead connection.  A dead or closed connection is reopened with exponential backoff and
jitter, every subscription is sent again, and every book resyncs (the new subscription brings
fresh snapshots).  A refused handshake (401/403) is fatal: `events()` raises it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, Sequence
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from kalshi_trading.marketdata.events import FeedError, utcnow
from kalshi_trading.marketdata.feed import QueueFeed
from kalshi_trading.errors import AuthenticationError

log = logging.getLogger(__name__)

# Channels whose subscription names markets; the rest are account-wide (all of our markets).
MARKET_CHANNELS = ("orderbook_delta", "ticker", "trade", "market_lifecycle_v2")
ACCOUNT_CHANNELS = ("fill", "market_positions", "user_orders")
ALL_CHANNELS = MARKET_CHANNELS + ACCOUNT_CHANNELS
BOOK_CHANNELS = ("orderbook_delta", "trade", "ticker")
CONTROL_TYPES = frozenset({"subscribed", "unsubscribed", "ok", "error"})
_PENDING = "pending"


class HandshakeSigner(Protocol):
    """What signs the handshake: `api.signer.Signer` (the three KALSHI-ACCESS-* headers)."""

    def sign(self, method: str, path: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Backoff:
    """Delay before reconnect attempt n (1-based): initial x factor^(n-1), capped, +- jitter."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.2

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))


class WebSocketFeed(QueueFeed):
    """Books and events from the exchange's WebSocket; see the module docstring.

    `signer` is an `api.signer.Signer` (anything with `sign(method, path) -> headers`); `url` comes
    from `Settings.ws_url(rest_base)` (KALSHI_WS_BASE overrides it).
    """

    def __init__(self, url: str, signer: HandshakeSigner, channels: Sequence[str] = ALL_CHANNELS, *,
                 read_timeout: float = 30.0, ping_timeout: float = 10.0, open_timeout: float = 10.0,
                 backoff: Backoff = Backoff(), resync_timeout: float = 5.0, max_size: int = 64 * 2**20):
        super().__init__(resync_timeout)
        unknown = [c for c in channels if c not in ALL_CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel(s): {', '.join(unknown)}")
        self.url = url
        self.signer = signer
        self.channels = tuple(channels)
        self.read_timeout = read_timeout
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.backoff = backoff
        self.max_size = max_size
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: ClientConnection | None = None
        self._tickers: list[str] = []  # what we want, kept across reconnects
        self._next_id = 0
        self._cmds: dict[int, tuple[str, dict]] = {}  # command id -> (cmd, params), this connection
        self._sids: dict[str, int | str] = {}  # channel -> sid (or _PENDING), this connection
        self._deferred: dict[str, list[str]] = {}  # channel -> tickers to add once subscribed
        self._down_reported = False

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Connect and subscribe in the background (returns at once)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="kalshi-ws-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the connection, end the thread, and let `events()` return."""
        self._stopping.set()
        with self._lock:
            conn = self._conn
        if conn is not None:
            conn.close()
        if self._thread is not None:
            self._thread.join(timeout=self.open_timeout + 5)
            self._thread = None
        self._wake()

    def __enter__(self) -> "WebSocketFeed":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    # ---------------------------------------------------------------- subscriptions
    def subscribe(self, tickers: Iterable[str]) -> None:
        """Follow more markets (books appear in `books` at once, usable after their snapshot).

        Call it from the thread that iterates `events()`: both touch `books`.
        """
        new = [t for t in dict.fromkeys(t.strip().upper() for t in tickers) if t and t not in self._tickers]
        for t in new:
            self._keeper.add(t)
        with self._lock:
            self._tickers.extend(new)
            if self._conn is None or not new:
                return
            for channel in self._market_channels():
                state = self._sids.get(channel)
                if state is None:
                    self._send_subscribe(channel, new)
                elif state == _PENDING:
                    self._deferred.setdefault(channel, []).extend(new)
                else:
                    self._send("update_subscription", {"sid": state, "market_tickers": new, "action": "add_markets"})

    def unsubscribe(self, tickers: Iterable[str]) -> None:
        """Stop following markets (their books go away)."""
        gone = [t for t in (t.strip().upper() for t in tickers) if t in self._tickers]
        with self._lock:
            self._tickers = [t for t in self._tickers if t not in gone]
            if self._conn is not None and gone:
                for channel in self._market_channels():
                    sid = self._sids.get(channel)
                    if isinstance(sid, int):
                        self._send("update_subscription", {"sid": sid, "market_tickers": gone,
                                                           "action": "delete_markets"})
        for t in gone:
            self._keeper.remove(t)

    def update_subscription(self, channel: str, action: str, tickers: Sequence[str]) -> int | None:
        """Send `update_subscription` (add_markets | delete_markets | get_snapshot) to a channel's sid.

        Returns the command id, or None when that channel has no live subscription yet.
        """
        with self._lock:
            sid = self._sids.get(channel)
            if self._conn is None or not isinstance(sid, int):
                return None
            return self._send("update_subscription", {"sid": sid, "market_tickers": list(tickers), "action": action})

    def subscriptions(self) -> dict[str, int]:
        """Channel -> sid of the live connection's confirmed subscriptions."""
        with self._lock:
            return {c: s for c, s in self._sids.items() if isinstance(s, int)}

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(self._tickers)

    def _market_channels(self) -> list[str]:
        return [c for c in self.channels if c in MARKET_CHANNELS]

    def _request_resync(self, tickers: list[str]) -> None:
        # Fresh snapshots on the book subscription; while connecting, the subscription brings them.
        if self.update_subscription("orderbook_delta", "get_snapshot", tickers) is None:
            log.debug("no live book subscription; snapshots for %s will come with it", tickers)

    # ---------------------------------------------------------------- sending (hold self._lock)
    def _send(self, cmd: str, params: dict | None = None) -> int | None:
        conn = self._conn
        if conn is None:  # between connections: the next one subscribes to everything anyway
            return None
        self._next_id += 1
        ident = self._next_id
        frame: dict[str, Any] = {"id": ident, "cmd": cmd}
        if params is not None:
            frame["params"] = params
        self._cmds[ident] = (cmd, params or {})
        try:
            conn.send(json.dumps(frame))
        except (ConnectionClosed, OSError) as exc:  # the reader sees the close and reconnects
            log.info("could not send %s: %s", cmd, exc)
            return None
        return ident

    def _send_subscribe(self, channel: str, tickers: list[str] | None) -> None:
        params: dict = {"channels": [channel]}
        if tickers:
            params["market_tickers"] = list(tickers)
        self._sids[channel] = _PENDING
        self._send("subscribe", params)

    def _subscribe_all(self) -> None:
        with self._lock:
            for channel in self.channels:
                if channel in MARKET_CHANNELS:
                    if self._tickers:
                        self._send_subscribe(channel, self._tickers)
                else:
                    self._send_subscribe(channel, None)

    # ---------------------------------------------------------------- the connection thread
    def _run(self) -> None:
        attempts = 0
        while not self._stopping.is_set():
            outcome = None
            try:
                with self._open() as conn:
                    outcome = self._session(conn, attempts)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    self._put("fatal", AuthenticationError(
                        f"WebSocket handshake refused (HTTP {status}); check the API key, its scopes and the clock",
                        status=status, method="GET", path=urlsplit(self.url).path))
                    return
                reason = f"handshake refused: HTTP {status}"
            except (OSError, TimeoutError, WebSocketException) as exc:
                reason = f"cannot connect: {exc}"
            if self._stopping.is_set():
                return
            if outcome is None:
                self._stats.connect_failures += 1
                attempts = self._failed(attempts, reason)
            else:
                reason, got_data = outcome
                log.warning("WebSocket lost: %s", reason)
                attempts = self._failed(0 if got_data else attempts, reason)

    def _session(self, conn: ClientConnection, attempts: int) -> tuple[str, bool]:
        """One connection: resubscribe everything, then read until it dies."""
        self._stats.connects += 1
        with self._lock:
            self._conn = conn
            self._next_id = 0
            self._cmds.clear()
            self._sids.clear()
            self._deferred.clear()
        if self._down_reported:
            self._put("reconnected", attempts)
            self._down_reported = False
        try:
            self._subscribe_all()
            return self._read(conn)
        finally:
            with self._lock:
                self._conn = None

    def _open(self) -> ClientConnection:
        path = urlsplit(self.url).path or "/"
        headers = self.signer.sign("GET", path)  # fresh timestamp on every connection
        return ws_connect(self.url, additional_headers=headers, open_timeout=self.open_timeout,
                          ping_interval=None, close_timeout=2, max_size=self.max_size)

    def _failed(self, attempts: int, reason: str) -> int:
        """Report the outage once, then wait out the backoff.  Returns the new attempt count."""
        attempts += 1
        if not self._down_reported:
            self._put("disconnected", reason)
            self._down_reported = True
        delay = self.backoff.delay(attempts)
        log.info("reconnecting in %.2f s (attempt %d): %s", delay, attempts, reason)
        self._stopping.wait(delay)
        return attempts

    def _read(self, conn: ClientConnection) -> tuple[str, bool]:
        """Read until the connection dies; returns (why, whether any data came)."""
        got_data = False
        while not self._stopping.is_set():
            try:
                raw = conn.recv(timeout=self.read_timeout)
            except TimeoutError:
                if self._alive(conn):
                    continue
                return f"no data for {self.read_timeout:g} s and no pong", got_data
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else "none"
                return f"connection closed (code {code})", got_data
            got_data = True
            try:
                env = json.loads(raw)
            except ValueError:
                log.warning("ignoring a frame that is not JSON: %.80r", raw)
                continue
            if not isinstance(env, dict):
                continue
            if env.get("type") in CONTROL_TYPES:
                self._control(env)
            else:
                self._put("msg", env)
        return "stopped", got_data

    def _alive(self, conn: ClientConnection) -> bool:
        try:
            pong = conn.ping()
        except (ConnectionClosed, OSError):
            return False
        return pong.wait(self.ping_timeout)

    def _control(self, env: dict) -> None:
        typ, ident, body = env.get("type"), env.get("id"), env.get("msg")
        sid, seq = env.get("sid"), env.get("seq")
        with self._lock:
            cmd, params = self._cmds.get(ident, ("", {})) if isinstance(ident, int) else ("", {})
            if typ == "subscribed":
                channel = (body or {}).get("channel") or (params.get("channels") or [None])[0]
                sid = (body or {}).get("sid", sid)
                if channel is not None and isinstance(sid, int):
                    self._sids[channel] = sid
                    later = self._deferred.pop(channel, None)
                    if later:
                        self._send("update_subscription", {"sid": sid, "market_tickers": later,
                                                           "action": "add_markets"})
                elif channel is not None:
                    log.warning("subscribed to %s without a sid (%r); ignoring the reply", channel, sid)
            elif typ == "unsubscribed":
                for channel, known in list(self._sids.items()):
                    if known == sid:
                        del self._sids[channel]
            elif typ == "error":
                self._on_error(ident, cmd, params, body if isinstance(body, dict) else {})
        if typ in ("ok", "unsubscribed") and isinstance(sid, int) and isinstance(seq, int):
            self._put("control_seq", (sid, seq))  # in order with the data, for the per-sid check

    def _on_error(self, ident: object, cmd: str, params: dict, body: dict) -> None:
        code, text = body.get("code", "?"), str(body.get("msg") or body.get("message") or "")
        channel = (params.get("channels") or [None])[0] if cmd == "subscribe" else None
        log.warning("WebSocket command %s (id %s) refused: %s %s", cmd or "?", ident, code, text)
        if cmd == "subscribe" and channel is not None and self._sids.get(channel) == _PENDING:
            del self._sids[channel]
            later = self._deferred.pop(channel, None)
            if later and code != 6:
                self._send_subscribe(channel, later)
        if cmd == "update_subscription" and params.get("action") == "get_snapshot":
            self._resubscribe_books()  # no get_snapshot here: resubscribe, which starts with snapshots
        self._put("event", FeedError(code, text, utcnow(), channel))

    def _resubscribe_books(self) -> None:
        sid = self._sids.get("orderbook_delta")
        if isinstance(sid, int):
            self._send("unsubscribe", {"sids": [sid]})
        if self._tickers:
            self._send_subscribe("orderbook_delta", self._tickers)
