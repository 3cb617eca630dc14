"""A loopback HTTP proxy in front of the simulator that can hold an order creation in flight.

Everything is forwarded unchanged (same path, headers and body, so signatures stay valid).  A `POST` creating an order
(`.../orders`) can be held, on request of the test:
  - `hold="before"`: the request is held before it reaches the exchange (it lands late, or never);
  - `hold="after"`: the exchange gets it at once, the answer is held (the sender never hears back).
`received` is set when a held request arrives; `release()` lets it go on (forwarded even if its sender died).
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class SlowProxy:
    def __init__(self, upstream_base: str):
        parts = urlsplit(upstream_base)
        self.upstream = (parts.hostname, parts.port)
        self.prefix = parts.path.rstrip("/")  # /trade-api/v2
        self.hold: str | None = None
        self.received = threading.Event()
        self.forwarded = threading.Event()
        self._release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                proxy._handle(self)

            def do_POST(self):
                proxy._handle(self)

            def do_DELETE(self):
                proxy._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        held = self.hold if handler.command == "POST" and handler.path.split("?")[0].endswith("/orders") \
            else None
        if held:
            self.hold = None  # one request only
            self.received.set()
        if held == "before":
            self._release.wait(60)
        status, headers, payload = self._forward(handler, body)
        if held:
            self.forwarded.set()
        if held == "after":
            self._release.wait(60)
        try:
            handler.send_response(status)
            for name, value in headers:
                if name.lower() not in _HOP:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the sender is gone (killed while we held its answer)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes | None):
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
            conn.request(handler.command, handler.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()
