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
