"""Faults of the loopback outside sources (per source: latency, status, garbage, drop; from the fault string and the
control route), the flaky venue of the bitcoin model, and determinism by seed.  Bare `requests` clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from kalshi_trading.sim import outside_btc
from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.faults import FaultSpec, SourceFaults
from kalshi_trading.sim.routes_control import TOKEN_HEADER
from kalshi_trading.sim.runtime import start_embedded
from tests.sim.conftest import T0

ROUTES = {  # source -> (path after /ext, params)
    "open-meteo-ensemble": ("/open-meteo-ensemble/v1/ensemble",
                            {"latitude": "40.7794", "longitude": "-73.9692", "daily": "temperature_2m_max",
                             "models": "ncep_gefs_seamless", "temperature_unit": "fahrenheit",
                             "timezone": "America/New_York", "forecast_days": "3"}),
    "open-meteo": ("/open-meteo/v1/forecast", {"latitude": "40.7794", "longitude": "-73.9692",
                                               "daily": "temperature_2m_max", "timezone": "America/New_York"}),
    "coinbase": ("/coinbase/products/BTC-USD/ticker", {}),
    "coinbase-advanced": ("/coinbase-advanced/api/v3/brokerage/market/products/BTC-USD/ticker", {"limit": "1"}),
    "kraken": ("/kraken/0/public/Ticker", {"pair": "XBTUSD"}),
    "bitstamp": ("/bitstamp/api/v2/ticker/btcusd/", {}),
    "cryptocom": ("/cryptocom/exchange/v1/public/get-tickers", {"instrument_name": "BTC_USD"}),
}
ERRORS = {  # source -> the body of an injected 503
    "open-meteo-ensemble": {"error": True, "reason": "injected fault"},
    "open-meteo": {"error": True, "reason": "injected fault"},
    "coinbase": {"message": "injected fault"},
    "coinbase-advanced": {"error": "UNAVAILABLE", "error_details": "injected fault", "message": "injected fault"},
    "kraken": {"error": ["EService:Unavailable"]},
    "bitstamp": {"status": "error", "reason": "injected fault", "code": "503"},
    "cryptocom": {"id": -1, "method": "public/get-tickers", "code": 50001, "message": "injected fault"},
}


def _root(srv) -> str:
    return srv.base_url[: -len("/trade-api/v2")] + "/ext"


def _get(srv, source: str, timeout: float = 10.0) -> requests.Response:
    path, params = ROUTES[source]
    return requests.get(_root(srv) + path, params=params, timeout=timeout)


def _control(srv, method: str, body: dict | None = None, token: str | None = None) -> requests.Response:
    return requests.request(method, srv.base_url + "/sim/control/faults", json=body, timeout=10,
                            headers={TOKEN_HEADER: srv.control_token if token is None else token})


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(seed: int = 7, faults: str | None = None, at: int = T0, name: str = "a", flaky_venue: bool = True):
        clock = ManualClock(at)
        srv = start_embedded(tmp_path / name, seed=seed, participants=False, clock=clock, faults=faults,
                             flaky_venue=flaky_venue)
        srv.clock = clock
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.mark.parametrize("source", sorted(ROUTES))
def test_injected_status_in_each_sources_envelope(serve, source):
    srv = serve()
    assert _control(srv, "POST", {"source": source, "status": 503}).status_code == 200
    r = _get(srv, source)
    assert r.status_code == 503 and r.json() == ERRORS[source]
    others = [s for s in ROUTES if s != source]
    assert all(_get(srv, s).status_code == 200 for s in others)
    assert _control(srv, "DELETE", {"source": source}).json() == {"sources": {}}
    assert _get(srv, source).status_code == 200


def test_429_bodies_say_so(serve):
    srv = serve(faults="ext.open-meteo-ensemble.status=429,ext.kraken.status=429,ext.cryptocom.status=429")
    r = _get(srv, "open-meteo-ensemble")
    assert r.status_code == 429 and r.json() == {"error": True, "reason": "Daily API request limit exceeded"}
    assert _get(srv, "kraken").json() == {"error": ["EGeneral:Too many requests"]}
    assert _get(srv, "cryptocom").json()["code"] == 42901


def test_status_rate_and_every_source(serve):
    srv = serve(faults="ext.*.status=502,ext.*.rate=0.5,ext.bitstamp.latency=0,seed=3")
    codes = [_get(srv, "coinbase").status_code for _ in range(40)]
    assert set(codes) == {200, 502}  # about half, decided by the seeded fault stream
    assert all(_get(srv, "bitstamp").status_code == 200 for _ in range(10))  # its own entry wins over "*"
    again = serve(faults="ext.*.status=502,ext.*.rate=0.5,ext.bitstamp.latency=0,seed=3", name="b")
    assert [_get(again, "coinbase").status_code for _ in range(40)] == codes  # the same seed, the same faults


def test_latency_holds_the_answer_back(serve):
    srv = serve(faults="ext.kraken.latency=3")
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(srv, "kraken", timeout=0.5)
    assert _get(srv, "coinbase").status_code == 200  # the other sources answer at once
    _control(srv, "POST", {"source": "*", "latency": 0.1})
    assert _control(srv, "GET").json() == {"sources": {
        "*": {"latency": 0.1, "status": 0, "rate": 1.0, "garbage": 0.0, "drop": 0.0},
        "kraken": {"latency": 3.0, "status": 0, "rate": 1.0, "garbage": 0.0, "drop": 0.0}}}


def test_garbage_bodies_of_every_kind(serve):
    srv = serve(faults="ext.bitstamp.garbage=1")
    seen = set()
    for _ in range(30):
        r = _get(srv, "bitstamp")
        assert r.status_code == 200
        try:
            body = json.loads(r.text)
        except ValueError:
            seen.add("html" if r.headers["Content-Type"] == "text/html" else "cut short")
            continue
        assert not isinstance(body, dict)  # JSON, but not the source's shape
        seen.add("wrong shape")
    assert seen == {"html", "cut short", "wrong shape"}
    assert isinstance(_get(srv, "kraken").json(), dict)


def test_dropped_connection(serve):
    srv = serve(faults="ext.coinbase-advanced.drop=1")
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(srv, "coinbase-advanced")
    assert _get(srv, "coinbase").status_code == 200


def test_exchange_faults_and_source_faults_stay_apart(serve):
    srv = serve(faults="error_before=1")
    assert requests.get(srv.base_url + "/markets", timeout=10).status_code == 503
    assert _get(srv, "kraken").status_code == 200
    other = serve(faults="ext.*.status=500", name="b")
    assert requests.get(other.base_url + "/markets", timeout=10).status_code == 200


@pytest.mark.parametrize("body, words", [
    ({"source": "nosuch", "latency": 1}, "unknown source"),
    ({"source": "kraken", "colour": 1}, "unknown source fault"),
    ({"source": "kraken", "latency": -1}, "latency"),
    ({"source": "kraken", "latency": 61}, "latency"),
    ({"source": "kraken", "status": 200}, "status"),
    ({"source": "kraken", "status": 503.5}, "status"),
    ({"source": "kraken", "rate": 2}, "fraction"),
    ({"source": "kraken", "garbage": "lots"}, "number"),
    ({"source": "kraken", "drop": True}, "number"),
    ({"latency": 1}, "source"),
])
def test_control_route_refuses_bad_settings(serve, body, words):
    srv = serve()
    r = _control(srv, "POST", body)
    assert r.status_code == 400 and words in r.json()["error"]["message"]
    assert _control(srv, "GET").json() == {"sources": {}}


def test_control_route_needs_the_token(serve):
    srv = serve()
    assert _control(srv, "POST", {"source": "kraken", "status": 500}, token="wrong").status_code == 401
    assert _get(srv, "kraken").status_code == 200


@pytest.mark.parametrize("text", ["ext.nosuch.latency=1", "ext.kraken.colour=1", "ext.kraken=1", "ext.kraken.rate=2",
                                  "ext.kraken.status=200", "ext.kraken.latency=x", "ext.*.garbage=-0.1"])
def test_fault_string_refuses_bad_source_settings(text):
    with pytest.raises(ValueError):
        FaultSpec.parse(text)


def test_fault_string_per_source():
    spec = FaultSpec.parse("latency=0.01,ext.*.latency=0.1,ext.kraken.status=503,ext.kraken.rate=0.25")
    assert spec.latency == 0.01 and dict(spec.ext) == {
        "*": SourceFaults(latency=0.1), "kraken": SourceFaults(status=503, rate=0.25)}
    assert not FaultSpec.parse("ext.*.latency=0.1").http_active  # the exchange's routes are not slowed


# ---- the flaky venue and determinism ------------------------------------------------------------------------


def _block(seed: int, state: str) -> int:
    venue = outside_btc.flaky_venue(seed)
    block = T0 // outside_btc.FLAKY_BLOCK_MS + 1
    while outside_btc.condition(seed, venue, block * outside_btc.FLAKY_BLOCK_MS) != state:
        block += 1
    return block * outside_btc.FLAKY_BLOCK_MS


@pytest.mark.parametrize("seed", [0, 7])  # bitstamp (a timestamp in seconds) and kraken (no timestamp)
def test_one_venue_now_and_then_fails_or_goes_stale(serve, seed):
    venue = outside_btc.flaky_venue(seed)
    assert venue == {0: "bitstamp", 7: "kraken"}[seed]
    failing = _block(seed, outside_btc.FAILING)
    srv = serve(seed=seed, at=failing + 30_000)
    r = _get(srv, venue)
    assert r.status_code == 503 and r.json() == {
        "bitstamp": {"status": "error", "reason": "service unavailable", "code": "503"},
        "kraken": {"error": ["EService:Unavailable"]}}[venue]
    assert all(_get(srv, s).status_code == 200 for s in ROUTES if s != venue)
    stale = _block(seed, outside_btc.STALE)
    later = serve(seed=seed, at=stale + 10_000, name="b")
    first = _get(later, venue).json()
    later.exchange.advance(100)
    second = _get(later, venue).json()
    assert first == second  # frozen for the block
    fresh = [_get(later, s).json() for s in ("coinbase", "cryptocom")]
    if venue == "bitstamp":
        assert int(second["timestamp"]) * 1000 == stale - outside_btc.STALE_BY_MS
    later.exchange.advance(100)
    assert [_get(later, s).json() for s in ("coinbase", "cryptocom")] != fresh  # the others move on


@pytest.mark.parametrize("seed", [0, 7])
def test_the_flaky_venue_switched_off_answers_in_its_failing_and_stale_blocks(serve, seed):
    venue = outside_btc.flaky_venue(seed)
    failing, stale = _block(seed, outside_btc.FAILING), _block(seed, outside_btc.STALE)
    calm = serve(seed=seed, at=failing + 30_000, flaky_venue=False)
    assert _get(calm, venue).status_code == 200
    frozen = serve(seed=seed, at=stale + 10_000, name="b", flaky_venue=False)
    first = _get(frozen, venue).json()
    frozen.exchange.advance(100)
    assert _get(frozen, venue).json() != first  # not frozen: it moves with the others


def test_same_seed_same_bodies_and_requests_never_move_the_market(serve):
    a, b, c = serve(seed=5, name="a"), serve(seed=5, name="b"), serve(seed=6, name="c")
    for srv in (a, b, c):
        srv.exchange.advance(90)
    bodies = {s: _get(a, s).json() for s in ROUTES}
    assert bodies == {s: _get(b, s).json() for s in ROUTES}
    assert bodies != {s: _get(c, s).json() for s in ROUTES}
    for _ in range(5):  # a busy client on a, none on b
        for s in ROUTES:
            _get(a, s)
    a.exchange.advance(60)
    b.exchange.advance(60)
    assert a.exchange.world.spot == b.exchange.world.spot
    assert {s: _get(a, s).json() for s in ROUTES} == {s: _get(b, s).json() for s in ROUTES}


def test_source_faults_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("KALSHI_SIM_FAULTS", "ext.coinbase.status=500")
    srv = start_embedded(tmp_path, seed=1, participants=False, clock=ManualClock(T0))
    try:
        assert _get(srv, "coinbase").status_code == 500 and _get(srv, "kraken").status_code == 200
    finally:
        srv.stop()
