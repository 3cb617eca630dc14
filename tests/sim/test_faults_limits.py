"""Fault injection and token buckets over real HTTP."""

from __future__ import annotations

import pytest
import requests

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.faults import FaultSpec
from kalshi_trading.sim.ratelimit import RateLimits
from kalshi_trading.sim.runtime import start_embedded
from tests.sim.conftest import T0, Signed, active_market, order


def _serve(tmp_path, **kw):
    srv = start_embedded(tmp_path, participants=False, clock=ManualClock(T0), **kw)
    acct = srv.demo_account
    return srv, Signed(srv.base_url, acct.key_id, acct.private_key_path)


def test_fault_spec_parsing():
    spec = FaultSpec.parse("latency=0.05,error_before=0.1,error_after=0.1,drop_after=0.05,throttle=0.1,seed=1")
    assert spec.latency == 0.05 and spec.drop_after == 0.05 and spec.seed == 1 and spec.active
    assert not FaultSpec.parse(None).active
    for bad in ("nope=1", "error_before=2", "latency"):
        with pytest.raises(ValueError):
            FaultSpec.parse(bad)


def test_error_after_processes_the_order(tmp_path):
    srv, client = _serve(tmp_path, faults="error_after=1")
    try:
        ticker = active_market(srv, "KXBTCD")
        r = client.post("/portfolio/events/orders", json=order(ticker, "bid", "0.30", "1", client_order_id="f1"))
        assert r.status_code == 500
        orders = [o for o in srv.exchange.engine.orders.values() if o.client_order_id == "f1"]
        assert len(orders) == 1 and orders[0].status == "resting"
    finally:
        srv.stop()


def test_drop_after_closes_connection_after_processing(tmp_path):
    srv, client = _serve(tmp_path, faults="drop_after=1")
    try:
        ticker = active_market(srv, "KXBTCD")
        with pytest.raises(requests.ConnectionError):
            client.post("/portfolio/events/orders", json=order(ticker, "bid", "0.30", "1", client_order_id="d1"))
        assert any(o.client_order_id == "d1" for o in srv.exchange.engine.orders.values())
    finally:
        srv.stop()


def test_error_before_and_throttle_do_not_process(tmp_path):
    srv, client = _serve(tmp_path, faults="error_before=0.5,throttle=0.5,seed=3")
    try:
        ticker = active_market(srv, "KXBTCD")
        codes = {client.post("/portfolio/events/orders", json=order(ticker, "bid", "0.30", "1")).status_code
                 for _ in range(20)}
        assert codes <= {429, 503} and codes == {429, 503}
        assert not [o for o in srv.exchange.engine.orders.values() if not o.account.house]
    finally:
        srv.stop()


def test_env_faults(tmp_path, monkeypatch):
    monkeypatch.setenv("KALSHI_SIM_FAULTS", "throttle=1")
    srv, client = _serve(tmp_path)
    try:
        r = client.get("/portfolio/balance")
        assert r.status_code == 429 and r.json() == {"error": "too many requests"}
    finally:
        srv.stop()


def test_token_bucket_429_without_headers(tmp_path):
    limits = RateLimits(read_rate=0.001, read_capacity=30, write_rate=0.001, write_capacity=24)
    srv, client = _serve(tmp_path, rate_limits=limits)
    try:
        codes = [client.get("/portfolio/balance").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = client.get("/portfolio/balance")
        assert r.json() == {"error": "too many requests"}
        assert "Retry-After" not in r.headers and not any(h.lower().startswith("x-ratelimit") for h in r.headers)
        ticker = active_market(srv, "KXBTCD")
        oid = client.post("/portfolio/events/orders", json=order(ticker, "bid", "0.30", "1")).json()["order_id"]
        # 14 write tokens left: a 2-item batch create (20) does not fit whole, cancels (2 each) do
        two = [order(ticker, "bid", "0.31", "1")] * 2
        batch = client.post("/portfolio/events/orders/batched", json={"orders": two})
        assert batch.status_code == 429
        assert client.delete(f"/portfolio/events/orders/{oid}").status_code == 200
        assert requests.get(srv.base_url + "/markets", timeout=5).status_code == 200  # public, unsigned: no bucket
    finally:
        srv.stop()


def test_rate_limits_can_be_disabled(tmp_path):
    srv, client = _serve(tmp_path, rate_limits=False)
    try:
        assert all(client.get("/portfolio/balance").status_code == 200 for _ in range(5))
    finally:
        srv.stop()
