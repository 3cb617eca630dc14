"""`kalshi menu` driven as a person would: a real pty, the real CLI, the embedded simulated exchange.

Each test starts `python -m kalshi_trading menu` on a fresh data directory (a demo account with $1,000)
and answers its prompts with pexpect.  Timeouts are generous because the first action starts the simulator;
nothing here asserts on timings.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.pty_keys import press_ctrl_c

pexpect = pytest.importorskip("pexpect")

TIMEOUT = 30
MENU = "Choose 0-10: "
ROW = re.compile(r"^\s*\d+\s+(KX\S+)\s+.*?\s(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d{4}-\d\d-\d\dT\S+Z)\s*$")


@pytest.fixture
def child(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_DATA_DIR=str(tmp_path), KALSHI_LOG_DIR=str(tmp_path / "logs"), NO_COLOR="1",
               KALSHI_ENV="sim", TERM="dumb")
    child = pexpect.spawn(sys.executable, ["-m", "kalshi_trading", "menu"], env=env, cwd=str(tmp_path),
                          encoding="utf-8", timeout=TIMEOUT, dimensions=(50, 250))
    child.expect_exact("[SIM] kalshi menu")
    child.expect_exact(MENU)
    yield child
    if child.isalive():
        child.terminate(force=True)


def choose(child, number: int | str) -> None:
    """At the menu prompt: pick an entry."""
    child.sendline(str(number))


def answer(child, prompt: str, text: str) -> None:
    child.expect_exact(prompt)
    child.sendline(text)


def back_at_menu(child) -> str:
    """Wait for the next menu prompt; return what was printed before it."""
    child.expect_exact(MENU)
    return child.before


def exit_with_no_open_orders(child) -> None:
    """Nothing was left resting; then choose Exit."""
    choose(child, 6)
    assert "0 open order(s)" in back_at_menu(child)
    choose(child, 0)
    leaves_with_goodbye(child)


def leaves_with_goodbye(child) -> None:
    child.expect_exact("goodbye")
    child.expect(pexpect.EOF)
    status = child.wait()  # not close(): under load the process may still be tearing down, and close kills it
    assert status == 0, (status, child.signalstatus)


def pick_quiet_market(search_output: str) -> str:
    """A market open for a while yet, where a 5¢ YES bid will rest: the highest bid, else the lowest strike."""
    soon = datetime.now(timezone.utc) + timedelta(minutes=10)
    rows = []
    for line in search_output.splitlines():
        m = ROW.match(line)
        if m and datetime.fromisoformat(m.group(6).replace("Z", "+00:00")) > soon:
            ticker, bid = m.group(1), m.group(2)
            strike = float(ticker.rsplit("-T", 1)[-1]) if "-T" in ticker else 0.0
            rows.append((-(float(bid.rstrip("¢")) if bid != "-" else 0.0), strike, ticker))
    assert rows, f"no market open for another 10 minutes in:\n{search_output}"
    return min(rows)[2]


def search(child, query: str = "bitcoin") -> str:
    choose(child, 2)
    answer(child, "Search words", query)
    return back_at_menu(child)


def order_terms(child, number: int, ticker: str, side: str, action: str, count: str) -> None:
    """Pick an order entry (4 limit, 5 market) and answer its market, contract, action and count prompts."""
    choose(child, number)
    answer(child, "Market ticker", ticker)
    answer(child, "Contract (yes/no)", side)
    answer(child, "Buy or sell [buy]", action)
    answer(child, "Contracts", count)


def order_on_a_quiet_market(child, number: int, side: str, action: str, count: str) -> str:
    """Search, pick a market that stays open, and answer an order entry's first prompts there."""
    ticker = pick_quiet_market(search(child))
    order_terms(child, number, ticker, side, action, count)
    return ticker


def place_limit(child, ticker: str, side: str, count: str, price: str) -> None:
    """Answer the limit-order prompts up to the confirmation question."""
    order_terms(child, 4, ticker, side, "", count)
    answer(child, "Limit price", price)
    child.expect_exact("order preview")
    child.expect_exact("Send this order? [y/N]: ")


# ------------------------------------------------------------------ the whole round trip
def test_search_order_status_cancel_history_export(child, tmp_path):
    output = search(child)
    assert "market(s)" in output
    ticker = pick_quiet_market(output)

    place_limit(child, ticker, "yes", "2", "5")
    child.sendline("y")
    child.expect(r"order (\S+) (\w+): buy YES " + re.escape(ticker))
    order_id, status = child.match.group(1), child.match.group(2)
    assert status == "resting"
    back_at_menu(child)

    choose(child, 6)
    opened = back_at_menu(child)
    assert "1 open order(s)" in opened and order_id in opened and "buy YES @ 5¢" in opened

    choose(child, 8)
    answer(child, "Order id", order_id)
    shown = back_at_menu(child)
    assert f"order {order_id}" in shown and "resting" in shown and "fees paid" in shown

    choose(child, 7)
    answer(child, "Order id, or 'all'", order_id)
    answer(child, f"cancel order {order_id} ({ticker})? [y/N]: ", "y")
    assert f"cancelled order {order_id}" in back_at_menu(child)

    choose(child, 6)
    assert "0 open order(s)" in back_at_menu(child)

    choose(child, 9)
    history = back_at_menu(child)
    assert "history (" in history and order_id in history

    out = tmp_path / "trades.csv"
    choose(child, 10)
    answer(child, "CSV file to write", str(out))
    assert f"to {out}" in back_at_menu(child)
    assert out.exists()
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("created_time,")

    choose(child, 1)
    assert "cash available" in back_at_menu(child)

    choose(child, 0)
    leaves_with_goodbye(child)


# ------------------------------------------------------------------ validation
def test_bad_selections_are_asked_again(child):
    for bad in ("42", "abc", "-1"):
        choose(child, bad)
        child.expect_exact(f"error: {bad!r} is not on the menu")
        child.expect_exact(MENU)
    choose(child, 0)
    leaves_with_goodbye(child)


def test_bad_ticker_price_and_count_are_asked_again_and_declining_sends_nothing(child):
    ticker = pick_quiet_market(search(child))
    choose(child, 4)
    answer(child, "Market ticker", "NOPE-NOT-A-MARKET")
    child.expect_exact("error: no market NOPE-NOT-A-MARKET")
    answer(child, "Market ticker", ticker)
    answer(child, "Contract (yes/no)", "maybe")
    child.expect_exact("side must be yes or no")
    answer(child, "Contract (yes/no)", "yes")
    answer(child, "Buy or sell [buy]", "hold")
    child.expect_exact("action must be buy or sell")
    answer(child, "Buy or sell [buy]", "buy")
    for bad in ("0", "-1", "1.005", "two", "1e2", "1_000", "٥", "1e29", "1000001"):  # one grammar: money.py
        answer(child, "Contracts", bad)
        child.expect_exact("error: count")
    answer(child, "Contracts", "1")
    for bad in ("0", "100", "52.3", "1.5", "1e1", "1_0", "٥", "0.00001"):
        answer(child, "Limit price", bad)
        child.expect_exact("error: price")
    answer(child, "Limit price", "0.05")
    child.expect_exact("BUY 1 YES @ 5¢")
    answer(child, "Send this order? [y/N]: ", "")
    child.expect_exact("not sent")
    back_at_menu(child)

    exit_with_no_open_orders(child)


def test_a_service_error_is_reported_and_the_menu_goes_on(child):
    order_on_a_quiet_market(child, 4, "no", "", "1")
    answer(child, "Limit price", "0.055")  # parses, but is off the market's 1¢ grid: the executor refuses it
    child.expect_exact("error: price 0.055 is not on")
    printed = back_at_menu(child)
    assert "Traceback" not in printed

    choose(child, 8)
    answer(child, "Order id", "0f8e2c4a-1b2c-4d3e-8f9a-0b1c2d3e4f00")
    child.expect_exact("error: no order 0f8e2c4a-1b2c-4d3e-8f9a-0b1c2d3e4f00")
    child.sendline("")  # blank with nothing remembered: back to the menu
    child.expect_exact("(back to the menu)")
    back_at_menu(child)

    exit_with_no_open_orders(child)


def test_market_order_is_previewed_and_can_be_declined(child):
    order_on_a_quiet_market(child, 5, "yes", "sell", "1")
    answer(child, "Worst price to accept", "")
    # The simulator's market maker may or may not be quoting yet: either a preview or a clear error.
    if child.expect([r"Send this order\? \[y/N\]: ", "error: "]) == 0:
        child.sendline("n")
        child.expect_exact("not sent")
    back_at_menu(child)
    exit_with_no_open_orders(child)


def test_export_refuses_a_missing_directory_and_asks_before_overwriting(child, tmp_path):
    existing = tmp_path / "old.csv"
    existing.write_text("keep me\n", encoding="utf-8")
    choose(child, 10)
    answer(child, "CSV file to write", str(tmp_path / "missing" / "t.csv"))
    child.expect_exact("does not exist")
    answer(child, "CSV file to write", str(existing))
    answer(child, "Overwrite? [y/N]: ", "n")
    child.expect_exact("nothing written")
    back_at_menu(child)
    assert existing.read_text(encoding="utf-8") == "keep me\n"
    choose(child, 0)
    leaves_with_goodbye(child)


# ------------------------------------------------------------------ issue 10 item 13: digits and errors
def test_only_ascii_digits_are_choices(child):
    for bad in ("\u00b2", "\u0663", "\uff13", "3\u00b2", "\u2463", "1e0", "+3"):  # ², ٣, fullwidth 3, ④
        choose(child, bad)
        child.expect_exact(f"error: {bad!r} is not on the menu")
        printed = back_at_menu(child)
        assert "unexpected error" not in printed and "Traceback" not in printed
    choose(child, 0)
    leaves_with_goodbye(child)


def test_non_ascii_digits_at_the_ticker_prompt_are_asked_again(child):
    search(child)  # remembered rows: a number picks a row, but only an ASCII number
    choose(child, 3)
    for bad in ("\u00b2", "\u0661", "\u00b9\u00b2"):
        answer(child, "Market ticker", bad)
        child.expect_exact("error: ")
        assert "unexpected" not in child.readline()
    child.expect_exact("Market ticker")
    child.sendline("")
    child.expect_exact("(back to the menu)")
    printed = back_at_menu(child)
    assert "unexpected error" not in printed
    choose(child, 0)
    leaves_with_goodbye(child)


@pytest.mark.parametrize("target", ["/dev/full", "/proc/trades.csv", "x" * 300 + ".csv", "/etc/passwd/t.csv",
                                    "~no-such-user-here/t.csv"])
def test_export_to_an_impossible_path_returns_to_the_menu_with_a_message(child, target):
    choose(child, 10)
    answer(child, "CSV file to write", target)
    index = child.expect([r"CSV file to write \[trades.csv\]: ", re.escape("Choose 0-10: ")])
    printed = child.before
    assert "error: " in printed and "unexpected error" not in printed and "Traceback" not in printed, printed
    if index == 0:  # refused at the prompt: asked again; blank takes the default, so leave with Ctrl-C
        press_ctrl_c(child)
        back_at_menu(child)
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")  # never replaced by a CSV
    choose(child, 1)  # the menu still works
    assert "cash available" in back_at_menu(child)
    choose(child, 0)
    leaves_with_goodbye(child)


# ------------------------------------------------------------------ leaving
def test_ctrl_c_in_an_action_returns_to_the_menu_and_at_the_menu_leaves(child):
    choose(child, 3)
    child.expect_exact("Market ticker")
    press_ctrl_c(child)
    child.expect_exact("(interrupted; back to the menu)")
    back_at_menu(child)

    choose(child, 4)
    child.expect_exact("Market ticker")
    press_ctrl_c(child)
    child.expect_exact("(interrupted; back to the menu)")
    back_at_menu(child)

    press_ctrl_c(child)
    leaves_with_goodbye(child)


def test_end_of_input_at_the_menu_leaves(child):
    child.sendeof()
    leaves_with_goodbye(child)


def test_end_of_input_inside_an_action_leaves(child):
    choose(child, 2)
    child.expect_exact("Search words")
    child.sendeof()
    leaves_with_goodbye(child)
