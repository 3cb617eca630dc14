"""Issue 10 item 9: tickers and ids are checked against their documented forms before any request (exit 2).

`kalshi order status ../../portfolio/balance` used to send a signed GET to /portfolio/balance; `kalshi market .`
exited 6.  The real CLI runs against a BadServer in front of the simulator that records every request: for a
bad id or ticker it records none.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading import ids
from kalshi_trading.api.boundary import segment
from kalshi_trading.cli.main import app
from kalshi_trading.errors import UsageError
from kalshi_trading.models import BookSide, OrderRequest
from tests.api.conftest import UNKNOWN_ORDER, assert_one_line_failure, cli_env
from tests.e2e.conftest import client_for

TRAVERSALS = ["../../portfolio/balance", "..", ".", "%2e%2e%2fportfolio%2fbalance", f"{UNKNOWN_ORDER}/../../balance",
              f"{UNKNOWN_ORDER}?x=1", "", "   "]
BAD_TICKERS = [".", "..", "../../portfolio/balance", "A/B", "KXBTCD?status=open", "A B", "KX#1", "_KX", ".KX",
               "ﬀ", "ı", "ＫＸ", "KX\x1b[31m", "KX\nBTC", "K" * 129, "%2e%2e"]  # "-KX" would be an option to the CLI


@pytest.fixture
def run(sim, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = cli_env(bad, sim, tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def refused(result, bad, expected: str) -> None:
    line = assert_one_line_failure(result.exit_code, result.stderr, result.stdout, 2)
    assert expected in line, line
    assert bad.seen == []  # nothing reached the exchange


# ---------------------------------------------------------------------- the CLI
@pytest.mark.parametrize("order_id", TRAVERSALS)
@pytest.mark.parametrize("command", [["order", "status"], ["cancel", "{id}", "--yes"],
                                     ["amend", "{id}", "--price", "50", "--yes"]], ids=["status", "cancel", "amend"])
def test_bad_order_ids_are_refused_before_any_request(run, bad, command, order_id):
    args = [a.replace("{id}", order_id) for a in command] if "{id}" in command else [*command, order_id]
    result = run(*args)
    refused(result, bad, "order id" if not order_id.strip() else "is not an order id: expected a UUID")


@pytest.mark.parametrize("ticker", BAD_TICKERS)
def test_bad_market_tickers_are_refused_before_any_request(run, bad, ticker):
    refused(run("market", ticker), bad, "is not a market ticker: expected letters, digits")


@pytest.mark.parametrize("args", [
    ["book", "../x"], ["orders", "--ticker", "../x"], ["order", "limit", "../../x", "yes", "1", "50", "--yes"],
    ["order", "market", "a/b", "yes", "1", "--yes"], ["cancel", "--all", "--ticker", "a?b", "--yes"],
], ids=["book", "orders", "limit", "market-order", "cancel-all"])
def test_every_command_taking_a_ticker_refuses_a_bad_one(run, bad, args):
    refused(run(*args), bad, "is not a market ticker")


def test_lowercase_ticker_and_uppercase_order_id_are_the_same_ones(run, sim, ticker):
    """Tickers are upper case on Kalshi: a lower-case one is taken as typed in upper case; order ids compare in
    lower case."""
    result = run("market", ticker.lower(), "--json")
    assert result.exit_code == 0, result.output
    assert ticker in result.stdout
    client = client_for(sim.base_url, sim.demo_account)
    ack = client.create_order(OrderRequest(ticker.lower(), BookSide.BID, D(1), D("0.05")))
    client.close()
    result = run("order", "status", ack.order_id.upper(), "--json")
    assert result.exit_code == 0, result.output
    assert ack.order_id in result.stdout and ticker in result.stdout


# ---------------------------------------------------------------------- the validators and the client
@pytest.mark.parametrize("text, canonical", [
    ("KXHIGHNY-25AUG10-B89.5", "KXHIGHNY-25AUG10-B89.5"), ("kxbtcd-26nov3013-t93749.99", "KXBTCD-26NOV3013-T93749.99"),
    (" INX_22 ", "INX_22"), ("K" * 128, "K" * 128),
])
def test_ticker_canonical_form(text, canonical):
    assert ids.market_ticker(text) == canonical == ids.event_ticker(text) == ids.series_ticker(text)


@pytest.mark.parametrize("value", [*BAD_TICKERS, "-KX", None, 7, ["KX"]])
def test_ticker_refusals_name_the_value(value):
    with pytest.raises(UsageError) as info:
        ids.market_ticker(value)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message and len(message) < 300


def test_order_id_form():
    assert ids.order_id(UNKNOWN_ORDER.upper()) == UNKNOWN_ORDER
    for bad in (*TRAVERSALS, UNKNOWN_ORDER.replace("-", ""), UNKNOWN_ORDER + "0", "g" * 8 + UNKNOWN_ORDER[8:], None):
        with pytest.raises(UsageError):
            ids.order_id(bad)


def test_client_order_id_form():
    assert ids.client_order_id("storm-1:a.b_C") == "storm-1:a.b_C"
    for bad in ("", "a b", "a/b", "x" * 65, "é", None):
        with pytest.raises(UsageError):
            ids.client_order_id(bad)
    with pytest.raises(UsageError):
        OrderRequest("KX-1", BookSide.BID, D(1), D("0.5"), client_order_id="../x")
    with pytest.raises(UsageError):
        OrderRequest("../x", BookSide.BID, D(1), D("0.5"))


def test_path_segments_are_percent_encoded_as_a_second_line_of_defence():
    assert segment("KX-1.5_A") == "KX-1.5_A"
    assert segment("a/b?c#d e%") == "a%2Fb%3Fc%23d%20e%25"
    for dots in ("", ".", ".."):
        with pytest.raises(UsageError):
            segment(dots)
