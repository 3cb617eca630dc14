"""Every `average_*` and `*_dollars` field of the V2 create / batch create / amend / decrease answers
and of Order objects agrees with the fills that produced them (GET /portfolio/fills?order_id=).

Expected values are computed here from the fills alone: average_fill_price = sum(YES price x count)
/ filled, average_fee_paid = sum(fee_cost) / filled (both to $0.000001, half-even), an order's
taker/maker fill cost = sum of its own leg's price (YES for a bid, NO for an ask) x count, its
taker/maker fees = sum of fee_cost, split by `is_taker`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sim.conftest import active_market, order

D = Decimal
MICRO = D("0.000001")
ORDERS = "/portfolio/events/orders"


def fills_of(who, order_id: str) -> list[dict]:
    body = who.get("/portfolio/fills", params={"order_id": order_id, "limit": 1000}).json()
    assert body["cursor"] == ""
    return body["fills"]


def per_contract(total: Decimal, filled: Decimal) -> Decimal:
    return (total / filled).quantize(MICRO, rounding=ROUND_HALF_EVEN)


def check_averages(answer: dict, fills: list[dict]) -> None:
    """A create/amend answer's fill_count and averages against the order's fills."""
    filled = sum((D(f["count_fp"]) for f in fills), D(0))
    assert D(answer["fill_count"]) == filled
    if not filled:
        assert "average_fill_price" not in answer and "average_fee_paid" not in answer
        return
    yes = sum((D(f["yes_price_dollars"]) * D(f["count_fp"]) for f in fills), D(0))
    fees = sum((D(f["fee_cost"]) for f in fills), D(0))
    assert D(answer["average_fill_price"]) == per_contract(yes, filled), (answer, fills)
    assert D(answer["average_fee_paid"]) == per_contract(fees, filled), (answer, fills)
    assert len(answer["average_fee_paid"].split(".")[1]) == 6  # fees always carry 6 decimals


def check_order(who, order_id: str) -> dict:
    """The Order object's counts and every `*_dollars` field against its fills."""
    o = who.get(f"/portfolio/orders/{order_id}").json()["order"]
    fills = fills_of(who, order_id)
    assert D(o["yes_price_dollars"]) + D(o["no_price_dollars"]) == 1
    bid = o["book_side"] == "bid"
    for taker in (True, False):
        mine = [f for f in fills if f["is_taker"] is taker]
        cost = sum((D(f["yes_price_dollars"] if bid else f["no_price_dollars"]) * D(f["count_fp"]) for f in mine), D(0))
        fees = sum((D(f["fee_cost"]) for f in mine), D(0))
        role = "taker" if taker else "maker"
        assert D(o[f"{role}_fill_cost_dollars"]) == cost, (role, o, fills)
        assert D(o[f"{role}_fees_dollars"]) == fees, (role, o, fills)
    for f in fills:
        assert f["book_side"] == o["book_side"] and f["outcome_side"] == o["outcome_side"]
        # a fill is at the resting price: never worse than the order's limit
        assert (D(f["yes_price_dollars"]) <= D(o["yes_price_dollars"])) if bid else (
            D(f["yes_price_dollars"]) >= D(o["yes_price_dollars"]))
    filled = sum((D(f["count_fp"]) for f in fills), D(0))
    assert D(o["fill_count_fp"]) == filled
    if o["status"] == "resting":
        assert D(o["fill_count_fp"]) + D(o["remaining_count_fp"]) == D(o["initial_count_fp"])
    return o


def rest(who, ticker: str, side: str, levels) -> list[str]:
    ids = []
    for price, count in levels:
        r = who.post(ORDERS, json=order(ticker, side, price, count))
        assert r.status_code == 201, r.text
        ids.append(r.json()["order_id"])
    return ids


# (series, maker side, maker levels (price, count), taker price, taker count); the series vary the fee
# type (KXBTCD charges makers too) and the grid (sub-cent prices on the weather series)
CASES = [
    ("KXBTCD", "ask", [("0.89", "2")], "0.89", "2"),  # the issue's example: fee 0.013800, 0.006900 each
    ("KXBTCD", "ask", [("0.84", "1")], "0.90", "1"),
    ("KXBTCD", "ask", [("0.40", "3"), ("0.42", "2")], "0.45", "5"),
    ("KXBTCD", "ask", [("0.51", "1"), ("0.52", "1"), ("0.53", "1")], "0.53", "3"),  # average 0.52
    ("KXBTCD", "bid", [("0.66", "1.5"), ("0.61", "2.25")], "0.60", "4"),  # taker sells YES; IOC rest
    ("KXBTCD", "ask", [("0.01", "7"), ("0.02", "3")], "0.05", "10"),
    ("KXBTCD", "bid", [("0.99", "3")], "0.99", "1.37"),
    ("KXHIGHNY", "ask", [("0.055", "3"), ("0.07", "4")], "0.08", "6.5"),  # tapered deci-cent, taker fees only
    ("KXHIGHNY", "bid", [("0.905", "2"), ("0.93", "1")], "0.90", "3"),
    ("KXRAINNYC", "ask", [("0.123", "0.33"), ("0.457", "1.01")], "0.500", "1.34"),  # deci-cent, odd counts
    ("KXRAINNYC", "bid", [("0.333", "3")], "0.333", "1"),
]


@pytest.mark.parametrize("series, maker_side, levels, price, count", CASES)
def test_create_answer_and_orders_match_fills(server, alice, bob, series, maker_side, levels, price, count):
    ticker = active_market(server, series)
    maker_ids = rest(bob, ticker, maker_side, levels)
    taker_side = "bid" if maker_side == "ask" else "ask"
    r = alice.post(ORDERS, json=order(ticker, taker_side, price, count, "immediate_or_cancel"))
    assert r.status_code == 201
    answer = r.json()
    fills = fills_of(alice, answer["order_id"])
    assert fills, "the case is meant to trade"
    check_averages(answer, fills)
    check_order(alice, answer["order_id"])
    for maker_id in maker_ids:
        check_order(bob, maker_id)


def test_the_issue_example_exactly(server, alice, bob, btc):
    rest(bob, btc, "ask", [("0.89", "2")])
    answer = alice.post(ORDERS, json=order(btc, "bid", "0.89", "2")).json()
    [fill] = fills_of(alice, answer["order_id"])
    assert fill["fee_cost"] == "0.013800"
    assert answer["average_fill_price"] == "0.8900" and answer["average_fee_paid"] == "0.006900"


def test_batch_create_answers_match_fills(server, alice, bob, btc):
    rest(bob, btc, "ask", [("0.30", "1"), ("0.31", "2"), ("0.35", "4")])
    r = alice.post(ORDERS + "/batched", json={"orders": [order(btc, "bid", "0.31", "2.5", "immediate_or_cancel"),
                                                        order(btc, "bid", "0.20", "1"),
                                                        order(btc, "bid", "0.40", "1")]})
    assert r.status_code == 201
    for item in r.json()["orders"]:
        check_averages(item, fills_of(alice, item["order_id"]))
        check_order(alice, item["order_id"])


def test_amend_that_crosses_and_decrease_match_fills(server, alice, bob, btc):
    rest(bob, btc, "ask", [("0.47", "2"), ("0.48", "3")])
    first = alice.post(ORDERS, json=order(btc, "bid", "0.45", "10")).json()
    oid = first["order_id"]
    check_averages(first, [])
    amended = alice.post(f"{ORDERS}/{oid}/amend",
                         json={"ticker": btc, "side": "bid", "price": "0.47", "count": "10"})
    assert amended.status_code == 200
    check_averages(amended.json(), fills_of(alice, oid))
    assert D(amended.json()["remaining_count"]) == 8
    again = alice.post(f"{ORDERS}/{oid}/amend", json={"ticker": btc, "side": "bid", "price": "0.48", "count": "6"})
    assert again.status_code == 200
    body = again.json()
    check_averages(body, fills_of(alice, oid))  # averages over both amends' fills: 2 @ 0.47 + 3 @ 0.48
    assert body["fill_count"] == "5.00" and body["average_fill_price"] == "0.4760"
    o = check_order(alice, oid)
    dec = alice.post(f"{ORDERS}/{oid}/decrease", json={"reduce_by": "0.5"})
    assert dec.status_code == 200
    assert D(dec.json()["remaining_count"]) == D(o["remaining_count_fp"]) - D("0.5")
    assert not [k for k in dec.json() if k.endswith("_dollars") or k.startswith("average_")]
    after = check_order(alice, oid)
    assert after["remaining_count_fp"] == dec.json()["remaining_count"]
    for key in ("taker_fill_cost_dollars", "maker_fill_cost_dollars", "taker_fees_dollars", "maker_fees_dollars"):
        assert after[key] == o[key]  # a decrease changes no money


def test_resting_order_filled_as_maker_then_listed(server, alice, bob, btc):
    oid = alice.post(ORDERS, json=order(btc, "ask", "0.62", "4")).json()["order_id"]
    bob.post(ORDERS, json=order(btc, "bid", "0.70", "1.75", "immediate_or_cancel"))
    bob.post(ORDERS, json=order(btc, "bid", "0.62", "1"))
    o = check_order(alice, oid)
    assert D(o["maker_fees_dollars"]) > 0 and D(o["taker_fees_dollars"]) == 0
    listed = {x["order_id"]: x for x in alice.get("/portfolio/orders").json()["orders"]}
    assert listed[oid] == o


prices = st.integers(min_value=1, max_value=99).map(lambda c: f"0.{c:02d}")
counts = st.integers(min_value=1, max_value=300).map(lambda c: f"{c // 100}.{c % 100:02d}")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=st.lists(st.tuples(prices, counts), min_size=1, max_size=3), maker_side=st.sampled_from(["ask", "bid"]),
       price=prices, count=counts, tif=st.sampled_from(["immediate_or_cancel", "good_till_canceled"]))
def test_random_orders_match_fills(server, alice, bob, btc, levels, maker_side, price, count, tif):
    for who in (alice, bob):
        assert who.delete(ORDERS).status_code == 204  # a clean book per example
    maker_ids = rest(bob, btc, maker_side, levels)
    r = alice.post(ORDERS, json=order(btc, "bid" if maker_side == "ask" else "ask", price, count, tif))
    assert r.status_code == 201, r.text
    answer = r.json()
    check_averages(answer, fills_of(alice, answer["order_id"]))
    check_order(alice, answer["order_id"])
    for maker_id in maker_ids:
        check_order(bob, maker_id)
