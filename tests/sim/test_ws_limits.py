"""WebSocket limits: open connections per user (reference: 200; more -> HTTP 429 at the handshake)
and a per-connection command budget (more -> error 27 "Too many commands", the connection stays
open); a connection is registered before its handshake is answered."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from websockets.exceptions import InvalidStatus

from kalshi_trading.sim.ws import WsLimits
from tests.sim.wshelp import Feed, open_ws

TOO_MANY = {"type": "error", "msg": {"code": 27, "msg": "Too many commands"}}


def _refused(server, who) -> dict:
    with pytest.raises(InvalidStatus) as info:
        open_ws(server, who)
    response = info.value.response
    assert response.status_code == 429
    return json.loads(response.body)


def _open_when_allowed(server, who, deadline_s: float = 10.0):
    """The server frees a slot once it has seen the client's close; wait for that (no timing assert)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return open_ws(server, who)
        except InvalidStatus as exc:
            if exc.response.status_code != 429 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_defaults_match_the_reference(server):
    assert WsLimits().max_connections == 200  # reference section 9: <= 200 connections per user
    assert server.app.ws_limits == WsLimits()
    assert WsLimits().command_burst >= 20 and WsLimits().command_rate > 0


def test_connections_per_user_are_capped(server, alice, bob):
    server.app.ws_limits = WsLimits(max_connections=2)
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(open_ws(server, alice))
        stack.enter_context(open_ws(server, alice))
        body = _refused(server, alice)
        assert body["error"]["code"] == "too_many_connections" and "2" in body["error"]["details"]
        with open_ws(server, bob) as other:  # the cap is per user
            assert Feed(other).command("list_subscriptions")[0]["type"] == "ok"
        first.close()
        with _open_when_allowed(server, alice) as again:  # a closed connection frees its slot
            assert Feed(again).command("list_subscriptions")[0]["type"] == "ok"
            _refused(server, alice)  # two open again


def test_default_cap_is_200_connections(server, alice):
    with contextlib.ExitStack() as stack:
        for _ in range(200):
            stack.enter_context(open_ws(server, alice))
        assert _refused(server, alice)["error"]["code"] == "too_many_connections"


def test_command_budget_answers_error_27_and_keeps_the_connection(server, alice, btc):
    server.app.ws_limits = WsLimits(command_rate=0.001, command_burst=5)  # read when a connection opens
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        for _ in range(8):
            feed.send("list_subscriptions")
        frames = [feed.recv() for _ in range(8)]
        assert [f["id"] for f in frames] == list(range(1, 9))
        assert [f["type"] for f in frames[:5]] == ["ok"] * 5
        assert frames[5:] == [{"id": i, **TOO_MANY} for i in (6, 7, 8)]
        ws.send("not json")  # every frame spends from the budget; an unreadable one still gets code 1
        assert feed.recv()["msg"]["code"] == 1
        ws.send(json.dumps({"cmd": "list_subscriptions"}))  # no id: none echoed
        assert feed.recv() == TOO_MANY
        # the connection is still open and other connections have their own budget
        with open_ws(server, alice) as ws2:
            second = Feed(ws2)
            _, [sub] = second.subscribe(["orderbook_delta"], [btc])
            assert sub["type"] == "subscribed"
        assert feed.command("list_subscriptions")[0] == {"id": 9, **TOO_MANY}


def test_command_budget_refills(server, alice):
    server.app.ws_limits = WsLimits(command_rate=5.0, command_burst=2)
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        for _ in range(10):
            feed.send("list_subscriptions")
        frames = [feed.recv() for _ in range(10)]
        assert frames[0]["type"] == "ok" and TOO_MANY["msg"] in [f["msg"] for f in frames]
        deadline = time.monotonic() + 10
        while True:  # a token comes back within 0.2 s at 5/s; poll rather than assert a time
            time.sleep(0.25)
            reply = feed.command("list_subscriptions")[0]
            if reply["type"] == "ok" or time.monotonic() > deadline:
                break
        assert reply["type"] == "ok"


def test_default_budget_allows_a_burst_then_refuses(server, alice):
    limits = WsLimits()
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        n = limits.command_burst + 50
        for _ in range(n):
            feed.send("list_subscriptions")
        frames = [feed.recv() for _ in range(n)]
    assert all(f["type"] == "ok" for f in frames[:limits.command_burst])
    assert any(f == {"id": f["id"], **TOO_MANY} for f in frames[limits.command_burst:])


def test_connection_is_registered_before_the_handshake_is_answered(server, alice):
    """The race behind the flaky close_connections test: the 101 used to go out before the feed knew
    the connection.  Now a connection the client sees open is always already registered."""
    feed = server.app.feed
    with contextlib.ExitStack() as stack:
        for _ in range(20):
            before = set(feed.conns)
            stack.enter_context(open_ws(server, alice))
            assert len(set(feed.conns) - before) == 1
