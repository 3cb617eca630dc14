"""WebSocket v2 (reference section 11): signed handshake, the four commands, error codes, heartbeat."""

from __future__ import annotations

import json
import socket
import time

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Opcode
from websockets.sync.client import connect
from websockets.uri import parse_uri

from kalshi_trading.sim.faults import FaultSpec
from tests.sim.conftest import active_market
from tests.sim.wshelp import WS_PATH, Feed, open_ws


@pytest.fixture
def feed(server, alice):
    with open_ws(server, alice) as ws:
        yield Feed(ws)


def _rejected(server, headers) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as info:
        connect(server.ws_url, additional_headers=headers, open_timeout=5)
    response = info.value.response
    return response.status_code, json.loads(response.body)


# ---- handshake ------------------------------------------------------------------------------------


def test_signed_handshake_on_the_rest_port(server, alice):
    assert server.ws_url == server.base_url.replace("http://", "ws://").replace("/trade-api/v2", WS_PATH)
    with open_ws(server, alice) as ws:
        f = Feed(ws)
        assert f.command("list_subscriptions") == [{"id": 1, "type": "ok", "msg": []}]


def test_unsigned_handshake_is_401(server):
    status, body = _rejected(server, {})
    assert status == 401 and body["error"]["code"] == "signature_is_missing_from_headers"


def test_tampered_or_wrongly_signed_handshake_is_401(server, alice):
    headers = alice.headers("GET", WS_PATH)
    sig = headers["KALSHI-ACCESS-SIGNATURE"]
    headers["KALSHI-ACCESS-SIGNATURE"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    status, body = _rejected(server, headers)
    assert status == 401 and body["error"]["details"] == "INCORRECT_API_KEY_SIGNATURE"
    # signed over the REST prefix instead of /trade-api/ws/v2
    status, body = _rejected(server, alice.headers("GET", "/trade-api/v2"))
    assert status == 401 and body["error"]["code"] == "authentication_error"
    status, body = _rejected(server, alice.headers("GET", WS_PATH, int(time.time() * 1000) - 60_000))
    assert status == 401 and body["error"]["code"] == "header_timestamp_expired"


def test_plain_get_on_ws_path_is_not_upgraded(server, alice):
    import requests

    r = requests.get(server.base_url.replace("/trade-api/v2", WS_PATH), headers=alice.headers("GET", WS_PATH),
                     timeout=5)
    assert r.status_code == 426


# ---- commands ---------------------------------------------------------------------------------------


def test_one_subscribed_per_channel_with_new_sids(server, feed, btc):
    cid, replies = feed.subscribe(["orderbook_delta", "ticker", "trade"], [btc])
    assert [r["type"] for r in replies] == ["subscribed"] * 3
    assert [r["msg"]["channel"] for r in replies] == ["orderbook_delta", "ticker", "trade"]
    sids = [r["msg"]["sid"] for r in replies]
    assert len(set(sids)) == 3 and all(r["id"] == cid for r in replies)
    _, more = feed.subscribe(["fill", "user_orders", "market_positions", "market_lifecycle_v2"])
    assert {r["msg"]["sid"] for r in more}.isdisjoint(sids)
    listed = feed.command("list_subscriptions")[0]
    assert listed["type"] == "ok"
    assert sorted((row["channel"], row["sid"]) for row in listed["msg"]) == sorted(
        [(r["msg"]["channel"], r["msg"]["sid"]) for r in replies + more])


def test_market_ticker_singular_and_resubscribe_adds_markets(server, feed):
    a = active_market(server, "KXBTCD")
    b = next(t for t, m in server.exchange.engine.markets.items() if m.status == "active" and t != a)
    _, [r] = feed.subscribe(["orderbook_delta"], market_ticker=a)
    sid = r["msg"]["sid"]
    snap = feed.recv()
    assert snap["type"] == "orderbook_snapshot" and snap["msg"]["market_ticker"] == a and snap["seq"] == 1
    _, [again] = feed.subscribe(["orderbook_delta"], [b])
    assert again["type"] == "subscribed" and again["msg"]["sid"] == sid
    snap = feed.recv()
    assert snap["msg"]["market_ticker"] == b and snap["sid"] == sid and snap["seq"] == 2
    _, [dup] = feed.subscribe(["orderbook_delta"], [a])
    assert dup["type"] == "error" and dup["msg"]["code"] == 6
    _, [r] = feed.subscribe(["ticker"])
    _, [dup] = feed.subscribe(["ticker"])
    assert dup["msg"]["code"] == 6


def test_unsubscribe(feed, btc):
    _, replies = feed.subscribe(["orderbook_delta", "trade"], [btc])
    sids = [r["msg"]["sid"] for r in replies]
    out = feed.command("unsubscribe", {"sids": sids}, n=2)
    assert [(o["type"], o["sid"]) for o in out] == [("unsubscribed", s) for s in sids]
    assert out[0]["seq"] == 1  # the book sid had sent its snapshot (seq 1)
    assert feed.command("list_subscriptions")[0]["msg"] == []
    err = feed.command("unsubscribe", {"sids": [sids[0]]})[0]
    assert err["type"] == "error" and err["msg"]["code"] == 7


def test_update_subscription(server, feed, btc):
    other = next(t for t, m in server.exchange.engine.markets.items() if m.status == "active" and t != btc)
    _, [r] = feed.subscribe(["orderbook_delta"], [btc])
    sid = r["msg"]["sid"]
    assert feed.recv()["seq"] == 1
    ok = feed.command("update_subscription", {"sid": sid, "market_tickers": [other], "action": "add_markets"})[0]
    assert ok == {"id": 2, "sid": sid, "seq": 1, "type": "ok", "msg": {"market_tickers": sorted([btc, other])}}
    snap = feed.recv()
    assert snap["type"] == "orderbook_snapshot" and snap["msg"]["market_ticker"] == other and snap["seq"] == 2
    ok = feed.command("update_subscription", {"sids": [sid], "market_tickers": [btc], "action": "get_snapshot"})[0]
    assert ok["type"] == "ok"
    snap = feed.recv()
    assert snap["msg"]["market_ticker"] == btc and snap["seq"] == 3
    ok = feed.command("update_subscription", {"sid": sid, "market_tickers": [other], "action": "delete_markets"})[0]
    assert ok["msg"] == {"market_tickers": [btc]}


@pytest.mark.parametrize("raw, code", [
    ("not json", 1),
    ("[1, 2]", 1),
    ({"id": 1, "cmd": "subscribe"}, 2),
    ({"id": 1, "cmd": "subscribe", "params": {}}, 3),
    ({"id": 1, "cmd": "subscribe", "params": {"channels": []}}, 3),
    ({"id": 1, "cmd": "unsubscribe", "params": {}}, 4),
    ({"id": 1, "cmd": "frobnicate", "params": {}}, 5),
    ({"id": 1, "cmd": "unsubscribe", "params": {"sids": [99]}}, 7),
    ({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook"]}}, 8),
    ({"id": 1, "cmd": "subscribe", "params": {"channels": "ticker"}}, 11),
    ({"id": 1, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "add_markets"}}, 12),
    ({"id": 1, "cmd": "update_subscription", "params": {"action": "add_markets"}}, 12),
    ({"id": 1, "cmd": "update_subscription", "params": {"sid": 99, "action": "add_markets"}}, 7),
    ({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14),
    ({"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_tickers": ["NOPE-1"]}}, 16),
])
def test_error_codes(feed, raw, code):
    feed.ws.send(raw if isinstance(raw, str) else json.dumps(raw))
    frame = feed.recv()
    assert frame["type"] == "error" and frame["msg"]["code"] == code
    assert isinstance(frame["msg"]["msg"], str) and frame["msg"]["msg"]
    if isinstance(raw, dict):
        assert frame["id"] == 1


def test_update_subscription_action_errors(feed, btc):
    _, [r] = feed.subscribe(["orderbook_delta"], [btc])
    sid = r["msg"]["sid"]
    feed.recv()  # snapshot
    assert feed.command("update_subscription", {"sid": sid, "market_tickers": [btc]})[0]["msg"]["code"] == 15
    bad = feed.command("update_subscription", {"sid": sid, "market_tickers": [btc], "action": "explode"})[0]
    assert bad["msg"]["code"] == 13
    none = feed.command("update_subscription", {"sid": sid, "action": "add_markets"})[0]
    assert none["msg"]["code"] == 14
    missing = feed.command("update_subscription", {"sid": sid, "action": "add_markets", "market_tickers": ["X-1"]})[0]
    assert missing["msg"]["code"] == 16
    _, [t] = feed.subscribe(["ticker"], [btc])
    snap = feed.command("update_subscription", {"sid": t["msg"]["sid"], "action": "get_snapshot"})[0]
    assert snap["msg"]["code"] == 13


def test_fault_spec_has_ws_keys():
    spec = FaultSpec.parse("ws_drop=0.01,ws_dup=0.01,ws_close=0.001")
    assert (spec.ws_drop, spec.ws_dup, spec.ws_close) == (0.01, 0.01, 0.001)
    assert spec.ws_active and not spec.http_active and spec.active


# ---- heartbeat --------------------------------------------------------------------------------------


def test_server_pings_with_heartbeat_payload_and_answers_pings(server, alice):
    server.app.ws_ping_interval = 0.1  # read when a connection opens
    proto = ClientProtocol(parse_uri(server.ws_url))
    request = proto.connect()
    for k, v in alice.headers("GET", WS_PATH).items():
        request.headers[k] = v
    proto.send_request(request)
    host, port = server.ws_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"".join(proto.data_to_send()))
        pings = []
        deadline = time.monotonic() + 5
        while not pings and time.monotonic() < deadline:
            proto.receive_data(sock.recv(65536))
            for event in proto.events_received():
                if getattr(event, "opcode", None) is Opcode.PING:
                    pings.append(event.data)
            sock.sendall(b"".join(proto.data_to_send()))  # our pongs
        assert pings and pings[0] == b"heartbeat"
    with open_ws(server, alice) as ws:
        assert ws.ping(b"are you there").wait(5)


def test_close_connections_hook_drops_the_socket(server, feed):
    assert server.close_connections() == 1
    with pytest.raises(ConnectionClosed):
        feed.ws.recv(timeout=5)
