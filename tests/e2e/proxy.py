"""A small misbehaving loopback HTTP proxy in front of the simulator: it forwards every request as is (path,
query, signature headers, body) and lets a test answer chosen requests itself, delay them, or edit an answer.

`rule(method, path, query) -> Action | None` decides per request; `query` is the parsed query string.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import requests

HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding"}


@dataclass(frozen=True)
class Action:
    status: int | None = None  # answer this status (with `body`) instead of forwarding
    body: object = None
    delay: float = 0.0  # seconds to wait before forwarding
    edit: Callable[[dict], dict] | None = None  # rewrite the forwarded JSON answer


class Proxy:
    def __init__(self, upstream: str, rule: Callable[[str, str, dict], Action | None]):
        self.upstream = upstream.rstrip("/")  # http://host:port (no path)
        self.rule = rule
        self.seen: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._serve(self, "GET")

            def do_POST(self):
                proxy._serve(self, "POST")

            def do_DELETE(self):
                proxy._serve(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._session = requests.Session()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/trade-api/v2"

    def start(self) -> "Proxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._session.close()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query, keep_blank_values=True)
        with self._lock:
            self.seen.append((method, url.path, query))
        action = self.rule(method, url.path, query) or Action()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if action.delay:
            time.sleep(action.delay)
        if action.status is not None:
            return _answer(handler, action.status, json.dumps(action.body or {}).encode())
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
        resp = self._session.request(method, self.upstream + handler.path, headers=headers, data=raw or None,
                                     timeout=30)
        data = resp.content
        if action.edit is not None and resp.status_code == 200:
            data = json.dumps(action.edit(resp.json())).encode()
        _answer(handler, resp.status_code, data)


def _answer(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def tickers_of(query: dict) -> list[str]:
    """The tickers a batch read asks for, in either form (`tickers=A,B` or `tickers=A&tickers=B`)."""
    return [t for v in query.get("tickers", ()) for t in v.split(",") if t]
