"""The market feeds end to end against the real simulator's WebSocket (and REST): books follow trading
exactly, fills arrive, gaps/duplicates/killed connections end in a resync, and `kalshi watch` streams."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.api.signer import Signer
from kalshi_trading.marketdata.book import orderbook_units
from kalshi_trading.marketdata.events import BookStale, Disconnected, FillMsg, Reconnected, Resynced, TradeMsg
from kalshi_trading.marketdata.feed_poll import PollingFeed
from kalshi_trading.marketdata.feed_ws import Backoff, WebSocketFeed
from kalshi_trading.cli.main import app
from kalshi_trading.config import load_private_key
from kalshi_trading.models import BookSide, OrderRequest, TimeInForce
from tests.e2e.conftest import cent_market

pytestmark = pytest.mark.e2e


@pytest.fixture
def feed(sim):
    account = sim.demo_account
    f = WebSocketFeed(sim.ws_url, Signer(account.key_id, load_private_key(account.private_key_path)),
                      backoff=Backoff(initial=0.02, maximum=0.2), resync_timeout=3.0)
    yield f
    f.stop()


def until(feed, predicate, what: str, limit: float = 20.0) -> list:
    seen: list = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for event in feed.events(timeout=0.05):
            seen.append(event)
            if predicate(seen):
                return seen
        if predicate(seen):
            return seen
    raise AssertionError(f"timed out waiting for {what}; saw {seen!r}")


def equals_rest(feed, client, ticker: str) -> bool:
    book = feed.books[ticker]
    if book.stale:
        return False
    yes, no = orderbook_units(client.get_orderbook(ticker))
    return book.levels_units() == (dict(yes), dict(no))


def rest_equal(feed, client, ticker):
    return lambda _events: equals_rest(feed, client, ticker)


def order(t: str, side: BookSide, n: str, price: str, tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest(t, side, D(n), D(price), tif)


def test_books_follow_trading_and_our_fills_arrive(sim, client, bob, feed):
    t = cent_market(sim)
    feed.subscribe([t])
    feed.start()
    until(feed, rest_equal(feed, client, t), "the first snapshot")
    ours = client.create_order(order(t, BookSide.BID, "10", "0.52"))
    bob.create_order(order(t, BookSide.ASK, "4", "0.52", TimeInForce.IOC))  # takes 4 of ours
    bob.create_order(order(t, BookSide.ASK, "5.5", "0.61"))  # rests: a YES ask, a NO bid at 0.39
    events = until(feed, lambda ev: any(isinstance(e, FillMsg) for e in ev) and any(
        isinstance(e, TradeMsg) for e in ev) and equals_rest(feed, client, t), "the fill, the trade and the book")
    fill = next(e for e in events if isinstance(e, FillMsg))
    assert (fill.order_id, fill.ticker, fill.count, fill.yes_price, fill.is_taker) == (
        ours.order_id, t, D(4), D("0.52"), False)
    trade = next(e for e in events if isinstance(e, TradeMsg))
    assert (trade.count, trade.yes_price, trade.taker_book_side) == (D(4), D("0.52"), "ask")
    book = feed.books[t]
    rest = client.get_orderbook(t)
    assert book.best_bid == rest.best_yes_bid.price and book.best_ask == rest.best_yes_ask.price
    assert book.best_ask_size == D("5.5")
    assert feed.resyncs == 0 and feed.stats.gaps == 0 and feed.stats.duplicates == 0


def test_gap_and_duplicate_from_the_simulator_end_in_resyncs(sim, client, bob, feed):
    t = cent_market(sim)
    feed.subscribe([t])
    feed.start()
    until(feed, rest_equal(feed, client, t), "the first snapshot")
    sim.drop_next_delta()
    bob.create_order(order(t, BookSide.BID, "3", "0.30"))  # its delta is lost
    bob.create_order(order(t, BookSide.BID, "2", "0.31"))  # the next one reveals the gap
    events = until(feed, lambda ev: any(isinstance(e, Resynced) for e in ev) and equals_rest(feed, client, t),
                   "a resync after the gap")
    assert any(isinstance(e, BookStale) and e.reason == "seq gap" for e in events)
    assert feed.resyncs == 1 and feed.stats.gaps == 1
    sim.duplicate_next_delta()
    bob.create_order(order(t, BookSide.BID, "1", "0.32"))
    events = until(feed, lambda ev: any(isinstance(e, Resynced) for e in ev) and equals_rest(feed, client, t),
                   "a resync after the duplicate")
    assert any(isinstance(e, BookStale) and e.reason == "seq duplicate" for e in events)
    assert feed.resyncs == 2 and feed.stats.duplicates == 1


def test_killed_connection_reconnects_resubscribes_and_resyncs(sim, client, bob, feed):
    t = cent_market(sim)
    feed.subscribe([t])
    feed.start()
    until(feed, rest_equal(feed, client, t), "the first snapshot")
    assert sim.close_connections() == 1
    bob.create_order(order(t, BookSide.BID, "7", "0.41"))  # changes while we may be away
    events = until(feed, lambda ev: any(isinstance(e, Reconnected) for e in ev)
                   and equals_rest(feed, client, t), "a reconnect and a correct book")
    kinds = [type(e) for e in events]
    assert kinds.index(Disconnected) < kinds.index(Reconnected)
    assert feed.stats.connects == 2 and feed.resyncs == 1
    bob.create_order(order(t, BookSide.BID, "1", "0.42"))  # and it keeps following
    until(feed, rest_equal(feed, client, t), "a delta after the reconnect")
    assert feed.books[t].best_bid == D("0.42")


def test_polling_fallback_matches_rest(sim, client, bob):
    t = cent_market(sim)
    feed = PollingFeed(client, interval=0.05)
    try:
        feed.subscribe([t])
        feed.start()
        until(feed, rest_equal(feed, client, t), "the first poll")
        bob.create_order(order(t, BookSide.BID, "2", "0.44"))
        until(feed, lambda ev: feed.books[t].best_bid == D("0.44") and equals_rest(feed, client, t), "the change")
    finally:
        feed.stop()


def cli_env(sim, tmp_path) -> dict:
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}


@pytest.mark.parametrize("source", [[], ["--poll", "--interval", "0.1"]])
def test_watch_streams_json_lines_and_stops_by_itself(sim, tmp_path, source):
    t = cent_market(sim)
    result = CliRunner().invoke(app, ["watch", t, "--json", "--duration", "1.5", *source], env=cli_env(sim, tmp_path))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["event"] == "start" and lines[0]["tickers"] == [t]
    books = [x for x in lines if x["event"] == "book"]
    assert books and books[0]["ticker"] == t and books[0]["ts"].endswith("Z")
    assert all(v is None or isinstance(v, str) for k, v in books[0].items() if k.startswith("best"))


def test_watch_text_view_and_unknown_ticker(sim, bob, tmp_path):
    t = cent_market(sim)
    bob.create_order(order(t, BookSide.BID, "3", "0.47"))
    env = cli_env(sim, tmp_path)
    result = CliRunner().invoke(app, ["watch", t, "--duration", "1", "--depth", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert "[SIM]" in result.stdout and t in result.stdout and "YES bid" in result.stdout
    assert "bid 47¢ x 3" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no cursor moves
    missing = CliRunner().invoke(app, ["watch", "NO-SUCH-MARKET", "--duration", "1"], env=env)
    assert missing.exit_code == 4 and "NO-SUCH-MARKET" in missing.stderr
    helped = CliRunner().invoke(app, ["watch", "--help"], env=env)
    assert helped.exit_code == 0 and "Example" in helped.stdout
