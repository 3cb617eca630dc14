"""Fee and P&L table tests with hand-computed answers (reference section 8)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_trading.money import fill_fee
from kalshi_trading.sim import wire
from kalshi_trading.sim.exchange import SimExchange
from kalshi_trading.sim.market import fee_mu, fee_ratio
from tests.sim.helpers import make_engine, make_market


@pytest.mark.parametrize("count,price,fee_type,taker,expected", [
    ("1", "0.52", "quadratic_with_maker_fees", True, "0.017500"),
    ("1", "0.99", "quadratic", True, "0.000700"),
    ("1", "0.50", "quadratic", True, "0.017500"),
    ("10", "0.50", "quadratic", True, "0.175000"),
    ("1", "0.52", "quadratic_with_maker_fees", False, "0.004400"),
    ("1", "0.52", "quadratic", False, "0.000000"),
    ("0.01", "0.001", "quadratic", True, "0.000100"),
    ("3.33", "0.055", "quadratic_with_combo_maker_fees", False, "0.006100"),
])
def test_fee_table(count, price, fee_type, taker, expected):
    cu, pu = int(Decimal(count) * 100), int(Decimal(price) * 10_000)
    got = fee_mu(cu, pu, fee_ratio(fee_type, taker, "1"))
    assert wire.fee(got) == expected
    assert Decimal(expected) == fill_fee(Decimal(count), Decimal(price), fee_type, taker)


def test_fee_matches_money_module_everywhere():
    for pu in range(10, 10_000, 37):
        for cu in (1, 7, 100, 12_345):
            for taker in (True, False):
                dec = fill_fee(Decimal(cu) / 100, Decimal(pu) / 10_000, "quadratic_with_maker_fees", taker)
                assert fee_mu(cu, pu, fee_ratio("quadratic_with_maker_fees", taker, "1")) == int(dec * 1_000_000)


def _trade(engine, buyer, seller, side, price, count, ticker="T"):
    """`buyer` takes `side` against a resting order from `seller`."""
    other = "ask" if side == "bid" else "bid"
    engine.place(seller, ticker, other, price, count)
    return engine.place(buyer, ticker, side, price, count, "immediate_or_cancel")


def test_observed_pnl_example():
    engine, acc = make_engine(accounts=[("a", 100), ("b", 100)])
    a, b = acc["a"], acc["b"]
    for price in (5200, 9900, 9900):
        _trade(engine, a, b, "bid", price, 100)
    row = wire.market_position(a.positions["T"])
    assert row["total_traded_dollars"] == "2.5000" and row["market_exposure_dollars"] == "2.5000"
    assert row["fees_paid_dollars"] == "0.0189" and row["realized_pnl_dollars"] == "0.0000"
    assert row["position_fp"] == "3.00"
    assert a.cash == 100_000_000 - 2_500_000 - 18_900


def test_netting_buy_no_while_long_yes():
    engine, acc = make_engine(accounts=[("a", 100), ("b", 100)])
    a, b = acc["a"], acc["b"]
    _trade(engine, a, b, "bid", 4000, 1000)  # long 10 YES @ 0.40
    cash = a.cash
    # buy 4 NO @ 0.30 = ask 4 @ 0.70 YES: closes 4 YES, realised (0.70 - 0.40) x 4
    _trade(engine, a, b, "ask", 7000, 400)
    pos = a.positions["T"]
    assert pos.pos == 600
    assert wire.money(pos.realized) == "1.2000"
    assert wire.money(pos.cost) == "2.4000"
    fee = fee_mu(400, 7000, engine.markets["T"].taker_ratio)
    assert a.cash == cash + 7000 * 400 - fee  # + price x count - fee
    # the ask was covered by the YES held: no collateral needed
    assert a.reserved == 0


def test_partial_close_then_flip_average_cost():
    engine, acc = make_engine(accounts=[("a", 100), ("b", 100)])
    a, b = acc["a"], acc["b"]
    _trade(engine, a, b, "bid", 3000, 300)
    _trade(engine, a, b, "bid", 6000, 100)  # avg cost (0.90 + 0.60) / 4 = 0.375
    _trade(engine, a, b, "ask", 5000, 600)  # close 4 @ 0.50, open 2 NO @ 0.50
    pos = a.positions["T"]
    assert pos.pos == -200
    assert wire.money(pos.realized) == "0.5000"  # 4 x (0.50 - 0.375)
    assert wire.money(pos.cost) == "1.0000"  # 2 NO @ 0.50


def test_covered_ask_needs_no_collateral_but_uncovered_part_does():
    engine, acc = make_engine(accounts=[("a", 100), ("b", 100)])
    a, b = acc["a"], acc["b"]
    _trade(engine, a, b, "bid", 5000, 200)
    o = engine.place(a, "T", "ask", 8000, 500)  # 2 covered, 3 need (1 - 0.80) + fee
    assert o.covered == 200
    assert o.reserved == 2000 * 300 + fee_mu(300, 8000, engine.markets["T"].taker_ratio)
    engine.cancel(a, o.order_id)
    assert a.reserved == 0 and a.positions["T"].committed_yes == 0


@pytest.mark.parametrize("result,revenue_cents,value", [("yes", 300, 100), ("no", 0, 0), ("void", 156, None)])
def test_settlement(result, revenue_cents, value):
    engine, acc = make_engine(accounts=[("a", 100), ("b", 100)])
    a, b = acc["a"], acc["b"]
    _trade(engine, a, b, "bid", 5200, 300)  # a long 3 YES @ 0.52, b short 3 (NO @ 0.48)
    ex = SimExchange(engine.clock, engine=engine, participants=False)
    ex.settle("T", result)
    s = a.settlements[0]
    row = wire.settlement(s)
    assert row["market_result"] == result and row["revenue"] == revenue_cents and row["value"] == value
    assert row["yes_count_fp"] == "3.00" and row["yes_total_cost_dollars"] == "1.5600"
    assert row["no_count_fp"] == "0.00" and row["fee_cost"] == "0.052500"
    assert "T" not in a.positions  # positions list only unsettled markets
    nb = wire.settlement(b.settlements[0])
    assert nb["no_count_fp"] == "3.00" and nb["no_total_cost_dollars"] == "1.4400"
    if result == "no":
        assert nb["revenue"] == 300
    if result == "void":
        assert a.cash == 100_000_000 - 52_500 and nb["revenue"] == 144
    assert engine.markets["T"].status == "finalized"


def test_maker_fee_only_for_maker_fee_series():
    engine, acc = make_engine(make_market("Q", "quadratic"), accounts=[("a", 100), ("b", 100)])
    engine.place(acc["b"], "Q", "ask", 5000, 100)
    engine.place(acc["a"], "Q", "bid", 5000, 100)
    assert acc["b"].fills[0].fee == 0 and acc["a"].fills[0].fee == 17_500
