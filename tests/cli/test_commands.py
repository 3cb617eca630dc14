"""The commands in-process (Typer's runner) against a simulator on a loopback port: tables, --json, exit codes."""

from __future__ import annotations

import csv
import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest
from tests.e2e.conftest import cent_market, client_for


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url,
            "KALSHI_DATA_DIR": str(tmp_path / "sim").rsplit("/sim", 1)[0], "KALSHI_LOG_DIR": str(tmp_path / "logs"),
            "NO_COLOR": "1", "HOME": str(tmp_path)}


@pytest.fixture
def run(env):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), env=env, input=input)

    return invoke


@pytest.fixture
def ticker(sim):
    return cent_market(sim)


def js(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_version_and_help_with_examples(run):
    assert run("--version").stdout.startswith("kalshi-trading ")
    for command in (["balance"], ["markets"], ["market"], ["book"], ["order", "limit"], ["order", "market"],
                    ["orders"], ["order", "status"], ["cancel"], ["amend"], ["portfolio"], ["positions"], ["pnl"],
                    ["sync"], ["history"], ["export-trades"], ["logs"], ["config", "check"], ["exchange", "status"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout, command


def test_balance_and_exchange_status(run):
    doc = js(run("balance", "--json"))
    assert doc == {"environment": "sim", "balance": "1000.000000", "portfolio_value": "0.00",
                   "updated": doc["updated"]} or D(doc["balance"]) == D(1000)
    assert "[SIM]" in run("balance").stdout
    assert js(run("exchange", "status", "--json"))["trading_active"] is True


def test_markets_market_and_book(run, sim, ticker):
    doc = js(run("markets", "--series", "KXBTCD", "--limit", "3", "--json"))
    assert len(doc["markets"]) == 3 and all(m["ticker"].startswith("KXBTCD") for m in doc["markets"])
    assert "ticker" in run("markets", "rain").stdout
    m = js(run("market", ticker, "--json"))["market"]
    assert m["ticker"] == ticker and m["tick_sizes"] == ["0.01"]
    [strike] = [x for x in doc["markets"] if x["ticker"].startswith("KXBTCD")][:1]
    s = js(run("market", strike["ticker"], "--json"))["market"]  # what kalshi backtest --market-info asks for
    assert s["strike_type"] == "greater" and s["floor_strike"] and s["close_time"]
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    bob.create_order(OrderRequest(ticker, BookSide.BID, D(5), D("0.40")))
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(7), D("0.45")))
    book = js(run("book", ticker, "--json"))
    assert book["yes_bids"] == [{"price": "0.4000", "count": "5.00"}]
    assert book["yes_asks"] == [{"price": "0.4500", "count": "7.00"}]
    assert book["no_bids"] == [{"price": "0.5500", "count": "7.00"}] and book["spread"] == "0.0500"
    table = run("book", ticker).stdout
    assert "40¢" in table and "45¢" in table and "(NO ask)" in table


def test_order_lifecycle_json(run, sim, ticker):
    placed = js(run("order", "limit", ticker, "yes", "2.5", "0.31", "--yes", "--json"))
    assert placed["status"] == "resting" and placed["remaining_count"] == "2.50" and placed["fill_count"] == "0.00"
    assert placed["client_order_id"] and placed["order_id"] and placed["environment"] == "sim"
    oid = placed["order_id"]
    orders = js(run("orders", "--json"))["orders"]
    assert [o["order_id"] for o in orders] == [oid]
    assert js(run("order", "status", oid, "--json"))["yes_price"] == "0.3100"
    amended = js(run("amend", oid, "--price", "33", "--count", "4", "--yes", "--json"))
    assert amended["yes_price"] == "0.3300" and amended["remaining_count"] == "4.00"
    cancelled = js(run("cancel", oid, "--yes", "--json"))
    assert cancelled["reduced_by"] == "4.00"
    assert js(run("orders", "--json"))["orders"] == []
    history = js(run("history", "--json"))["entries"]
    assert {e["kind"] for e in history} == {"order"}


def test_market_order_and_portfolio_pnl(run, sim, ticker):
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(3), D("0.40")))
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(3), D("0.42")))
    bought = js(run("order", "market", ticker, "yes", "5", "--yes", "--json"))
    # walks the book: 3 @ 0.40 + 2 @ 0.42 = 2.04 for 5 -> average 0.408
    assert bought["fill_count"] == "5.00" and D(bought["average_price"]) == D("0.408")
    assert bought["status"] == "executed"
    bob.cancel_all()  # his last 0.42 offer would self-cross his bid (STP would cancel the bid)
    bob.create_order(OrderRequest(ticker, BookSide.BID, D(2), D("0.50")))
    sold = js(run("order", "limit", ticker, "yes", "2", "50", "--sell", "--tif", "ioc", "--yes", "--json"))
    assert sold["fill_count"] == "2.00"
    doc = js(run("pnl", "--json"))
    # FIFO: the 2 sold close 2 of the 0.40 lot: 2 x (0.50 - 0.40) = 0.20
    assert D(doc["realized_pnl"]) == D("0.20")
    # taker fees per fill: 0.07x3x0.40x0.60 = 0.0504; 0.07x2x0.42x0.58 = 0.034104 -> 0.0342; 0.07x2x0.5x0.5 = 0.0350
    assert D(doc["fees_paid"]) == D("0.1196") == sum(D(t["fees_paid"]) for t in doc["tickers"])
    assert D(doc["net_pnl"]) == D(doc["realized_pnl"]) + D(doc["unrealized_pnl"]) - D(doc["fees_paid"])
    port = js(run("portfolio", "--json"))
    for key in ("realized_pnl", "unrealized_pnl", "fees_paid", "net_pnl", "balance", "portfolio_value"):
        assert key in port
    [pos] = port["positions"]
    assert pos["ticker"] == ticker and pos["position"] == "3.00"
    assert {"ticker", "position", "realized_pnl", "unrealized_pnl", "fees_paid", "net_pnl"} <= set(port["tickers"][0])
    assert "net P&L" in run("portfolio").stdout


def test_export_trades_and_lots(run, sim, ticker, tmp_path):
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(4), D("0.40")))
    js(run("order", "limit", ticker, "yes", "4", "40", "--tif", "ioc", "--yes", "--json"))
    bob.create_order(OrderRequest(ticker, BookSide.BID, D(4), D("0.45")))
    js(run("order", "market", ticker, "yes", "4", "--sell", "--yes", "--json"))
    out = tmp_path / "trades.csv"
    assert js(run("export-trades", str(out), "--json"))["rows"] == 2
    rows = list(csv.DictReader(out.open()))
    assert [r["yes_price"] for r in rows] == ["0.4000", "0.4500"] and rows[0]["created_time"].endswith("Z")
    lots = tmp_path / "lots.csv"
    assert js(run("export-trades", str(lots), "--lots", "--json"))["rows"] == 1
    [lot] = list(csv.DictReader(lots.open()))
    assert D(lot["proceeds"]) - D(lot["cost"]) == D("0.20")
    # an existing file is not overwritten without --force (no terminal to ask on)
    again = run("export-trades", str(out))
    assert again.exit_code == 2 and "exists" in again.stderr
    assert run("export-trades", str(out), "--force").exit_code == 0


@pytest.mark.parametrize("args,code,message", [
    (["market", "KXNOPE-26NOV21"], 4, "no market"),
    (["order", "limit", "KXNOPE-26NOV21", "yes", "1", "50", "--yes"], 4, "no market"),
    (["order", "limit", "{t}", "yes", "1", "0", "--yes"], 2, "price"),
    (["order", "limit", "{t}", "yes", "1", "100", "--yes"], 2, "price"),
    (["order", "limit", "{t}", "yes", "1", "52.3", "--yes"], 2, "price"),
    (["order", "limit", "{t}", "yes", "1", "0.525", "--yes"], 2, "tick grid"),
    (["order", "limit", "{t}", "yes", "1", "-5", "--yes"], 2, "price"),
    (["order", "limit", "{t}", "yes", "1", "abc", "--yes"], 2, "price"),
    (["order", "limit", "{t}", "yes", "0", "50", "--yes"], 2, "count"),
    (["order", "limit", "{t}", "yes", "-1", "50", "--yes"], 2, "count"),
    (["order", "limit", "{t}", "yes", "1.005", "50", "--yes"], 2, "count"),
    (["order", "limit", "{t}", "maybe", "1", "50", "--yes"], 2, "side"),
    (["order", "status", "0f8e2c4a-1b2c-4d3e-8f9a-0b1c2d3e4f00"], 4, "no order"),
    (["cancel", "0f8e2c4a-1b2c-4d3e-8f9a-0b1c2d3e4f00", "--yes"], 4, "no order"),
    (["order", "status", "no-such-order"], 2, "not an order id"),
    (["history", "--since", "2026-11-02", "--until", "2026-11-01"], 2, "after"),
    (["export-trades", "/nonexistent-dir/out.csv"], 2, "does not exist"),
    (["order", "limit", "{t}", "yes", "1", "50"], 2, "--yes"),  # no terminal, no --yes: refused
])
def test_bad_input_exit_codes(run, ticker, journal_path_empty, args, code, message):
    result = run(*[a.replace("{t}", ticker) for a in args])
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert journal_path_empty()


@pytest.fixture
def journal_path_empty(env):
    """Nothing was written: the journal has no order events."""
    from pathlib import Path

    from kalshi_trading.store.sqlite.journal import SqliteJournal

    def check() -> bool:
        path = Path(env["KALSHI_DATA_DIR"]) / "sim" / "journal.sqlite"
        if not path.exists():
            return True
        with SqliteJournal.open(path) as j:
            return j.order_events() == []

    return check


def test_closed_market_refused(run, sim, ticker):
    sim.exchange.settle(ticker, "no")
    result = run("order", "limit", ticker, "yes", "1", "50", "--yes")
    assert result.exit_code == 4 and "not open" in result.stderr


def test_config_error_exit_code(run, env):
    result = CliRunner().invoke(app, ["balance"], env={**env, "KALSHI_ENV": "production"})
    assert result.exit_code == 3 and "KALSHI_ENV" in result.stderr and "Traceback" not in result.output


def test_unreachable_exchange_exit_code(run, env):
    result = CliRunner().invoke(app, ["balance"], env={**env, "KALSHI_API_BASE": "http://127.0.0.1:9/trade-api/v2",
                                                       "KALSHI_CONNECT_TIMEOUT": "0.5"})
    assert result.exit_code == 6 and "Traceback" not in result.output
