"""The edge taker's own accounting: the decision behind each take (kept by order id), one take per stale book,
no volatility from a handful of returns, and `edge_report`'s table against hand-computed answers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from kalshi_trading.auto.edge_report import TakeDecision, edge_report, render_edge, settlement_values
from kalshi_trading.auto.ledger import BotFill
from kalshi_trading.auto.pricing import RecordedUnderlying
from kalshi_trading.auto.strategies import EdgeTaker
from kalshi_trading.models import BookSide
from kalshi_trading.money import fill_fee
from tests.auto.test_strategies import EV, NOW, edge_snap, flat_source


def test_a_take_is_remembered_by_the_order_id_it_went_out_as():
    edge = EdgeTaker(flat_source(101.0), vol_window=timedelta(minutes=5))
    [take] = edge.targets(EV, edge_snap("0.20", "0.30"))
    edge.placed(take, "order-1")
    d = edge.decisions["order-1"]
    assert (d.ticker, d.book_side, d.yes_price, d.count, d.ts) == ("KX-T", BookSide.BID, D("0.30"), D(4), NOW)
    assert d.fair == edge.fair_price(edge_snap("0.20", "0.30"))
    assert d.fee_each == fill_fee(D(4), D("0.30"), "quadratic", True) / 4
    assert d.edge == d.fair - D("0.30") - d.fee_each
    edge.placed(take.__class__("KX-OTHER", BookSide.BID, D("0.30"), D(4), "x"), "order-2")  # not its take
    assert "order-2" not in edge.decisions


def test_the_same_take_on_the_same_book_is_not_resent_at_once():
    edge = EdgeTaker(flat_source(101.0), vol_window=timedelta(minutes=5), retake_after=timedelta(seconds=5))
    book = edge_snap("0.20", "0.30")
    assert edge.targets(EV, book)
    assert edge.targets(EV, book) == []  # it just went out and found nothing: the book seen had moved
    assert edge.targets(EV, edge_snap("0.20", "0.29"))  # a different price: a new take
    assert edge.targets(EV, edge_snap("0.20", "0.29", position=D(4)))  # it filled: the next clip goes at once
    later = edge_snap("0.20", "0.29", position=D(4), now=NOW + timedelta(seconds=5))
    assert edge.targets(EV, later)  # and the same take again once `retake_after` passed


def test_no_volatility_and_no_trade_from_a_handful_of_returns():
    few = RecordedUnderlying([(NOW - timedelta(seconds=i), 101.0 + (i % 2)) for i in range(10)])
    edge = EdgeTaker(few, vol_window=timedelta(minutes=5))
    assert edge.volatility(NOW) is None and edge.targets(EV, edge_snap("0.01", "0.02")) == []
    assert EdgeTaker(few, vol_window=timedelta(minutes=5), min_vol_returns=2).volatility(NOW) is not None


def decision(side, price, fair, fee_each="0.02", count="2", ticker="KX-A"):
    return TakeDecision(NOW, ticker, side, D(price), D(count), D(fair), D(fee_each))


def fill(order_id, side, price, count, fee, ticker="KX-A"):
    return BotFill(f"t-{order_id}-{price}", order_id, ticker, side, D(price), D(count), D(fee), NOW)


def test_the_edge_table_by_hand():
    decisions = {"o1": decision(BookSide.BID, "0.40", "0.48"), "o2": decision(BookSide.ASK, "0.60", "0.53"),
                 "o3": decision(BookSide.BID, "0.50", "0.56"), "o4": decision(BookSide.BID, "0.30", "0.40",
                                                                            ticker="KX-B")}
    fills = [fill("o1", BookSide.BID, "0.40", "2", "0.04"),  # predicted 0.48-0.40-0.02 = 0.06; settled yes: +0.58
             fill("o2", BookSide.ASK, "0.61", "1", "0.02"),  # sold better than the limit: predicted 0.61-0.53-0.02
             fill("o4", BookSide.BID, "0.30", "1", "0.01", "KX-B"),  # on KX-B, marked at 0.25: 0.25-0.30-0.01 = -0.06
             fill("xx", BookSide.BID, "0.10", "5", "0.01")]  # not the taker's order: left out
    report = edge_report(decisions, fills, {"KX-A": D("0.55"), "KX-B": D("0.25")}, {"KX-A": D(1)})
    assert (report["orders"], report["orders_filled"], report["fill_ratio"], report["fills"]) == (4, 3, 0.75, 3)
    assert D(report["contracts"]) == 4
    rows = {(r["ticker"], r["side"]): r for r in report["rows"]}
    assert D(rows["KX-A", "bid"]["predicted_per_contract"]) == D("0.06")
    assert D(rows["KX-A", "bid"]["realized_per_contract"]) == D("0.58") and rows["KX-A", "bid"]["basis"] == "settled"
    assert D(rows["KX-A", "ask"]["predicted_per_contract"]) == D("0.06")
    assert D(rows["KX-A", "ask"]["realized_per_contract"]) == D("-0.41")  # sold at 0.61, paid 1, fee 0.02
    assert D(rows["KX-B", "bid"]["realized_per_contract"]) == D("-0.06") and rows["KX-B", "bid"]["basis"] == "marked"
    # contract-weighted: predicted (2x0.06 + 0.06 + 0.09)/4, realized (2x0.58 - 0.41 - 0.06)/4
    assert D(report["predicted_edge_per_contract"]) == D("0.0675")
    assert D(report["realized_per_contract"]) == D("0.1725")
    assert D(report["predicted_total"]) == D("0.27") and D(report["realized_total"]) == D("0.69")
    assert report["hit_rate"] == round(1 / 3, 4) and report["valued_by"] == ["marked", "settled"]
    text = render_edge(report)
    assert "4 orders, 3 filled (fill ratio 75%)" in text and "hit rate 33%" in text


def test_an_empty_or_unvalued_table():
    empty = edge_report({}, [], {})
    assert empty["orders"] == 0 and empty["fill_ratio"] is None and empty["hit_rate"] is None
    assert empty["predicted_edge_per_contract"] is None and "0 orders" in render_edge(empty)
    lone = edge_report({"o1": decision(BookSide.BID, "0.40", "0.48")}, [fill("o1", BookSide.BID, "0.40", "1", "0.02")],
                       {})
    assert lone["rows"][0]["basis"] == "unvalued" and lone["realized_per_contract"] is None


def test_settlement_values_count_only_yes_and_no():
    class M:
        def __init__(self, ticker, result):
            self.ticker, self.result = ticker, result

    assert settlement_values([M("A", "yes"), M("B", "no"), M("C", "void"), M("D", "")]) == {"A": D(1), "B": D(0)}
