"""Every `--help` example names only tickers a new user can use: ones the simulator lists (a series, event or
market ticker of a fresh simulated exchange) or an upper-case placeholder such as TICKER or ORDER_ID."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.sim.catalogue import SERIES_BY_TICKER

PLACEHOLDERS = {"TICKER", "TICKER1", "TICKER2", "ORDER_ID", "OUT", "LOTS", "FILE", "SPEC", "QUERY", "DURATION"}
# A ticker-looking token: upper-case letters and digits, with dash-separated parts (KXBTCD, KXBTCD-26NOV2117-T95000)
TICKERISH = re.compile(r"^[A-Z][A-Z0-9_]{2,}(?:-[A-Z0-9.]+)*$")
EXAMPLE = re.compile(r"Example:\s*(.+)")


def _commands(command, path=()):
    """(path, click command) for the root, every group and every command under it."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def _examples(text: str) -> list[str]:
    found = []
    for line in (text or "").splitlines():
        match = EXAMPLE.search(line)
        if match:
            found += [part.strip() for part in match.group(1).split("|")]
    return found


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> set[str]:
    """Every series, event and market ticker a fresh simulated exchange lists."""
    from kalshi_trading.sim.runtime import start_embedded

    server = start_embedded(tmp_path_factory.mktemp("help-sim"), participants=False)
    try:
        engine = server.exchange.engine
        names = set(SERIES_BY_TICKER) | {m.ticker for m in engine.markets.values()}
        names |= {m.event_ticker for m in engine.markets.values()}
    finally:
        server.stop()
    return names


def test_every_help_example_names_a_listed_ticker_or_a_placeholder(catalogue):
    root = typer.main.get_command(app)
    checked = 0
    for path, command in _commands(root):
        help_text = CliRunner().invoke(app, [*path, "--help"], env={"NO_COLOR": "1", "COLUMNS": "400"}).output
        for example in _examples(command.help) + _examples(help_text):
            for token in re.split(r"[\s,=]+", example):
                token = token.strip("`'\"")
                if TICKERISH.match(token):
                    checked += 1
                    assert token in PLACEHOLDERS or token in catalogue, (path, example, token)
    assert checked >= 10  # the examples were found and read


def test_the_check_catches_an_unlisted_ticker(catalogue):
    """The test above can fail: a made-up market ticker is neither listed nor a placeholder."""
    token = "KXRAINNYC-26NOV21"
    assert TICKERISH.match(token) and token not in PLACEHOLDERS and token not in catalogue
