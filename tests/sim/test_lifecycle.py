"""Market lifecycle, listing, participants and determinism (in-process, manual clock)."""

from __future__ import annotations

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.exchange import SimExchange
from kalshi_trading.sim.records import Account
from tests.sim.conftest import T0
from tests.sim.helpers import assert_makers_straddle


def _exchange(seed=1, participants=True):
    ex = SimExchange(ManualClock(T0), seed=seed, participants=participants)
    ex.list_due(T0)
    return ex


def test_catalogue_has_every_kind():
    ex = _exchange()
    series = {m.series_ticker for m in ex.engine.markets.values()}
    assert series == {"KXBTCD", "KXHIGHNY", "KXRAINNYC", "KXBTC15M"}
    statuses = {m.status for m in ex.engine.markets.values()}
    assert {"active", "initialized"} <= statuses
    btc = [m for m in ex.engine.markets.values() if m.series_ticker == "KXBTCD"]
    assert all(m.strike_type == "greater" and m.fee_type == "quadratic_with_maker_fees" for m in btc)
    temp_event = next(e for e in ex.events.values() if e.series_ticker == "KXHIGHNY")
    assert temp_event.mutually_exclusive


def test_close_cancels_orders_and_settles_on_underlying():
    ex = _exchange(participants=False)
    acct = ex.engine.add_account(Account("x", "ux", "kx", "", 100_000_000))
    other = ex.engine.add_account(Account("y", "uy", "ky", "", 100_000_000))
    market = min((m for m in ex.engine.markets.values() if m.status == "active"), key=lambda m: m.close_ms)
    ex.engine.place(other, market.ticker, "ask", 5000, 100)
    ex.engine.place(acct, market.ticker, "bid", 5000, 100)
    resting = ex.engine.place(acct, market.ticker, "bid", 1000, 100)
    assert acct.reserved > 0
    ex.advance((market.close_ms - ex.clock.now_ms()) / 1000 + 1)
    assert market.status == "closed" and resting.status == "canceled" and acct.reserved == 0
    ex.advance(200)
    assert market.status == "finalized" and market.result in ("yes", "no")
    s = acct.settlements[0]
    assert s.revenue_mu == (1_000_000 if market.result == "yes" else 0)
    # markets for later hours were listed meanwhile: the exchange never runs dry
    assert any(m.status == "active" for m in ex.engine.markets.values())


def test_long_gap_rolls_forward_without_replaying():
    ex = _exchange()
    ex.advance(5)
    first = set(ex.events)
    ex.advance(3 * 86_400)
    active = [m for m in ex.engine.markets.values() if m.status == "active"]
    assert active and set(ex.events) != first
    assert {m.series_ticker for m in active} == {"KXBTCD", "KXHIGHNY", "KXRAINNYC", "KXBTC15M"}


def test_participants_quote_and_trade_deterministically():
    def run(seed):
        ex = _exchange(seed)
        for _ in range(3):  # in steps the exchange replays (a longer gap is jumped without background trading)
            ex.advance(100)
        books = {t: (b.depth("bid", 3), b.depth("ask", 3)) for t, b in ex.engine.books.items()}
        trades = sum(len(q) for q in ex.engine.trades.values())
        return books, trades, ex.world.spot

    a, b = run(5), run(5)
    assert a == b
    assert a[1] > 0  # the Poisson takers traded
    quoted = [t for t, (bids, asks) in a[0].items() if bids or asks]
    assert quoted
    assert run(6) != a


def test_quotes_straddle_btc_fair_value():
    ex = _exchange(3)
    ex.advance(2)
    quoted = 0
    for m in ex.engine.markets.values():
        if m.status != "active" or m.series_ticker != "KXBTCD":
            continue
        quoted += assert_makers_straddle(ex, m)  # each maker around its own view of the value
        assert not ex.engine.books[m.ticker].is_crossed()  # and no maker crosses another
    assert quoted > 0


def test_force_settle_void_refunds_cost():
    ex = _exchange(participants=False)
    a = ex.engine.add_account(Account("x", "ux", "kx", "", 100_000_000))
    b = ex.engine.add_account(Account("y", "uy", "ky", "", 100_000_000))
    ticker = next(m.ticker for m in ex.engine.markets.values() if m.status == "active")
    ex.engine.place(b, ticker, "ask", 3000, 200)
    ex.engine.place(a, ticker, "bid", 3000, 200)
    ex.settle(ticker, "void")
    assert a.settlements[0].result == "void" and a.settlements[0].revenue_mu == 600_000
    fees = a.settlements[0].fee
    assert a.cash == 100_000_000 - fees
