"""orderbook_delta: snapshot then contiguous seq, deltas that rebuild the REST book exactly, own-order
fields, use_yes_price, and the feed's faults (gap, duplicate, overflow)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_trading.sim.faults import FaultSpec
from tests.sim.conftest import order
from tests.sim.wshelp import Feed, WsBook, book_frames, open_ws

DELTA_KEYS = {"market_ticker", "market_id", "price_dollars", "delta_fp", "side", "ts_ms"}


def _place(who, body) -> dict:
    r = who.post("/portfolio/events/orders", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _book_sub(feed: Feed, tickers, **params) -> tuple[int, dict]:
    _, [r] = feed.subscribe(["orderbook_delta"], tickers, **params)
    assert r["type"] == "subscribed"
    snap = feed.recv()
    assert snap["type"] == "orderbook_snapshot" and snap["seq"] == 1
    return r["msg"]["sid"], snap


def test_snapshot_shape_and_empty_sides(server, alice, btc):
    _place(alice, order(btc, "bid", "0.40", "3"))
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        _, snap = _book_sub(feed, [btc])
        assert set(snap) == {"type", "sid", "seq", "msg"}
        assert snap["msg"]["market_ticker"] == btc and snap["msg"]["market_id"]
        assert snap["msg"]["yes_dollars_fp"] == [["0.4000", "3.00"]]
        assert "no_dollars_fp" not in snap["msg"]  # empty side omitted


def test_two_accounts_deltas_rebuild_the_rest_book(server, alice, bob, btc):
    _place(alice, order(btc, "bid", "0.30", "2"))  # before subscribing: in the snapshot
    with open_ws(server, alice) as wa, open_ws(server, bob) as wb:
        fa, fb = Feed(wa), Feed(wb)
        book = WsBook()
        sid, snap = _book_sub(fa, [btc])
        book.apply(snap)
        _, bob_snap = _book_sub(fb, [btc])
        a1 = _place(alice, order(btc, "bid", "0.40", "10", client_order_id="a-1"))
        _place(bob, order(btc, "ask", "0.45", "5", client_order_id="b-1"))
        _place(bob, order(btc, "ask", "0.40", "4", tif="immediate_or_cancel", client_order_id="b-2"))  # partial fill
        _place(alice, order(btc, "bid", "0.45", "3", client_order_id="a-2"))  # takes 3 of bob's 5
        r = alice.post(f"/portfolio/events/orders/{a1['order_id']}/amend",
                       json={"ticker": btc, "side": "bid", "price": "0.42", "count": "10"})
        assert r.status_code == 200, r.text
        r = alice.post(f"/portfolio/events/orders/{a1['order_id']}/decrease", json={"reduce_by": "1"})
        assert r.status_code == 200, r.text
        b1 = [o for o in bob.get("/portfolio/orders", params={"status": "resting"}).json()["orders"]]
        assert len(b1) == 1
        assert bob.delete(f"/portfolio/events/orders/{b1[0]['order_id']}").status_code == 200
        _place(bob, order(btc, "ask", "0.60", "7"))
        last = _place(alice, order(btc, "bid", "0.35", "1"))
        assert last
        rest = alice.get(f"/markets/{btc}/orderbook").json()["orderbook_fp"]
        frames = book_frames(fa.drain())
        for frame in frames:
            assert frame["sid"] == sid
            book.apply(frame)  # asserts contiguous seq
        assert book.as_rest(btc) == rest
        deltas = [f["msg"] for f in frames]
        assert all(DELTA_KEYS <= set(d) <= DELTA_KEYS | {"client_order_id", "subaccount"} for d in deltas)
        # alice's own orders are marked on alice's feed, bob's are not
        mine = {d.get("client_order_id") for d in deltas}
        assert {"a-1", "a-2"} <= mine and "b-1" not in mine
        first = deltas[0]
        assert first["price_dollars"] == "0.4000" and first["delta_fp"] == "10.00" and first["side"] == "yes"
        assert first["client_order_id"] == "a-1" and first["subaccount"] == 0
        # bob's ask at 0.45 rests as a NO bid at 0.55 (REST's NO prices)
        assert {"price_dollars": "0.5500", "delta_fp": "5.00", "side": "no"}.items() <= deltas[1].items()
        assert "client_order_id" not in deltas[1]
        # the partial fill: one delta with the net change of alice's level
        assert {"price_dollars": "0.4000", "delta_fp": "-4.00", "side": "yes"}.items() <= deltas[2].items()
        # bob sees his own orders marked and the same book
        bob_book = WsBook()
        bob_book.apply(bob_snap)
        bob_frames = book_frames(fb.drain())
        for frame in bob_frames:
            bob_book.apply(frame)
        assert bob_book.as_rest(btc) == rest
        assert {"b-1", "b-2"} <= {f["msg"].get("client_order_id") for f in bob_frames}


def test_one_seq_counter_across_markets_and_yes_price_scale(server, alice, btc):
    other = next(t for t, m in server.exchange.engine.markets.items()
                 if m.status == "active" and t != btc and m.price_level_structure == "linear_cent")
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        _, [r] = feed.subscribe(["orderbook_delta"], [btc, other], use_yes_price=True)
        sid = r["msg"]["sid"]
        snaps = [feed.recv(), feed.recv()]
        assert [s["seq"] for s in snaps] == [1, 2] and {s["msg"]["market_ticker"] for s in snaps} == {btc, other}
        _place(alice, order(btc, "ask", "0.70", "2"))
        _place(alice, order(other, "ask", "0.65", "1"))
        frames = book_frames(feed.drain())
        assert [(f["sid"], f["seq"]) for f in frames] == [(sid, 3), (sid, 4)]
        assert frames[0]["msg"]["price_dollars"] == "0.7000" and frames[0]["msg"]["side"] == "no"
        ok = feed.command("update_subscription", {"sid": sid, "market_tickers": [btc], "action": "get_snapshot"})[0]
        assert ok["seq"] == 4
        snap = feed.recv()
        assert snap["seq"] == 5 and snap["msg"]["no_dollars_fp"] == [["0.7000", "2.00"]]


def test_sweep_on_settle_removes_levels(server, alice, bob, btc):
    _place(alice, order(btc, "bid", "0.20", "4"))
    with open_ws(server, bob) as ws:
        feed = Feed(ws)
        book = WsBook()
        _, snap = _book_sub(feed, [btc])
        book.apply(snap)
        _place(bob, order(btc, "ask", "0.80", "2"))
        server.exchange.settle(btc, "no")
        for frame in book_frames(feed.drain()):
            book.apply(frame)
        assert book.as_rest(btc) == {"yes_dollars": [], "no_dollars": []}


def test_fault_hooks_gap_and_duplicate(server, alice, btc):
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        _book_sub(feed, [btc])
        _place(alice, order(btc, "bid", "0.10", "1"))
        server.drop_next_delta()
        _place(alice, order(btc, "bid", "0.11", "1"))
        server.duplicate_next_delta()
        _place(alice, order(btc, "bid", "0.12", "1"))
        seqs = [(f["seq"], f["msg"]["price_dollars"]) for f in book_frames(feed.drain())]
        assert seqs == [(2, "0.1000"), (4, "0.1200"), (4, "0.1200")]


def test_random_faults_from_the_spec(server, alice, btc):
    server.app.feed.spec = FaultSpec(ws_dup=1.0)
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        _book_sub(feed, [btc])
        _place(alice, order(btc, "bid", "0.10", "1"))
        assert [f["seq"] for f in book_frames(feed.drain())] == [2, 2]
        server.app.feed.spec = FaultSpec(ws_close=1.0)
        _place(alice, order(btc, "bid", "0.11", "1"))
        from websockets.exceptions import ConnectionClosed

        with pytest.raises(ConnectionClosed):
            for _ in range(5):
                feed.recv(timeout=5)


def test_buffer_overflow_closes_the_subscription(server, alice, btc):
    server.app.ws_max_queue = 3
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        sid, _ = _book_sub(feed, [btc])
        orders = [order(btc, "bid", f"0.{10 + i:02d}", "1") for i in range(15)]
        r = alice.post("/portfolio/events/orders/batched", json={"orders": orders})
        assert r.status_code == 201, r.text
        frames = feed.drain()
        errors = [f for f in frames if f["type"] == "error"]
        assert errors == [{"type": "error", "sid": sid, "msg": {"code": 25, "msg": "Buffer overflow"}}]
        assert len(book_frames(frames)) < 15
        assert feed.command("list_subscriptions")[0]["msg"] == []


def test_no_observer_cost_without_subscribers(server, alice, btc):
    engine = server.exchange.engine
    assert engine.observer is None and all(b.tap is None for b in engine.books.values())
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        _book_sub(feed, [btc])
        assert engine.observer is not None and engine.books[btc].tap is not None
        assert sum(b.tap is not None for b in engine.books.values()) == 1
    for _ in range(50):  # the server notices the close on its own thread
        if engine.observer is None:
            break
        import time

        time.sleep(0.02)
    assert engine.observer is None and engine.books[btc].tap is None


def test_decimal_sizes(server, alice, btc):
    with open_ws(server, alice) as ws:
        feed = Feed(ws)
        _book_sub(feed, [btc])
        _place(alice, order(btc, "bid", "0.33", "1.25"))
        [d] = book_frames(feed.drain())
        assert Decimal(d["msg"]["delta_fp"]) == Decimal("1.25") and d["msg"]["delta_fp"] == "1.25"


def test_background_trading_keeps_the_rebuilt_books_exact(tmp_path):
    """House quoting, requotes and takers over simulated minutes: every book still matches REST."""
    import requests

    from kalshi_trading.sim.clock import ManualClock
    from kalshi_trading.sim.runtime import start_embedded
    from tests.sim.conftest import T0, Signed

    srv = start_embedded(tmp_path, seed=11, clock=ManualClock(T0))
    try:
        acct = srv.demo_account
        me = Signed(srv.base_url, acct.key_id, acct.private_key_path)
        tickers = sorted(t for t, m in srv.exchange.engine.markets.items()
                         if m.status == "active" and m.series_ticker == "KXBTCD")[:6]
        with open_ws(srv, me) as ws:
            feed = Feed(ws)
            _, [r] = feed.subscribe(["orderbook_delta"], tickers)
            book = WsBook()
            for _ in tickers:
                book.apply(feed.recv())
            for _ in range(4):
                srv.exchange.advance(45)
            frames = book_frames(feed.drain())
            assert len(frames) > 20
            for frame in frames:
                book.apply(frame)
            for ticker in tickers:
                rest = requests.get(srv.base_url + f"/markets/{ticker}/orderbook", timeout=10).json()["orderbook_fp"]
                assert book.as_rest(ticker) == rest, ticker
    finally:
        srv.stop()
