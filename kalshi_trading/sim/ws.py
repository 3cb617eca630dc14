"""WebSocket v2 on the REST port: the signed handshake and one connection's I/O (reference 11).

`http.server` has already read the request line and headers when `serve_websocket` runs in the
handler thread; the upgrade is answered with `websockets`' sans-I/O `ServerProtocol`, then the
handler thread reads frames (commands go to the feed) and a writer thread per connection sends
queued messages and the heartbeat pings (payload `heartbeat`).  Client pings are answered by the
protocol itself.

A connection is registered with the feed before the 101 is sent, so a client that has its
handshake answered is already counted (and reachable by `close_connections`).  Limits (`WsLimits`):
at most `max_connections` open connections per user (more: HTTP 429 at the handshake), and a
token bucket of commands per connection (an empty bucket answers error 27, "Too many commands").
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.ratelimit import Bucket

log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"
MAX_FRAME = 1 << 20  # bytes per client message
PING_PAYLOAD = b"heartbeat"


@dataclass(frozen=True)
class WsLimits:
    """WebSocket limits: open connections per user (the reference's 200), and a per-connection
    token bucket of commands (`command_burst` at once, refilled at `command_rate` per second)."""

    max_connections: int = 200
    command_rate: float = 10.0
    command_burst: int = 100


def serve_websocket(handler, app) -> None:
    """Authenticate and upgrade the request held by `handler`, then serve until the socket closes."""
    handler.close_connection = True  # never back to HTTP on this socket
    path = urlsplit(handler.path).path
    try:
        key_id = app.verifier.verify(handler.headers, "GET", path, app.public_pem, int(time.time() * 1000))
    except SimError as exc:
        handler._send(exc.status, exc.body())
        return
    account = app.exchange.engine.by_key[key_id]
    shake = ServerProtocol(max_size=MAX_FRAME)
    response = shake.accept(Request(path, Headers(handler.headers.items())))
    response.headers["Server"] = handler.server_version
    sock = handler.connection
    if response.status_code != 101:
        _answer(sock, shake, response)
        return
    limits: WsLimits = app.ws_limits
    conn = Connection(sock, handler.rfile, account, app.feed, app.ws_ping_interval, app.ws_max_queue, limits)
    if not app.feed.attach(conn, limits.max_connections):  # registered before the client hears 101
        handler._send(429, {"error": {"code": "too_many_connections", "message": "too many WebSocket connections",
                                      "details": f"at most {limits.max_connections} per user"}})
        return
    with conn.proto_lock:  # nothing is written to the socket before the 101
        answered = _answer(sock, shake, response)
    if not answered:
        app.feed.detach(conn)
        return
    conn.run()


def _answer(sock: socket.socket, shake: ServerProtocol, response) -> bool:
    """Send the handshake response; False when the client has gone."""
    shake.send_response(response)
    try:
        for data in shake.data_to_send():
            if data:
                sock.sendall(data)
    except OSError:
        return False
    return True


class Connection:
    """One upgraded socket: reader (the calling thread), writer thread, bounded outgoing queue."""

    def __init__(self, sock: socket.socket, rfile, account, feed, ping_interval: float, max_queue: int,
                 limits: WsLimits = WsLimits()):
        self.sock = sock
        self.rfile = rfile
        self.account = account
        self.feed = feed
        self.ping_interval = ping_interval
        self.max_queue = max_queue
        self.proto = ServerProtocol(state=State.OPEN, max_size=MAX_FRAME)
        self.proto_lock = threading.Lock()
        self.cond = threading.Condition()
        self.queue: deque = deque()
        self.closed = False
        self.subs: dict = {}  # sid -> feed.Sub (guarded by the exchange lock)
        self.next_sid = 0
        self.pings_sent = 0
        self.commands = Bucket(limits.command_rate, limits.command_burst, time.monotonic())

    def allow_command(self) -> bool:
        """Take one command from this connection's budget (only the reader thread calls it)."""
        return self.commands.take(1, time.monotonic())

    # ---- called by the feed (under the exchange lock: never block) ----------------------------

    def push(self, batch: list, force: bool = False) -> list:
        """Queue (sub, frame) pairs; return the subscriptions whose frames did not fit."""
        overflowed: list = []
        with self.cond:
            if self.closed:
                return overflowed
            queue = self.queue
            if force or len(queue) + len(batch) <= self.max_queue:
                queue.extend(frame for _, frame in batch)
            else:
                room = self.max_queue - len(queue)
                for sub, frame in batch:
                    if sub is None:
                        queue.append(frame)  # command replies always go
                    elif sub in overflowed:
                        continue
                    elif room > 0:
                        queue.append(frame)
                        room -= 1
                    else:
                        overflowed.append(sub)
            self.cond.notify()
        return overflowed

    def drop(self) -> None:
        """Close abruptly, with no close frame (a network drop, as the fault hooks want)."""
        with self.cond:
            self.closed = True
            self.cond.notify()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Close politely: a close frame, then the socket."""
        # the writer may be stuck sending to a client that does not read: then just drop
        if self.proto_lock.acquire(timeout=1):
            try:
                if self.proto.state is State.OPEN:
                    self.proto.send_close(code, reason)
                    self._send_pending()
            except OSError:
                pass
            finally:
                self.proto_lock.release()
        self.drop()

    # ---- the connection's threads ---------------------------------------------------------------

    def run(self) -> None:
        """Serve the attached, answered connection until it closes; then detach it."""
        writer = threading.Thread(target=self._write_loop, name="sim-ws-writer", daemon=True)
        writer.start()
        try:
            self._read_loop()
        except OSError:
            pass
        except Exception:  # keep the server alive whatever one client does
            log.exception("ws connection failed")
        finally:
            self.feed.detach(self)
            self.drop()
            writer.join(timeout=2)

    def _read_loop(self) -> None:
        parts: list[bytes | bytearray | memoryview] = []
        proto = self.proto
        while True:
            data = self.rfile.read1(65536)
            with self.proto_lock:
                if data:
                    proto.receive_data(data)
                else:
                    proto.receive_eof()
                events = proto.events_received()
                self._send_pending()  # pongs and the close handshake
            for frame in events:
                if not isinstance(frame, Frame):  # only frames follow the handshake
                    continue
                op = frame.opcode
                if op is Opcode.TEXT or op is Opcode.BINARY or op is Opcode.CONT:
                    parts.append(frame.data)
                    if frame.fin:
                        message, parts = b"".join(parts), []
                        self.feed.command(self, message)
            if not data or proto.state is not State.OPEN:
                return

    def _write_loop(self) -> None:
        interval = self.ping_interval
        next_ping = time.monotonic() + interval if interval else None
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        while True:
            with self.cond:
                while not self.queue and not self.closed:
                    if next_ping is None:
                        self.cond.wait()
                        continue
                    wait = next_ping - time.monotonic()
                    if wait <= 0:
                        break
                    self.cond.wait(wait)
                if self.closed:
                    return
                frames = list(self.queue)
                self.queue.clear()
            payloads = [dumps(f).encode() for f in frames]
            ping = next_ping is not None and time.monotonic() >= next_ping
            try:
                with self.proto_lock:
                    if self.proto.state is not State.OPEN:
                        return
                    for payload in payloads:
                        self.proto.send_text(payload)
                    if ping:
                        self.proto.send_ping(PING_PAYLOAD)
                        self.pings_sent += 1
                    self._send_pending()
            except OSError:
                self.drop()
                return
            if ping:
                next_ping = time.monotonic() + interval

    def _send_pending(self) -> None:
        """Write what the protocol produced (caller holds `proto_lock`)."""
        for data in self.proto.data_to_send():
            if data:
                self.sock.sendall(data)
            else:  # the protocol asks for a half-close after the close handshake
                self.sock.shutdown(socket.SHUT_WR)
