"""A bot restarted after a crash, on the same, fewer or other markets, against the real simulator over HTTP.

The crash is simulated by dropping the run without its shutdown (no cancel, no cleanup: what SIGKILL
leaves); `tests/e2e/test_auto_e2e.py` does it with a real SIGKILL through the CLI.  Every check reads the
exchange itself (which orders rest, which fills happened) or the state file a next run would load.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kalshi_trading.auto.botconfig import parse_config
from kalshi_trading.auto.exchange import RestExchange
from kalshi_trading.auto.reconcile import ReconcileResult, order_tag
from kalshi_trading.auto.runner import BotRun, BotSetup, kill
from kalshi_trading.auto.strategies import MarketMaker
from kalshi_trading.auto.underlying import ExchangeClock
from kalshi_trading.models import BookSide, TimeInForce
from tests.auto.states import open_state
from tests.e2e.conftest import RestBooks, order

pytestmark = pytest.mark.e2e

CONFIG = "[defaults]\nquote_size = 2\n"


def two_markets(sim) -> tuple[str, str]:
    """Two active one-cent markets of one ladder."""
    ms = sorted((m for m in sim.exchange.engine.markets.values()
                 if m.series_ticker == "KXBTCD" and m.status == "active"), key=lambda m: (m.close_ms, m.ticker))
    mid = len(ms) // 2
    return ms[mid].ticker, ms[mid + 1].ticker


@pytest.fixture
def markets(sim, bob):
    """A and B, each with bob's 0.40 bid and 0.60 offer to quote inside."""
    a, b = two_markets(sim)
    for t in (a, b):
        bob.create_order(order(t, BookSide.BID, "0.40", 50))
        bob.create_order(order(t, BookSide.ASK, "0.60", 50))
    return a, b


class Bot:
    """One run of the bot on `tickers` over the state file in `tmp_path`."""

    def __init__(self, tmp_path, client, executor, tickers, on_start="cancel"):
        self.feed = RestBooks(client)
        self.state = open_state(tmp_path)
        setup = BotSetup(client=client, executor=executor, state=self.state, strategy=MarketMaker(),
                         config=parse_config(CONFIG, "toml"), tickers=tuple(tickers), clock=ExchangeClock(client),
                         feed=self.feed, feed_name="rest (test)", on_start=on_start)
        self.run = BotRun(setup)
        self.loop = self.run.prepare()
        self.feed.subscribe(self.loop.tickers)

    @property
    def startup(self) -> ReconcileResult:
        return self.run.startup

    def quote(self):
        self.feed.refresh()
        self.loop.reconcile()
        self.loop.timer_pass()

    def crash(self):
        """Gone without a shutdown: nothing cancelled, the state file as the last write left it."""
        self.state.close()

    def stop(self):
        try:
            self.run.shutdown("test end")
        finally:
            self.state.close()


def resting(client, ticker):
    return {o.order_id: o for o in client.iter_orders(ticker=ticker, status="resting")}


def crashed_quoting(tmp_path, client, executor, tickers) -> dict[str, dict]:
    """A first run quotes `tickers` (two orders each) and crashes; returns {ticker: its resting orders}."""
    first = Bot(tmp_path, client, executor, tickers)
    first.quote()
    quotes = {t: resting(client, t) for t in tickers}
    assert all(len(q) == 2 for q in quotes.values()), quotes
    first.crash()
    return quotes


@pytest.mark.parametrize("on_start", ["cancel", "adopt"])
def test_restart_on_another_market_cancels_the_old_markets_quotes(sim, client, bob, executor, markets, tmp_path,
                                                                 on_start):
    a, b = markets
    old = crashed_quoting(tmp_path, client, executor, [a])[a]
    stray = client.create_order(order(b, BookSide.BID, "0.30", 1))  # on B, not the bot's
    second = Bot(tmp_path, client, executor, [b], on_start=on_start)
    try:
        assert not set(old) & set(resting(client, a))  # A's quotes are gone from the exchange
        assert sorted(second.startup.retired[a]) == sorted(old)
        assert all(o.ticker != a for o in second.state.known_orders())
        if on_start == "adopt":  # adopted only on a market this run trades
            assert second.startup.adopted == [stray.order_id]
            assert stray.order_id in resting(client, b)
        else:
            assert second.startup.cancelled == [stray.order_id]
            assert stray.order_id not in resting(client, b)
        assert "on markets not traded this run" in second.state.events(5, ["reconcile"])[-1]["message"]
    finally:
        second.stop()
    assert resting(client, a) == {} and resting(client, b) == {}


def test_a_fill_on_the_old_market_between_crash_and_restart_is_recorded_and_reported(sim, client, bob, executor,
                                                                                      markets, tmp_path):
    a, b = markets
    old = crashed_quoting(tmp_path, client, executor, [a])[a]
    bid = next(o for o in old.values() if o.book_side == "bid")
    bob.create_order(order(a, BookSide.ASK, "0.01", 1, TimeInForce.IOC))  # hits the crashed run's bid
    fill = next(f for f in client.iter_fills(ticker=a))
    assert fill.order_id == bid.order_id
    second = Bot(tmp_path, client, executor, [b])
    try:
        assert resting(client, a) == {}
        assert [f.order_id for f in second.startup.new_fills] == [bid.order_id]
        assert second.loop.ledger.position(a) == D(1)
        assert list(second.startup.untraded) == [a] and D(second.startup.untraded[a]) == 1
        assert f"still holding {second.startup.untraded[a]} on {a} (not traded this run)" in second.startup.summary()
        assert second.run.report()["startup"]["untraded_positions"] == second.startup.untraded
    finally:
        second.stop()
    with open_state(tmp_path) as state:  # what the next run loads
        assert [f.order_id for f in state.fills()] == [bid.order_id]
        assert state.load_ledger().position(a) == D(1)


@pytest.mark.parametrize("on_start", ["cancel", "adopt"])
def test_restart_with_fewer_markets_cancels_only_the_dropped_markets_quotes(sim, client, bob, executor, markets,
                                                                           tmp_path, on_start):
    a, b = markets
    quotes = crashed_quoting(tmp_path, client, executor, [a, b])
    second = Bot(tmp_path, client, executor, [b], on_start=on_start)
    try:
        assert resting(client, a) == {}
        assert sorted(second.startup.retired[a]) == sorted(quotes[a])
        assert set(resting(client, b)) == set(quotes[b])  # B's are the bot's own: still working
        assert {o.order_id for o in second.state.known_orders()} == set(quotes[b])
    finally:
        second.stop()


@pytest.mark.parametrize("on_start", ["cancel", "adopt"])
def test_restart_on_the_same_markets_retires_nothing(sim, client, bob, executor, markets, tmp_path, on_start):
    a, b = markets
    quotes = crashed_quoting(tmp_path, client, executor, [a, b])
    second = Bot(tmp_path, client, executor, [b, a], on_start=on_start)
    try:
        assert second.startup.retired == {} and second.startup.untraded == {}
        for t in (a, b):
            assert set(resting(client, t)) == set(quotes[t])
    finally:
        second.stop()


def test_orders_sent_but_never_recorded_are_found_by_their_tag_on_any_market(sim, client, bob, executor, markets,
                                                                            tmp_path):
    a, b = markets
    c = next(m.ticker for m in sim.exchange.engine.markets.values()
             if m.status == "active" and m.series_ticker == "KXBTCD" and m.ticker not in (a, b))
    bob.create_order(order(c, BookSide.BID, "0.40", 50))
    bob.create_order(order(c, BookSide.ASK, "0.60", 50))
    quotes = crashed_quoting(tmp_path, client, executor, [a, c])
    with open_state(tmp_path) as state:  # the crash came before the state write
        tag = order_tag(state.bot_id())
        state.replace_orders(())
    assert all(o.client_order_id.startswith(tag) for q in quotes.values() for o in q.values())
    c_bid = next(o for o in quotes[c].values() if o.book_side == "bid")
    bob.create_order(order(c, BookSide.ASK, "0.01", 2, TimeInForce.IOC))  # fills C's bid entirely
    assert c_bid.order_id not in resting(client, c)
    manual = client.create_order(order(a, BookSide.BID, "0.20", 1))  # the user's own order on A: not the bot's
    second = Bot(tmp_path, client, executor, [b])
    try:
        assert set(resting(client, a)) == {manual.order_id}  # the bot's tagged quotes are gone, the user's stays
        assert set(resting(client, c)) == set()
        assert sorted(second.startup.retired[a]) == sorted(quotes[a])
        assert [f.order_id for f in second.startup.new_fills] == [c_bid.order_id]  # found among the last run's
        assert second.loop.ledger.position(c) == D(2)
        assert c in second.startup.untraded
    finally:
        second.stop()
    assert set(resting(client, a)) == {manual.order_id}


def test_kill_of_a_dead_bot_cancels_its_tagged_orders_on_any_market(sim, client, bob, executor, markets, tmp_path):
    a, b = markets
    quotes = crashed_quoting(tmp_path, client, executor, [a])
    manual = client.create_order(order(a, BookSide.BID, "0.20", 1))
    with open_state(tmp_path) as state:
        state.replace_orders(())  # known to nobody but by their tag
        state.put("markets", [b])
        result = kill(tmp_path, state, lambda: RestExchange(client, executor))
    assert result["cancelled_here"] == 2
    assert set(resting(client, a)) == {manual.order_id}
    assert not set(quotes[a]) & set(resting(client, a))


def test_the_bot_id_is_made_once_and_kept(tmp_path):
    with open_state(tmp_path) as state:
        first = state.bot_id()
    with open_state(tmp_path) as state:
        assert state.bot_id() == first and first.isalnum()
    with open_state(tmp_path / "other") as state:
        assert state.bot_id() != first
