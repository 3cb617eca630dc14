"""A small misbehaving HTTP server on loopback, for the client's network-fault tests.

By default it forwards every request to an upstream (the real simulator) and relays the answer, so the
commands run end to end; rules replace the answer of chosen routes with a fault: a body that trickles in a
byte at a time, no answer at all, headers that never end, a huge body, or any status and body.  Every
request received is recorded (`seen`), so a test can prove that nothing was sent.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Behaviour = Callable[["_Handler"], None]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # as received, query included
    body: bytes


@dataclass
class _Rule:
    method: str
    pattern: re.Pattern
    behaviour: Behaviour
    times: int | None  # None: every time


class BadServer:
    """`on(method, path_regex, behaviour)` installs a fault; everything else goes to `upstream`."""

    def __init__(self, upstream: str | None = None, tls: ssl.SSLContext | None = None):
        self.upstream = urlsplit(upstream) if upstream else None
        self.scheme = "https" if tls else "http"
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}/trade-api/v2"

    def on(self, method: str, path: str, behaviour: Behaviour, times: int | None = None) -> None:
        """Answer `method` (or "*") requests whose path (after /trade-api/v2) matches `path` with `behaviour`."""
        with self._lock:
            self._rules.append(_Rule(method, re.compile(path), behaviour, times))

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if (method is None or s.method == method)
                    and (path is None or re.search(path, s.path))]

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ serving
    def _dispatch(self, handler: "_Handler") -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        route = urlsplit(handler.path).path.removeprefix("/trade-api/v2")
        with self._lock:
            self.seen.append(Seen(handler.command, handler.path, body))
            rule = next((r for r in self._rules if r.method in ("*", handler.command) and r.pattern.fullmatch(route)
                         and (r.times is None or r.times > 0)), None)
            if rule is not None and rule.times is not None:
                rule.times -= 1
        handler.request_body = body
        if rule is not None:
            rule.behaviour(handler)
        else:
            forward(handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    request_body = b""

    def log_message(self, format, *args):  # noqa: A002  (quiet)
        pass

    def do_GET(self):  # noqa: N802
        self.server.owner._dispatch(self)

    do_POST = do_DELETE = do_PUT = do_GET

    @property
    def owner(self) -> BadServer:
        return self.server.owner

    def raw(self, data: bytes) -> bool:
        """Write bytes as they are; False once the client has gone."""
        try:
            self.wfile.write(data)
            return True
        except OSError:
            return False

    def wait_until_client_goes(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the client closed the connection (or the server stops) meanwhile."""
        if self.owner.stopping.is_set():
            return True
        try:
            readable, _, _ = select.select([self.connection], [], [], seconds)
            if readable:
                tls = isinstance(self.connection, ssl.SSLSocket)  # no MSG_PEEK on TLS; the client sends nothing more
                if (self.connection.recv(1) if tls else self.connection.recv(1, socket.MSG_PEEK)) == b"":
                    return True
                self.owner.stopping.wait(seconds)  # more bytes from the client: not our concern, keep going
        except OSError:
            return True
        return self.owner.stopping.is_set()


# ---------------------------------------------------------------------- behaviours
def forward(handler: _Handler) -> None:
    """Relay the request to the upstream and its answer back (404 without an upstream)."""
    status, headers, body = _upstream(handler)
    handler.send_response(status)
    for name, value in headers:
        if name.lower() in ("content-type", "retry-after"):
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.raw(body)


def _upstream(handler: _Handler) -> tuple[int, list[tuple[str, str]], bytes]:
    up = handler.owner.upstream
    if up is None:
        return 404, [("Content-Type", "application/json")], b'{"error": {"code": "not_found"}}'
    conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
    try:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection",
                                                                                "content-length")}
        conn.request(handler.command, handler.path, body=handler.request_body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def answer(body: object, status: int = 200, content_type: str = "application/json") -> Behaviour:
    """Any status and body (bytes and text as they are; anything else as JSON)."""
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()

    def behave(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.raw(data)

    return behave


def raw_reply(data: bytes) -> Behaviour:
    """Exactly these bytes as the whole reply (a broken status line, a short body...), then close."""
    def behave(handler: _Handler) -> None:
        handler.close_connection = True
        handler.raw(data)

    return behave


def trickle(interval: float = 0.1) -> Behaviour:
    """Headers at once, then the body one byte every `interval` seconds, for as long as the client listens."""
    def behave(handler: _Handler) -> None:
        handler.close_connection = True
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        if not handler.raw(head):
            return
        body = b'{"note": "' + b"a" * 999_000
        for i in range(len(body)):
            if not handler.raw(body[i:i + 1]) or handler.wait_until_client_goes(interval):
                return

    return behave


def silent() -> Behaviour:
    """Take the request and never answer (until the client gives up)."""
    def behave(handler: _Handler) -> None:
        handler.close_connection = True
        while not handler.wait_until_client_goes(0.2):
            pass

    return behave


def slow_headers(interval: float = 0.1) -> Behaviour:
    """A status line, then one header that never ends, a byte every `interval` seconds."""
    def behave(handler: _Handler) -> None:
        handler.close_connection = True
        if not handler.raw(b"HTTP/1.1 200 OK\r\nX-Slow: "):
            return
        while handler.raw(b"a") and not handler.wait_until_client_goes(interval):
            pass

    return behave


def huge(size: int, declared: bool = True) -> Behaviour:
    """A 200 whose JSON body is `size` bytes: with its Content-Length, or chunked with no length given."""
    def behave(handler: _Handler) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declared:
            handler.send_header("Content-Length", str(size))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b'{"markets": [' + b"0," * (2**20)
        sent = 0
        while sent < size:
            data = piece[: min(len(piece), size - sent)]
            framed = data if declared else b"%x\r\n%s\r\n" % (len(data), data)
            if not handler.raw(framed):
                return
            sent += len(data)
        if not declared:
            handler.raw(b"0\r\n\r\n")

    return behave


def forwarded_then(behaviour: Behaviour) -> Behaviour:
    """Let the upstream process the request (its answer is thrown away), then misbehave."""
    def behave(handler: _Handler) -> None:
        _upstream(handler)
        behaviour(handler)

    return behave
