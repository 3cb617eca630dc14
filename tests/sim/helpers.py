"""In-process engine fixtures shared by the engine tests."""

from __future__ import annotations

from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.engine import Engine
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import Account

T0 = 1_795_000_000_000
FAR = T0 + 10 * 86_400_000


def make_market(ticker="T", fee_type="quadratic_with_maker_fees", structure="linear_cent") -> Market:
    from kalshi_trading.money import GRIDS

    ranges = [(str(r.start), str(r.end), str(r.step)) for r in GRIDS[structure].ranges]
    m = Market(ticker=ticker, event_ticker="E", series_ticker="S", title="t", subtitle="", yes_sub_title="y",
               no_sub_title="n", created_ms=T0, open_ms=T0, close_ms=FAR, expected_expiration_ms=FAR,
               latest_expiration_ms=FAR, settlement_timer_seconds=60, rules_primary="", rules_secondary="",
               price_level_structure=structure, price_ranges=ranges, strike_type=None, floor_strike=None,
               cap_strike=None, fee_type=fee_type, fee_multiplier="1", can_close_early=False, underlying=None)
    m.status = "active"
    return m


def make_engine(*markets: Market, accounts=(("a", 1000),), clock=None) -> tuple[Engine, dict[str, Account]]:
    engine = Engine(clock or ManualClock(T0))
    for m in markets or (make_market(),):
        engine.add_market(m)
    out = {}
    for name, dollars in accounts:
        out[name] = engine.add_account(Account(name, "u-" + name, "k-" + name, "", int(dollars * 1_000_000)))
    return engine, out


def assert_makers_straddle(ex, market) -> int:
    """Every background maker's quotes on `market` straddle the fair value it quoted around (its own view: the
    index as it lagged behind, its own volatility), and that view is within its threshold of where it stands now.
    Returns how many makers quote the market."""
    from kalshi_trading.sim.makers import maker_fair

    book = ex.engine.books[market.ticker]
    quoting = 0
    for maker in ex.participants.makers:
        mine = [o for o in book.live_orders() if o.account is maker.account]
        if not mine:
            continue
        quoting += 1
        quoted, _ = maker.quoted[market.ticker]
        now = maker_fair(ex.world, market, maker.profile, ex.sim_ms)
        assert abs(now - quoted) <= maker.profile.threshold, (maker.profile, quoted, now)
        assert all(o.price / 10_000 < quoted for o in mine if o.side == "bid"), (maker.profile, quoted, mine)
        assert all(o.price / 10_000 > quoted for o in mine if o.side == "ask"), (maker.profile, quoted, mine)
    return quoting
