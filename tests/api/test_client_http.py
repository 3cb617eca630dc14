"""The client against HTTP-level fakes (`responses`): signing, retries, safe order creation, pagination, errors."""

from __future__ import annotations

import base64
import json
from decimal import Decimal as D

import pytest
import requests
import responses
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kalshi_trading.api.client import KalshiClient, OrderOutcomeUnknown
from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.errors import (
    AuthenticationError,
    ConflictError,
    ExchangeUnavailable,
    NotFoundError,
    RateLimited,
    RejectedError,
    TransientError,
)
from kalshi_trading.models import BookSide, OrderRequest

BASE = "https://api.test/trade-api/v2"
OID1, OID2, OID9 = (f"0f8e2c4a-1b2c-4d3e-8f9a-0b1c2d3e4f5{n}" for n in (1, 2, 9))  # order ids are UUIDs
UNKNOWN = "0f8e2c4a-1b2c-4d3e-8f9a-0b1c2d3e4f00"


class FakeTime:
    """Injected clock and sleep: sleeping advances the clock, nothing really waits."""

    def __init__(self):
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000 + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def client(rsa_key, fake_time):
    c = KalshiClient.build(BASE, "key-id-0001", rsa_key, rate_tier=None, sleep=fake_time.sleep,
                           clock=fake_time.clock, wall_clock=fake_time.wall,
                           retry=RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=4, max_total=60))
    yield c
    c.close()


def verify(rsa_key, request) -> str:
    headers = request.headers
    ts = headers["KALSHI-ACCESS-TIMESTAMP"]
    path = requests.utils.urlparse(request.url).path
    message = f"{ts}{request.method}{path}".encode()
    rsa_key.public_key().verify(
        base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"]), message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256(),
    )
    return ts


ORDER = {
    "order_id": OID1, "user_id": "u", "client_order_id": "", "ticker": "T", "outcome_side": "yes",
    "book_side": "bid", "type": "limit", "status": "resting", "yes_price_dollars": "0.5200",
    "no_price_dollars": "0.4800", "fill_count_fp": "0.00", "remaining_count_fp": "10.00",
    "initial_count_fp": "10.00", "taker_fill_cost_dollars": "0.0000", "maker_fill_cost_dollars": "0.0000",
    "taker_fees_dollars": "0.0000", "maker_fees_dollars": "0.0000",
}


@responses.activate
def test_signature_verifies_and_query_not_signed(client, rsa_key):
    responses.get(f"{BASE}/portfolio/fills", json={"fills": [], "cursor": ""})
    list(client.iter_fills(ticker="ABC", min_ts=5))
    call = responses.calls[0]
    assert "ticker=ABC" in call.request.url  # the query was sent...
    ts = verify(rsa_key, call.request)  # ...but the signature covers only ts + GET + /trade-api/v2/portfolio/fills
    assert ts.isdigit() and len(ts) == 13  # milliseconds
    assert call.request.headers["KALSHI-ACCESS-KEY"] == "key-id-0001"


@responses.activate
def test_each_attempt_signed_once_with_fresh_timestamp(client, rsa_key, fake_time):
    responses.get(f"{BASE}/portfolio/balance", status=502, body="<html>bad gateway</html>")
    responses.get(f"{BASE}/portfolio/balance", status=503, json={"error": {"code": "service_unavailable",
                                                                           "message": "down"}})
    responses.get(f"{BASE}/portfolio/balance", json={"balance": 100050, "balance_dollars": "1000.5025",
                                                     "portfolio_value": 2500, "updated_ts": 1700000000})
    bal = client.get_balance()
    assert bal.balance == D("1000.5025") and bal.portfolio_value == D("25")
    stamps = [verify(rsa_key, c.request) for c in responses.calls]
    assert len(stamps) == 3 and len(set(stamps)) == 3  # one signature per attempt, each fresh
    assert len(fake_time.sleeps) == 2
    # full jitter: attempt n waits uniformly in [0, min(cap, base * 2^(n-1))]
    assert 0 <= fake_time.sleeps[0] <= 0.5 and 0 <= fake_time.sleeps[1] <= 1.0


@responses.activate
def test_retry_after_honoured_and_429_retried(client, fake_time):
    responses.get(f"{BASE}/exchange/status", status=429, json={"error": "too many requests"},
                  headers={"Retry-After": "3"})
    responses.get(f"{BASE}/exchange/status", json={"exchange_active": True, "trading_active": False})
    status = client.get_exchange_status()
    assert status.exchange_active and not status.trading_active
    assert fake_time.sleeps == [3.0]


@responses.activate
def test_retries_capped_in_attempts(client, fake_time):
    responses.get(f"{BASE}/portfolio/balance", status=500, json={"code": "internal", "message": "boom"})
    with pytest.raises(TransientError) as info:
        client.get_balance()
    assert len(responses.calls) == 4 and info.value.code == "internal" and info.value.attempt == 4


@responses.activate
def test_retries_capped_in_total_time(rsa_key, fake_time):
    c = KalshiClient.build(BASE, "k", rsa_key, rate_tier=None, sleep=fake_time.sleep, clock=fake_time.clock,
                           retry=RetryPolicy(max_attempts=50, base_delay=10, max_delay=10, max_total=25))
    responses.get(f"{BASE}/portfolio/balance", status=503, json={"error": {"code": "service_unavailable"}},
                  headers={"Retry-After": "10"})
    with pytest.raises(ExchangeUnavailable):
        c.get_balance()
    assert sum(fake_time.sleeps) <= 25 and len(responses.calls) == 3


@responses.activate
def test_client_errors_not_retried(client):
    responses.get(f"{BASE}/markets/NOPE", status=404, json={"error": {"code": "not_found", "message": "no market"}})
    with pytest.raises(NotFoundError) as info:
        client.get_market("NOPE")
    assert len(responses.calls) == 1 and info.value.code == "not_found" and "no market" in str(info.value)


@pytest.mark.parametrize(
    "status,body,cls,code,message",
    [
        (400, {"error": {"code": "invalid_price", "message": "price off grid", "details": "tick 0.01"}},
         RejectedError, "invalid_price", "price off grid"),
        (400, {"code": "bad_request", "message": "bad JSON", "details": None},
         RejectedError, "bad_request", "bad JSON"),
        (400, {"msg": "limit must be <= 1000"}, RejectedError, None, "limit must be <= 1000"),
        (401, {"error": {"code": "authentication_error", "message": "bad sig",
                         "details": "INCORRECT_API_KEY_SIGNATURE"}},
         AuthenticationError, "authentication_error", "bad sig"),
        (403, None, AuthenticationError, None, "forbidden text"),
        (409, {"error": {"code": "order_already_exists", "message": "dup"}},
         ConflictError, "order_already_exists", "dup"),
    ],
)
@responses.activate
def test_every_error_shape(client, status, body, cls, code, message):
    if body is None:
        responses.get(f"{BASE}/exchange/status", status=status, body="forbidden text")
    else:
        responses.get(f"{BASE}/exchange/status", status=status, json=body)
    with pytest.raises(cls) as info:
        client.get_exchange_status()
    assert info.value.status == status and info.value.code == code and info.value.message == message


@responses.activate
def test_bare_429_body_is_rate_limited(client):
    responses.get(f"{BASE}/exchange/status", status=429, json={"error": "too many requests"})
    with pytest.raises(RateLimited) as info:
        client.get_exchange_status()
    assert info.value.message == "too many requests"


def _order_request(**kw):
    return OrderRequest(ticker="T", book_side=BookSide.BID, count=D("10"), yes_price=D("0.52"), **kw)


@responses.activate
def test_create_body_is_v2_fixed_point(client):
    responses.post(f"{BASE}/portfolio/events/orders", status=201,
                   json={"order_id": OID1, "client_order_id": "c-1", "fill_count": "0.00",
                         "remaining_count": "10.00", "ts_ms": 1700000000123})
    ack = client.create_order(_order_request(client_order_id="c-1", post_only=True, expiration_ts=1800000000))
    body = json.loads(responses.calls[0].request.body)
    assert body == {"ticker": "T", "side": "bid", "count": "10.00", "price": "0.5200",
                    "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross",
                    "client_order_id": "c-1", "post_only": True, "expiration_time": 1800000000}
    assert ack.order_id == OID1 and ack.remaining_count == D("10") and ack.ts.year == 2023


@responses.activate
def test_create_timeout_then_409_returns_the_existing_order(client):
    responses.post(f"{BASE}/portfolio/events/orders", body=requests.ReadTimeout("read timed out"))
    responses.post(f"{BASE}/portfolio/events/orders", status=409,
                   json={"error": {"code": "order_already_exists", "message": "exists"}})
    responses.get(f"{BASE}/portfolio/orders", json={"orders": [], "cursor": "p2"})
    responses.get(f"{BASE}/portfolio/orders",
                  json={"orders": [{**ORDER, "client_order_id": "fixed-id"}], "cursor": ""})
    ack = client.create_order(_order_request(client_order_id="fixed-id"))
    assert ack.order_id == OID1 and ack.order is not None and ack.order.status == "resting"
    bodies = [json.loads(c.request.body) for c in responses.calls if c.request.method == "POST"]
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same request, same client_order_id


@responses.activate
def test_create_without_id_fixes_one_before_first_attempt(client):
    responses.post(f"{BASE}/portfolio/events/orders", status=500, json={"error": {"code": "internal"}})
    responses.post(f"{BASE}/portfolio/events/orders", status=201,
                   json={"order_id": OID9, "fill_count": "0.00", "remaining_count": "10.00", "ts_ms": 1})
    ack = client.create_order(_order_request())
    ids = {json.loads(c.request.body)["client_order_id"] for c in responses.calls}
    assert len(ids) == 1 and ack.client_order_id in ids


@responses.activate
def test_first_attempt_409_is_a_real_conflict(client):
    responses.post(f"{BASE}/portfolio/events/orders", status=409,
                   json={"error": {"code": "order_already_exists", "message": "reused"}})
    with pytest.raises(ConflictError):
        client.create_order(_order_request(client_order_id="used"))
    assert len(responses.calls) == 1


@responses.activate
def test_create_never_gives_up_silently(client):
    responses.post(f"{BASE}/portfolio/events/orders", status=503, json={"error": {"code": "service_unavailable"}})
    with pytest.raises(OrderOutcomeUnknown) as info:
        client.create_order(_order_request(client_order_id="maybe"))
    assert info.value.client_order_id == "maybe"


@responses.activate
def test_cancel_repeat_404_means_already_gone(client):
    responses.delete(f"{BASE}/portfolio/events/orders/{OID1}", body=requests.ConnectionError("reset by peer"))
    responses.delete(f"{BASE}/portfolio/events/orders/{OID1}", status=404, json={"error": {"code": "not_found"}})
    responses.get(f"{BASE}/portfolio/orders/{OID1}", json={"order": {**ORDER, "status": "canceled",
                                                                   "remaining_count_fp": "0.00"}})
    ack = client.cancel_order(OID1)
    assert ack.already_gone and ack.order.status == "canceled"


@responses.activate
def test_cancel_first_404_is_not_found(client):
    responses.delete(f"{BASE}/portfolio/events/orders/{UNKNOWN}", status=404, json={"error": {"code": "not_found"}})
    with pytest.raises(NotFoundError):
        client.cancel_order(UNKNOWN)


@responses.activate
def test_decrease_by_not_retried_after_possible_processing(client):
    responses.post(f"{BASE}/portfolio/events/orders/{OID1}/decrease", status=500, json={"error": {"code": "internal"}})
    with pytest.raises(TransientError):
        client.decrease_order(OID1, reduce_by=D("2"))
    assert len(responses.calls) == 1


@responses.activate
def test_batch_create_recovers_items_on_repeat(client):
    responses.post(f"{BASE}/portfolio/events/orders/batched", status=502, body="gateway")
    responses.post(f"{BASE}/portfolio/events/orders/batched", status=201, json={"orders": [
        {"error": {"code": "order_already_exists", "message": "exists"}},
        {"order_id": OID2, "fill_count": "0.00", "remaining_count": "1.00", "ts_ms": 1},
        {"error": {"code": "invalid_price", "message": "off grid"}},
    ]})
    sent = [json.loads(c.request.body) for c in responses.calls]  # noqa: F841 (filled after the call)
    reqs = [_order_request(client_order_id="a"), _order_request(client_order_id="b"),
            _order_request(client_order_id="c")]
    responses.get(f"{BASE}/portfolio/orders", json={"orders": [{**ORDER, "client_order_id": "a"}], "cursor": ""})
    results = client.batch_create(reqs)
    assert results[0].ack.order_id == OID1 and results[1].ack.order_id == OID2
    assert isinstance(results[2].error, RejectedError) and results[2].error.code == "invalid_price"
    posts = [json.loads(c.request.body) for c in responses.calls if c.request.method == "POST"]
    assert posts[0] == posts[1]


@responses.activate
def test_pagination_follows_cursor_and_dedupes(client):
    m = lambda t: {"ticker": t, "event_ticker": "E", "status": "active"}  # noqa: E731
    responses.get(f"{BASE}/markets", json={"markets": [m("A"), m("B")], "cursor": "c1"})
    responses.get(f"{BASE}/markets", json={"markets": [m("B"), m("C")], "cursor": None})
    tickers = [x.ticker for x in client.iter_markets(status="open")]
    assert tickers == ["A", "B", "C"]
    assert "cursor=c1" in responses.calls[1].request.url and "status=open" in responses.calls[1].request.url


@responses.activate
def test_pagination_stops_on_missing_cursor_and_repeat(client):
    responses.get(f"{BASE}/portfolio/orders", json={"orders": [ORDER]})
    assert [o.order_id for o in client.iter_orders()] == [OID1]
    responses.replace(responses.GET, f"{BASE}/portfolio/orders", json={"orders": [ORDER], "cursor": "same"})
    assert [o.order_id for o in client.iter_orders()] == [OID1]  # a cursor that never changes ends the loop


@responses.activate
def test_positions_all_pages(client):
    pos = lambda t: {"ticker": t, "position_fp": "-3.50", "total_traded_dollars": "1.0000",  # noqa: E731
                     "market_exposure_dollars": "1.0000", "realized_pnl_dollars": "0.1000",
                     "fees_paid_dollars": "0.0100", "last_updated_ts": "2026-11-01T00:00:00Z"}
    responses.get(f"{BASE}/portfolio/positions", json={"market_positions": [pos("A")], "event_positions": [],
                                                       "cursor": "x"})
    responses.get(f"{BASE}/portfolio/positions", json={"market_positions": [pos("B")], "event_positions": [],
                                                       "cursor": ""})
    positions = client.get_positions()
    assert [p.ticker for p in positions.markets] == ["A", "B"] and positions.markets[0].position == D("-3.5")


# ---------------------------------------------------------------------- the worst case the README states
def _budget_client(fake_time, rsa_key):
    import random

    return KalshiClient.build(BASE, "k", rsa_key, rate_tier=None, sleep=fake_time.sleep, clock=fake_time.clock,
                              wall_clock=fake_time.wall, retry=RetryPolicy(rng=random.Random(7)))  # documented defaults


@pytest.mark.parametrize("per_attempt, message", [(13.05, "budget ran out"), (10.0, "budget ran out")],
                         ids=["trickle", "never-answers"])
@responses.activate
def test_a_request_never_takes_more_than_its_budget(rsa_key, fake_time, per_attempt, message):
    """Default timeouts (3.05 + 10 s): a server that trickles uses every attempt's whole 13.05 s deadline, one that
    never answers its 10 s read timeout; either way the request ends at the 30 s budget, the third attempt cut
    short (5 attempts and their backoff would be 5 x 13.05 + 3 = 68.25 s)."""
    client = _budget_client(fake_time, rsa_key)
    start = fake_time.now

    def slow(request):
        fake_time.now = min(fake_time.now + per_attempt, start + 30)  # the deadline ends the last attempt at 30 s
        raise requests.ReadTimeout("no complete answer")

    responses.add_callback(responses.GET, f"{BASE}/portfolio/balance", callback=slow)
    with pytest.raises(TransientError) as info:
        client.get_balance()
    assert fake_time.now - start <= 30 and len(responses.calls) == 3
    assert message in str(info.value) and "gave up after 3 attempts" in str(info.value)


@responses.activate
def test_fast_failures_use_all_attempts(rsa_key, fake_time):
    client = _budget_client(fake_time, rsa_key)
    responses.get(f"{BASE}/portfolio/balance", body=requests.ConnectionError("refused"))
    with pytest.raises(TransientError):
        client.get_balance()
    assert len(responses.calls) == 5 and sum(fake_time.sleeps) <= 0.2 + 0.4 + 0.8 + 1.6
