"""A misbehaving DynamoDB endpoint on loopback, for the fault tests: it answers what a rule says, and passes the rest
on to a real (moto) server.

    proxy = FaultyEndpoint(rule, upstream=server.endpoint).start()
    rule(operation, body) -> None (pass it on) or (HTTP status, JSON document) to answer instead

`operation` is the API's name (`BatchWriteItem`, `GetItem`...), `body` the request's JSON.  `calls` counts what
arrived, by operation.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

Rule = Callable[[str, dict[str, Any]], "tuple[int, Any] | None"]


def error(code: str, message: str = "", status: int = 400) -> tuple[int, dict[str, str]]:
    """A DynamoDB error answer (what AWS sends: `__type` and `message`)."""
    return status, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message or code}


class FaultyEndpoint:
    def __init__(self, rule: Rule, upstream: str | None = None):
        self.rule = rule
        self.upstream = upstream
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, prefix: str) -> str:
        return f"dynamodb://us-east-1?endpoint={self.endpoint}&prefix={prefix}"

    def start(self) -> "FaultyEndpoint":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                with owner._lock:
                    owner.calls[operation] += 1
                answer = owner.rule(operation, json.loads(raw or b"{}"))
                kind = "application/x-amz-json-1.0"
                if answer is None:
                    status, payload = owner._forward(raw, dict(self.headers))
                elif isinstance(answer[1], bytes):  # not JSON: a captive portal, a proxy's page
                    status, payload, kind = answer[0], answer[1], "text/html"
                else:
                    status, payload = answer[0], json.dumps(answer[1]).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _forward(self, raw: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        assert self.upstream is not None, "this endpoint passes nothing on"
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            conn.request("POST", "/", raw, {k: v for k, v in headers.items() if k.lower() != "host"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
