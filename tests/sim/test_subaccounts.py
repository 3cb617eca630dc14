"""Subaccounts over real HTTP: creation, transfers that conserve money, trading in a subaccount, netting,
intra-exchange transfers, deposits, withdrawals, the resting order value, balance allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.sim.conftest import order


def _balances(client) -> dict[int, Decimal]:
    rows = client.get("/portfolio/subaccounts/balances").json()["subaccount_balances"]
    assert all(r["exchange_index"] == 0 and isinstance(r["updated_ts"], int) for r in rows)
    return {r["subaccount_number"]: Decimal(r["balance"]) for r in rows}


def _transfer(client, source, target, cents, client_id):
    return client.post("/portfolio/subaccounts/transfer", json={
        "client_transfer_id": client_id, "from_subaccount": source, "to_subaccount": target, "amount_cents": cents})


def test_create_numbers_sequentially(alice, bob):
    assert alice.post("/portfolio/subaccounts", json={}).json() == {"subaccount_number": 1}
    r = alice.post("/portfolio/subaccounts", json={"exchange_index": 0})
    assert r.status_code == 201 and r.json() == {"subaccount_number": 2}
    assert bob.post("/portfolio/subaccounts").json() == {"subaccount_number": 1}  # numbers are per user
    assert alice.post("/portfolio/subaccounts", json={"exchange_index": 3}).status_code == 400
    assert _balances(alice) == {0: Decimal(1000), 1: Decimal(0), 2: Decimal(0)}


def test_transfers_conserve_money(alice):
    alice.post("/portfolio/subaccounts")
    alice.post("/portfolio/subaccounts")
    total = sum(_balances(alice).values())
    assert _transfer(alice, 0, 1, 12_345, "t1").status_code == 200
    assert _transfer(alice, 1, 2, 345, "t2").status_code == 200
    after = _balances(alice)
    assert after == {0: Decimal("876.55"), 1: Decimal("120.00"), 2: Decimal("3.45")}
    assert sum(after.values()) == total
    rows = alice.get("/portfolio/subaccounts/transfers").json()["transfers"]
    assert [(t["from_subaccount"], t["to_subaccount"], t["amount_cents"]) for t in rows] == \
        [(1, 2, 345), (0, 1, 12_345)]
    assert alice.get("/portfolio/balance", params={"subaccount": 1}).json()["balance"] == 12_000


@pytest.mark.parametrize("source,target,cents,client_id,status,code", [
    (0, 1, 100_001, "big", 400, "insufficient_balance"),   # more than the primary holds
    (0, 0, 100, "same", 400, "invalid_parameters"),        # to itself
    (0, 1, 0, "zero", 400, "invalid_parameters"),          # nothing
    (0, 1, -5, "neg", 400, "invalid_parameters"),
    (0, 7, 100, "nosub", 404, "not_found"),                # never created
    (0, 64, 100, "range", 400, "invalid_parameters"),      # out of range
    (1, 0, 1, "empty", 400, "insufficient_balance"),       # the subaccount holds nothing
    (0, "1", 100, "type", 400, "invalid_parameters"),
])
def test_refused_transfers_move_nothing(alice, source, target, cents, client_id, status, code):
    alice.post("/portfolio/subaccounts")
    before = _balances(alice)
    r = _transfer(alice, source, target, cents, client_id)
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert _balances(alice) == before


def test_client_transfer_id_is_single_use(alice):
    alice.post("/portfolio/subaccounts")
    assert _transfer(alice, 0, 1, 100, "once").status_code == 200
    again = _transfer(alice, 0, 1, 100, "once")
    assert again.status_code == 409
    assert _balances(alice)[1] == Decimal("1.00")


def test_trading_in_a_subaccount_uses_its_own_cash_and_positions(server, alice, bob, btc):
    alice.post("/portfolio/subaccounts")
    _transfer(alice, 0, 1, 10_000, "fund")
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.40", "5"))
    r = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "5", subaccount=1))
    assert r.status_code == 201 and r.json()["fill_count"] == "5.00"
    assert Decimal(alice.get("/portfolio/balance").json()["balance_dollars"]) == Decimal(900)
    sub = alice.get("/portfolio/balance", params={"subaccount": 1}).json()
    assert Decimal(sub["balance_dollars"]) < Decimal(98)  # 100 - 2.00 cost - fee
    assert alice.get("/portfolio/positions").json()["market_positions"] == []
    held = alice.get("/portfolio/positions", params={"subaccount": 1}).json()["market_positions"]
    assert [(p["ticker"], p["position_fp"]) for p in held] == [(btc, "5.00")]
    assert len(alice.get("/portfolio/fills", params={"subaccount": 1}).json()["fills"]) == 1
    # a subaccount cannot spend what it does not have
    big = alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "1000", subaccount=1))
    assert big.status_code == 400 and big.json()["error"]["code"] == "insufficient_balance"
    assert alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.50", "1", subaccount=9)).status_code == 404


def test_resting_order_value_and_batch_subaccount(alice, btc):
    alice.post("/portfolio/subaccounts")
    _transfer(alice, 0, 1, 5_000, "fund")
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.25", "4"))
    alice.post("/portfolio/events/orders", json=order(btc, "ask", "0.90", "3"))  # NO leg: 0.10 x 3
    value = alice.get("/portfolio/summary/total_resting_order_value").json()
    assert value == {"total_resting_order_value": 130,
                     "resting_order_value_breakdown": [{"exchange_index": 0, "balance": "1.3000"}]}
    batch = {"orders": [order(btc, "bid", "0.10", "1", subaccount=1), order(btc, "bid", "0.11", "1", subaccount=1)]}
    assert alice.post("/portfolio/events/orders/batched", json=batch).status_code == 201
    sub_value = alice.get("/portfolio/summary/total_resting_order_value", params={"subaccount": 1}).json()
    assert sub_value["total_resting_order_value"] == 21
    mixed = {"orders": [order(btc, "bid", "0.10", "1", subaccount=1), order(btc, "bid", "0.11", "1")]}
    mixed["orders"][1]["subaccount"] = 0
    assert alice.post("/portfolio/events/orders/batched", json=mixed).status_code == 400


def test_netting_lists_every_subaccount(alice):
    alice.post("/portfolio/subaccounts")
    got = alice.get("/portfolio/subaccounts/netting").json()["netting_configs"]
    assert got == [{"subaccount_number": 0, "enabled": True, "exchange_index": 0},
                   {"subaccount_number": 1, "enabled": True, "exchange_index": 0}]
    assert alice.request("PUT", "/portfolio/subaccounts/netting",
                         json={"subaccount_number": 1, "enabled": True}).status_code == 200
    off = alice.request("PUT", "/portfolio/subaccounts/netting", json={"subaccount_number": 1, "enabled": False})
    assert off.status_code == 400
    assert alice.request("PUT", "/portfolio/subaccounts/netting",
                         json={"subaccount_number": 5, "enabled": True}).status_code == 404


def test_intra_exchange_transfer_is_a_subaccount_transfer(alice):
    alice.post("/portfolio/subaccounts")
    body = {"source": "event_contract", "destination": "event_contract", "amount": 25_000,  # centicents: $2.50
            "destination_subaccount": 1}
    r = alice.post("/portfolio/intra_exchange_instance_transfer", json=body)
    assert r.status_code == 200
    tid = r.json()["transfer_id"]
    assert _balances(alice)[1] == Decimal("2.50")
    one = alice.get(f"/portfolio/intra_exchange_instance_transfers/{tid}").json()["transfer"]
    assert one["amount"] == "2.5000" and one["status"] == "complete" and one["source"] == "event_contract"
    assert [t["transfer_id"] for t in alice.get("/portfolio/intra_exchange_instance_transfers").json()["transfers"]] \
        == [tid]
    assert tid in [t["transfer_id"] for t in alice.get("/portfolio/subaccounts/transfers").json()["transfers"]]
    margined = dict(body, destination="margined")
    assert alice.post("/portfolio/intra_exchange_instance_transfer", json=margined).status_code == 403
    assert alice.post("/portfolio/intra_exchange_instance_transfer",
                      json=dict(body, amount=150)).status_code == 400  # not whole cents
    assert alice.get("/portfolio/intra_exchange_instance_transfers/nope").status_code == 404


def test_deposits_withdrawals_and_allocation(alice, bob):
    deposits = alice.get("/portfolio/deposits").json()["deposits"]
    assert [(d["amount_cents"], d["status"], d["fee_cents"]) for d in deposits] == [(100_000, "applied", 0)]
    assert alice.get("/portfolio/withdrawals").json() == {"withdrawals": [], "cursor": ""}
    assert alice.get("/portfolio/deposits", params={"limit": 501}).status_code == 400
    got = alice.get("/portfolio/target_balance_allocation").json()
    assert got == {"allocations": [{"exchange_index": 0, "percent": 100}], "resting_margin_reservation": "max"}
    assert alice.post("/portfolio/target_balance_allocation",
                      json={"allocations": [{"exchange_index": 0, "percent": 60}]}).status_code == 400
    assert alice.post("/portfolio/target_balance_allocation",
                      json={"allocations": [{"exchange_index": 1, "percent": 100}]}).status_code == 400
    assert alice.post("/portfolio/target_balance_allocation",
                      json={"allocations": [], "resting_margin_reservation": "sum"}).status_code == 200
    assert alice.get("/portfolio/target_balance_allocation").json() == {"allocations": [],
                                                                        "resting_margin_reservation": "sum"}
    assert bob.get("/portfolio/target_balance_allocation").json()["allocations"] == [
        {"exchange_index": 0, "percent": 100}]


def test_subaccounts_survive_a_restart(tmp_path, server, alice):
    from kalshi_trading.sim.runtime import start_embedded
    from tests.sim.conftest import Signed

    alice.post("/portfolio/subaccounts")
    _transfer(alice, 0, 1, 700, "keep")
    server.stop()
    acct = server.demo_account
    with start_embedded(tmp_path, participants=False, clock=server.clock) as again:
        client = Signed(again.base_url, acct.key_id, acct.private_key_path)
        assert _balances(client)[1] == Decimal("7.00")
        assert _transfer(client, 0, 1, 1, "keep").status_code == 409
        assert client.post("/portfolio/subaccounts").json() == {"subaccount_number": 2}


def test_subaccount_tier_rule(tmp_path):
    from kalshi_trading.sim.ratelimit import RateLimits
    from kalshi_trading.sim.runtime import start_embedded
    from tests.sim.conftest import Signed

    with start_embedded(tmp_path, participants=False, rate_limits=RateLimits(tier="basic")) as srv:
        acct = srv.demo_account
        client = Signed(srv.base_url, acct.key_id, acct.private_key_path)
        r = client.post("/portfolio/subaccounts")
        assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_api_usage_level"
