"""Issue 10 item 12: every number a command reads has one grammar and a documented range, checked before anything
changes (exit 2).  The real CLI in-process against the simulator; each refusal is followed by a look at the
exchange or the files to show nothing was done."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from tests.e2e.conftest import cent_market

BAD_COUNTS = ["1e29", "1e2", "\u0665", "1_000", "0", "1000001", "0.001", "1 0", "nan", "inf", "99999999999999999999",
              "\uff11", "0x10"]
BAD_PRICES = ["1e1", "\u0665", "1_0", "0.00001", "100", "1.5", "nan", "\u00b2", "0.5e0"]
BAD_WHOLE = ["99999999999999999999", "0", "\u0665", "1_0", "1e2", "1.5", "nan"]
BAD_FLOATS = ["nan", "inf", "-1", "0", "1e2", "\u0661", "1_0", "99999999999999999999"]


@pytest.fixture
def run(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
           "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(app, list(args), env=env, input=input)


@pytest.fixture
def ticker(sim):
    return cent_market(sim)


def _refused(result, *words) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "unexpected error" not in result.output and "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


def _open_orders(run) -> list:
    result = run("orders", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["orders"]


@pytest.mark.parametrize("count", BAD_COUNTS)
def test_order_counts_outside_the_grammar_or_range(run, ticker, count):
    _refused(run("order", "limit", ticker, "yes", count, "5", "--yes"), "count")
    _refused(run("order", "market", ticker, "yes", count, "--yes"), "count")
    assert _open_orders(run) == []


@pytest.mark.parametrize("price", BAD_PRICES)
def test_order_prices_outside_the_grammar_or_range(run, ticker, price):
    _refused(run("order", "limit", ticker, "yes", "1", price, "--yes"), "price")
    _refused(run("order", "market", ticker, "yes", "1", "--max-price", price, "--yes"), "price")
    assert _open_orders(run) == []


def test_amend_refuses_bad_numbers_and_leaves_the_order(run, ticker):
    placed = json.loads(run("order", "limit", ticker, "yes", "2", "5", "--yes", "--json").stdout)
    for args in (["--count", "1e29"], ["--count", "\u0665"], ["--price", "1_0"], ["--price", "1e1"]):
        _refused(run("amend", placed["order_id"], *args, "--yes"))
    [order] = _open_orders(run)
    assert order["remaining_count"] == "2.00" and order["yes_price"] == "0.0500"


@pytest.mark.parametrize("expires", ["99999999999999h", "366d", "9999-01-01T00:00:00Z", "\u0663h", "1e3s",
                                     "9" * 400 + "s"])
def test_expiry_beyond_a_year_or_outside_the_grammar(run, ticker, expires):
    _refused(run("order", "limit", ticker, "yes", "1", "5", "--expires", expires, "--yes"), "expir")
    assert _open_orders(run) == []


@pytest.mark.parametrize("value", BAD_WHOLE)
@pytest.mark.parametrize("command", [["history", "-n"], ["logs", "-n"], ["markets", "--limit"]])
def test_whole_number_options(run, command, value):
    _refused(run(*command, value))


@pytest.mark.parametrize("args", [["--depth", "101"], ["--depth", "99999999999999999999"], ["-d", "\u0665"]])
def test_book_depth(run, ticker, args):
    _refused(run("book", ticker, *args))


@pytest.mark.parametrize("value", BAD_FLOATS)
@pytest.mark.parametrize("option", ["--interval", "--duration"])
def test_watch_seconds(run, ticker, option, value):
    _refused(run("watch", ticker, "--poll", option, value))


@pytest.mark.parametrize("args", [["--speed", "nan"], ["--speed", "inf"], ["--speed", "-1"], ["--speed", "0"],
                                  ["--speed", "1e2"], ["--seed", "-1"], ["--seed", "4294967296"],
                                  ["--interval-ms", "5"], ["--interval-ms", "99999999999999999999"],
                                  ["--duration", "nan"], ["--duration", "0"]])
def test_auto_numbers_are_checked_before_the_bot_starts(run, tmp_path, args):
    _refused(run("auto", "--sim", *args))
    assert not (tmp_path / "auto-sim").exists()


def test_the_ends_of_the_ranges_are_accepted(run, ticker):
    assert run("history", "-n", "100000").exit_code == 0
    assert run("logs", "-n", "1").exit_code == 0
    assert run("book", ticker, "--depth", "0").exit_code == 0
    assert run("markets", "--limit", "1000").exit_code == 0
    placed = run("order", "limit", ticker, "yes", "0.01", "0.01", "--expires", "365d", "--yes")
    assert placed.exit_code == 0, placed.output
