"""The bot's ledger: positions and P&L derived from its fills by the one lot engine (`trading.pnl.LotBook`, average
cost), exact to $0.000001; orders' filled and remaining derived from their fills; adjustments as explicit facts."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from kalshi_trading.auto.ledger import BotFill, FillSource, Ledger, OrderRecord
from kalshi_trading.models import BookSide
from kalshi_trading.trading.pnl import compute_pnl

T = "KXTEST-26JAN01-T50"
T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
BID, ASK = BookSide.BID, BookSide.ASK


def fill(n: int, side: BookSide, price: str, count, fee="0", order="o", minutes=0) -> BotFill:
    return BotFill(f"t{n}/{order}", order, T, side, D(price), D(count), D(fee), T0 + timedelta(minutes=minutes))


def test_average_cost_is_exact_through_thirds():
    ledger = Ledger()
    for i, price in enumerate(("0.33", "0.33", "0.34")):  # 3 YES for $1.00: the average is 1/3
        ledger.apply_fill(fill(i, BID, price, 1))
    ledger.apply_fill(fill(3, ASK, "0.50", 1))
    # removed = 1.00 x 1/3 = 0.333333 (floored); realized = 0.50 - 0.333333
    assert ledger.realized() == D("0.166667") and ledger.pnl(T).cost_basis == D("0.666667")
    ledger.apply_fill(fill(4, ASK, "0.50", 2))
    assert ledger.position(T) == 0 and ledger.pnl(T).cost_basis == 0
    assert ledger.realized() == D("0.50")  # 1.50 proceeds - 1.00 cost, to the cent and beyond


def test_short_side_and_flip():
    ledger = Ledger()
    ledger.apply_fill(fill(1, ASK, "0.60", 3))  # short 3 YES at 0.60 (= long 3 NO at 0.40)
    assert ledger.pnl(T).cost_basis == D("1.20")  # the NO held
    ledger.apply_fill(fill(2, BID, "0.50", 5))  # buy 5: close 3 at 0.50 (gain 0.30), open 2 long at 0.50
    assert ledger.realized() == D("0.30") and ledger.position(T) == 2 and ledger.pnl(T).cost_basis == D("1.00")
    assert ledger.unrealized({T: D("0.55")}) == D("0.10")


def test_the_bots_figures_are_the_journals_average_cost_figures():
    fills = [fill(1, BID, "0.41", 3, "0.0175"), fill(2, ASK, "0.47", 2, "0.0110", minutes=1),
             fill(3, ASK, "0.52", 4, "0.0200", minutes=2), fill(4, BID, "0.39", 1, "0.0070", minutes=3)]
    ledger = Ledger()
    for f in fills:
        assert ledger.apply_fill(f)
        assert not ledger.apply_fill(f)  # the same key twice counts once
    report = compute_pnl([f.as_fill() for f in fills], method="avg")
    assert (ledger.realized(), ledger.fees(), ledger.position(T)) == (report.realized_pnl, report.fees_paid, D(-2))
    assert ledger.realized_today == report.net_pnl  # all on one day, nothing rolled yet


def test_an_orders_filled_and_remaining_derive_from_its_fills():
    ledger = Ledger()
    ledger.add_order(OrderRecord("o", T, BID, D("0.40"), D(5)))
    ledger.apply_fill(fill(1, BID, "0.40", 2))
    order = ledger.orders["o"]
    assert (order.filled, order.remaining) == (D(2), D(3))
    ledger.amended("o", D("0.42"), D(2), D(4))  # amended to 4 more: total 6
    assert (order.count, order.filled, order.remaining) == (D(6), D(2), D(4))
    ledger.amended("o", D("0.42"), D(3), D(3))  # the exchange states a fill the bot has not seen yet
    assert order.remaining == D(4)  # ... counted once its fill arrives, not twice
    ledger.apply_fill(fill(2, BID, "0.42", 1))
    assert order.remaining == D(3)
    ledger.decreased("o", D(1))
    assert (order.cancelled, order.remaining) == (D(2), D(1))
    ledger.apply_fill(fill(3, BID, "0.42", 1))
    assert "o" not in ledger.orders  # nothing remaining: no longer working


def test_adjustments_force_the_exchanges_position_as_explicit_facts():
    ledger = Ledger()
    ledger.apply_fill(fill(1, BID, "0.40", 4))
    made = ledger.adjust(T, D(6), D("0.45"), T0)  # the exchange holds 2 more (fills the bot never saw)
    assert [(f.source, f.book_side, f.count, f.yes_price) for f in made] == [(FillSource.ADJUSTMENT, BID, D(2),
                                                                             D("0.45"))]
    assert ledger.position(T) == 6 and ledger.pnl(T).cost_basis == D("2.50")
    assert ledger.stats_of(T).fills == 1  # an adjustment is not a fill
    # unknown price: the part that shrinks leaves at its average cost (no P&L but the rounding of the average to a
    # price, $0.00005 a contract at most), a flip opens at zero cost
    made = ledger.adjust(T, D(-1), None, T0)
    assert [(f.book_side, f.count, f.yes_price) for f in made] == [(ASK, D(6), D("0.4167")), (ASK, D(1), D(1))]
    assert ledger.realized() == D("0.0002") and ledger.position(T) == -1 and ledger.pnl(T).cost_basis == 0
    assert ledger.adjust(T, D(-1), None, T0) == []  # in step: nothing recorded


def test_the_days_pnl_counts_the_fills_of_the_day():
    ledger = Ledger()
    ledger.roll_day(T0)
    ledger.apply_fill(fill(1, BID, "0.40", 2, "0.01"))
    ledger.apply_fill(fill(2, ASK, "0.50", 1, "0.01", minutes=1))
    assert ledger.realized_today == D("0.10") - D("0.02")
    assert ledger.roll_day(T0 + timedelta(days=1))
    assert ledger.realized_today == 0
    ledger.apply_fill(fill(3, ASK, "0.30", 1, minutes=24 * 60 + 5))
    assert ledger.realized_today == D("-0.10")
