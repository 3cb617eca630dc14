"""Market maker and edge taker: prices, skew, sizes, never crossing, edges net of fees."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_trading.auto.botconfig import MarketConfig
from kalshi_trading.auto.pricing import RecordedUnderlying, binary_value, year_fraction
from kalshi_trading.auto.strategies import EdgeTaker, MarketMaker
from kalshi_trading.auto.types import (BookUpdate, MarketSnapshot, SimpleBookView, TargetOrder, TimerEvent,
                                       WorkingOrder)
from kalshi_trading.models import BookSide, OrderBook, PriceLevel
from kalshi_trading.money import GRIDS, fill_fee

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
CENT = GRIDS["linear_cent"]
EV = BookUpdate("KX-T", NOW)
CFG = MarketConfig(enabled=True, max_inventory_yes=D(10), max_inventory_no=D(10), min_spread=D("0.02"),
                   quote_size=D(3), inventory_skew_factor=D("0.001"), min_edge=D("0.03"))


def snap(bid="0.40", ask="0.50", *, position=D(0), working=(), cfg=CFG, grid=CENT, stale=False, book=None,
         **kw) -> MarketSnapshot:
    book = book or SimpleBookView.top(D(bid) if bid else None, D(5), D(ask) if ask else None, D(5), stale=stale)
    base = dict(ticker="KX-T", book=book, position=position, working=tuple(working), config=cfg, grid=grid,
                fee_type="quadratic", fee_multiplier=D(1), now=NOW)
    base.update(kw)
    return MarketSnapshot(**base)


def prices(orders: list[TargetOrder]) -> dict[BookSide, D]:
    return {o.book_side: o.yes_price for o in orders}


# --- market maker -------------------------------------------------------------------------------

def test_book_view_from_order_book():
    ob = OrderBook("KX-T", (PriceLevel(D("0.40"), D(5)), PriceLevel(D("0.39"), D(2))),
                   (PriceLevel(D("0.55"), D(7)),))
    view = SimpleBookView.from_order_book(ob)
    assert (view.best_bid, view.best_bid_size, view.best_ask, view.best_ask_size) == (D("0.40"), 5, D("0.45"), 7)
    assert view.mid == D("0.425") and view.spread == D("0.05")
    assert view.depth(1) == ((PriceLevel(D("0.40"), D(5)),), (PriceLevel(D("0.45"), D(7)),))
    assert SimpleBookView().mid is None and SimpleBookView().spread is None


def test_quotes_one_tick_inside():
    out = MarketMaker().targets(EV, snap("0.40", "0.50"))
    assert out == [TargetOrder("KX-T", BookSide.BID, D("0.41"), D(3), "mm:bid"),
                   TargetOrder("KX-T", BookSide.ASK, D("0.49"), D(3), "mm:ask")]


def test_joins_the_best_when_stepping_inside_would_lock():
    # Spread of two ticks: one tick inside on both sides would be 0.41 / 0.41.
    out = prices(MarketMaker().targets(EV, snap("0.40", "0.42")))
    assert out == {BookSide.BID: D("0.40"), BookSide.ASK: D("0.42")}


def test_min_spread_respected():
    mm = MarketMaker()
    assert mm.targets(EV, snap("0.40", "0.41")) == []
    assert mm.targets(EV, snap("0.40", "0.44", cfg=MarketConfig(min_spread=D("0.05")))) == []
    assert mm.targets(EV, snap("0.40", "0.45", cfg=MarketConfig(min_spread=D("0.05")))) != []


def test_resting_quotes_behind_the_touch_are_held_while_the_spread_is_narrow():
    # The others narrowed to 0.44 / 0.45 (under min_spread): nothing new goes up, but our bid at 0.42 and ask at
    # 0.47 (behind their best) keep their queue places instead of being cancelled and placed again.
    book = SimpleBookView((PriceLevel(D("0.44"), D(5)), PriceLevel(D("0.42"), D(3))),
                          (PriceLevel(D("0.45"), D(5)), PriceLevel(D("0.47"), D(3))))
    working = [WorkingOrder("b", "KX-T", BookSide.BID, D("0.42"), D(3)),
               WorkingOrder("a", "KX-T", BookSide.ASK, D("0.47"), D(3))]
    mm = MarketMaker()
    assert mm.targets(EV, snap(book=book, working=working)) == [
        TargetOrder("KX-T", BookSide.BID, D("0.42"), D(3), "mm:bid"),
        TargetOrder("KX-T", BookSide.ASK, D("0.47"), D(3), "mm:ask")]
    # cut to the inventory room left (long 9 of 10: one more YES may be bought)
    held = mm.targets(EV, snap(book=book, working=working, position=D(9)))
    assert [(t.book_side, t.count) for t in held] == [(BookSide.BID, D(1)), (BookSide.ASK, D(3))]
    # a quote better than the others' best (our bid alone above their 0.44) is not held: it comes off
    ahead = SimpleBookView((PriceLevel(D("0.445"), D(3)), PriceLevel(D("0.44"), D(5))),
                           (PriceLevel(D("0.45"), D(5)),))
    mine = [WorkingOrder("b", "KX-T", BookSide.BID, D("0.445"), D(3))]
    assert mm.targets(EV, snap(book=ahead, working=mine, grid=GRIDS["deci_cent"])) == []
    # switched off, or the book stale: every quote comes off
    off = MarketConfig(min_spread=D("0.02"), quote_size=D(3), hold_in_narrow_spread=False)
    assert mm.targets(EV, snap(book=book, working=working, cfg=off)) == []
    stale = SimpleBookView(book.depth(5)[0], book.depth(5)[1], stale=True)
    assert mm.targets(EV, snap(book=stale, working=working)) == []


def test_no_quotes_on_stale_disabled_or_one_sided_books():
    mm = MarketMaker()
    assert mm.targets(EV, snap(stale=True)) == []
    assert mm.targets(EV, snap(cfg=MarketConfig(enabled=False))) == []
    assert mm.targets(EV, snap(bid=None)) == []
    assert mm.targets(TimerEvent(NOW), snap(ask=None)) == []


def test_own_quotes_are_not_stepped_over():
    # We are already the best bid (0.41 x 3) and ask (0.49 x 3); the others are at 0.40 / 0.50.
    book = SimpleBookView((PriceLevel(D("0.41"), D(3)), PriceLevel(D("0.40"), D(5))),
                          (PriceLevel(D("0.49"), D(3)), PriceLevel(D("0.50"), D(5))))
    working = [WorkingOrder("b", "KX-T", BookSide.BID, D("0.41"), D(3)),
               WorkingOrder("a", "KX-T", BookSide.ASK, D("0.49"), D(3))]
    out = MarketMaker().targets(EV, snap(book=book, working=working))
    assert prices(out) == {BookSide.BID: D("0.41"), BookSide.ASK: D("0.49")}  # stable, no walking


@pytest.mark.parametrize("position, factor, bid, ask", [
    (D(0), D("0.001"), "0.41", "0.49"),
    (D(10), D("0.001"), "0.40", "0.48"),    # long YES: both quotes lower by 0.01
    (D(10), D("0.002"), "0.39", "0.47"),    # twice the factor, twice the skew
    (D(-10), D("0.001"), "0.42", "0.50"),   # long NO: both quotes higher
    (D(5), D("0.001"), "0.40", "0.49"),     # 0.005: bid rounds down, ask rounds up (never tighter)
])
def test_inventory_skew_direction_and_scaling(position, factor, bid, ask):
    cfg = MarketConfig(max_inventory_yes=D(100), max_inventory_no=D(100), quote_size=D(3),
                       inventory_skew_factor=factor)
    out = MarketMaker().targets(EV, snap("0.40", "0.50", position=position, cfg=cfg))
    assert prices(out) == {BookSide.BID: D(bid), BookSide.ASK: D(ask)}


def test_heavy_skew_never_crosses():
    cfg = MarketConfig(max_inventory_yes=D(1000), max_inventory_no=D(1000), inventory_skew_factor=D("0.01"))
    out = prices(MarketMaker().targets(EV, snap("0.40", "0.50", position=D(30), cfg=cfg)))
    assert out[BookSide.ASK] == D("0.41")  # pushed down to one tick above the best bid, not through it
    assert out[BookSide.BID] == D("0.11")


@pytest.mark.parametrize("position, bid_size, ask_size", [
    (D(0), D(3), D(3)),
    (D(8), D(2), D(3)),          # 2 contracts of YES room left
    (D(10), None, D(3)),          # at the YES cap: no bid
    (D("9.5"), D("0.50"), D(3)),
    (D(-9), D(3), D(1)),          # long 9 NO: 1 of NO room for asks
    (D(-12), D(3), None),         # over the NO cap (config lowered): only the reducing side
])
def test_size_reduced_near_caps(position, bid_size, ask_size):
    cfg = MarketConfig(quote_size=D(3), inventory_skew_factor=D(0))
    sizes = {o.book_side: o.count for o in MarketMaker().targets(EV, snap(position=position, cfg=cfg))}
    assert sizes.get(BookSide.BID) == bid_size
    assert sizes.get(BookSide.ASK) == ask_size


@pytest.mark.parametrize("fair, bid, ask", [
    ("0.435", "0.41", "0.49"),  # model inside the band: the inside rule decides
    ("0.495", "0.41", "0.50"),  # never offer at or below the model's value
    ("0.405", "0.40", "0.49"),  # never bid at or above it
])
def test_model_fair_value_keeps_quotes_on_the_right_side(fair, bid, ask):
    mm = MarketMaker(fair_value=lambda s: D(fair))
    out = prices(mm.targets(EV, snap("0.40", "0.50", cfg=MarketConfig(inventory_skew_factor=D(0)))))
    assert out == {BookSide.BID: D(bid), BookSide.ASK: D(ask)}


def test_no_model_value_no_quotes():
    assert MarketMaker(fair_value=lambda s: None).targets(EV, snap()) == []


def test_deci_cent_grid_steps_by_its_own_tick():
    s = snap("0.400", "0.450", grid=GRIDS["deci_cent"], cfg=MarketConfig(inventory_skew_factor=D(0)))
    out = prices(MarketMaker().targets(EV, s))
    assert out == {BookSide.BID: D("0.401"), BookSide.ASK: D("0.449")}


_cents = st.integers(1, 99).map(lambda c: D(c) / 100)


@settings(max_examples=300, deadline=None)
@given(bid=_cents, width=st.integers(0, 60), position=st.integers(-50, 50).map(D),
       factor=st.sampled_from([D(0), D("0.001"), D("0.005"), D("0.02")]), min_spread=st.sampled_from(
           [D(0), D("0.01"), D("0.03")]), fair=st.none() | _cents, grid=st.sampled_from(list(GRIDS)))
def test_never_crosses(bid, width, position, factor, min_spread, fair, grid):
    ask = min(bid + D(width) / 100, D("0.99"))
    if ask <= bid:
        return
    cfg = MarketConfig(max_inventory_yes=D(40), max_inventory_no=D(40), min_spread=min_spread,
                       inventory_skew_factor=factor, quote_size=D(2))
    s = snap(str(bid), str(ask), position=position, cfg=cfg, grid=GRIDS[grid])
    mm = MarketMaker(fair_value=(lambda _s: fair) if fair is not None else None)
    out = mm.targets(EV, s)
    got = prices(out)
    if out:
        assert ask - bid >= min_spread
    if BookSide.BID in got:
        assert got[BookSide.BID] < ask and GRIDS[grid].contains(got[BookSide.BID])
        assert D("0.01") <= got[BookSide.BID] <= D("0.99")
        if fair is not None:
            assert got[BookSide.BID] < fair - factor * position
    if BookSide.ASK in got:
        assert got[BookSide.ASK] > bid and GRIDS[grid].contains(got[BookSide.ASK])
        assert D("0.01") <= got[BookSide.ASK] <= D("0.99")
        if fair is not None:
            assert got[BookSide.ASK] > fair - factor * position
    if len(got) == 2:
        assert got[BookSide.BID] < got[BookSide.ASK]
    for o in out:
        assert 0 < o.count <= 2
        if o.book_side is BookSide.BID:
            assert position + o.count <= 40
        else:
            assert -position + o.count <= 40


# --- edge taker ---------------------------------------------------------------------------------

def flat_source(spot: float, vol: float = 0.5) -> RecordedUnderlying:
    """A minute of 1 s prices alternating +-r so the realized vol is exactly `vol`."""
    r = vol / math.sqrt(365 * 24 * 3600)
    pts, px = [], spot
    for i in range(61):
        pts.append((NOW - timedelta(seconds=60 - i), px))
        px *= math.exp(r if i % 2 == 0 else -r)
    return RecordedUnderlying(pts)


CLOSE = NOW + timedelta(hours=6)


def edge_snap(bid, ask, *, position=D(0), cfg=None, **kw):
    cfg = cfg or MarketConfig(quote_size=D(4), min_edge=D("0.03"))
    defaults = dict(close_time=CLOSE, strike_type="greater", floor_strike=D(100), cap_strike=None)
    defaults.update(kw)
    return snap(bid, ask, position=position, cfg=cfg, **defaults)


def test_edge_value_is_black_scholes():
    src = flat_source(100.0, vol=0.5)
    edge = EdgeTaker(src, vol_window=timedelta(minutes=5))
    s = edge_snap("0.40", "0.50")
    assert edge.volatility(NOW) == pytest.approx(0.5, rel=1e-9)
    t = year_fraction(NOW, CLOSE)
    from scipy.stats import norm  # reference only
    expected = norm.cdf((math.log(100 / 100) - 0.125 * t) / (0.5 * math.sqrt(t)))
    assert edge.value(s) == pytest.approx(expected, abs=1e-9)
    assert edge.value(edge_snap("0.4", "0.5", strike_type="less", floor_strike=None, cap_strike=D(100))) == \
        pytest.approx(1 - expected, abs=1e-9)


def _fair(spot, vol=0.5, strike=100.0):
    return binary_value("greater", spot, strike, None, year_fraction(NOW, CLOSE), vol)


def test_edge_buys_when_value_beats_ask_plus_fee():
    edge = EdgeTaker(flat_source(101.0), vol_window=timedelta(minutes=5))
    fair = _fair(101.0)  # about 0.62
    ask = D(math.floor((fair - 0.03 - 0.02) * 100)) / 100  # comfortably inside the edge
    out = edge.targets(EV, edge_snap(str(ask - D("0.10")), str(ask)))
    assert out == [TargetOrder("KX-T", BookSide.BID, ask, D(4), "edge:take-buy")]


def test_edge_sells_when_bid_beats_value_plus_fee():
    edge = EdgeTaker(flat_source(99.0), vol_window=timedelta(minutes=5))
    fair = _fair(99.0)  # about 0.38
    bid = D(math.ceil((fair + 0.03 + 0.02) * 100)) / 100
    out = edge.targets(EV, edge_snap(str(bid), str(bid + D("0.10"))))
    assert out == [TargetOrder("KX-T", BookSide.ASK, bid, D(4), "edge:take-sell")]


def test_edge_fee_decides_the_marginal_trade():
    # Fixed vol, spot at the strike: fair ~ 0.4996.  Ask 0.46: raw edge 0.0396 >= 0.03,
    # but the taker fee on 4 @ 0.46 is 0.0696 -> 0.0174 each, so the edge after fees is 0.0222: hold.
    edge = EdgeTaker(flat_source(100.0), vol=0.05)
    fair = edge.fair_price(edge_snap("0.30", "0.46"))
    fee_each = fill_fee(D(4), D("0.46"), "quadratic", True) / 4
    assert fair - D("0.46") >= D("0.03") > fair - D("0.46") - fee_each
    assert edge.targets(EV, edge_snap("0.30", "0.46")) == []
    # With fees waived by a zero multiplier the same trade is taken.
    assert edge.targets(EV, edge_snap("0.30", "0.46", fee_multiplier=D(0)))[0].book_side is BookSide.BID


def test_edge_holds_inside_the_band():
    edge = EdgeTaker(flat_source(100.0), vol=0.05)
    assert edge.targets(EV, edge_snap("0.48", "0.52")) == []


def test_edge_clip_limited_by_inventory_and_holds_without_data():
    edge = EdgeTaker(flat_source(101.0), vol_window=timedelta(minutes=5))
    cfg = MarketConfig(quote_size=D(4), max_inventory_yes=D(10))
    out = edge.targets(EV, edge_snap("0.20", "0.30", position=D("8.5"), cfg=cfg))
    assert out[0].count == D("1.50")
    assert edge.targets(EV, edge_snap("0.20", "0.30", position=D(10), cfg=cfg)) == []
    assert EdgeTaker(RecordedUnderlying()).targets(EV, edge_snap("0.20", "0.30")) == []
    assert edge.targets(EV, edge_snap("0.20", "0.30", close_time=None)) == []
    assert edge.targets(EV, edge_snap("0.20", "0.30", close_time=NOW)) == []
    assert edge.targets(EV, edge_snap("0.20", "0.30", strike_type="functional")) == []
    assert edge.targets(EV, edge_snap("0.20", "0.30", stale=True)) == []
    stale_spot = EdgeTaker(flat_source(101.0), vol=0.5, max_spot_age=timedelta(seconds=10))
    later = edge_snap("0.20", "0.30", now=NOW + timedelta(minutes=1))
    assert stale_spot.targets(EV, later) == []


def test_edge_fixed_clip_and_vol_cache():
    src = flat_source(101.0)
    edge = EdgeTaker(src, clip=D(2), vol_window=timedelta(minutes=5), vol_refresh=timedelta(seconds=10))
    assert edge.targets(EV, edge_snap("0.20", "0.30"))[0].count == D(2)
    v = edge.volatility(NOW)
    src.append(NOW + timedelta(seconds=1), 150.0)  # a jump: the cached vol holds within vol_refresh
    assert edge.volatility(NOW + timedelta(seconds=5)) == v
    assert edge.volatility(NOW + timedelta(seconds=11)) > v
