"""Issue 16, honesty check 1: a recording of a simulator session (bot off) replays to the simulator's own book.

The simulator runs on a manual clock with its background participants on, moved a few simulated seconds at a
time while another account trades; the recorder listens to the real WebSocket feed.  After every step, with the
simulator standing still, the test reads each book over REST and asks the feed for fresh snapshots.  So the
check is exact and cannot race:

* every requested snapshot is the simulator's book at that sequence number (it equals the REST read taken just
  before it, the simulator having not moved), and the replay finds the book it rebuilt from the deltas before
  it equal to it (a *checkpoint*): between two checkpoints every delta of the simulator is accounted for;
* at every sequence number in between, the replayed book equals the book the live feed held at that message
  (copied as the live events were handed out), and the replay yields the very events the live feed yielded.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.api.signer import Signer
from kalshi_trading.config import load_private_key
from kalshi_trading.marketdata.book import orderbook_units
from kalshi_trading.marketdata.events import BookStale, BookUpdated, LifecycleEvent, LifecycleMsg, Resynced
from kalshi_trading.marketdata.feed_ws import Backoff, WebSocketFeed
from kalshi_trading.models import BookSide, TimeInForce
from kalshi_trading.replay.feed import ReplayFeed
from kalshi_trading.replay.recorder import Recorder
from kalshi_trading.replay.writer import SessionWriter
from kalshi_trading.sim import control
from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.runtime import start_embedded
from tests.e2e.conftest import T0, client_for, order

pytestmark = pytest.mark.e2e
CHANNELS = ("orderbook_delta", "trade", "ticker", "market_lifecycle_v2")
WAIT = 60.0  # seconds a condition may take to come true (never a timing assert: only a bound against hanging)


@pytest.fixture
def server(tmp_path):
    """The simulator with its participants quoting and trading, on a clock that moves only when told to."""
    clock = ManualClock(T0)
    srv = start_embedded(tmp_path / "sim", seed=5, participants=True, clock=clock)
    try:
        yield srv
    finally:
        srv.stop()


def markets(server, k: int = 3) -> list[str]:
    """`k` neighbouring strikes in the middle of the KXBTCD event that closes last (open through the test)."""
    active = [m for m in server.exchange.engine.markets.values()
              if m.series_ticker == "KXBTCD" and m.status == "active"]
    last = max(m.close_ms for m in active)
    ladder = sorted((m for m in active if m.close_ms == last), key=lambda m: m.ticker)
    mid = len(ladder) // 2
    return [m.ticker for m in ladder[mid - k // 2: mid - k // 2 + k]]


class Session:
    """The recorder on the live feed in a thread, keeping what the live feed handed out (and its books then)."""

    def __init__(self, server, directory, tickers):
        account = server.demo_account
        self.feed = WebSocketFeed(server.ws_url, Signer(account.key_id, load_private_key(account.private_key_path)),
                                  CHANNELS, backoff=Backoff(initial=0.02, maximum=0.2), resync_timeout=3.0)
        self.writer = SessionWriter(directory, tickers, datetime.now(timezone.utc))
        self.recorder = Recorder(self.feed, self.writer)
        self.live: list = []
        self.books: list[tuple] = []  # the live book of each BookUpdated, as it was then
        self.stop = threading.Event()
        self.feed.subscribe(tickers)
        self.feed.start()
        self.thread = threading.Thread(target=self._run, name="test-recorder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for event in self.feed.events(timeout=0.05):
                self.live.append(event)
                if isinstance(event, BookUpdated):
                    self.books.append(self.feed.books[event.ticker].levels_units())
                self.recorder.handle(event)
            self.writer.maybe_flush()

    def wait(self, predicate, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.01)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(WAIT)
        self.feed.stop()
        self.writer.close(datetime.now(timezone.utc), self.recorder.counts.as_dict(), self.recorder.clock_fit())


def trade_a_little(rng: random.Random, bob, tickers: list[str]) -> None:
    """A few orders from another account: resting ones that move levels, crossing ones that trade."""
    for _ in range(rng.randint(1, 3)):
        ticker = rng.choice(tickers)
        side = rng.choice((BookSide.BID, BookSide.ASK))
        price = D(rng.randint(5, 95)) / 100
        tif = rng.choice((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC))
        bob.create_order(order(ticker, side, str(price), str(rng.randint(1, 20)), tif))


def replay_and_compare(directory, tickers, session: Session) -> tuple[ReplayFeed, list]:
    feed = ReplayFeed(directory)
    feed.subscribe(tickers)
    replayed = []
    i = 0
    for event in feed.events():
        replayed.append(event)
        if isinstance(event, BookUpdated):  # at every sequence number: the live feed's book at that message
            assert feed.books[event.ticker].levels_units() == session.books[i], (i, event)
            i += 1
    assert i == len(session.books)
    assert replayed[:len(session.live)] == session.live  # the same typed events, in the same order
    ended = replayed[len(session.live):]  # then the end of the recording: no book carried past it
    assert ended and all(isinstance(e, BookStale) and e.reason == "recording ended" for e in ended)
    return feed, replayed


def test_replay_reproduces_the_simulators_book_at_every_sequence_number(server, tmp_path):
    tickers = markets(server)
    bob = client_for(server.base_url, server.create_account(D(100_000)))
    rest = client_for(server.base_url, server.demo_account)
    session = Session(server, tmp_path / "rec", tickers)
    session.wait(lambda: session.recorder.counts.snapshots >= len(tickers), "the first snapshots")
    rng = random.Random(16)
    steps = 30
    expected: list[dict] = []  # per step: ticker -> (yes, no) units read over REST with the simulator still
    for k in range(steps):
        control.advance_exchange(server.exchange, rng.choice((1, 2, 5)))  # simulated seconds: participants act
        trade_a_little(rng, bob, tickers)
        expected.append({t: tuple(dict(side) for side in orderbook_units(rest.get_orderbook(t))) for t in tickers})
        assert session.feed.update_subscription("orderbook_delta", "get_snapshot", tickers) is not None
        # the simulator answers the command in its own time: it must not move before it has
        session.wait(lambda k=k: session.recorder.counts.snapshots >= len(tickers) * (k + 2), "the checkpoint")
    server.exchange.settle(tickers[0], "yes")  # lifecycle events (and the book emptied) are recorded too
    session.wait(lambda: session.recorder.counts.lifecycle >= 2, "the settlement's lifecycle events")
    session.close()
    counts = session.recorder.counts
    assert counts.deltas > 100 and counts.trades > 5 and counts.stale == 0, counts  # a session worth checking

    feed, _ = replay_and_compare(tmp_path / "rec", tickers, session)
    assert feed.problems == [] and feed.gaps == []
    assert feed.checkpoints == len(tickers) * steps  # every requested snapshot matched the rebuilt book
    # ... and each of those snapshots is the simulator's book as REST showed it at that step
    again = ReplayFeed(tmp_path / "rec")
    again.subscribe(tickers)
    seen = {t: 0 for t in tickers}
    for event in again.events():
        if isinstance(event, BookUpdated) and event.snapshot:
            k = seen[event.ticker]
            if k:
                assert again.books[event.ticker].levels_units() == expected[k - 1][event.ticker], (event, k)
            seen[event.ticker] = k + 1
    assert seen == {t: steps + 1 for t in tickers}
    settled = [e for e in session.live if isinstance(e, LifecycleMsg)]
    assert {e.event_type for e in settled} >= {LifecycleEvent.DETERMINED, LifecycleEvent.SETTLED}
    assert feed.books[tickers[0]].levels_units() == ({}, {})  # settled: every resting order went


def test_a_gap_and_a_dropped_connection_are_recorded_and_replayed_as_resyncs(server, tmp_path):
    tickers = markets(server, 2)
    bob = client_for(server.base_url, server.create_account(D(100_000)))
    rest = client_for(server.base_url, server.demo_account)
    session = Session(server, tmp_path / "rec", tickers)
    session.wait(lambda: session.recorder.counts.snapshots >= len(tickers), "the first snapshots")
    rng = random.Random(7)
    server.drop_next_delta()  # the simulator skips a sequence number
    for _ in range(3):
        control.advance_exchange(server.exchange, 2)
        trade_a_little(rng, bob, tickers)
    session.wait(lambda: any(isinstance(e, Resynced) for e in session.live), "the live resync after the gap")
    server.close_connections()  # the connection dies; the feed reconnects and resubscribes
    session.wait(lambda: sum(isinstance(e, Resynced) for e in session.live) >= 1 + len(tickers), "the reconnect")
    for _ in range(3):
        control.advance_exchange(server.exchange, 2)
        trade_a_little(rng, bob, tickers)
    final = {t: tuple(dict(side) for side in orderbook_units(rest.get_orderbook(t))) for t in tickers}
    session.feed.update_subscription("orderbook_delta", "get_snapshot", tickers)
    before = session.recorder.counts.snapshots
    session.wait(lambda: session.recorder.counts.snapshots >= before + len(tickers), "the final checkpoint")
    session.close()
    assert session.recorder.counts.stale >= len(tickers)  # the live feed's doubts are in the recording

    feed, replayed = replay_and_compare(tmp_path / "rec", tickers, session)
    assert len(feed.gaps) == 1 and "seq" in feed.gaps[0].message  # the one the simulator made, found again
    assert {"Disconnected", "Reconnected", "Resynced", "BookStale"} <= {type(e).__name__ for e in replayed}
    for t in tickers:
        assert feed.books[t].levels_units() == final[t]
