"""Fixtures: a real simulator on a loopback port (manual clock, no background participants) and a
signing client written here, independently of kalshi_trading.api."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.runtime import start_embedded

T0 = int(datetime(2026, 11, 21, 14, 30, tzinfo=timezone.utc).timestamp() * 1000)


class Signed:
    """A bare requests.Session that signs like the reference says (section 2)."""

    def __init__(self, base_url: str, key_id: str, key_path: Path):
        self.base_url = base_url
        self.key_id = key_id
        self.key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        self.session = requests.Session()

    def headers(self, method: str, path: str, ts_ms: int | None = None, key_id: str | None = None) -> dict:
        ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
        sig = self.key.sign(f"{ts}{method}{path}".encode(),
                            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        return {"KALSHI-ACCESS-KEY": key_id or self.key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
                "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}

    def request(self, method: str, path: str, **kw) -> requests.Response:
        url = self.base_url + path
        full_path = requests.utils.urlparse(url).path
        headers = self.headers(method, full_path)
        return self.session.request(method, url, headers=headers, timeout=10, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def server(tmp_path):
    clock = ManualClock(T0)
    srv = start_embedded(tmp_path, seed=7, participants=False, clock=clock)
    srv.clock = clock
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def alice(server) -> Signed:
    acct = server.demo_account
    return Signed(server.base_url, acct.key_id, acct.private_key_path)


@pytest.fixture
def bob(server) -> Signed:
    acct = server.create_account(Decimal("1000"))
    return Signed(server.base_url, acct.key_id, acct.private_key_path)


def active_market(server, series: str) -> str:
    markets = [m for m in server.exchange.engine.markets.values() if m.series_ticker == series and m.status == "active"]
    markets.sort(key=lambda m: (m.close_ms, m.ticker))
    return markets[len(markets) // 2].ticker


@pytest.fixture
def btc(server) -> str:
    return active_market(server, "KXBTCD")


def order(ticker, side, price, count, tif="good_till_canceled", stp="taker_at_cross", **extra) -> dict:
    body = {"ticker": ticker, "side": side, "price": price, "count": count, "time_in_force": tif,
            "self_trade_prevention_type": stp}
    body.update(extra)
    return body
