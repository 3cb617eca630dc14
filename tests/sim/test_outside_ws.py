"""The loopback Crypto.com market WebSocket (`/ext/cryptocom/exchange/v1/market`): subscriptions and pushes in the
envelope of data-sources.md section 2, the heartbeat (answered: kept; unanswered: disconnected), errors, and the
source's faults at the handshake.  A bare `websockets` client."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.ext_ws import MarketWsParams
from kalshi_trading.sim.runtime import start_embedded
from tests.sim.conftest import T0

CHANNELS = ["ticker.BTC_USD", "index.BTCUSD-INDEX"]


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(heartbeat_s: float = 30.0, timeout_s: float = 5.0, faults: str | None = None):
        clock = ManualClock(T0)
        srv = start_embedded(tmp_path / str(len(started)), seed=7, participants=False, clock=clock, faults=faults,
                             market_ws=MarketWsParams(heartbeat_s=heartbeat_s, heartbeat_timeout_s=timeout_s,
                                                      push_s=0.05))
        srv.clock = clock
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def _url(srv) -> str:
    return srv.base_url.replace("http://", "ws://")[: -len("/trade-api/v2")] + "/ext/cryptocom/exchange/v1/market"


def _recv(ws, timeout: float = 5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def _subscribe(ws, channels, cid: int = 1) -> None:
    ws.send(json.dumps({"id": cid, "method": "subscribe", "params": {"channels": channels}, "nonce": T0}))


def _pushes(ws, n: int, answer_heartbeats: bool = True) -> list[dict]:
    got = []
    while len(got) < n:
        frame = _recv(ws)
        if frame.get("method") == "public/heartbeat":
            if answer_heartbeats:
                ws.send(json.dumps({"id": frame["id"], "method": "public/respond-heartbeat"}))
            continue
        got.append(frame)
    return got


def test_subscribe_then_pushes_in_the_documented_envelope(serve):
    srv = serve()
    with connect(_url(srv), open_timeout=5) as ws:
        _subscribe(ws, CHANNELS)
        ack, *pushes = _pushes(ws, 3)
        assert ack == {"id": 1, "method": "subscribe", "code": 0}
        by_channel = {p["result"]["channel"]: p for p in pushes}
        assert set(by_channel) == {"ticker", "index"}
        for push in pushes:
            assert (push["id"], push["method"], push["code"]) == (-1, "subscribe", 0)
            assert set(push["result"]) >= {"channel", "subscription", "instrument_name", "data"}
        ticker = by_channel["ticker"]["result"]
        assert (ticker["subscription"], ticker["instrument_name"]) == ("ticker.BTC_USD", "BTC_USD")
        item = ticker["data"][0]
        assert set(item) >= {"i", "a", "b", "k", "t"} and item["t"] == T0
        assert Decimal(item["b"]) < Decimal(item["k"]) and all(isinstance(item[k], str) for k in ("a", "b", "k"))
        index = by_channel["index"]["result"]
        assert (index["subscription"], index["instrument_name"]) == ("index.BTCUSD-INDEX", "BTCUSD-INDEX")
        spot = Decimal(repr(srv.exchange.world.path.latest()[1])).quantize(Decimal("0.01"))
        assert index["data"] == [{"v": f"{spot}000", "t": T0}]
        srv.exchange.advance(1)  # simulated time moves: both channels push again
        later = {p["result"]["channel"]: p["result"]["data"][0]["t"] for p in _pushes(ws, 2)}
        assert later == {"ticker": T0 + 1000, "index": T0 + 1000}
        ws.send(json.dumps({"id": 2, "method": "unsubscribe", "params": {"channels": ["index.BTCUSD-INDEX"]}}))
        assert _pushes(ws, 1) == [{"id": 2, "method": "unsubscribe", "code": 0}]
        srv.exchange.advance(1)
        assert _pushes(ws, 1)[0]["result"]["channel"] == "ticker"


def test_candlestick_channel(serve):
    srv = serve()
    with connect(_url(srv), open_timeout=5) as ws:
        _subscribe(ws, ["candlestick.1m.BTC_USD"])
        ack, push = _pushes(ws, 2)
        result = push["result"]
        assert ack["code"] == 0 and result["channel"] == "candlestick" and result["interval"] == "1m"
        assert set(result["data"][0]) == {"o", "h", "l", "c", "v", "t"} and result["data"][0]["t"] == T0


def test_answered_heartbeats_keep_the_connection(serve):
    srv = serve(heartbeat_s=0.2, timeout_s=2.0)
    with connect(_url(srv), open_timeout=5) as ws:
        answered = 0
        while answered < 3:
            frame = _recv(ws)
            assert frame["method"] == "public/heartbeat" and frame["code"] == 0 and isinstance(frame["id"], int)
            ws.send(json.dumps({"id": frame["id"], "method": "public/respond-heartbeat"}))
            answered += 1
        _subscribe(ws, ["index.BTCUSD-INDEX"])
        assert _pushes(ws, 1)[0] == {"id": 1, "method": "subscribe", "code": 0}


@pytest.mark.parametrize("answer", [None, "wrong id"])
def test_unanswered_heartbeat_disconnects(serve, answer):
    srv = serve(heartbeat_s=0.2, timeout_s=0.3)
    with connect(_url(srv), open_timeout=5) as ws:
        frame = _recv(ws)
        assert frame["method"] == "public/heartbeat"
        if answer == "wrong id":
            ws.send(json.dumps({"id": frame["id"] + 1, "method": "public/respond-heartbeat"}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                _recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    # the server unregisters the connection once its handler returns, just after the close frame went out
    deadline = time.monotonic() + 5
    while srv.app.market_ws.count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.app.market_ws.count() == 0


@pytest.mark.parametrize("message, code", [
    ("not json", 10004),
    (json.dumps({"id": 5, "method": "public/get-tickers"}), 10004),
    (json.dumps({"id": 6, "method": "subscribe", "params": {}}), 10004),
    (json.dumps({"id": 7, "method": "subscribe", "params": {"channels": ["book.BTC_USD.10"]}}), 40003),
    (json.dumps({"id": 8, "method": "subscribe", "params": {"channels": ["ticker.ETH_USD"]}}), 40003),
])
def test_bad_requests_are_answered_with_a_code(serve, message, code):
    srv = serve()
    with connect(_url(srv), open_timeout=5) as ws:
        ws.send(message)
        reply = _pushes(ws, 1)[0]
        assert reply["code"] == code and reply["message"]
        _subscribe(ws, ["ticker.BTC_USD"], cid=9)  # the connection is still usable
        assert _pushes(ws, 1)[0] == {"id": 9, "method": "subscribe", "code": 0}


def test_source_faults_apply_to_the_handshake(serve):
    srv = serve(faults="ext.cryptocom.status=503")
    with pytest.raises(InvalidStatus) as refused:
        connect(_url(srv), open_timeout=5)
    assert refused.value.response.status_code == 503
    assert json.loads(refused.value.response.body)["code"] == 50001


def test_stopping_the_server_closes_streams(tmp_path):
    srv = start_embedded(tmp_path, seed=7, participants=False, clock=ManualClock(T0))
    with connect(_url(srv), open_timeout=5) as ws:
        _subscribe(ws, ["ticker.BTC_USD"])
        _pushes(ws, 2)
        srv.stop()
        with pytest.raises(ConnectionClosed):
            while True:
                _recv(ws)
