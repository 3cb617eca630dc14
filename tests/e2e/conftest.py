"""End-to-end fixtures: the real simulator on a loopback port, driven through our real client and services."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from kalshi_trading.api.client import KalshiClient
from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.auto.types import SimpleBookView
from kalshi_trading.config import load_private_key
from kalshi_trading.models import OrderRequest, TimeInForce
from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.runtime import start_embedded
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.executor import Executor
from kalshi_trading.trading.portfolio import Portfolio

# The simulated clock starts at the wall clock (expiry times a client computes must make sense to the
# exchange) and then only moves when a test moves it.
T0 = int(datetime.now(timezone.utc).timestamp()) * 1000


def client_for(base_url: str, account, retry: RetryPolicy | None = None) -> KalshiClient:
    return KalshiClient.build(base_url, account.key_id, load_private_key(account.private_key_path), env="sim",
                              rate_tier=None,
                              retry=retry or RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05))


@pytest.fixture
def sim(tmp_path):
    clock = ManualClock(T0)
    # the flaky outside venue off: these tests expect every source up, whatever the time of day
    server = start_embedded(tmp_path / "sim", seed=11, participants=False, clock=clock, flaky_venue=False)
    server.clock = clock
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(sim):
    c = client_for(sim.base_url, sim.demo_account)
    yield c
    c.close()


@pytest.fixture
def bob(sim):
    c = client_for(sim.base_url, sim.create_account(Decimal("1000")))
    yield c
    c.close()


@pytest.fixture
def journal(tmp_path):
    j = SqliteJournal.open(tmp_path / "journal.sqlite")
    yield j
    j.close()


@pytest.fixture
def executor(client, journal):
    return Executor(client, journal, "sim")


@pytest.fixture
def portfolio(client, journal):
    return Portfolio(client, journal, "sim")


def cent_market(sim, series: str = "KXBTCD") -> str:
    """An active market on the one-cent grid, in the middle of its ladder."""
    markets = [m for m in sim.exchange.engine.markets.values()
               if m.series_ticker == series and m.status == "active"]
    markets.sort(key=lambda m: (m.close_ms, m.ticker))
    return markets[len(markets) // 2].ticker


class RestBooks:
    """A synchronous test feed: `refresh()` reads the books over REST; no events."""

    def __init__(self, client):
        self.client = client
        self.books = {}
        self.tickers = ()

    def start(self):
        pass

    def stop(self):
        pass

    def subscribe(self, tickers):
        self.tickers = tuple(tickers)
        self.refresh()

    def refresh(self):
        for t in self.tickers:
            self.books[t] = SimpleBookView.from_order_book(self.client.get_orderbook(t))

    def events(self, timeout):
        return iter(())


def order(ticker, side, price, count, tif=TimeInForce.GTC):
    """A limit order request from plain values (counts and prices as strings or ints, never floats)."""
    return OrderRequest(ticker=ticker, book_side=side, count=Decimal(count), yes_price=Decimal(price),
                        time_in_force=tif)
