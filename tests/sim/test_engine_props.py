"""Property tests of the matching engine's invariants (hypothesis)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.records import RESTING
from tests.sim.helpers import make_engine, make_market

ACCOUNTS = ("a", "b", "c")
place = st.tuples(
    st.just("place"), st.sampled_from(ACCOUNTS), st.sampled_from(("T", "D")), st.sampled_from(("bid", "ask")),
    st.integers(1, 999), st.integers(1, 1500),
    st.sampled_from(("good_till_canceled", "good_till_canceled", "immediate_or_cancel", "fill_or_kill")),
    st.sampled_from(("taker_at_cross", "maker")), st.booleans(), st.booleans())
cancel = st.tuples(st.just("cancel"), st.integers(0, 200))
amend = st.tuples(st.just("amend"), st.integers(0, 200), st.integers(1, 999), st.integers(1, 1500))
decrease = st.tuples(st.just("decrease"), st.integers(0, 200), st.integers(0, 1500))
actions = st.lists(st.one_of(place, place, place, cancel, amend, decrease), max_size=80)


def _snap_price(market, raw):
    prices = market.sorted_prices
    return prices[min(len(prices) - 1, raw * len(prices) // 1000)]


def check_invariants(engine, accounts, start_total):
    for book in engine.books.values():
        assert not book.is_crossed()
        for level in list(book.bids.values()) + list(book.asks.values()):
            assert level.qty == sum(o.remaining for o in level.queue if o.status == RESTING) > 0
    fills_by_order = defaultdict(int)
    total = 0
    for acct in accounts.values():
        assert acct.cash >= 0 and acct.reserved >= 0 and acct.cash >= acct.reserved
        live = [o for o in acct.orders if o.status == RESTING]
        assert acct.reserved == sum(o.reserved for o in live)
        for o in live:
            assert o.reserved == engine.reservation(o, engine.markets[o.ticker])
        for f in acct.fills:
            fills_by_order[f.order_id] += f.qty
        total += acct.cash + sum(p.fees for p in acct.positions.values())
        for pos in acct.positions.values():
            assert pos.committed_yes <= max(pos.pos, 0) and pos.committed_no <= max(-pos.pos, 0)
    for acct in accounts.values():
        for o in acct.orders:
            assert fills_by_order[o.order_id] == o.filled
            if o.status == RESTING:
                assert o.initial == o.filled + o.remaining
            else:
                assert o.remaining == 0
    oi = sum(m.open_interest for m in engine.markets.values())
    longs = sum(max(p.pos, 0) for a in accounts.values() for p in a.positions.values())
    shorts = sum(max(-p.pos, 0) for a in accounts.values() for p in a.positions.values())
    assert oi == longs == shorts
    # money is conserved: every open YES/NO pair locks exactly $1 (10,000 mu per count unit)
    assert total + oi * 10_000 == start_total


@settings(max_examples=150, deadline=None)
@given(actions, st.sampled_from(("yes", "no")))
def test_engine_invariants(script, result):
    engine, accounts = make_engine(make_market("T"), make_market("D", "quadratic", "tapered_deci_cent"),
                                   accounts=[(n, 40) for n in ACCOUNTS])
    start_total = sum(a.cash for a in accounts.values())
    orders = []
    for action in script:
        try:
            if action[0] == "place":
                _, who, ticker, side, raw_price, count, tif, stp, post_only, reduce_only = action
                price = _snap_price(engine.markets[ticker], raw_price)
                orders.append(engine.place(accounts[who], ticker, side, price, count, tif, stp,
                                           post_only=post_only, reduce_only=reduce_only))
            elif orders and action[0] == "cancel":
                o = orders[action[1] % len(orders)]
                before = o.account.reserved
                held = o.reserved
                was_live = o.status == RESTING
                engine.cancel(o.account, o.order_id)
                assert was_live and o.account.reserved == before - held
            elif orders and action[0] == "amend":
                o = orders[action[1] % len(orders)]
                engine.amend(o.account, o.order_id, o.ticker, o.side,
                             _snap_price(engine.markets[o.ticker], action[2]), o.filled + action[3])
            elif orders and action[0] == "decrease":
                o = orders[action[1] % len(orders)]
                engine.decrease(o.account, o.order_id, None, action[2])
        except SimError as exc:
            assert exc.status in (400, 404, 409)
        check_invariants(engine, accounts, start_total)
    # settle both markets: payouts return exactly the locked dollars
    from kalshi_trading.sim.exchange import SimExchange

    ex = SimExchange(engine.clock, engine=engine, participants=False)
    for ticker in ("T", "D"):
        ex.close(engine.markets[ticker], engine.clock.now_ms())
        ex.determine(engine.markets[ticker], result, engine.clock.now_ms())
        ex.finalize(engine.markets[ticker], engine.clock.now_ms())
    fees = sum(s.fee for a in accounts.values() for s in a.settlements)
    assert sum(a.cash for a in accounts.values()) + fees == start_total
    assert all(a.reserved == 0 for a in accounts.values())
