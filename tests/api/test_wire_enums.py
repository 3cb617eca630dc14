"""Issue 11 item 5: the closed sets on the wire become enums at the client boundary.

Statuses and self-trade prevention may grow on the exchange's side: a value this code does not know is the
explicit UNKNOWN member, logged once per value, never an error.  The sides of a binary contract cannot grow: a
side that is neither is a malformed answer (exit 6), as is a status of the wrong JSON type.  The members are
`StrEnum`s, so they still equal and print as their wire text.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from typer.testing import CliRunner

from kalshi_trading.api import parse
from kalshi_trading.cli.main import app
from kalshi_trading.cli.render import to_jsonable
from kalshi_trading.errors import ResponseFormatError, UsageError
from kalshi_trading.models import (
    BookSide,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    SelfTradePrevention,
    Side,
)
from tests.api.badserver import answer
from tests.api.conftest import UNKNOWN_ORDER, assert_one_line_failure, cli_env
from tests.api.test_parse import MARKET

ORDER = {
    "order_id": UNKNOWN_ORDER, "client_order_id": "", "ticker": "KXT-1", "outcome_side": "yes", "book_side": "bid",
    "type": "limit", "status": "resting", "yes_price_dollars": "0.5200", "fill_count_fp": "0.00",
    "remaining_count_fp": "1.00", "initial_count_fp": "1.00",
}
FILL = {
    "fill_id": "f1", "trade_id": "t1", "order_id": UNKNOWN_ORDER, "ticker": "KXT-1", "outcome_side": "no",
    "book_side": "ask", "count_fp": "2.00", "yes_price_dollars": "0.4000", "is_taker": True, "fee_cost": "0.0100",
}
TRADE = {"trade_id": "t1", "ticker": "KXT-1", "count_fp": "1.00", "yes_price_dollars": "0.4000"}


def fresh(prefix: str) -> str:
    """A value no other test has sent (the once-per-value log remembers across tests)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def warnings(caplog: pytest.LogCaptureFixture, value: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and value in r.getMessage()]


# ------------------------------------------------------------------ market status
@pytest.mark.parametrize("status", [s for s in MarketStatus if s is not MarketStatus.UNKNOWN])
def test_every_reference_market_status_is_a_member(status):
    m = parse.market({**MARKET, "status": status.value})
    assert m.status is status
    assert m.is_trading is (status is MarketStatus.ACTIVE)
    assert m.is_settled is (status in (MarketStatus.DETERMINED, MarketStatus.FINALIZED, MarketStatus.AMENDED))


def test_the_legacy_settled_status_is_finalized():
    assert parse.market({**MARKET, "status": "settled"}).status is MarketStatus.FINALIZED


def test_an_unknown_market_status_is_unknown_logged_once_per_value(caplog):
    caplog.set_level(logging.WARNING)
    new, other = fresh("frozen"), fresh("halted")
    first = parse.market({**MARKET, "status": new})
    parse.market({**MARKET, "status": new})
    parse.market({**MARKET, "status": other})
    assert first.status is MarketStatus.UNKNOWN and not first.is_trading and not first.is_settled
    assert len(warnings(caplog, new)) == 1 and len(warnings(caplog, other)) == 1
    assert "MarketStatus" in warnings(caplog, new)[0] and "unknown" in warnings(caplog, new)[0]


# ------------------------------------------------------------------ order status and self-trade prevention
def test_order_fields_are_enums_that_still_read_as_text():
    o = parse.order({**ORDER, "self_trade_prevention_type": "maker"})
    assert (o.status, o.outcome_side, o.book_side) == (OrderStatus.RESTING, Side.YES, BookSide.BID)
    assert o.self_trade_prevention_type is SelfTradePrevention.MAKER
    assert o.status == "resting" and o.book_side == "bid" and o.is_open
    assert f"{o.status} {o.book_side} {o.outcome_side}" == "resting bid yes"
    assert json.dumps(to_jsonable({"s": o.status, "b": o.book_side})) == '{"s": "resting", "b": "bid"}'


@pytest.mark.parametrize("status", ["canceled", "executed"])
def test_finished_orders_are_not_open(status):
    o = parse.order({**ORDER, "status": status})
    assert o.status is OrderStatus(status) and not o.is_open


def test_an_unknown_order_status_is_unknown_and_not_open(caplog):
    caplog.set_level(logging.WARNING)
    new = fresh("pending")
    orders = [parse.order({**ORDER, "status": new}) for _ in range(3)]
    assert all(o.status is OrderStatus.UNKNOWN and not o.is_open for o in orders)
    assert len(warnings(caplog, new)) == 1


def test_self_trade_prevention_absent_known_and_unknown(caplog):
    caplog.set_level(logging.WARNING)
    new = fresh("taker_at_cross_v2")
    assert parse.order(ORDER).self_trade_prevention_type is None
    assert parse.order({**ORDER, "self_trade_prevention_type": None}).self_trade_prevention_type is None
    assert parse.order({**ORDER, "self_trade_prevention_type": "taker_at_cross"}).self_trade_prevention_type \
        is SelfTradePrevention.TAKER_AT_CROSS
    assert parse.order({**ORDER, "self_trade_prevention_type": new}).self_trade_prevention_type \
        is SelfTradePrevention.UNKNOWN
    assert len(warnings(caplog, new)) == 1


@pytest.mark.parametrize("field, value", [("status", 5), ("status", ["resting"]), ("status", True),
                                          ("self_trade_prevention_type", 1)])
def test_a_status_of_the_wrong_type_is_a_format_error(field, value):
    with pytest.raises(ResponseFormatError, match=field):
        parse.order({**ORDER, field: value})
    if field == "status":
        with pytest.raises(ResponseFormatError, match=field):
            parse.market({**MARKET, field: value})


def test_a_missing_status_is_a_format_error():
    with pytest.raises(ResponseFormatError, match="'status'"):
        parse.order({k: v for k, v in ORDER.items() if k != "status"})


def test_an_order_request_refuses_the_unknown_self_trade_prevention():
    with pytest.raises(UsageError, match="self-trade prevention"):
        OrderRequest("KXT-1", BookSide.BID, parse.number("1", "x", "x"), parse.number("0.5", "x", "x"),
                     self_trade_prevention=SelfTradePrevention.UNKNOWN)


# ------------------------------------------------------------------ sides: closed, never UNKNOWN
def test_fill_sides_are_enums_current_and_deprecated():
    f = parse.fill(FILL)
    assert (f.outcome_side, f.book_side, f.signed_count) == (Side.NO, BookSide.ASK, -2)
    legacy = {k: v for k, v in FILL.items() if k not in ("outcome_side", "book_side")}
    for side, action, outcome, book in [("yes", "buy", Side.YES, BookSide.BID), ("yes", "sell", Side.NO, BookSide.ASK),
                                        ("no", "buy", Side.NO, BookSide.ASK), ("no", "sell", Side.YES, BookSide.BID)]:
        got = parse.fill({**legacy, "side": side, "action": action})
        assert (got.outcome_side, got.book_side) == (outcome, book)
        assert type(got.outcome_side) is Side and type(got.book_side) is BookSide


@pytest.mark.parametrize("field, value", [("book_side", "mid"), ("outcome_side", "maybe"), ("book_side", "BID")])
def test_a_side_that_is_neither_is_a_format_error(field, value):
    for reader, body in ((parse.fill, FILL), (parse.order, ORDER)):
        with pytest.raises(ResponseFormatError, match=field):
            reader({**body, field: value})


def test_trade_taker_sides_current_legacy_and_absent():
    t = parse.trade({**TRADE, "taker_outcome_side": "no", "taker_book_side": "ask"})
    assert (t.taker_outcome_side, t.taker_book_side) == (Side.NO, BookSide.ASK)
    legacy = parse.trade({**TRADE, "taker_side": "yes"})
    assert (legacy.taker_outcome_side, legacy.taker_book_side) == (Side.YES, BookSide.BID)
    silent = parse.trade(TRADE)
    assert (silent.taker_outcome_side, silent.taker_book_side) == (None, None)
    with pytest.raises(ResponseFormatError, match="taker_book_side"):
        parse.trade({**TRADE, "taker_book_side": "sideways"})


# ------------------------------------------------------------------ candles: the period end is the candle
def test_a_candle_needs_its_period_end():
    body = {"end_period_ts": 1_800_000_000, "volume_fp": "3.00", "price": {"close_dollars": "0.4100"}}
    c = parse.candle(body)
    assert c.end_period.timestamp() == 1_800_000_000 and c.end_period.tzinfo is not None
    for broken in ({k: v for k, v in body.items() if k != "end_period_ts"}, {**body, "end_period_ts": None},
                   {**body, "end_period_ts": "soon"}):
        with pytest.raises(ResponseFormatError, match="end_period_ts"):
            parse.candle(broken)


# ------------------------------------------------------------------ the real CLI, a misbehaving exchange
@pytest.fixture
def run(sim, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = cli_env(bad, sim, tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def test_order_status_with_a_status_we_do_not_know_shows_unknown(run, bad, ticker):
    body = {"order": {**ORDER, "ticker": ticker, "status": fresh("pending"), "self_trade_prevention_type": "x"}}
    bad.on("GET", re.escape(f"/portfolio/orders/{UNKNOWN_ORDER}"), answer(body))
    shown = run("order", "status", UNKNOWN_ORDER)
    assert shown.exit_code == 0, shown.output
    assert "unknown" in shown.stdout and "Traceback" not in shown.output
    as_json = run("order", "status", UNKNOWN_ORDER, "--json")
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.stdout)
    assert (doc["status"], doc["book_side"], doc["outcome_side"]) == ("unknown", "bid", "yes")


@pytest.mark.parametrize("sent, shown", [("frozen_for_good", "unknown"), ("settled", "finalized"),
                                         ("inactive", "inactive")])
def test_market_with_a_new_legacy_or_known_status(run, bad, ticker, sent, shown):
    bad.on("GET", re.escape(f"/markets/{ticker}"), answer({"market": {**MARKET, "ticker": ticker, "status": sent}}))
    result = run("market", ticker, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["market"]["status"] == shown


def test_an_order_list_with_a_side_that_is_neither_is_exit_6(run, bad, ticker):
    bad.on("GET", "/portfolio/orders", answer({"orders": [{**ORDER, "ticker": ticker, "book_side": "mid"}],
                                               "cursor": ""}))
    result = run("orders")
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 6)
    assert "book_side" in line and "[GET /portfolio/orders]" in line, line
