"""The edge of a probability against the book, net of the taker fee: table tests with the fee arithmetic."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kalshi_trading.signals.models.edge import edge, market_mid, side_edge_bps
from kalshi_trading.signals.types import Direction, Family, Probability
from tests.signals.conftest import NOW


def prob(p: str) -> Probability:
    return Probability(D(p), D("0.8"), "test-model", (("members", "82"),))


@pytest.mark.parametrize("p, yes_ask, no_ask, kw, direction, price, bps", [
    # YES: fee round_up(0.07 x 0.55 x 0.45 = 0.017325) = 0.0174; 0.60 - 0.55 - 0.0174 = 0.0326 -> 326 bps
    # NO: fee round_up(0.07 x 0.47 x 0.53 = 0.017437) = 0.0175; 0.40 - 0.47 - 0.0175 = -0.0875 -> -875 bps
    ("0.60", "0.55", "0.47", {}, Direction.BUY_YES, "0.55", 326),
    # NO: fee round_up(0.07 x 0.58 x 0.42 = 0.017052) = 0.0171; 0.70 - 0.58 - 0.0171 = 0.1029 -> 1029 bps
    ("0.30", "0.45", "0.58", {}, Direction.BUY_NO, "0.58", 1029),
    # both sides: 0.50 - 0.51 - round_up(0.07 x 0.51 x 0.49 = 0.017493) = -0.0275 -> -275: no trade
    ("0.50", "0.51", "0.51", {}, Direction.NONE, "0.51", -275),
    # half-fee series: round_up(0.035 x 0.2475 = 0.0086625) = 0.0087; 0.60 - 0.55 - 0.0087 = 0.0413 -> 413 bps
    ("0.60", "0.55", "0.47", {"fee_multiplier": D("0.5")}, Direction.BUY_YES, "0.55", 413),
    # 10 contracts: round_up(0.07 x 10 x 0.2475 = 0.17325) = 0.1733 / 10 = 0.01733; 0.03267 -> 326.7 -> 326 (down)
    ("0.60", "0.55", "0.47", {"count": D(10)}, Direction.BUY_YES, "0.55", 326),
    # an edge below the minimum is reported but not acted on
    ("0.60", "0.55", "0.47", {"min_edge_bps": 400}, Direction.NONE, "0.55", 326),
    # deci-cent prices: round_up(0.07 x 0.035 x 0.965 = 0.00236425) = 0.0024; 0.05 - 0.035 - 0.0024 = 0.0126 -> 126
    ("0.05", "0.035", "0.966", {}, Direction.BUY_YES, "0.035", 126),
])
def test_edge_table(p, yes_ask, no_ask, kw, direction, price, bps):
    sig = edge(prob(p), ticker="KXHIGHNY-26DEC01-B44.5", family=Family.WEATHER, at=NOW, yes_ask=D(yes_ask),
               no_ask=D(no_ask), **kw)
    assert (sig.direction, sig.trade_price, sig.edge_bps) == (direction, D(price), bps)
    assert sig.model_prob == D(p) and sig.confidence == D("0.8") and sig.model == "test-model"
    assert sig.actionable is (direction is not Direction.NONE)
    assert ("members", "82") in sig.inputs


def test_mid_from_the_two_asks():
    # YES bid = 1 - NO ask = 0.53; mid = (0.55 + 0.53) / 2 = 0.54
    assert market_mid(D("0.55"), D("0.47")) == D("0.54")
    assert market_mid(D("0.55"), None) is None and market_mid(None, D("0.47")) is None


def test_one_sided_and_empty_books():
    one = edge(prob("0.60"), ticker="T", family=Family.BTC15M, at=NOW, yes_ask=D("0.55"), no_ask=None)
    assert (one.direction, one.market_mid, one.edge_bps) == (Direction.BUY_YES, None, 326)
    empty = edge(prob("0.60"), ticker="T", family=Family.BTC15M, at=NOW, yes_ask=None, no_ask=None)
    assert (empty.direction, empty.trade_price, empty.edge_bps, empty.market_mid) == (Direction.NONE, None, None,
                                                                                     None)


def test_side_edge_at_the_extremes():
    # a 0.99 ask: fee round_up(0.07 x 0.99 x 0.01 = 0.000693) = 0.0007; 0.9999 - 0.99 - 0.0007 = 0.0092 -> 92
    assert side_edge_bps(D("0.9999"), D("0.99")) == 92
