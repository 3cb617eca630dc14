"""Issue 10 item 10: a wrong-shaped, non-JSON or huge answer is exit 6 naming the endpoint and the field.

The real CLI (in-process) against the real simulator, with one route's answer replaced by a BadServer rule.
Before, these ended in AttributeError/TypeError/KeyError (exit 1), or worse in exit 0 with wrong data
(`{}` shown as "exchange active no", "0 markets", "0 new fills").
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from tests.api.badserver import answer, forwarded_then, huge, raw_reply
from tests.api.conftest import UNKNOWN_ORDER, assert_one_line_failure, cli_env

ORDER = {
    "order_id": UNKNOWN_ORDER, "client_order_id": "", "ticker": "{t}", "outcome_side": "yes", "book_side": "bid",
    "type": "limit", "status": "resting", "yes_price_dollars": "0.5200", "fill_count_fp": "0.00",
    "remaining_count_fp": "1.00", "initial_count_fp": "1.00",
}
FILL = {
    "fill_id": "f1", "trade_id": "f1", "order_id": UNKNOWN_ORDER, "ticker": "{t}", "outcome_side": "yes",
    "book_side": "bid", "count_fp": "1.00", "yes_price_dollars": "0.5200", "is_taker": True, "fee_cost": "0.0100",
    "created_time": "2026-11-01T00:00:00Z",
}
MARKET = {"ticker": "{t}", "event_ticker": "E", "status": "active"}

# (route regex, answer, command, what the one error line must name)
SHAPES = [
    # exchange status: `{}` used to print "exchange active no"
    ("/exchange/status", {}, ["exchange", "status"], "'exchange_active'"),
    ("/exchange/status", [1, 2, 3], ["exchange", "status"], "is a list, expected an object"),
    ("/exchange/status", {"exchange_active": "no", "trading_active": True}, ["exchange", "status"], "exchange_active"),
    ("/exchange/status", None, ["exchange", "status"], "expected an object"),
    ("/exchange/status", {}, ["config", "check"], "'exchange_active'"),
    # balance
    ("/portfolio/balance", {}, ["balance"], "'balance'"),
    ("/portfolio/balance", {"balance": "lots"}, ["balance"], "balance"),
    ("/portfolio/balance", {"balance": [100]}, ["balance"], "balance"),
    ("/portfolio/balance", {"balance_dollars": "1e999"}, ["balance"], "out of range"),
    ("/portfolio/balance", {"balance": 100, "updated_ts": "yesterday"}, ["balance"], "timestamp"),
    ("/portfolio/balance", {"balance": 100, "updated_ts": 10**30}, ["balance"], "timestamp"),
    ("/portfolio/balance", {}, ["config", "check"], "'balance'"),
    # markets: `{}` used to be "0 markets"
    ("/markets", {}, ["markets"], "'markets'"),
    ("/markets", {"markets": {}}, ["markets"], "expected a list"),
    ("/markets", {"markets": [1, 2, 3]}, ["markets"], "expected an object"),
    ("/markets", {"markets": [{**MARKET, "ticker": 5}]}, ["markets"], "'ticker'"),
    ("/markets", {"markets": [{**MARKET, "yes_bid_dollars": "7.50"}]}, ["markets"], "yes_bid"),
    ("/markets", {"markets": [MARKET], "cursor": 7}, ["markets"], "'cursor'"),
    # one market
    ("/markets/{t}", {}, ["market", "{t}"], "'market'"),
    ("/markets/{t}", {"market": []}, ["market", "{t}"], "expected an object"),
    ("/markets/{t}", {"market": {"ticker": "{t}"}}, ["market", "{t}"], "'status'"),
    ("/markets/{t}", {"market": {**MARKET, "can_close_early": "no"}}, ["market", "{t}"], "can_close_early"),
    ("/markets/{t}", {"market": {**MARKET, "price_ranges": [{"start": "0.01"}]}}, ["market", "{t}"], "price_range"),
    # the book
    ("/markets/{t}/orderbook", {}, ["book", "{t}"], "orderbook_fp"),
    ("/markets/{t}/orderbook", {"orderbook_fp": {"yes_dollars": [["0.50"]]}}, ["book", "{t}"], "pair"),
    ("/markets/{t}/orderbook", {"orderbook_fp": {"yes_dollars": "0.5"}}, ["book", "{t}"], "expected a list"),
    # one order
    (f"/portfolio/orders/{UNKNOWN_ORDER}", {"order": "x"}, ["order", "status", UNKNOWN_ORDER], "'order'"),
    (f"/portfolio/orders/{UNKNOWN_ORDER}", {"order": {**ORDER, "outcome_side": "maybe"}},
     ["order", "status", UNKNOWN_ORDER], "outcome_side"),
    (f"/portfolio/orders/{UNKNOWN_ORDER}", {"order": {**ORDER, "remaining_count_fp": "-4.00"}},
     ["order", "status", UNKNOWN_ORDER], "negative"),
    # open orders
    ("/portfolio/orders", {}, ["orders"], "'orders'"),
    ("/portfolio/orders", {"orders": [{**ORDER, "order_id": 1}]}, ["orders"], "'order_id'"),
    # sync: `{}` used to be "0 new fills"
    ("/portfolio/fills", {}, ["sync"], "'fills'"),
    ("/portfolio/fills", {"fills": [{**FILL, "count_fp": "-3"}]}, ["sync"], "negative"),
    ("/portfolio/fills", {"fills": [{**FILL, "is_taker": "false"}]}, ["sync"], "is_taker"),
    ("/portfolio/settlements", {"settlements": "none"}, ["sync"], "settlements"),
    # positions
    ("/portfolio/positions", {}, ["positions"], "market_positions"),
    ("/portfolio/positions", {"market_positions": [], "event_positions": [{"event_ticker": ["x"]}]}, ["positions"],
     "event_ticker"),
]

UNREADABLE = [
    ("/portfolio/balance", b"<html>oops</html>", ["balance"], "not JSON"),
    ("/portfolio/balance", b"\xff\xfe{}", ["balance"], "not JSON"),
    ("/portfolio/balance", b'{"balance_dollars": NaN}', ["balance"], "not JSON"),
    ("/markets", b'{"markets": [', ["markets"], "not JSON"),
    ("/markets", b"[" * 100_000 + b"]" * 100_000, ["markets"], "not JSON"),
    ("/exchange/status", b"", ["exchange", "status"], "expected an object"),
]


def endpoint_of(route: str) -> str:
    """The endpoint the error line names: ids in the path are shown as their template."""
    return re.sub(r"/markets/[^/]+", "/markets/{ticker}", route.replace(UNKNOWN_ORDER, "{order_id}"))


@pytest.fixture
def run(sim, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = cli_env(bad, sim, tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def _fill(value, ticker: str):
    return json.loads(json.dumps(value).replace("{t}", ticker)) if value is not None else None


@pytest.mark.parametrize("route, body, args, names", SHAPES, ids=[f"{' '.join(c[2])}:{json.dumps(c[1])[:40]}"
                                                               for c in SHAPES])
def test_wrong_shape_is_exit_6_naming_endpoint_and_field(run, bad, ticker, route, body, args, names):
    route = route.replace("{t}", ticker)
    bad.on("GET", re.escape(route), answer(_fill(body, ticker) if body is not None else b"null"))
    result = run(*[a.replace("{t}", ticker) for a in args])
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 6)
    assert names in line, line
    assert f"[GET {endpoint_of(route)}]" in line, line


@pytest.mark.parametrize("route, body, args, names", UNREADABLE, ids=[repr(c[1][:20]) for c in UNREADABLE])
def test_unreadable_answer_is_exit_6(run, bad, route, body, args, names):
    bad.on("GET", re.escape(route), answer(body))
    result = run(*args)
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 6)
    assert names in line and f"[GET {route}]" in line, line


BROKEN_REPLIES = [
    b"HELLO\r\n\r\n",  # not HTTP
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"balance\"",  # cut short
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nabcde",  # not gzip
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # a chunk size that is not hex
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",  # a header line over http.client's limit
]


@pytest.mark.parametrize("reply", BROKEN_REPLIES,
                         ids=["not-http", "short-body", "bad-gzip", "bad-chunk", "long-header"])
def test_a_broken_reply_is_retried_then_exit_6(run, bad, reply):
    bad.on("GET", "/portfolio/balance", raw_reply(reply))
    result = run("balance")
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 6)
    assert "[GET /portfolio/balance]" in line and "gave up after 5 attempts" in line, line


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_huge_answer_is_refused(run, bad, declared):
    bad.on("GET", "/markets", huge(17 * 2**20, declared=declared))
    result = run("markets")
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 6)
    assert "limit" in line and "[GET /markets]" in line, line
    assert len(bad.requests("GET", "/markets")) == 1  # not retried: the same answer would come again


def test_an_error_answer_with_control_characters_is_one_line(run, bad):
    bad.on("GET", "/portfolio/balance", answer({"error": {"code": "bad\ncode", "message": "line1\nline2\x1b[31m",
                                                          "details": {"why": "x\ny"}}}, status=400))
    result = run("balance")
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 4)
    assert "\x1b" not in result.stderr and "line1 line2" in line


def test_an_order_whose_success_answer_is_unreadable_is_looked_up(run, bad, sim, ticker):
    """201 with garbage: the order was placed, so it is found by its client_order_id and reported (exit 0)."""
    bad.on("POST", "/portfolio/events/orders", forwarded_then(answer({"orders": "?"}, status=201)))
    result = run("order", "limit", ticker, "yes", "1", "5", "--yes", "--json")
    assert result.exit_code == 0, result.output
    cid = json.loads(bad.requests("POST")[0].body)["client_order_id"]
    assert [o.client_order_id for o in sim.exchange.engine.orders.values()].count(cid) == 1
    assert json.loads(result.stdout)["client_order_id"] == cid


def test_an_unreadable_success_for_an_order_not_found_is_outcome_unknown(run, bad, sim, ticker):
    bad.on("POST", "/portfolio/events/orders", answer(b"<html>ok</html>", status=201))  # never reached the exchange
    result = run("order", "limit", ticker, "yes", "1", "5", "--yes")
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 6)
    assert "may or may not have been placed" in line and "not JSON" in line
