"""Hand-computed tables: paper fills against a book, signal edges net of the fee, the report and calibration."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.api import parse
from kalshi_trading.models import OrderBook, PriceLevel, Side
from kalshi_trading.signals.paper import paper_fill
from kalshi_trading.signals.report import calibration, paper_report
from kalshi_trading.signals.sources import bps, clip_probability, evaluate
from kalshi_trading.signals.types import Direction, Family, Probability
from kalshi_trading.store.signals import AttemptOutcome, AttemptRecord, SignalRecord
from tests.signals.test_discovery import NOV21_CLOSE, market

T = datetime(2026, 11, 21, 16, 0, tzinfo=timezone.utc)
# YES bids 0.30 x 4, 0.28 x 10; NO bids 0.55 x 5, 0.60 x 5 (= YES asks 0.45 x 5, 0.40 x 5)
BOOK = OrderBook("T", (PriceLevel(D("0.30"), D(4)), PriceLevel(D("0.28"), D(10))),
                 (PriceLevel(D("0.60"), D(5)), PriceLevel(D("0.55"), D(5))))


@pytest.mark.parametrize("side, count, limit, filled, avg, fee", [
    # 5 @ 0.40: fee ceil(0.07 x 5 x 0.4 x 0.6 = 0.084) = 0.0840; 3 @ 0.45: ceil(0.051975) = 0.0520
    (Side.YES, "8", "0.56", "8", "0.418750", "0.1360"),
    (Side.YES, "8", "0.42", "5", "0.400000", "0.0840"),   # the limit stops at the first level
    (Side.YES, "20", "0.99", "10", "0.425000", "0.1707"),  # the book runs out: 0.0840 + ceil(0.086625)
    (Side.YES, "1", "0.39", "0", None, "0"),             # nothing at or below the limit
    # NO asks are the YES bids seen at 1 - price: 0.70 x 4, 0.72 x 10
    (Side.NO, "6", "0.72", "6", "0.706667", "0.0871"),   # 4 @ .70: .0588 + 2 @ .72: ceil(.028224) = .0283
    (Side.NO, "1", "0.69", "0", None, "0"),
    (Side.YES, "0.50", "0.40", "0.50", "0.400000", "0.0084"),  # fractional counts
])
def test_paper_fill_walks_the_offers(side, count, limit, filled, avg, fee):
    fill = paper_fill(BOOK, side, D(count), D(limit))
    assert (fill.count, fill.average_price, fill.fee) == (D(filled), D(avg) if avg else None, D(fee))


def test_paper_fill_with_maker_fee_schedule_charges_the_taker_rate_times_the_multiplier():
    fill = paper_fill(BOOK, Side.YES, D(5), D("0.40"), "quadratic_with_maker_fees", D("0.5"))
    assert fill.fee == D("0.0420")  # 0.035 x 5 x 0.4 x 0.6


def mk(bid: str, ask: str, **kw):
    return parse.market(market("KXBTCD-26NOV2117-T97249.99", NOV21_CLOSE, bid=bid, ask=ask, **kw))


def flat_quadratic(_market):
    return "quadratic", D(1)


@pytest.mark.parametrize("p, bid, ask, direction, price, edge", [
    # buy YES at 0.44: 0.60 - 0.44 - ceil(0.07 x 0.44 x 0.56 = 0.017248) = 0.1427 -> 1427 bps
    ("0.60", "0.4200", "0.4400", Direction.BUY_YES, "0.4400", 1427),
    # buy NO at 1 - 0.42 = 0.58: 0.80 - 0.58 - 0.0171 = 0.2029 (beats YES: 0.20 - 0.44 - fee < 0)
    ("0.20", "0.4200", "0.4400", Direction.BUY_NO, "0.58", 2029),
    # inside the spread: neither side pays; the better edge (YES: 0.45 - 0.44 - 0.0173 = -0.0073) is kept
    ("0.45", "0.4200", "0.4400", Direction.NONE, "0.4400", -73),
    # a one-sided book: only the side that is offered can be bought
    ("0.90", "0.4200", "1.0000", Direction.BUY_NO, "0.58", -4971),  # 0.10 - 0.58 - 0.0171
])
def test_evaluate_edges_net_of_the_taker_fee(p, bid, ask, direction, price, edge):
    prob = Probability(D(p), D("0.8"), "m", (("k", "v"),))
    market_ = mk(bid, ask)
    if ask == "1.0000":  # the exchange's empty side: no YES offered
        market_ = replace(market_, yes_ask_size=D(0))
    signal = evaluate(market_, Family.BTCD, prob, T, flat_quadratic)
    if edge < 0 and direction is not Direction.NONE:
        direction = Direction.NONE
    assert (signal.direction, signal.trade_price, signal.edge_bps) == (direction, D(price), edge)
    assert signal.inputs == (("k", "v"),) and signal.model_prob == D(p)


def test_evaluate_mid_and_an_empty_book():
    signal = evaluate(mk("0.4200", "0.4400"), Family.BTCD, Probability(D("0.5"), D(1), "m"), T, flat_quadratic)
    assert signal.market_mid == D("0.4300")
    empty = replace(mk("0.0000", "1.0000"), yes_bid_size=D(0), yes_ask_size=D(0))
    none = evaluate(empty, Family.BTCD, Probability(D("0.5"), D(1), "m"), T, flat_quadratic)
    assert (none.direction, none.market_mid, none.trade_price, none.edge_bps) == (Direction.NONE, None, None, None)


def test_bps_and_probability_clipping():
    assert (bps(D("0.01425")), bps(D("0.01435")), bps(D("-0.0073"))) == (142, 144, -73)  # half to even
    assert (clip_probability(0.0), clip_probability(1.0), clip_probability(0.123456)) == (
        D("0.0001"), D("0.9999"), D("0.1235"))


# -- the report ------------------------------------------------------------------------------------------------------

def attempt(ticker, direction, count, price, fee, edge, outcome=AttemptOutcome.FILLED):
    return AttemptRecord(at=T, ticker=ticker, direction=direction, mode="simulate", outcome=outcome, count=D(count),
                         fill_count=D(count) if outcome is AttemptOutcome.FILLED else D(0),
                         fill_price=D(price) if price else None, fee=D(fee) if fee else None, edge_bps=edge)


def settled(ticker, result):
    return replace(mk("0.0000", "1.0000"), ticker=ticker, result=result, yes_bid_size=D(0), yes_ask_size=D(0))


def test_paper_report_by_hand():
    attempts = [
        attempt("A", "buy_yes", "2", "0.40", "0.0336", 900),   # A settles yes: (1 - 0.40) x 2 - 0.0336 = 1.1664
        attempt("B", "buy_no", "1", "0.30", "0.0147", 500),    # B settles yes: NO loses: -0.30 - 0.0147 = -0.3147
        attempt("C", "buy_yes", "1", "0.50", "0.0175", 300),   # C open, YES bid 0.42: -0.08 - 0.0175 = -0.0975
        attempt("D", "buy_no", "1", "0.55", "0.0174", 100),    # D open, NO bid = 1 - YES ask 0.44 = 0.56: -0.0074
        attempt("E", "buy_yes", "1", None, None, 700, AttemptOutcome.SKIPPED),
        attempt("F", "buy_yes", "1", None, None, 700, AttemptOutcome.REJECTED),
    ]
    markets = {"A": settled("A", "yes"), "B": settled("B", "yes"), "C": mk("0.4200", "0.4400"),
               "D": mk("0.4200", "0.4400")}
    report = paper_report(attempts, markets)
    assert report.by_outcome == {"submitted": 0, "filled": 4, "unfilled": 0, "rejected": 1, "skipped": 1}
    assert (report.fills, report.contracts, report.cost, report.fees) == (4, D(5), D("2.15"), D("0.0832"))
    assert report.pnl_settled == D("0.8517") and report.pnl_marked == D("-0.1049")
    assert report.hit_rate == D("0.500")
    assert report.avg_edge_entry_bps == D("450.0")  # (900 + 500 + 300 + 100) / 4
    # realized per contract: A 1 - 0.40 - 0.0168 = 0.5832; B 0 - 0.30 - 0.0147 = -0.3147 -> mean 0.13425 = 1342.5
    assert report.avg_edge_realized_bps == D("1342.5")


def test_an_empty_report():
    report = paper_report([], {})
    assert report.fills == 0 and report.hit_rate is None and report.avg_edge_entry_bps is None


def signal(ticker, p, mid):
    return SignalRecord(ticker=ticker, family="btcd", at=T, model="m", model_prob=D(p),
                        market_mid=D(mid) if mid else None, trade_price=None, edge_bps=None, confidence=D(1),
                        direction="none")


def test_calibration_by_hand():
    markets = {"Y": settled("Y", "yes"), "N": settled("N", "no"), "O": mk("0.4200", "0.4400")}
    signals = [signal("Y", "0.8", "0.6"), signal("N", "0.3", "0.5"), signal("Y", "0.95", None),
               signal("O", "0.5", "0.5")]  # an unsettled market is not scored; no mid: model bins only
    cal = calibration(signals, markets)
    assert (cal.signals, cal.with_mid) == (3, 2)
    assert cal.brier_model == pytest.approx(((0.8 - 1) ** 2 + 0.3 ** 2) / 2)      # 0.065
    assert cal.brier_market == pytest.approx(((0.6 - 1) ** 2 + 0.5 ** 2) / 2)     # 0.205
    assert cal.log_loss_model == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    assert cal.log_loss_market == pytest.approx(-(math.log(0.6) + math.log(0.5)) / 2)
    by_bin = {round(b.lo, 1): (b.count, b.mean_forecast, b.observed) for b in cal.bins}
    assert len(cal.bins) == 10
    assert by_bin[0.3] == (1, pytest.approx(0.3), 0.0) and by_bin[0.8] == (1, pytest.approx(0.8), 1.0)
    assert by_bin[0.9] == (1, pytest.approx(0.95), 1.0) and by_bin[0.5] == (0, None, None)


def test_calibration_of_certainties_stays_finite():
    cal = calibration([signal("N", "1", "1")], {"N": settled("N", "no")})
    assert cal.log_loss_model is not None and math.isfinite(cal.log_loss_model)
    assert cal.bins[-1].count == 1  # p = 1.0 falls in the last bin
