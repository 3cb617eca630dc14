"""The simulator-only underlying route used by model strategies."""

from decimal import Decimal

import requests


def test_underlying_route(server):
    r = requests.get(server.base_url + "/sim/underlying/KXBTCD", timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["series_ticker"] == "KXBTCD" and Decimal(body["price"]) > 0 and body["ts"].endswith("Z")
    assert Decimal(body["price"]) == Decimal(repr(server.exchange.world.spot)).quantize(Decimal("0.01"))
    assert requests.get(server.base_url + "/sim/underlying/NOPE", timeout=5).status_code == 404
