"""The realized curve: every closed lot's gain (from `trading/pnl.py`, never re-derived) added up in close order,
exact; at most CURVE_POINTS points drawn, the last always kept; labels formatted as the CLI formats money."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from kalshi_trading.cli.dashboard_sections import CURVE_POINTS, realized_curve
from kalshi_trading.models import BookSide, Fill, Side
from kalshi_trading.trading.pnl import compute_pnl

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def round_trips(n: int) -> list[Fill]:
    """`n` buys of 1 YES at 40c each closed by a sale at 41c (a 1c gain less 0.2c of fees a round trip)."""
    fills = []
    for i in range(n):
        at = T0 + timedelta(minutes=2 * i)
        fills.append(Fill(f"b{i}", f"o{i}", "KXT-1", Side.YES, BookSide.BID, D(1), D("0.40"), False, D("0.001"), at))
        fills.append(Fill(f"s{i}", f"p{i}", "KXT-1", Side.NO, BookSide.ASK, D(1), D("0.41"), False, D("0.001"),
                          at + timedelta(minutes=1)))
    return fills


def test_the_curve_adds_up_the_closed_lots_exactly():
    report = compute_pnl(round_trips(3), [], method="fifo")
    chart = realized_curve(report)
    assert [p.value for p in chart.points] == [D("0.008"), D("0.016"), D("0.024")]
    assert chart.points[-1].value == report.realized_pnl - report.fees_paid
    assert dict(chart.labels) == {"first": "+$0.008", "min": "$0.00", "max": "+$0.024", "last": "+$0.024"}


def test_a_long_curve_is_thinned_and_keeps_its_last_point():
    report = compute_pnl(round_trips(1000), [], method="fifo")
    chart = realized_curve(report)
    assert len(chart.points) == CURVE_POINTS
    assert chart.points[0].value == D("0.008") and chart.points[-1].value == D("8.000")
    assert chart.labels["last"] == "+$8.00" and "1000 closed lot(s)" in chart.note
    assert realized_curve(compute_pnl([], [], method="fifo")).points == ()
