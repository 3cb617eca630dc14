"""API keys over real HTTP: list, generate, create from a public key, delete (refused at once), scopes
enforced on every request, keys locked to a subaccount, the tier rule, persistence."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kalshi_trading.sim.ratelimit import RateLimits
from kalshi_trading.sim.runtime import start_embedded
from tests.sim.conftest import Signed, order


def _generate(client, tmp_path, name="k", **extra) -> Signed:
    r = client.post("/api_keys/generate", json={"name": name, **extra})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    path = tmp_path / f"{body['api_key_id']}.pem"
    path.write_text(body["private_key"])
    return Signed(client.base_url, body["api_key_id"], path)


def _public_pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_list_shows_the_primary_key_and_new_ones(alice, tmp_path):
    keys = alice.get("/api_keys").json()["api_keys"]
    assert keys == [{"api_key_id": alice.key_id, "name": "primary", "scopes": ["read", "write"], "subaccount": None}]
    extra = _generate(alice, tmp_path, "bot", scopes=["read"])
    listed = {k["api_key_id"]: k for k in alice.get("/api_keys").json()["api_keys"]}
    assert listed[extra.key_id] == {"api_key_id": extra.key_id, "name": "bot", "scopes": ["read"], "subaccount": None}


def test_read_only_key_reads_but_cannot_trade(alice, tmp_path, btc):
    ro = _generate(alice, tmp_path, scopes=["read"])
    assert ro.get("/portfolio/balance").json()["balance_dollars"] == alice.get("/portfolio/balance").json()[
        "balance_dollars"]
    assert ro.get("/portfolio/orders").status_code == 200
    for method, path, body in (("POST", "/portfolio/events/orders", order(btc, "bid", "0.40", "1")),
                               ("DELETE", "/portfolio/events/orders", None),
                               ("POST", "/portfolio/order_groups/create", {"contracts_limit_fp": "5"}),
                               ("POST", "/portfolio/subaccounts", {}),
                               ("POST", "/api_keys/generate", {"name": "escalate"})):
        r = ro.request(method, path, json=body)
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "insufficient_scope"
    assert alice.get("/portfolio/orders").json()["orders"] == []  # nothing was placed


def test_narrow_scopes(alice, tmp_path, btc):
    balance_only = _generate(alice, tmp_path, scopes=["read::portfolio_balance"])
    assert balance_only.get("/portfolio/balance").status_code == 200
    assert balance_only.get("/portfolio/positions").status_code == 403
    trader = _generate(alice, tmp_path, scopes=["read", "write::trade"])
    assert trader.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "1")).status_code == 201
    alice.post("/portfolio/subaccounts")
    moved = trader.post("/portfolio/subaccounts/transfer", json={
        "client_transfer_id": "x", "from_subaccount": 0, "to_subaccount": 1, "amount_cents": 1})
    assert moved.status_code == 403
    mover = _generate(alice, tmp_path, scopes=["read", "write::transfer"])
    assert mover.post("/portfolio/subaccounts/transfer", json={
        "client_transfer_id": "y", "from_subaccount": 0, "to_subaccount": 1, "amount_cents": 1}).status_code == 200


def test_deleted_key_is_refused_at_once(alice, tmp_path):
    extra = _generate(alice, tmp_path)
    assert extra.get("/portfolio/balance").status_code == 200
    assert alice.delete(f"/api_keys/{extra.key_id}").status_code == 204
    r = extra.get("/portfolio/balance")
    assert r.status_code == 401 and r.json()["error"]["code"] == "authentication_error"
    assert extra.key_id not in [k["api_key_id"] for k in alice.get("/api_keys").json()["api_keys"]]
    assert alice.delete(f"/api_keys/{extra.key_id}").status_code == 404
    assert alice.delete("/api_keys/never-was").status_code == 404


def test_a_key_can_delete_the_primary_key(alice, tmp_path):
    second = _generate(alice, tmp_path)
    assert second.delete(f"/api_keys/{alice.key_id}").status_code == 204
    assert alice.get("/portfolio/balance").status_code == 401
    assert second.get("/portfolio/balance").status_code == 200
    assert [k["api_key_id"] for k in second.get("/api_keys").json()["api_keys"]] == [second.key_id]


def test_other_users_keys_are_not_yours(alice, bob, tmp_path):
    mine = _generate(alice, tmp_path)
    assert bob.delete(f"/api_keys/{mine.key_id}").status_code == 404
    assert bob.delete(f"/api_keys/{alice.key_id}").status_code == 404
    assert mine.get("/portfolio/balance").status_code == 200


def test_create_from_a_public_key(alice, tmp_path, btc):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = alice.post("/api_keys", json={"name": "own", "public_key": _public_pem(key), "scopes": ["read", "write"]})
    assert r.status_code == 201
    path = tmp_path / "own.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    own = Signed(alice.base_url, r.json()["api_key_id"], path)
    placed = own.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "1"))
    assert placed.status_code == 201
    assert alice.get(f"/portfolio/orders/{placed.json()['order_id']}").status_code == 200  # the same account


@pytest.mark.parametrize("body", [
    {"name": "x", "public_key": "not a pem"},
    {"name": "x"},
    {"public_key": "PEM"},
    {"name": "", "public_key": "PEM"},
    {"name": "x", "public_key": "PEM", "scopes": ["write"]},          # write needs read
    {"name": "x", "public_key": "PEM", "scopes": ["admin"]},
    {"name": "x", "public_key": "PEM", "scopes": []},
    {"name": "x", "public_key": "EC"},                                  # not RSA
    {"name": "x", "public_key": "PEM", "subaccount": 64},
])
def test_create_refuses_bad_input(alice, body):
    rsa_pem = _public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_pem = _public_pem(ec.generate_private_key(ec.SECP256R1()))
    body = {k: (rsa_pem if v == "PEM" else ec_pem if v == "EC" else v) for k, v in body.items()}
    r = alice.post("/api_keys", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameters"
    assert len(alice.get("/api_keys").json()["api_keys"]) == 1


def test_fcm_subtrader_needs_an_fcm(alice):
    assert alice.post("/api_keys/generate", json={"name": "x", "fcm_subtrader_id": "s1"}).status_code == 403


def test_key_locked_to_a_subaccount(alice, tmp_path, btc):
    alice.post("/portfolio/subaccounts")
    alice.post("/portfolio/subaccounts/transfer", json={
        "client_transfer_id": "f", "from_subaccount": 0, "to_subaccount": 1, "amount_cents": 2_000})
    locked = _generate(alice, tmp_path, subaccount=1)
    assert Decimal(locked.get("/portfolio/balance").json()["balance_dollars"]) == Decimal(20)
    assert locked.get("/portfolio/balance", params={"subaccount": 0}).status_code == 403
    placed = locked.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "1"))
    assert placed.status_code == 201
    assert alice.get("/portfolio/orders").json()["orders"] == []
    assert len(alice.get("/portfolio/orders", params={"subaccount": 1}).json()["orders"]) == 1
    assert alice.post("/api_keys/generate", json={"name": "n", "subaccount": 5}).status_code == 404


def test_creating_from_a_public_key_needs_premier(tmp_path):
    with start_embedded(tmp_path, participants=False, rate_limits=RateLimits(tier="advanced")) as srv:
        acct = srv.demo_account
        client = Signed(srv.base_url, acct.key_id, acct.private_key_path)
        pem = _public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        r = client.post("/api_keys", json={"name": "x", "public_key": pem})
        assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_api_usage_level"
        assert client.post("/api_keys/generate", json={"name": "x"}).status_code == 201


def test_keys_and_deletions_survive_a_restart(tmp_path, server, alice):
    keep = _generate(alice, tmp_path, "keep", scopes=["read"])
    gone = _generate(alice, tmp_path, "gone")
    alice.delete(f"/api_keys/{gone.key_id}")
    server.stop()
    with start_embedded(tmp_path, participants=False, clock=server.clock) as again:
        keep.base_url = gone.base_url = again.base_url
        assert keep.get("/portfolio/balance").status_code == 200
        assert keep.post("/portfolio/subaccounts").status_code == 403  # still read-only
        assert gone.get("/portfolio/balance").status_code == 401
