"""Signature verification (reference section 2) and the 401 bodies of section 9."""

from __future__ import annotations

import time

import requests


def _get(alice, path="/portfolio/balance", **headers_kw):
    url = alice.base_url + path
    return requests.get(url, headers=headers_kw["headers"], timeout=10)


def test_signed_request_passes(alice):
    assert alice.get("/portfolio/balance").status_code == 200


def test_missing_headers(alice):
    r = requests.get(alice.base_url + "/portfolio/balance", timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "signature_is_missing_from_headers"


def test_timestamp_window(alice):
    path = "/trade-api/v2/portfolio/balance"
    now = int(time.time() * 1000)
    for skew in (-5_000, 5_000):
        assert _get(alice, headers=alice.headers("GET", path, now + skew)).status_code == 200
    for skew in (-30_000, 30_000, 300_000):
        r = _get(alice, headers=alice.headers("GET", path, now + skew))
        assert r.status_code == 401 and r.json()["error"]["code"] == "header_timestamp_expired"
    seconds = alice.headers("GET", path, now // 1000)  # seconds instead of ms
    assert _get(alice, headers=seconds).status_code == 401


def test_tampered_signature(alice):
    headers = alice.headers("GET", "/trade-api/v2/portfolio/balance")
    sig = headers["KALSHI-ACCESS-SIGNATURE"]
    headers["KALSHI-ACCESS-SIGNATURE"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    r = _get(alice, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == {"code": "authentication_error", "message": "signature does not verify",
                                 "details": "INCORRECT_API_KEY_SIGNATURE"}


def test_wrong_method_or_path_signed(alice):
    assert _get(alice, headers=alice.headers("POST", "/trade-api/v2/portfolio/balance")).status_code == 401
    assert _get(alice, headers=alice.headers("GET", "/portfolio/balance")).status_code == 401  # no /trade-api/v2


def test_query_string_signed_is_rejected(alice):
    path = "/trade-api/v2/portfolio/orders"
    r = requests.get(alice.base_url + "/portfolio/orders?limit=5",
                     headers=alice.headers("GET", path + "?limit=5"), timeout=10)
    assert r.status_code == 401 and r.json()["error"]["details"] == "INCORRECT_API_KEY_SIGNATURE"
    ok = requests.get(alice.base_url + "/portfolio/orders?limit=5", headers=alice.headers("GET", path), timeout=10)
    assert ok.status_code == 200


def test_unknown_key(alice):
    headers = alice.headers("GET", "/trade-api/v2/portfolio/balance", key_id="00000000-0000-4000-8000-000000000000")
    r = _get(alice, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["details"] == "NOT_FOUND"


def test_pkcs1v15_rejected(alice):
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    ts = str(int(time.time() * 1000))
    sig = alice.key.sign(f"{ts}GET/trade-api/v2/portfolio/balance".encode(), padding.PKCS1v15(), hashes.SHA256())
    headers = {"KALSHI-ACCESS-KEY": alice.key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
               "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}
    assert _get(alice, headers=headers).status_code == 401


def test_public_endpoints_need_no_signature(alice, btc):
    base = alice.base_url
    for path in ("/exchange/status", "/markets", f"/markets/{btc}", f"/markets/{btc}/orderbook", "/series",
                 "/events", "/markets/trades", "/historical/cutoff", "/account/endpoint_costs"):
        assert requests.get(base + path, timeout=10).status_code == 200, path
    assert alice.get(f"/markets/{btc}/orderbook").status_code == 200  # signed is fine too
    bad = alice.headers("GET", "/nope")
    assert requests.get(base + f"/markets/{btc}/orderbook", headers=bad, timeout=10).status_code == 401


def test_unknown_path_404(alice):
    assert requests.get(alice.base_url + "/nope", timeout=10).status_code == 404
    assert requests.get(alice.base_url.replace("/trade-api/v2", "") + "/x", timeout=10).status_code == 404
    assert alice.post("/portfolio/orders", json={}).status_code == 404  # no V1 writes
