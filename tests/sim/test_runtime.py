"""Persistence across processes (simulated by stop/start), the demo account, CLI operations."""

from __future__ import annotations

import os
import stat
from decimal import Decimal

import pytest

from kalshi_trading.sim.runtime import (
    SimBusy, create_account, ensure_demo_account, sim_advance, sim_reset, sim_settle, sim_status, start_embedded,
)
from tests.sim.conftest import Signed, order


def test_demo_account_is_created_once(tmp_path):
    first = ensure_demo_account(tmp_path)
    again = ensure_demo_account(tmp_path)
    assert first == again
    assert stat.S_IMODE(os.stat(first.private_key_path).st_mode) == 0o600
    assert first.private_key_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "sim" / "exchange.db").exists()
    assert ensure_demo_account(tmp_path / "sim") == first  # a dir named sim is used as is


def test_order_survives_restart(tmp_path):
    acct = ensure_demo_account(tmp_path)
    with start_embedded(tmp_path, participants=False) as srv:
        client = Signed(srv.base_url, acct.key_id, acct.private_key_path)
        ticker = next(m.ticker for m in srv.exchange.engine.markets.values()
                      if m.status == "active" and m.series_ticker == "KXRAINNYC")
        oid = client.post("/portfolio/events/orders", json=order(ticker, "bid", "0.011", "2",
                                                                 client_order_id="keep")).json()["order_id"]
        bal = client.get("/portfolio/balance").json()["balance_dollars"]
    with start_embedded(tmp_path, participants=False) as srv:
        client = Signed(srv.base_url, acct.key_id, acct.private_key_path)
        got = client.get(f"/portfolio/orders/{oid}").json()["order"]
        assert got["status"] == "resting" and got["client_order_id"] == "keep"
        assert client.get("/portfolio/balance").json()["balance_dollars"] == bal
        book = client.get(f"/markets/{ticker}/orderbook").json()["orderbook_fp"]
        assert ["0.0110", "2.00"] in book["yes_dollars"]
        again = client.post("/portfolio/events/orders", json=order(ticker, "bid", "0.011", "1", client_order_id="keep"))
        assert again.status_code == 409


def test_second_process_is_refused_while_serving(tmp_path):
    with start_embedded(tmp_path, participants=False):
        with pytest.raises(SimBusy):
            create_account(tmp_path, Decimal("5"))
        assert sim_status(tmp_path)["exists"] is True  # reads still work


def test_cli_operations(tmp_path):
    assert sim_status(tmp_path)["exists"] is False
    acct = sim_reset(tmp_path, Decimal("250"))
    st = sim_status(tmp_path)
    assert st["demo_key_id"] == acct.key_id and Decimal(st["demo_cash_dollars"]) == 250
    extra = create_account(tmp_path, Decimal("10"))
    assert extra.key_id != acct.key_id and sim_status(tmp_path)["accounts"] == 2
    out = sim_advance(tmp_path, 2 * 3600)
    assert out["settled"] and out["listed"]
    ticker = next(t for t, n in [(m, 0) for m in out["listed"]] if t.startswith("KXBTCD"))
    with pytest.raises(Exception):
        sim_settle(tmp_path, "NOPE", "yes")
    res = sim_settle(tmp_path, ticker, "no")
    assert res == {"ticker": ticker, "result": "no", "status": "finalized"}
    again = sim_reset(tmp_path, Decimal("1000"))
    assert again.key_id != acct.key_id and not acct.private_key_path.exists()


def test_demo_account_readable_while_serving(tmp_path):
    from kalshi_trading.sim.runtime import demo_account

    with start_embedded(tmp_path, participants=False) as srv:
        assert demo_account(tmp_path) == srv.demo_account


def test_books_are_quoted_before_the_first_request(tmp_path):
    """A fresh (and a reloaded) exchange shows two-sided BTC books near the money at once."""
    import requests

    from kalshi_trading.sim.clock import ManualClock
    from tests.sim.conftest import T0

    for _ in range(2):  # fresh, then loaded from disk
        srv = start_embedded(tmp_path, seed=3, clock=ManualClock(T0))
        try:
            markets = requests.get(srv.base_url + "/markets", params={"series_ticker": "KXBTCD", "status": "open"},
                                   timeout=10).json()["markets"]
            two_sided = [m for m in markets if m["yes_bid_dollars"] != "0.0000" and m["yes_ask_dollars"] != "0.0000"]
            assert len(two_sided) >= 3
            near = min(markets, key=lambda m: abs(float(m["yes_bid_dollars"]) + float(m["yes_ask_dollars"]) - 1.0))
            url = srv.base_url + f"/markets/{near['ticker']}/orderbook"
            book = requests.get(url, timeout=10).json()["orderbook_fp"]
            assert book["yes_dollars"] and book["no_dollars"]
        finally:
            srv.stop()
