"""Issue 16's honesty checks of the backtest, against the real simulator (see each test's docstring)."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest

from kalshi_trading.api.signer import Signer
from kalshi_trading.auto.botconfig import parse_config
from kalshi_trading.auto.runner import BotRun, BotSetup, market_infos
from kalshi_trading.auto.strategies import MarketMaker
from kalshi_trading.auto.underlying import ExchangeClock
from kalshi_trading.backtest.engine import BacktestSpec, run_backtest
from kalshi_trading.backtest.matching import QueueModel
from kalshi_trading.backtest.report import build_report
from kalshi_trading.backtest.sweep import config_document
from kalshi_trading.config import load_private_key
from kalshi_trading.marketdata.feed_ws import Backoff, WebSocketFeed
from kalshi_trading.models import BookSide, TimeInForce
from kalshi_trading.replay.reader import Recording
from kalshi_trading.replay.schema import parse_ts
from kalshi_trading.sim import control
from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.runtime import start_embedded
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.executor import Executor
from tests.auto.states import open_state
from tests.e2e.conftest import T0, cent_market, client_for, order
from tests.e2e.test_record_replay_e2e import WAIT, Session, markets, trade_a_little

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path):
    """The simulator with its participants quoting and trading, on a clock that moves only when told to."""
    srv = start_embedded(tmp_path / "sim", seed=16, participants=True, clock=ManualClock(T0))
    try:
        yield srv
    finally:
        srv.stop()


def checkpoint(session: Session, tickers: list[str]) -> None:
    """Ask the recorder's feed for fresh snapshots and wait for them: everything before is recorded."""
    before = session.recorder.counts.snapshots
    assert session.feed.update_subscription("orderbook_delta", "get_snapshot", tickers) is not None
    session.wait(lambda: session.recorder.counts.snapshots >= before + len(tickers), "the checkpoint")


def test_bot_off_backtest_places_nothing_and_its_book_matches_every_checkpoint(server, tmp_path):
    """Honesty check 1 through the backtest: a recording of a simulator session (participants trading, another
    account trading, no bot) replayed by `kalshi backtest` with the bot switched off (`trading_enabled = false`)
    sends no order, and the book it trades against is the simulator's book at every checkpoint: each requested
    snapshot equals the book rebuilt from the deltas before it (the replay feed's checkpoint check), and equals the
    simulator's book as REST showed it with the simulator standing still."""
    from kalshi_trading.marketdata.book import orderbook_units

    tickers = markets(server, 2)
    bob = client_for(server.base_url, server.create_account(D(100_000)))
    rest = client_for(server.base_url, server.demo_account)
    session = Session(server, tmp_path / "rec", tickers)
    session.wait(lambda: session.recorder.counts.snapshots >= len(tickers), "the first snapshots")
    rng = random.Random(3)
    steps = 12
    for _ in range(steps):
        control.advance_exchange(server.exchange, rng.choice((1, 2, 5)))
        trade_a_little(rng, bob, tickers)
        checkpoint(session, tickers)
    final = {t: tuple(dict(side) for side in orderbook_units(rest.get_orderbook(t))) for t in tickers}
    checkpoint(session, tickers)
    session.close()

    run = run_backtest(BacktestSpec(tmp_path / "rec", config={"trading_enabled": False}, tickers=tuple(tickers)))
    report = build_report(run)
    assert report["orders"]["placed"] == 0 and report["fills"]["count"] == 0 and run.exchange.orders == {}
    assert report["orders"]["risk_denials"] > 0  # the strategy wanted quotes; the switched-off bot sent none
    assert report["problems"] == []
    assert run.replay.checkpoints == len(tickers) * (steps + 1)  # every snapshot matched the rebuilt book
    for t in tickers:  # the book the backtest ended on is the simulator's last book, level for level
        assert run.replay.books[t].levels_units() == final[t]


def drain(loop, feed, ticker: str) -> None:
    """The bot handles everything its feed has, up to a fresh snapshot it asked for (so nothing is left behind).

    The feed's own count tells when the snapshot arrived: the loop itself drains the feed while it sends (what
    comes in mid-pass is handled at the pass's end), so the snapshot's event need not pass through this helper."""
    deadline = time.monotonic() + WAIT
    before = feed.stats.snapshots
    while feed.update_subscription("orderbook_delta", "get_snapshot", [ticker]) is None:  # not subscribed yet
        assert time.monotonic() < deadline, "timed out waiting for the bot's subscription"
        for ev in feed.events(0.05):
            loop.handle(ev)
    while True:
        assert time.monotonic() < deadline, "timed out waiting for the bot's snapshot"
        arrived = feed.stats.snapshots > before
        handled = 0
        for ev in feed.events(0.05):
            loop.handle(ev)
            handled += 1
        if arrived and handled == 0:  # the snapshot was in, and nothing came after it unhandled
            return


@pytest.fixture
def quiet(tmp_path):
    """The simulator with no background participants: the market is what the test's accounts make of it."""
    srv = start_embedded(tmp_path / "quiet", seed=16, participants=False, clock=ManualClock(T0))
    try:
        yield srv
    finally:
        srv.stop()


BID, ASK, DEPTH = D("0.40"), D("0.42"), D(5)


def top_up(client, ticker: str) -> None:
    """The maker keeps at least DEPTH contracts at 0.40 and at 0.42 (new orders join the back of the queue)."""
    resting = list(client.iter_orders(ticker=ticker, status="resting"))
    for side, price in ((BookSide.BID, BID), (BookSide.ASK, ASK)):
        have = sum((o.remaining_count for o in resting if o.book_side == side.value), D(0))
        if have < DEPTH:
            client.create_order(order(ticker, side, str(price), str(DEPTH - have)))


def bursts(directory) -> tuple[float, float]:
    """(the longest burst, the shortest pause between bursts) of a recording's receive times, in seconds: a burst is
    a run of rows less than 0.2 s apart."""
    times = [r.ts_recv for r in Recording(directory).records([])]
    seconds = [(parse_ts(t) - parse_ts(times[0])).total_seconds() for t in times]
    spans, gaps, start = [], [], seconds[0]
    for a, b in zip(seconds, seconds[1:], strict=False):
        if b - a > 0.2:
            spans.append(a - start)
            gaps.append(b - a)
            start = b
    spans.append(seconds[-1] - start)
    return max(spans), min(gaps)


def test_conservative_backtest_of_a_recorded_bot_session_fills_no_more_than_the_live_run(quiet, tmp_path):
    """Honesty check 2: the market maker trades a simulator market live (over HTTP, with its own WebSocket feed)
    while the recorder records that market; the recording is backtested with the same configuration and the
    conservative queue model, and the fills compared with the live run's (the exchange's own record).

    The market: a maker account keeps 5 contracts bid at 0.40 and 5 offered at 0.42 (topping up with new orders,
    which join the back of the queue), and a taker account sends each step one immediate-or-cancel order of 1 to 8
    contracts, selling at 0.40 or buying at 0.42.  The background participants are off: the recording holds the
    live bot's own quotes, which the replayed bot cannot tell from anyone else's, and in a two-tick market both
    bots join the same best prices (one tick inside would cross), so the two runs quote alike; with participants'
    wider spreads the replayed bot would step one tick inside its live twin and the comparison would be of two
    different strategies.

    The simulator matches by price and time.  At each price the replayed bot joins the queue behind everything
    recorded there when its order arrives, its live twin included, and the conservative model fills it only from
    trades at its price once they have consumed all of that; so it must not fill more than the live bot did:
    asserted, in contracts.  The other way it fills less: it is one queue slot (its twin's 2 contracts) further
    back at every price and re-queues only after the twin has (and the maker's top-up) when a level empties, so
    a trade that ends inside the twin reaches it not at all.  Measured on this flow it fills about half the live
    contracts (13 of 29 with this seed); the stated tolerance is at least a third, which a model that stopped
    filling from trades (or filled only far less than a queue slot explains) fails.

    Timing: the simulator's clock stands still while the bot acts, so each step's messages (the trade, the top-up,
    the live bot's requotes) reach the recorder in one burst, with pauses between bursts.  The backtest's latency
    is set between the longest burst and the shortest pause (asserted apart), so a replayed order lands after the
    burst that prompted it (behind the live twin's requote) and before the next trade, as live.
    """
    server = quiet
    ticker = cent_market(server)
    maker = client_for(server.base_url, server.create_account(D(100_000)))
    taker = client_for(server.base_url, server.create_account(D(100_000)))
    top_up(maker, ticker)
    session = Session(server, tmp_path / "rec", [ticker])
    session.wait(lambda: session.recorder.counts.snapshots >= 1, "the first snapshot")
    account = server.create_account(D(100_000))
    client = client_for(server.base_url, account)
    journal = SqliteJournal.open(tmp_path / "journal.sqlite")
    executor = Executor(client, journal, "sim")
    feed = WebSocketFeed(server.ws_url, Signer(account.key_id, load_private_key(account.private_key_path)),
                         backoff=Backoff(initial=0.02, maximum=0.2))
    text = ("max_orders_per_minute = 600\nmax_total_exposure = 500\nmax_daily_loss = 100\n[defaults]\n"
            "quote_size = 2\nmax_inventory_yes = 50\nmax_inventory_no = 50\nmin_spread = 0.02\n"
            "inventory_skew_factor = 0\n")
    config = parse_config(text, "toml")
    state = open_state(tmp_path / "bot")
    run = BotRun(BotSetup(client=client, executor=executor, state=state, strategy=MarketMaker(), config=config,
                          tickers=(ticker,), clock=ExchangeClock(client), feed=feed, feed_name="ws"))
    loop = run.prepare()
    feed.subscribe([ticker])
    feed.start()
    rng = random.Random(16)
    try:
        drain(loop, feed, ticker)
        for _ in range(40):
            control.advance_exchange(server.exchange, 1)
            side = rng.choice((BookSide.BID, BookSide.ASK))  # the taker buys at 0.42 or sells at 0.40
            taker.create_order(order(ticker, side, str(ASK if side is BookSide.BID else BID), rng.randint(1, 8),
                                     TimeInForce.IOC))
            top_up(maker, ticker)
            drain(loop, feed, ticker)
            time.sleep(0.6)  # a pause between the bursts of two steps in the recording's receive time
    finally:
        run.shutdown("test end")
        state.close()
        journal.close()
    checkpoint(session, [ticker])
    session.close()
    live = list(client.iter_fills(ticker=ticker))
    live_size = sum((f.count for f in live), D(0))
    assert live, "the live bot never traded: nothing to compare"

    burst, pause = bursts(tmp_path / "rec")
    assert burst < pause, (burst, pause)  # the steps are told apart in the recording
    spec = BacktestSpec(tmp_path / "rec", "mm", config_document(config), timedelta(seconds=(burst + pause) / 2),
                        QueueModel.CONSERVATIVE, tickers=(ticker,), markets=market_infos(client, executor, [ticker]))
    report = build_report(run_backtest(spec))
    replayed = D(report["fills"]["filled_size"])
    assert report["problems"] == [] and report["orders"]["placed"] > 0
    assert replayed <= live_size, (replayed, live_size)
    assert replayed >= live_size / 3, (replayed, live_size)
    touch = build_report(run_backtest(replace(spec, queue=QueueModel.TOUCH)))
    assert D(touch["fills"]["filled_size"]) >= replayed  # the optimistic bound is above the conservative one
