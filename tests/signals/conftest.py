"""A loopback HTTP server that plays the outside sources (each under `/ext/<source>` + the real path, as the
simulator serves them), answering with canned bodies, statuses and delays; a fixed clock; a signal store in a
temporary directory and hand-built signals."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from kalshi_trading.signals.types import Direction, Family, Signal
from kalshi_trading.store.sqlite.signals import SqliteSignalStore
from tests.e2e.conftest import bob, client, journal, sim  # noqa: F401  (the simulator fixtures)


@dataclass
class Route:
    body: Any
    status: int = 200
    delay: float = 0.0


class LoopbackSources:
    """Canned answers by path; every request is recorded as (path, {param: value})."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                with owner._lock:
                    owner.seen.append((parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}))
                    route = owner.routes.get(parts.path)
                if route is None:
                    route = Route("no such route", 404)
                if route.delay:
                    time.sleep(route.delay)
                body = route.body
                data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str)
                                                             else json.dumps(body).encode())
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def base(self, source: str) -> str:
        return f"http://127.0.0.1:{self.port}/ext/{source}"

    def set(self, source: str, path: str, body: Any, status: int = 200, delay: float = 0.0) -> None:
        self.routes[f"/ext/{source}{path}"] = Route(body, status, delay)

    def requests_to(self, source: str) -> list[tuple[str, dict[str, str]]]:
        return [s for s in self.seen if s[0].startswith(f"/ext/{source}/")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sources():
    s = LoopbackSources()
    yield s
    s.close()


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


NOW = datetime(2026, 12, 1, 17, 0, 0, tzinfo=timezone.utc)  # noon EST on the climate day 2026-12-01


def fixed_clock(at: datetime = NOW):
    return lambda: at


@pytest.fixture
def store(tmp_path):
    s = SqliteSignalStore.open(tmp_path / "signals.sqlite")
    yield s
    s.close()


def make_signal(ticker: str, p: str, direction: Direction = Direction.BUY_YES, *, edge: int | None = 900,
                confidence: str = "0.9", family: Family = Family.BTCD, model: str = "hand-model",
                trade_price: str | None = None, mid: str | None = None) -> Signal:
    """A signal as a model would make it (the engine trusts its fields; tests choose them)."""
    return Signal(ticker=ticker, family=family, at=datetime.now(timezone.utc), model=model, model_prob=D(p),
                  market_mid=D(mid) if mid else None, trade_price=D(trade_price) if trade_price else None,
                  edge_bps=edge, confidence=D(confidence), direction=direction, inputs=(("source", "test"),))
