"""The cash / position / max-loss rule, table-tested with answers computed by hand.

Rates: taker 0.07, maker 0.0175 (a maker-fee series) unless a row says otherwise.  Fees round up to $0.0001
per execution.  `held` is what a resting remainder holds: leg x uncovered + the taker fee at its limit.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kalshi_trading.models import BookSide, PriceLevel, TimeInForce
from kalshi_trading.trading.order_effects import AccountState, FeeRates, OrderTerms, coverage, order_effects

BID, ASK = BookSide.BID, BookSide.ASK
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
RATES = FeeRates(D("0.07"), D("0.0175"))
NO_MAKER_FEE = FeeRates(D("0.07"), D(0))


def levels(*pairs: tuple[str, str]) -> list[PriceLevel]:
    return [PriceLevel(D(p), D(c)) for p, c in pairs]


# (name, balance, position, committed, side, count, yes_price, tif, book, reduce_only, rates, own_cross,
#  cash_now, position_now, cash_if_filled, position_if_filled, max_loss)
CASES = [
    # Buy 10 YES @ 52 from flat on an empty book: it rests and holds 5.20 + taker fee 0.1748 (0.17472).
    # Filled later as a maker: fee 0.0175 x 10 x 0.2496 = 0.04368 -> 0.0437.
    ("buy yes flat, rests", "1000", "0", "0", BID, "10", "0.52", GTC, [], False, RATES, None,
     "994.6252", "0", "994.7563", "10", "5.2437"),
    # The first case: SELL 2 YES from flat into a 47c bid = buying NO at 53c: -1.06 - 0.0349.
    ("sell yes flat = buy no", "1000", "0", "0", ASK, "2", "0.47", IOC, [("0.47", "5")], False, RATES, None,
     "998.9051", "-2", "998.9051", "-2", "1.0949"),
    # The second case: BUY 2 YES at 53c while holding 2 NO closes them: +2 x 0.47 - 0.0349.
    ("buy yes while short", "998.9051", "-2", "0", BID, "2", "0.53", IOC, [("0.53", "5")], False, RATES, None,
     "999.8102", "0", "999.8102", "0", "0.0349"),
    # Sell 4 of 10 YES held at 60c: +2.40 - 0.0672 (0.07 x 4 x 0.24).
    ("sell yes held", "1000", "10", "0", ASK, "4", "0.60", GTC, [("0.60", "4")], False, RATES, None,
     "1002.3328", "6", "1002.3328", "6", "0.0672"),
    # Sell 5 YES holding 2 at 40c: closes 2 (+0.80), opens 3 NO (-1.80), fee 0.0840.
    ("sell through zero", "1000", "2", "0", ASK, "5", "0.40", IOC, [("0.40", "5")], False, RATES, None,
     "998.916", "-3", "998.916", "-3", "1.884"),
    # Hold 5 YES, 3 already promised to own resting asks: only 2 close (+0.80), 2 open NO (-1.20), fee 0.0672.
    ("committed to own asks", "1000", "5", "3", ASK, "4", "0.40", IOC, [("0.40", "4")], False, RATES, None,
     "999.5328", "1", "999.5328", "1", "1.2672"),
    # Buy 10 NO @ 45 (ask at YES 55) from flat; bids 60x3, 55x2, 50x9.  3 @ 60 cost 0.40 each + 0.0504;
    # 2 @ 55 cost 0.45 each + 0.0347 (0.03465); 5 rest and hold 2.25 + 0.0867 (0.086625).
    # Filled later: 5 x 0.45 + maker fee 0.0217 (0.02165625).
    ("buy no partly crossing", "1000", "0", "0", ASK, "10", "0.55", GTC, [("0.60", "3"), ("0.55", "2"), ("0.50", "9")],
     False, RATES, None, "995.4782", "-5", "995.5432", "-10", "4.4568"),
    # FoK that the book cannot fill entirely: nothing happens.
    ("fok short of liquidity", "1000", "0", "0", BID, "5", "0.50", FOK, [("0.48", "3")], False, RATES, None,
     "1000", "0", "1000", "0", "0"),
    # IOC whose limit does not reach the book: cancelled at once, no fee.
    ("ioc below the ask", "1000", "0", "0", BID, "5", "0.40", IOC, [("0.45", "9")], False, RATES, None,
     "1000", "0", "1000", "0", "0"),
    # Reduce-only sell of 5 YES holding 3: capped at 3; +1.50 - 0.0525.
    ("reduce-only cap", "1000", "3", "0", ASK, "5", "0.50", IOC, [("0.50", "10")], True, RATES, None,
     "1001.4475", "0", "1001.4475", "0", "0.0525"),
    # Own ask at 55 in the way: 2 fill at 50 (1.00 + 0.0350), the order is cancelled there (no rest).
    ("self-trade stop", "1000", "0", "0", BID, "5", "0.60", GTC, [("0.50", "2"), ("0.55", "3")], False, RATES,
     D("0.55"), "998.965", "2", "998.965", "2", "1.035"),
    # Hold 4 NO, buy 10 YES @ 50 with asks 45x3: 3 close at 45 (+1.65 - 0.0520); 7 rest, 1 of them covered by
    # the last NO, so 6 hold 3.00 + 0.1050.  Filled later: 1 closes (+0.50), 6 open (-3.00), maker fee 0.0307.
    ("flip with a covered rest", "1000", "-4", "0", BID, "10", "0.50", GTC, [("0.45", "3")], False, RATES, None,
     "998.493", "-1", "999.0673", "6", "3.0827"),
    # Fractional count, deci-cent price, no maker fee: 2.5 x 0.525 held + 0.0437 (0.043640625).
    ("fractional deci-cent", "1000", "0", "0", BID, "2.5", "0.525", GTC, [], False, NO_MAKER_FEE, None,
     "998.6438", "0", "998.6875", "2.5", "1.3125"),
    # Sell 6 NO held at 30c = a bid at YES 70 into asks 70x6: closes, +6 x 0.30 - 0.0882 (0.07 x 6 x 0.21).
    ("sell no held", "1000", "-6", "0", BID, "6", "0.70", IOC, [("0.70", "6")], False, RATES, None,
     "1001.7118", "0", "1001.7118", "0", "0.0882"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_effects_match_hand_computed_answers(case):
    (_, balance, position, committed, side, count, price, tif, book, reduce_only, rates, own_cross,
     cash_now, pos_now, cash_filled, pos_filled, max_loss) = case
    effects = order_effects(AccountState(D(balance), D(position), D(committed)),
                            OrderTerms(side, D(count), D(price), tif, reduce_only), levels(*book), rates, own_cross)
    assert effects.cash_now == D(cash_now)
    assert effects.position_now == D(pos_now)
    assert effects.cash_if_filled == D(cash_filled)
    assert effects.position_if_filled == D(pos_filled)
    assert effects.max_loss == D(max_loss)


def test_what_rests_what_is_cancelled_and_what_is_held():
    effects = order_effects(AccountState(D(1000), D(0)), OrderTerms(ASK, D(10), D("0.55")),
                            levels(("0.60", "3"), ("0.55", "2")), RATES)
    assert [(e.count, e.yes_price, e.fee) for e in effects.executions] == [(D(3), D("0.60"), D("0.0504")),
                                                                          (D(2), D("0.55"), D("0.0347"))]
    assert effects.resting == D(5) and effects.unfilled == 0 and effects.held == D("2.3367")
    assert effects.taker_fee == D("0.0851") and effects.maker_fee == D("0.0217") and effects.fees == D("0.1068")
    ioc = order_effects(AccountState(D(1000), D(0)), OrderTerms(ASK, D(10), D("0.55"), IOC),
                        levels(("0.60", "3"), ("0.55", "2")), RATES)
    assert ioc.resting == 0 and ioc.unfilled == D(5) and ioc.held == 0 and ioc.maker_fill is None


def test_the_cash_the_exchange_checks_at_arrival():
    # Uncovered part only: holding 4 NO, a 10 YES bid at 50c needs 6 x 0.50 + 0.07 x 6 x 0.25 = 3.105.
    effects = order_effects(AccountState(D(1), D(-4)), OrderTerms(BID, D(10), D("0.50")), [], RATES)
    assert effects.required == D("3.105") and effects.insufficient
    assert not order_effects(AccountState(D("3.105"), D(-4)), OrderTerms(BID, D(10), D("0.50")), [],
                             RATES).insufficient


def test_reduce_only_with_nothing_to_reduce_has_no_count():
    effects = order_effects(AccountState(D(1000), D(5)), OrderTerms(BID, D(2), D("0.50"), reduce_only=True), [], RATES)
    assert effects.count == 0 and effects.max_loss == 0 and effects.cash_now == D(1000)


def test_coverage_goes_to_the_oldest_orders_first():
    assert coverage(D(5), [D(3), D(4), D(1)]) == [D(3), D(2), D(0)]
    assert coverage(D(0), [D(1)]) == [D(0)]
    assert coverage(D(-3), [D(2)]) == [D(0)]
