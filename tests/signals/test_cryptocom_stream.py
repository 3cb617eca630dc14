"""The Crypto.com market WebSocket client against a tiny in-test server (websockets.sync.server on port 0):
it subscribes to the ticker and index channels, answers `public/heartbeat` with `public/respond-heartbeat`,
keeps the newest pushes, skips garbage frames and resubscribes after a dropped connection."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal as D

from websockets.sync.server import serve

from kalshi_trading.marketdata.feed_ws import Backoff
from kalshi_trading.signals.collectors.cryptocom_ws import CryptoComStream
from kalshi_trading.signals.types import SourceStatus
from tests.signals.conftest import NOW

MS_NOW = int(NOW.timestamp() * 1000)


def push(channel: str, subscription: str, data: list) -> str:
    return json.dumps({"id": -1, "method": "subscribe", "code": 0,
                       "result": {"channel": channel, "subscription": subscription,
                                  "instrument_name": subscription.split(".", 1)[1], "data": data}})


class FakeStream:
    """Serves ws://127.0.0.1:PORT/exchange/v1/market the documented way; `drop_first` closes the first connection
    right after its subscription."""

    def __init__(self, drop_first: bool = False):
        self.drop_first = drop_first
        self.paths: list[str] = []
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.server = serve(self._handle, "127.0.0.1", 0, ping_interval=None)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.socket.getsockname()[1]

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ext/cryptocom"

    def _handle(self, conn) -> None:
        with self.lock:
            self.paths.append(conn.request.path)
            first = len(self.paths) == 1
        try:
            sub = json.loads(conn.recv(timeout=5))
            with self.lock:
                self.received.append(sub)
            conn.send(json.dumps({"id": sub["id"], "method": "subscribe", "code": 0}))
            if first and self.drop_first:
                conn.close()
                return
            conn.send(json.dumps({"id": 1700000000777, "method": "public/heartbeat"}))
            answer = json.loads(conn.recv(timeout=5))
            with self.lock:
                self.received.append(answer)
            conn.send("this is not json")
            conn.send(push("ticker", "ticker.BTC_USD", [{"i": "BTC_USD", "a": "x", "b": None, "k": None,
                                                         "t": MS_NOW}]))
            conn.send(push("ticker", "ticker.BTC_USD", [{"i": "BTC_USD", "a": "100001.20", "b": "100001.00",
                                                         "k": "100002.00", "h": "1", "l": "1", "v": "1",
                                                         "vv": "1", "c": "0", "oi": "0", "t": MS_NOW}]))
            conn.send(push("index", "index.BTCUSD-INDEX", [{"v": "100000.50000", "t": MS_NOW}]))
            conn.send(json.dumps({"id": 9, "method": "subscribe", "code": 40001, "message": "BAD_REQUEST"}))
            for _ in conn:  # keep the connection until the client goes
                pass
        except Exception:  # noqa: BLE001  (the test ended the connection)
            pass

    def close(self) -> None:
        self.server.shutdown()


def wait_for(cond, limit: float = 10.0) -> bool:
    """Poll until `cond()` (a deadline against hangs, not a timing assertion)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def stream(base: str) -> CryptoComStream:
    return CryptoComStream(base, settle_delay=0.01, backoff=Backoff(initial=0.01, maximum=0.05),
                           clock=lambda: NOW)


def test_subscribes_answers_heartbeats_and_keeps_the_newest_push():
    server = FakeStream()
    try:
        with stream(server.base) as s:
            assert wait_for(lambda: s.latest_index() is not None)
            q, idx = s.latest_quote(), s.latest_index()
            assert s.stats.heartbeats_answered == 1 and s.stats.bad_frames == 2  # not JSON; no book and no price
            assert health_ok(s)
            s.clock = lambda: NOW + timedelta(seconds=60)
            stale = s.health(max_age_s=30)
            assert stale.status is SourceStatus.STALE and stale.reason == "last ticker is 60 s old (limit 30 s)"
        assert server.paths == ["/ext/cryptocom/exchange/v1/market"]
        sub, answer = server.received
        assert sub["method"] == "subscribe" and sub["params"] == {"channels": ["ticker.BTC_USD",
                                                                               "index.BTCUSD-INDEX"]}
        assert isinstance(sub["nonce"], int)
        assert answer == {"id": 1700000000777, "method": "public/respond-heartbeat"}
        assert q is not None and q.mid == D("100001.50") and q.last == D("100001.20") and q.at == NOW
        assert idx is not None and idx.value == D("100000.50000")
    finally:
        server.close()


def health_ok(s: CryptoComStream) -> bool:
    return s.health().status is SourceStatus.OK


def test_resubscribes_after_a_dropped_connection():
    server = FakeStream(drop_first=True)
    try:
        with stream(server.base) as s:
            assert wait_for(lambda: s.latest_quote() is not None)
            assert s.stats.connects == 2
        subs = [m for m in server.received if m.get("method") == "subscribe"]
        assert len(subs) == 2 and len(server.paths) == 2
    finally:
        server.close()


def test_no_server_is_a_failed_health_not_an_error():
    with stream("ws://127.0.0.1:9") as s:
        assert wait_for(lambda: s._last_error is not None)
        h = s.health()
    assert h.status is SourceStatus.FAILED and "cannot connect" in (h.reason or "")
