"""What the order preview says through the real CLI: the issue's two cash cases, taker for orders that never
rest, and messages that speak the contract the trader typed."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest
from tests.e2e.conftest import cent_market, client_for


@pytest.fixture
def run(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
           "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


@pytest.fixture
def ticker(sim):
    return cent_market(sim)


@pytest.fixture
def bob(sim):
    c = client_for(sim.base_url, sim.create_account(D(1000)))
    yield c
    c.close()


def js(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def balance(run) -> D:
    return D(js(run("balance", "--json"))["balance"])


def test_the_issues_two_cases_preview_the_balance_that_follows(run, ticker, bob):
    # SELL 2 YES from flat into a 47c bid = buying NO at 53c: cash goes DOWN by 1.06 + 0.0349.
    bob.create_order(OrderRequest(ticker, BookSide.BID, D(2), D("0.47")))
    sold = js(run("order", "limit", ticker, "yes", "2", "47", "--sell", "--yes", "--json"))
    assert D(sold["preview"]["cash_after"]) == D("998.9051") == balance(run)
    assert D(sold["preview"]["position_after"]) == D(-2) and D(sold["preview"]["max_loss"]) == D("1.0949")
    # BUY 2 YES at 53c while short 2 YES (holding 2 NO): closes them, cash goes UP by 0.94 - 0.0349.
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(2), D("0.53")))
    bought = js(run("order", "limit", ticker, "yes", "2", "53", "--yes", "--json"))
    assert D(bought["preview"]["cash_after"]) == D("999.8102") == balance(run)
    assert D(bought["preview"]["position_after"]) == 0 and D(bought["preview"]["max_loss"]) == D("0.0349")
    # and in the table
    bob.create_order(OrderRequest(ticker, BookSide.BID, D(1), D("0.47")))
    table = run("order", "limit", ticker, "yes", "1", "47", "--sell", "--tif", "ioc", "--yes").output
    assert "$999.8102 -> $999.2627 when placed" in table  # 0.53 + 0.0175 (0.017437)


@pytest.mark.parametrize("args", [
    # a market order whose protective price cannot reach the book (max price below the ask)
    ("order", "market", "{t}", "yes", "2", "--max-price", "50"),
    # a market order that does cross
    ("order", "market", "{t}", "no", "1", "--sell"),
    # IOC and FoK limits that do not cross
    ("order", "limit", "{t}", "yes", "2", "40", "--tif", "ioc"),
    ("order", "limit", "{t}", "no", "2", "20", "--tif", "fok"),
])
def test_orders_that_never_rest_preview_the_taker_fee(run, ticker, bob, args):
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(5), D("0.60")))
    args = [a.format(t=ticker) for a in args]
    doc = js(run(*args, "--yes", "--json"))
    assert doc["preview"]["fee_kind"] == "taker"
    [fee_row] = [line for line in run(*args, "--yes").output.splitlines() if line.startswith("estimated fee")]
    assert "(taker" in fee_row and "maker" not in fee_row
    if not doc["preview"]["fills_now"]:
        assert doc["preview"]["estimated_fee"] == "0" or D(doc["preview"]["estimated_fee"]) == 0
        assert any("cancelled unfilled" in w for w in doc["preview"]["warnings"])
        assert D(doc["fill_count"]) == 0


@pytest.mark.parametrize("args,theirs,says", [
    # buy NO 45 post-only; Bob bids YES 60 = NO offered at 40: the message talks NO asks
    (("no", "1", "45"), (BookSide.BID, D("0.60")), "the best NO ask is 40¢"),
    # sell NO 30 post-only; Bob offers YES 65 = NO bid 35
    (("no", "1", "30", "--sell"), (BookSide.ASK, D("0.65")), "the best NO bid is 35¢"),
    # sell YES 50 post-only into a YES bid of 55
    (("yes", "1", "50", "--sell"), (BookSide.BID, D("0.55")), "the best YES bid is 55¢"),
    # buy YES 70 post-only into a YES ask of 65
    (("yes", "1", "70"), (BookSide.ASK, D("0.65")), "the best YES ask is 65¢"),
])
def test_post_only_refusals_speak_the_contract_typed(run, ticker, bob, args, theirs, says):
    bob.create_order(OrderRequest(ticker, theirs[0], D(3), theirs[1]))
    result = run("order", "limit", ticker, *args, "--post-only", "--yes")
    assert result.exit_code == 2 and says in result.output and "nothing was sent" in result.output
    side = args[0].upper()
    assert f"{side} at {args[2]}¢" in result.output


@pytest.mark.parametrize("args,says", [
    (("no", "1", "0.455"), "a NO price"),
    (("yes", "1", "0.455", "--sell"), "a YES price"),
])
def test_grid_refusals_speak_the_contract_typed(run, ticker, args, says):
    result = run("order", "limit", ticker, *args, "--yes")
    assert result.exit_code == 2 and says in result.output and "0.45, 0.46" in result.output


def test_reduce_only_with_nothing_to_reduce_is_refused_before_sending(run, ticker):
    result = run("order", "limit", ticker, "yes", "2", "40", "--sell", "--reduce-only", "--yes")
    assert result.exit_code == 2 and "reduce-only" in result.output and "nothing was sent" in result.output
    assert js(run("orders", "--json"))["orders"] == []
