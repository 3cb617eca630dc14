"""Lot-accounting P&L: table tests with hand-computed answers, plus properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_trading.models import Fill, Settlement
from kalshi_trading.money import MoneyError
from kalshi_trading.trading.pnl import LotBook, compute_pnl, unrealized

D = Decimal
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
TICKER = "KXTEST-26MAR01-B50"


def fill(book_side: str, count: str, yes_price: str, fee: str = "0", minute: int = 0, ticker: str = TICKER) -> Fill:
    return Fill(
        fill_id=f"f-{ticker}-{minute}-{book_side}-{count}-{yes_price}", order_id=f"o{minute}", ticker=ticker,
        outcome_side="yes" if book_side == "bid" else "no", book_side=book_side, count=D(count),
        yes_price=D(yes_price), is_taker=True, fee=D(fee), created_time=T0 + timedelta(minutes=minute),
    )


def buy_yes(count, price, fee="0", minute=0):
    return fill("bid", count, price, fee, minute)


def sell_yes(count, price, fee="0", minute=0):
    return fill("ask", count, price, fee, minute)


def buy_no(count, no_price, fee="0", minute=0):
    # Buying NO at q is an ask (sell YES) at 1 - q.
    return fill("ask", count, str(1 - D(no_price)), fee, minute)


def settlement(result: str, yes_count="0", yes_cost="0", no_count="0", no_cost="0", fee="0", value=None, minute=99):
    return Settlement(
        ticker=TICKER, event_ticker="KXTEST-26MAR01", market_result=result, yes_count=D(yes_count),
        yes_total_cost=D(yes_cost), no_count=D(no_count), no_total_cost=D(no_cost), revenue=D(0),
        settled_time=T0 + timedelta(minutes=minute), fee=D(fee), value=value,
    )


def one(fills, settlements=(), method="fifo"):
    return compute_pnl(fills, settlements, method).get(TICKER)


def test_buy_yes_then_sell_part():
    # buy 10 YES @ 0.40 (cost 4.00); sell 4 @ 0.55: realized 4 x (0.55 - 0.40) = 0.60
    # open: 6 @ 0.40 = 2.40
    p = one([buy_yes("10", "0.40"), sell_yes("4", "0.55", minute=1)])
    assert p.position == D("6.00")
    assert p.realized_pnl == D("0.60")
    assert p.cost_basis == D("2.40")
    (lot,) = p.closed_lots
    assert (lot.side, lot.count, lot.cost, lot.proceeds, lot.gain) == ("yes", D("4"), D("1.60"), D("2.20"), D("0.60"))
    assert lot.acquired_time == T0 and lot.disposed_time == T0 + timedelta(minutes=1)


def test_buy_yes_then_buy_no_nets():
    # long 10 YES @ 0.40; buying 4 NO @ 0.45 is a YES sale at 1 - 0.45 = 0.55: realized 4 x 0.15 = 0.60
    p = one([buy_yes("10", "0.40"), buy_no("4", "0.45", minute=1)])
    assert p.position == D("6")
    assert p.realized_pnl == D("0.60")
    assert p.cost_basis == D("2.40")


def test_buy_no_then_buy_yes_closes_no_lots():
    # long 10 NO @ 0.30 (cost 3.00); buy 4 YES @ 0.60 = sell NO at 0.40: realized 4 x (0.40 - 0.30) = 0.40
    p = one([buy_no("10", "0.30"), buy_yes("4", "0.60", minute=1)])
    assert p.position == D("-6")
    assert p.realized_pnl == D("0.40")
    assert p.cost_basis == D("1.80")  # 6 x 0.30
    assert p.closed_lots[0].side == "no"


def test_flip_long_yes_to_long_no():
    # long 5 YES @ 0.30; buy 8 NO @ 0.60 (ask @ YES 0.40):
    #   closes 5 YES at 0.40: realized 5 x 0.10 = 0.50
    #   opens 3 NO at 0.60: cost basis 1.80, position -3
    p = one([buy_yes("5", "0.30"), buy_no("8", "0.60", minute=1)])
    assert p.position == D("-3")
    assert p.realized_pnl == D("0.50")
    assert p.cost_basis == D("1.80")
    (lot,) = p.open_lots
    assert (lot.side, lot.count, lot.cost) == ("no", D("3"), D("1.80"))


def test_fractional_counts():
    # buy 2.50 @ 0.33 (cost 0.825); sell 1.25 @ 0.47: realized 1.25 x 0.14 = 0.175; open 1.25 x 0.33 = 0.4125
    p = one([buy_yes("2.50", "0.33"), sell_yes("1.25", "0.47", minute=1)])
    assert p.position == D("1.25")
    assert p.realized_pnl == D("0.175")
    assert p.cost_basis == D("0.4125")


def test_fees_on_both_legs():
    # buy 10 @ 0.52, fee round_up(0.07 x 10 x 0.52 x 0.48 = 0.17472) = 0.1748
    # sell 10 @ 0.60, fee round_up(0.07 x 10 x 0.60 x 0.40 = 0.168) = 0.1680
    # realized gross 10 x 0.08 = 0.80; fees 0.3428; net 0.4572
    p = one([buy_yes("10", "0.52", "0.1748"), sell_yes("10", "0.60", "0.1680", minute=1)])
    assert p.realized_pnl == D("0.80")
    assert p.fees_paid == D("0.3428")
    assert p.net_pnl == D("0.4572")
    (lot,) = p.closed_lots
    assert lot.fees == D("0.3428") and lot.gain == D("0.4572")


def test_fees_allocated_pro_rata():
    # buy 10 @ 0.50 fee 0.0100; sell 4 @ 0.60 fee 0.0030
    # closed lot: 4/10 of the opening fee (0.0040) + all of the closing fee (0.0030) = 0.0070
    # gain = 2.40 - 2.00 - 0.0070 = 0.3930; open lot keeps 0.0060 of the opening fee
    p = one([buy_yes("10", "0.50", "0.0100"), sell_yes("4", "0.60", "0.0030", minute=1)])
    (closed,) = p.closed_lots
    assert closed.fees == D("0.0070") and closed.gain == D("0.3930")
    (opened,) = p.open_lots
    assert opened.fees == D("0.0060")
    assert p.fees_paid == D("0.0130")


def test_flip_splits_fee_between_close_and_open():
    # long 2 @ 0.50 (fee 0); sell 4 @ 0.50 fee 0.0100: half the count closes, half opens NO
    p = one([buy_yes("2", "0.50"), sell_yes("4", "0.50", "0.0100", minute=1)])
    assert p.closed_lots[0].fees == D("0.0050")
    assert p.open_lots[0].fees == D("0.0050")


def test_settlement_of_partly_closed_position():
    # buy 10 @ 0.40; sell 4 @ 0.55 (realized 0.60); settles YES: 6 x (1.00 - 0.40) = 3.60; total 4.20
    fills = [buy_yes("10", "0.40"), sell_yes("4", "0.55", minute=1)]
    p = one(fills, [settlement("yes", yes_count="6", yes_cost="2.40", fee="0.0100")])
    assert p.realized_pnl == D("4.20")
    assert p.position == 0 and p.cost_basis == 0
    # The settlement's fee_cost reports fees already paid on the fills (none here); it is not charged again.
    assert p.fees_paid == D("0")
    last = p.closed_lots[-1]
    assert (last.count, last.proceeds, last.cost, last.fees) == (D("6"), D("6.00"), D("2.40"), D("0"))
    # settles NO instead: 6 x (0 - 0.40) = -2.40; total 0.60 - 2.40 = -1.80
    assert one(fills, [settlement("no", yes_count="6", yes_cost="2.40")]).realized_pnl == D("-1.80")


def test_settlement_of_no_position():
    # 5 NO @ 0.30 (ask @ 0.70); market resolves NO: 5 x (1 - 0.30) = 3.50
    p = one([buy_no("5", "0.30")], [settlement("no", no_count="5", no_cost="1.50")])
    assert p.realized_pnl == D("3.50")
    assert p.closed_lots[0].side == "no"


def test_settlement_without_fills_uses_its_own_lots():
    # No fills on record; settlement says 5 YES cost 2.00, resolves YES: 5.00 - 2.00 = 3.00
    p = one([], [settlement("yes", yes_count="5", yes_cost="2.00")])
    assert p.realized_pnl == D("3.00")
    assert p.closed_lots[0].acquired_time is None


def test_scalar_settlement():
    # 10 YES @ 0.40 settle at value 0.65 per YES: 10 x 0.25 = 2.50
    p = one([buy_yes("10", "0.40")], [settlement("scalar", yes_count="10", yes_cost="4", value=D("0.65"))])
    assert p.realized_pnl == D("2.50")


def test_void_market_returns_cost():
    # buy 10 @ 0.40; sell 4 @ 0.55 (realized 0.60); void: the remaining 6 come back at cost, P&L 0 on them
    fills = [buy_yes("10", "0.40", "0.0168"), sell_yes("4", "0.55", minute=1)]
    p = one(fills, [settlement("void", yes_count="6", yes_cost="2.40")])
    assert p.realized_pnl == D("0.60")
    assert p.position == 0
    void_lot = p.closed_lots[-1]
    assert void_lot.proceeds == void_lot.cost == D("2.40")
    # the lot still carries its 6/10 share of the opening fee (0.01008), so its gain is just minus that fee
    assert void_lot.fees == D("0.010080") and void_lot.gain == D("-0.010080")


def test_fifo_and_average_cost_differ_then_agree_when_flat():
    # buy 1 @ 0.20, buy 1 @ 0.60, sell 1 @ 0.50
    #   FIFO: 0.50 - 0.20 = 0.30        AVG: 0.50 - 0.40 = 0.10
    # then sell the last 1 @ 0.50
    #   FIFO: 0.30 + (0.50 - 0.60) = 0.20 AVG: 0.10 + (0.50 - 0.40) = 0.20
    fills = [buy_yes("1", "0.20"), buy_yes("1", "0.60", minute=1), sell_yes("1", "0.50", minute=2)]
    assert one(fills, method="fifo").realized_pnl == D("0.30")
    assert one(fills, method="avg").realized_pnl == D("0.10")
    assert one(fills, method="avg").cost_basis == D("0.40")
    flat = fills + [sell_yes("1", "0.50", minute=3)]
    assert one(flat, method="fifo").realized_pnl == one(flat, method="avg").realized_pnl == D("0.20")


def test_average_cost_rounding_stays_in_basis():
    # buy 1 @ 0.10 + 2 @ 0.11 = 0.32 for 3; sell 1 @ 0.20 removes floor(0.32 / 3) = 0.106666 of basis
    #   realized 0.20 - 0.106666 = 0.093334; basis left 0.213334
    # sell 2 @ 0.20: realized 0.40 - 0.213334 = 0.186666; total 0.28 = FIFO's 0.10 + 2 x 0.09
    fills = [buy_yes("1", "0.10"), buy_yes("2", "0.11", minute=1), sell_yes("1", "0.20", minute=2)]
    p = one(fills, method="avg")
    assert p.realized_pnl == D("0.093334") and p.cost_basis == D("0.213334")
    flat = one(fills + [sell_yes("2", "0.20", minute=3)], method="avg")
    assert flat.realized_pnl == D("0.28") and flat.cost_basis == 0


def test_unrealized():
    # long 10 YES cost 4.00 marked at 0.55: 5.50 - 4.00 = 1.50
    assert unrealized(D("10"), D("4.00"), D("0.55")) == D("1.50")
    # long 10 NO cost 6.00, YES marked 0.30 -> NO worth 0.70 x 10 = 7.00: +1.00
    assert unrealized(D("-10"), D("6.00"), D("0.30")) == D("1.00")
    assert unrealized(D("0"), D("0"), D("0.50")) == 0


def test_report_totals_and_unsorted_input():
    a = fill("bid", "1", "0.40", "0.01", minute=0, ticker="A")
    b = fill("ask", "1", "0.50", "0.01", minute=5, ticker="A")
    c = fill("bid", "2", "0.10", minute=1, ticker="B")
    report = compute_pnl([b, c, a])  # out of order: sorted by created_time
    assert report.realized_pnl == D("0.10")
    assert report.fees_paid == D("0.02")
    assert report.net_pnl == D("0.08")
    assert report.cost_basis == D("0.20")
    assert [t.ticker for t in report.tickers] == ["A", "B"]


def test_streaming_matches_batch_and_unit_entry():
    fills = [buy_yes("10", "0.40", "0.02"), buy_no("12", "0.45", "0.03", minute=1)]
    book = LotBook()
    for f in fills:
        book.apply_fill(f)
    units = LotBook()
    units.apply_units(TICKER, 1000, 4000, 20_000, T0)
    units.apply_units(TICKER, -1200, 5500, 30_000, T0 + timedelta(minutes=1))
    assert book.ticker_pnl(TICKER) == units.ticker_pnl(TICKER) == one(fills)


def test_bad_inputs_refused():
    with pytest.raises(MoneyError):
        one([buy_yes("1.001", "0.40")])
    with pytest.raises(MoneyError):
        one([buy_yes("1", "0.400001")])
    with pytest.raises(ValueError):
        one([fill("sideways", "1", "0.40")])
    with pytest.raises(ValueError):
        LotBook("lifo")


# -- properties ------------------------------------------------------------------------------------------------

trades = st.lists(
    st.tuples(
        st.sampled_from(["bid", "ask"]),
        st.integers(min_value=1, max_value=2_000),  # count in 0.01 steps
        st.integers(min_value=1, max_value=99),  # cents
        st.integers(min_value=0, max_value=500),  # fee in $0.0001
    ),
    max_size=40,
)


def to_fills(raw) -> list[Fill]:
    return [
        fill(side, str(D(c) / 100), str(D(p) / 100), str(D(f) / 10_000), minute=i)
        for i, (side, c, p, f) in enumerate(raw)
    ]


def net_trading_cash(fills: list[Fill]) -> Decimal:
    """Gross cash of the trades under netting, worked out from positions alone (no lots)."""
    pos, cash = D(0), D(0)
    for f in fills:
        d = f.signed_count
        closing = min(abs(d), abs(pos)) if pos and (pos > 0) != (d > 0) else D(0)
        opening = abs(d) - closing
        held_price = f.yes_price if pos > 0 else f.no_price  # disposal price of the held side
        new_price = f.yes_price if d > 0 else f.no_price  # cost of the side being opened
        cash += closing * held_price - opening * new_price
        pos += d
    return cash


@settings(max_examples=200, deadline=None)
@given(trades, st.sampled_from(["fifo", "avg"]))
def test_accounting_identities(raw, method):
    fills = to_fills(raw)
    p = compute_pnl(fills, method=method).get(TICKER)
    if not fills:
        assert p is None
        return
    # realized - open basis = proceeds - all costs = net trading cash, for any lot method
    assert p.realized_pnl - p.cost_basis == net_trading_cash(fills)
    assert p.position == sum((f.signed_count for f in fills), D(0))
    fees = sum((f.fee for f in fills), D(0))
    assert p.fees_paid == fees
    assert sum((lot.fees for lot in p.closed_lots), D(0)) + sum((lot.fees for lot in p.open_lots), D(0)) == fees
    assert sum((lot.count for lot in p.open_lots), D(0)) == abs(p.position)
    assert sum((lot.proceeds - lot.cost for lot in p.closed_lots), D(0)) == p.realized_pnl


@settings(max_examples=200, deadline=None)
@given(trades, st.integers(min_value=1, max_value=99))
def test_fifo_and_avg_agree_once_flat(raw, close_cents):
    fills = to_fills(raw)
    pos = sum((f.signed_count for f in fills), D(0))
    if pos:
        side = "ask" if pos > 0 else "bid"
        fills.append(fill(side, str(abs(pos)), str(D(close_cents) / 100), minute=len(fills)))
    fifo = compute_pnl(fills, method="fifo")
    avg = compute_pnl(fills, method="avg")
    assert fifo.realized_pnl == avg.realized_pnl
    assert fifo.cost_basis == avg.cost_basis == 0


@settings(max_examples=100, deadline=None)
@given(trades, st.sampled_from(["yes", "no", "void"]))
def test_settlement_flattens_and_keeps_identity(raw, result):
    fills = to_fills(raw)
    p = compute_pnl(fills, [settlement(result)]).get(TICKER)
    assert p.position == 0 and p.cost_basis == 0 and p.open_lots == ()
    assert sum((lot.proceeds - lot.cost for lot in p.closed_lots), D(0)) == p.realized_pnl


def test_settlement_without_fills_counts_its_fee():
    # No fills in the journal (traded before it began): lots come from the settlement, and so do the fees.
    p = one([], [settlement("yes", yes_count="6", yes_cost="2.40", fee="0.0100")])
    assert p.realized_pnl == D("3.60") and p.fees_paid == D("0.0100")
    assert p.closed_lots[-1].fees == D("0.0100")


def test_fills_without_time_go_first_and_ties_keep_order():
    untimed = Fill(fill_id="u", order_id="o", ticker=TICKER, outcome_side="yes", book_side="bid", count=D("1"),
                   yes_price=D("0.10"), is_taker=True, fee=D("0"), created_time=None)
    # input order: sell @ 0.50 at T0, buy 1 @ 0.30 at T0 (tie), untimed buy 1 @ 0.10 (goes first)
    # FIFO: the untimed lot (0.10) is closed by the sale: realized 0.40; the 0.30 lot stays open
    p = one([sell_yes("1", "0.50"), buy_yes("1", "0.30"), untimed])
    assert p.realized_pnl == D("0.40") and p.cost_basis == D("0.30")
