"""Order writes and reads over real HTTP: shapes, codes, matching rules."""

from __future__ import annotations

from decimal import Decimal

from tests.sim.conftest import order


def test_create_rest_and_cancel(alice, btc):
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "10", client_order_id="c1"))
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {"order_id", "client_order_id", "fill_count", "remaining_count", "ts_ms"}
    assert body["fill_count"] == "0.00" and body["remaining_count"] == "10.00"
    got = alice.get(f"/portfolio/orders/{body['order_id']}").json()["order"]
    assert got["status"] == "resting" and got["book_side"] == "bid" and got["outcome_side"] == "yes"
    book = alice.get(f"/markets/{btc}/orderbook").json()["orderbook_fp"]
    assert book["yes_dollars"] == [["0.4000", "10.00"]] and book["no_dollars"] == []
    r = alice.delete(f"/portfolio/events/orders/{body['order_id']}")
    assert r.status_code == 200
    assert r.json()["reduced_by"] == "10.00" and r.json()["client_order_id"] == "c1"
    again = alice.delete(f"/portfolio/events/orders/{body['order_id']}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    got = alice.get(f"/portfolio/orders/{body['order_id']}").json()["order"]
    assert got["status"] == "canceled" and got["remaining_count_fp"] == "0.00"


def test_unknown_order_404(alice):
    assert alice.delete("/portfolio/events/orders/nope").status_code == 404
    assert alice.get("/portfolio/orders/nope").status_code == 404


def test_client_order_id_reuse_409_even_after_cancel(alice, btc):
    first = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.30", "1", client_order_id="same"))
    alice.delete(f"/portfolio/events/orders/{first.json()['order_id']}")
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.30", "1", client_order_id="same"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "order_already_exists"


def test_price_and_size_validation(alice, server, btc):
    for price in ("0.405", "1.00", "0", "abc"):
        r = alice.post("/portfolio/events/orders", json=order(btc, "bid", price, "1"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_price", price
    for count in ("0", "-1", "0.001", "x"):
        r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", count))
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_order_size", count
    r = alice.post("/portfolio/events/orders", json={"ticker": btc, "side": "bid"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameters"
    r = alice.post("/portfolio/events/orders", json=order("NOPE", "bid", "0.40", "1"))
    assert r.status_code == 404


def test_sub_cent_grid(alice, server):
    from tests.sim.conftest import active_market

    temp = active_market(server, "KXHIGHNY")  # tapered_deci_cent
    assert alice.post("/portfolio/events/orders", json=order(temp, "bid", "0.055", "1")).status_code == 201
    r = alice.post("/portfolio/events/orders", json=order(temp, "bid", "0.455", "1"))
    assert r.json()["error"]["code"] == "invalid_price"
    rain = active_market(server, "KXRAINNYC")  # deci_cent
    assert alice.post("/portfolio/events/orders", json=order(rain, "bid", "0.455", "0.5")).status_code == 201


def test_fractional_count_fill(alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "0.25"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "1.5", "immediate_or_cancel"))
    assert r.json()["fill_count"] == "0.25" and r.json()["remaining_count"] == "0.00"


def test_cross_fills_at_resting_price_and_fees(alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.52", "1"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.60", "1"))
    body = r.json()
    assert body["fill_count"] == "1.00" and body["average_fill_price"] == "0.5200"
    fills = alice.get("/portfolio/fills").json()["fills"]
    assert fills[0]["yes_price_dollars"] == "0.5200" and fills[0]["fee_cost"] == "0.017500"
    assert fills[0]["is_taker"] is True and fills[0]["trade_id"] == fills[0]["fill_id"]
    maker = bob.get("/portfolio/fills").json()["fills"][0]
    assert maker["is_taker"] is False and maker["outcome_side"] == "no" and maker["fee_cost"] == "0.004400"
    o = alice.get(f"/portfolio/orders/{body['order_id']}").json()["order"]
    assert o["status"] == "executed" and o["taker_fees_dollars"] == "0.0175"
    assert o["taker_fill_cost_dollars"] == "0.5200"
    trades = alice.get("/markets/trades", params={"ticker": btc}).json()["trades"]
    assert trades[0]["taker_book_side"] == "bid" and trades[0]["taker_outcome_side"] == "yes"
    assert trades[0]["is_block_trade"] is False


def test_price_time_priority(alice, bob, server, btc):
    first = bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.55", "2")).json()["order_id"]
    second = bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.55", "3")).json()["order_id"]
    better = bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.54", "1")).json()["order_id"]
    q = bob.get(f"/portfolio/orders/{second}/queue_position").json()
    assert q == {"queue_position_fp": "2.00"}
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.55", "2", "immediate_or_cancel"))
    assert bob.get(f"/portfolio/orders/{better}").json()["order"]["status"] == "executed"
    assert bob.get(f"/portfolio/orders/{first}").json()["order"]["fill_count_fp"] == "1.00"
    assert bob.get(f"/portfolio/orders/{second}/queue_position").json()["queue_position_fp"] == "1.00"
    qs = bob.get("/portfolio/orders/queue_positions", params={"market_tickers": btc}).json()["queue_positions"]
    assert {q["order_id"] for q in qs} == {first, second}


def test_post_only_cross(alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "1"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "1", post_only=True))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_order" and r.json()["error"]["details"] == "post only cross"
    ok = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.49", "1", post_only=True))
    assert ok.status_code == 201


def test_stp_taker_at_cross_keeps_earlier_fills(alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "1"))
    own = alice.post("/portfolio/events/orders", json=order(btc, "ask", "0.51", "1")).json()["order_id"]
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.52", "1"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.52", "3")).json()
    assert r["fill_count"] == "1.00" and r["remaining_count"] == "0.00"
    assert alice.get(f"/portfolio/orders/{r['order_id']}").json()["order"]["status"] == "canceled"
    assert alice.get(f"/portfolio/orders/{own}").json()["order"]["status"] == "resting"


def test_stp_maker_cancels_resting_own_and_continues(alice, bob, btc):
    own = alice.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "1")).json()["order_id"]
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.51", "1"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.51", "1", stp="maker")).json()
    assert r["fill_count"] == "1.00"
    assert alice.get(f"/portfolio/orders/{own}").json()["order"]["status"] == "canceled"


def test_fok_failure_shape_and_success(alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "2"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "3", "fill_or_kill"))
    assert r.status_code == 201
    assert r.json()["fill_count"] == "0.00" and r.json()["remaining_count"] == "0.00"
    assert alice.get(f"/portfolio/orders/{r.json()['order_id']}").json()["order"]["status"] == "canceled"
    ok = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "2", "fill_or_kill")).json()
    assert ok["fill_count"] == "2.00"


def test_ioc_remainder_cancelled(alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "2"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "5", "immediate_or_cancel")).json()
    assert r["fill_count"] == "2.00" and r["remaining_count"] == "0.00"
    o = alice.get(f"/portfolio/orders/{r['order_id']}").json()["order"]
    assert o["status"] == "canceled" and o["initial_count_fp"] == "5.00"
    assert alice.get(f"/markets/{btc}/orderbook").json()["orderbook_fp"]["yes_dollars"] == []


def test_reduce_only_capped_to_position(alice, bob, btc):
    r = alice.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "1", reduce_only=True))
    assert r.status_code == 400
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "3"))
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "3"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "ask", "0.60", "10", reduce_only=True)).json()
    o = alice.get(f"/portfolio/orders/{r['order_id']}").json()["order"]
    assert o["initial_count_fp"] == "3.00" and o["remaining_count_fp"] == "3.00"


def test_expiration_time_rules(alice, server, btc):
    now_s = server.clock.now_ms() // 1000
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "1", expiration_time=now_s - 5))
    assert r.status_code == 400
    r = alice.post("/portfolio/events/orders",
                   json=order(btc, "bid", "0.40", "1", "immediate_or_cancel", expiration_time=now_s + 60))
    assert r.status_code == 400
    oid = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "1", expiration_time=now_s + 10)
                     ).json()["order_id"]
    server.exchange.advance(11)
    assert alice.get(f"/portfolio/orders/{oid}").json()["order"]["status"] == "canceled"


def test_amend_and_decrease(alice, bob, btc):
    oid = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "10", client_order_id="am")
                     ).json()["order_id"]
    amend = f"/portfolio/events/orders/{oid}/amend"
    r = alice.post(amend, json={"ticker": btc, "side": "ask", "price": "0.4", "count": "5"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "order_side_mismatch"
    r = alice.post(amend, json={"ticker": "X", "side": "bid", "price": "0.4", "count": "5"})
    assert r.json()["error"]["code"] == "order_ticker_mismatch"
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.45", "4"))
    r = alice.post(f"/portfolio/events/orders/{oid}/amend",
                   json={"ticker": btc, "side": "bid", "price": "0.45", "count": "12"})
    assert r.status_code == 200
    assert r.json()["fill_count"] == "4.00" and r.json()["remaining_count"] == "8.00"
    o = alice.get(f"/portfolio/orders/{oid}").json()["order"]
    assert o["initial_count_fp"] == "12.00" and o["yes_price_dollars"] == "0.4500"
    both = alice.post(f"/portfolio/events/orders/{oid}/decrease", json={"reduce_by": "1", "reduce_to": "2"})
    assert both.status_code == 400
    r = alice.post(f"/portfolio/events/orders/{oid}/decrease", json={"reduce_by": "3"})
    assert r.status_code == 200 and r.json()["remaining_count"] == "5.00"
    r = alice.post(f"/portfolio/events/orders/{oid}/decrease", json={"reduce_to": "0"})
    assert r.json()["remaining_count"] == "0.00"
    assert alice.get(f"/portfolio/orders/{oid}").json()["order"]["status"] == "canceled"


def test_batch_create_and_cancel(alice, btc):
    items = [order(btc, "bid", "0.30", "1", client_order_id="b1"), order(btc, "bid", "0.305", "1"),
             order(btc, "bid", "0.31", "1", client_order_id="b1")]
    r = alice.post("/portfolio/events/orders/batched", json={"orders": items})
    assert r.status_code == 201
    out = r.json()["orders"]
    assert len(out) == 3 and "order_id" in out[0]
    assert out[1]["error"]["code"] == "invalid_price"
    assert out[2]["error"]["code"] == "order_already_exists" and out[2]["client_order_id"] == "b1"
    ids = [{"order_id": out[0]["order_id"]}, {"order_id": "missing"}]
    r = alice.delete("/portfolio/events/orders/batched", json={"orders": ids})
    assert r.status_code == 200
    res = r.json()["orders"]
    assert res[0]["reduced_by"] == "1.00" and "error" not in res[0]
    assert res[1]["error"]["code"] == "not_found"
    too_many = alice.post("/portfolio/events/orders/batched", json={"orders": [items[0]] * 21})
    assert too_many.status_code == 400


def test_cancel_all_204(alice, btc):
    for p in ("0.30", "0.31"):
        alice.post("/portfolio/events/orders", json=order(btc, "bid", p, "1"))
    r = alice.delete("/portfolio/events/orders")
    assert r.status_code == 204 and r.content == b""
    assert alice.get("/portfolio/orders", params={"status": "resting"}).json()["orders"] == []


def test_insufficient_balance_and_release(alice, btc):
    bal = alice.get("/portfolio/balance").json()
    assert bal["balance"] == 100_000 and bal["balance_dollars"] == "1000.0000"
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.90", "2000"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "insufficient_balance"
    oid = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "100")).json()["order_id"]
    held = Decimal(alice.get("/portfolio/balance").json()["balance_dollars"])
    assert held == Decimal("1000") - Decimal("50") - Decimal("1.75")  # price x count + taker fee at the limit
    alice.delete(f"/portfolio/events/orders/{oid}")
    assert alice.get("/portfolio/balance").json()["balance_dollars"] == "1000.0000"


def test_orders_pagination_and_filters(alice, btc):
    ids = [alice.post("/portfolio/events/orders", json=order(btc, "bid", f"0.{10 + i}", "1")).json()["order_id"]
           for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = alice.get("/portfolio/orders", params=params).json()
        seen += [o["order_id"] for o in body["orders"]]
        cursor = body["cursor"]
        if cursor == "":
            break
    assert sorted(seen) == sorted(ids)
    assert alice.get("/portfolio/orders", params={"limit": 1001}).status_code == 400
    assert alice.get("/portfolio/orders", params={"status": "bogus"}).status_code == 400
    assert len(alice.get("/portfolio/orders", params={"ticker": btc, "status": "resting"}).json()["orders"]) == 5


def test_order_group_cap_cancels_and_blocks(alice, bob, btc):
    r = alice.post("/portfolio/order_groups/create", json={"contracts_limit": 3})
    assert r.status_code == 201
    gid = r.json()["order_group_id"]
    resting = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.20", "5", order_group_id=gid)).json()
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.50", "3"))
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "3", "immediate_or_cancel",
                                                      order_group_id=gid))
    assert alice.get(f"/portfolio/orders/{resting['order_id']}").json()["order"]["status"] == "canceled"
    blocked = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.20", "1", order_group_id=gid))
    assert blocked.status_code == 400
    assert alice.request("PUT", f"/portfolio/order_groups/{gid}/reset", json={}).status_code == 200
    ok = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.20", "1", order_group_id=gid))
    assert ok.status_code == 201
    got = alice.get(f"/portfolio/order_groups/{gid}").json()
    assert got["orders"] == [ok.json()["order_id"]] and got["contracts_limit_fp"] == "3.00"
    assert [g["id"] for g in alice.get("/portfolio/order_groups").json()["order_groups"]] == [gid]
    assert alice.delete(f"/portfolio/order_groups/{gid}").status_code == 200
    assert alice.get(f"/portfolio/orders/{ok.json()['order_id']}").json()["order"]["status"] == "canceled"
    unknown = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.2", "1", order_group_id="x"))
    assert unknown.status_code == 404
