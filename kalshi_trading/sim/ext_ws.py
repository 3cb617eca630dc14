"""The loopback Crypto.com market WebSocket, `/ext/cryptocom/exchange/v1/market` on the simulator's port
(data-sources.md section 2).

A client sends `{"id": 1, "method": "subscribe", "params": {"channels": ["ticker.BTC_USD",
"index.BTCUSD-INDEX"]}, "nonce": <ms>}`; the server acknowledges `{"id": 1, "method": "subscribe", "code": 0}`,
then pushes `{"id": -1, "method": "subscribe", "code": 0, "result": {"channel", "subscription",
"instrument_name", "data": [...]}}` at once and every `push_s` seconds in which simulated time moved
(`candlestick.<timeframe>.BTC_USD` too).  `unsubscribe` takes the same params.  Every `heartbeat_s` the server
sends `{"id": <n>, "method": "public/heartbeat", "code": 0}`; a client that has not answered
`{"id": <n>, "method": "public/respond-heartbeat"}` within `heartbeat_timeout_s` is disconnected (close code
1008).  An unknown channel or method, or a message that is not JSON, is answered with a non-zero `code` and a
`message`.  No authentication (public market data); no wait is enforced after connecting.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass

from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from kalshi_trading.sim import outside_cryptocom as cro
from kalshi_trading.sim.outside_wire import OutsideError

log = logging.getLogger(__name__)

WS_PATH = "/ext/cryptocom/exchange/v1/market"
MAX_FRAME = 1 << 16
BAD_REQUEST = 10004
UNKNOWN_CHANNEL = 40003


@dataclass(frozen=True)
class MarketWsParams:
    """Timing of the market stream (seconds; short in tests)."""

    heartbeat_s: float = 30.0
    heartbeat_timeout_s: float = 5.0
    push_s: float = 1.0


class MarketSockets:
    """The open market-stream connections of one server (closed on stop)."""

    def __init__(self, params: MarketWsParams | None = None):
        self.params = params or MarketWsParams()
        self._conns: set[MarketConnection] = set()
        self._lock = threading.Lock()

    def attach(self, conn: "MarketConnection") -> None:
        with self._lock:
            self._conns.add(conn)

    def detach(self, conn: "MarketConnection") -> None:
        with self._lock:
            self._conns.discard(conn)

    def count(self) -> int:
        with self._lock:
            return len(self._conns)

    def shutdown(self) -> None:
        """Close every connection (server stopping)."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.close(1001, "server shutting down")


def serve(handler, app) -> None:
    """Upgrade the request held by `handler` and serve the stream until the socket closes."""
    shake = ServerProtocol(max_size=MAX_FRAME)
    response = shake.accept(Request(WS_PATH, Headers(handler.headers.items())))
    response.headers["Server"] = handler.server_version
    shake.send_response(response)
    try:
        for data in shake.data_to_send():
            if data:
                handler.connection.sendall(data)
    except OSError:
        return
    if response.status_code != 101:
        return
    sockets: MarketSockets = app.market_ws
    conn = MarketConnection(handler.connection, handler.rfile, app, sockets.params)
    sockets.attach(conn)
    try:
        conn.run()
    finally:
        sockets.detach(conn)


class MarketConnection:
    """One client: the handler thread reads, a timer thread sends heartbeats and pushes."""

    def __init__(self, sock: socket.socket, rfile, app, params: MarketWsParams):
        self.sock = sock
        self.rfile = rfile
        self.app = app
        self.params = params
        self.proto = ServerProtocol(state=State.OPEN, max_size=MAX_FRAME)
        self.lock = threading.Lock()  # the protocol and the fields below
        self.wake = threading.Event()
        self.subs: dict[str, int] = {}  # channel -> simulated second last pushed
        self.pending: dict[int, float] = {}  # heartbeat id -> monotonic deadline for its answer
        self.closed = False
        self.heartbeats = 0

    # ---- output ------------------------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        with self.lock:
            if self.closed or self.proto.state is not State.OPEN:
                return
            self.proto.send_text(data)
            self._flush()

    def _flush(self) -> None:
        for data in self.proto.data_to_send():
            if data:
                self.sock.sendall(data)
            else:
                self.sock.shutdown(socket.SHUT_WR)

    def close(self, code: int, reason: str) -> None:
        """A close frame, then the socket."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                if self.proto.state is State.OPEN:
                    self.proto.send_close(code, reason)
                    self._flush()
            except OSError:
                pass
        self.wake.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- the threads -----------------------------------------------------------------------------------------

    def run(self) -> None:
        timer = threading.Thread(target=self._timer, name="sim-ext-ws", daemon=True)
        timer.start()
        try:
            self._read_loop()
        except OSError:
            pass
        finally:
            self.close(1000, "bye")
            timer.join(timeout=2)

    def _read_loop(self) -> None:
        parts: list[bytes] = []
        while True:
            data = self.rfile.read1(65536)
            with self.lock:
                if data:
                    self.proto.receive_data(data)
                else:
                    self.proto.receive_eof()
                events = self.proto.events_received()
                self._flush()
            for frame in events:
                if isinstance(frame, Frame) and frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                    parts.append(bytes(frame.data))
                    if frame.fin:
                        message, parts = b"".join(parts), []
                        self._command(message)
            if not data or self.proto.state is not State.OPEN:
                return

    def _timer(self) -> None:
        params = self.params
        next_beat = time.monotonic() + params.heartbeat_s
        next_push = time.monotonic() + params.push_s
        while not self.closed:
            now = time.monotonic()
            with self.lock:
                missed = any(deadline <= now for deadline in self.pending.values())
                soonest = min(self.pending.values(), default=None)
            if missed:
                log.info("market stream: heartbeat not answered; disconnecting")
                self.close(1008, "heartbeat not answered")
                return
            if now >= next_beat:
                beat = int(time.time() * 1000)
                with self.lock:
                    beat = max([beat, *(b + 1 for b in self.pending)])  # ids stay unique
                    self.pending[beat] = now + params.heartbeat_timeout_s
                    self.heartbeats += 1
                self.send({"id": beat, "method": "public/heartbeat", "code": 0})
                next_beat = now + params.heartbeat_s
                soonest = min(soonest or math.inf, now + params.heartbeat_timeout_s)
            if now >= next_push:
                self._push(only_new=True)
                next_push = now + params.push_s
            wait = min(next_beat, next_push, soonest or math.inf) - time.monotonic()
            self.wake.wait(max(0.0, wait))

    # ---- commands and pushes ---------------------------------------------------------------------------------

    def _command(self, message: bytes) -> None:
        try:
            body = json.loads(message)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("method"), str):
            return self.send({"id": -1, "method": "", "code": BAD_REQUEST, "message": "BAD_REQUEST: not a request"})
        cid, method = body.get("id", -1), body["method"]
        if method == "public/respond-heartbeat":
            with self.lock:  # an answer covers its heartbeat and any older one
                if cid in self.pending:
                    self.pending = {b: d for b, d in self.pending.items() if b > cid}
            return None
        if method not in ("subscribe", "unsubscribe"):
            return self.send({"id": cid, "method": method, "code": BAD_REQUEST, "message": f"unknown method {method}"})
        params = body.get("params")
        channels = params.get("channels") if isinstance(params, dict) else None
        if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
            return self.send({"id": cid, "method": method, "code": BAD_REQUEST, "message": "params.channels needed"})
        if method == "unsubscribe":
            with self.lock:
                for channel in channels:
                    self.subs.pop(channel, None)
            return self.send({"id": cid, "method": method, "code": 0})
        unknown = [c for c in channels if self._data(c, probe=True) is None]
        if unknown:
            return self.send({"id": cid, "method": method, "code": UNKNOWN_CHANNEL,
                              "message": f"unknown channel {unknown[0]}"})
        with self.lock:
            for channel in channels:
                self.subs[channel] = -1
        self.send({"id": cid, "method": method, "code": 0})
        self._push(only_new=False, channels=channels)
        return None

    def _data(self, channel: str, probe: bool = False) -> dict | None:
        ex = self.app.exchange
        try:
            with ex.lock:
                ex.sync()
                return cro.channel_data(ex, channel)
        except OutsideError:
            return {} if probe else None  # the venue is failing this moment: known channel, nothing to push

    def _push(self, only_new: bool, channels: list[str] | None = None) -> None:
        ex = self.app.exchange
        second = ex.clock.now_ms() // 1000
        with self.lock:
            due = [c for c, last in self.subs.items()
                   if (channels is None or c in channels) and not (only_new and last == second)]
            for channel in due:
                self.subs[channel] = second
        for channel in due:
            result = self._data(channel)
            if result:
                self.send({"id": -1, "method": "subscribe", "code": 0, "result": result})
