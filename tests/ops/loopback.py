"""A small scripted HTTP server on loopback, for the channels' fault tests: each request takes the next answer of
the script (a status, a JSON body, headers; or HANG: no answer until released), then the default answer.  Every
request is recorded (`seen`) with its headers and exact body bytes."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"  # no answer until released (then the connection closes)
GATE = "gate"  # wait until released, then the default answer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: object = field(default_factory=lambda: {"ok": True, "result": {"message_id": 1}})
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)


class Scripted:
    def __init__(self, default: Answer | None = None):
        self.default = default or Answer()
        self.script: list[Answer | str] = []
        self.seen: list[Seen] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                owner._serve(self)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, *answers: Answer | str) -> "Scripted":
        with self._lock:
            self.script.extend(answers)
        return self

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.seen.append(Seen(handler.command, handler.path, dict(handler.headers), body, time.monotonic()))
            answer = self.script.pop(0) if self.script else self.default
        if answer in (HANG, GATE):
            self.release.wait(60)
            if answer == HANG:
                handler.close_connection = True
                return
            answer = self.default
        assert isinstance(answer, Answer)
        data = json.dumps(answer.body).encode() if not isinstance(answer.body, bytes) else answer.body
        handler.send_response(answer.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
