"""The bitcoin models: realized volatility and momentum from candles, the Asian-average digital for KXBTC15M before
and inside the averaging window and after the close, and the KXBTCD ladder through the shared Black-Scholes."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal as D

import pytest

from kalshi_trading.errors import ConfigError
from kalshi_trading.pricing import SECONDS_PER_YEAR, binary_value, year_fraction
from kalshi_trading.signals.collectors.bitcoin import Candle
from kalshi_trading.signals.models.btc import (BtcModelParams, VolEstimate, average_moments, estimate_volatility,
                                               ladder_probability, updown_probability, window_average)
from tests.signals.conftest import NOW

NO_BASIS = BtcModelParams(basis_bps=0.0)
SIGMA = VolEstimate(sigma_per_sqrt_s=0.0001, drift_per_s=0.0, candles=60)  # s = sigma x S = $10 per root second


def candles(closes: list[str]) -> list[Candle]:
    return [Candle(NOW + timedelta(minutes=i), D(c), D(c), D(c), D(c)) for i, c in enumerate(closes)]


def test_volatility_and_momentum_by_hand():
    # closes 100, 101, 100, 101 a minute apart: log returns +-ln(1.01) = +-0.00995033
    # sum of squares 3 x 0.00995033^2 = 0.000297027 over 180 s -> 1.650151e-6 per s -> sigma 0.00128458 per root s
    # annualised: 0.00128458 x sqrt(31,536,000) = 7.2138
    # momentum: 0.25 x ln(101/100) / 180 s = 0.25 x 0.00995033 / 180 = 1.38199e-5 per s
    v = estimate_volatility(candles(["100", "101", "100", "101"]))
    assert v is not None
    assert v.sigma_per_sqrt_s == pytest.approx(0.001284582, rel=1e-6)
    assert v.annual == pytest.approx(7.213818, rel=1e-6)
    assert v.drift_per_s == pytest.approx(1.38199e-5, rel=1e-5)
    assert v.candles == 4


def test_the_volatility_floor_and_too_few_candles():
    flat = estimate_volatility(candles(["100"] * 10))
    assert flat is not None and flat.annual == pytest.approx(0.20)  # realized 0, floored at 20% a year
    assert flat.drift_per_s == 0.0
    assert estimate_volatility(candles(["100", "101"])) is None  # one return is not a volatility


@pytest.mark.parametrize("tau, window_mean, mean, var", [
    # before the window: variance s^2 (tau - 2W/3) = 100 x (900 - 40) = 86,000; mean the spot (no drift)
    (900.0, None, 100000.0, 86000.0),
    # at the window's start (tau = W) both formulas agree: s^2 (60 - 40) = s^2 W / 3 = 100 x 20 = 2,000
    (60.0, None, 100000.0, 2000.0),
    # inside, 30 s left, 100,100 averaged so far: mean (30 x 100100 + 30 x 100000) / 60 = 100,050;
    # variance s^2 tau^3 / (3 W^2) = 100 x 27,000 / 10,800 = 250
    (30.0, D("100100"), 100050.0, 250.0),
    # inside with no observations: the spot stands in for the known part
    (30.0, None, 100000.0, 250.0),
    # after the close: the average is known
    (-5.0, D("100100"), 100100.0, 0.0),
])
def test_average_moments_by_hand(tau, window_mean, mean, var):
    m, v = average_moments(100000.0, tau, SIGMA, float(window_mean) if window_mean is not None else None, NO_BASIS)
    assert (m, v) == (pytest.approx(mean), pytest.approx(var))


def test_drift_moves_the_mean():
    # mean = S exp(mu (tau - W/2)) = 100000 x exp(1e-6 x 870) = 100,087.04
    m, _ = average_moments(100000.0, 900.0, VolEstimate(0.0001, 1e-6, 60), None, NO_BASIS)
    assert m == pytest.approx(100087.0379, abs=1e-3)


def test_basis_adds_variance():
    # basis 1 bp of 100,000 = $10 -> + 100 to the variance
    _, v = average_moments(100000.0, 900.0, SIGMA, None, BtcModelParams(basis_bps=1.0))
    assert v == pytest.approx(86100.0)


@pytest.mark.parametrize("tau, strike, window_mean, p", [
    # before the window: z = (100000 - (100300 - 0.005)) / sqrt(86000) = -299.995 / 293.2576 = -1.0229745
    # N(-1.0229745) = 0.1531600 -> 0.1532
    (900, "100300.00", None, "0.1532"),
    # inside: z = (100050 - 100039.995) / sqrt(250) = 10.005 / 15.8113883 = 0.6327718; N = 0.7365586 -> 0.7366
    (30, "100040.00", D("100100"), "0.7366"),
    # after the close the outcome is known: kept inside the 4-place grid
    (-1, "100040.00", D("100100"), "0.9999"),
    (-1, "100200.00", D("100100"), "0.0001"),
    # the rounding to cents: an average of exactly K - 0.005 rounds up to K, so YES
    (-1, "100100.01", D("100100.005"), "0.9999"),
])
def test_updown_by_hand(tau, strike, window_mean, p):
    prob = updown_probability(D("100000"), D(strike), NOW, NOW + timedelta(seconds=tau), SIGMA,
                              window_mean=window_mean, sources=("coinbase", "kraken", "bitstamp"), params=NO_BASIS)
    assert prob.p_yes == D(p)
    assert prob.model == "btc15m-asian-digital"
    # confidence = min(1, 3 sources / 3) x min(1, 60 candles / 30) = 1
    assert prob.confidence == D("1.0000")


def test_updown_confidence_drops_with_fewer_sources_and_candles():
    # min(1, 2 / 3) x min(1, 15 / 30) = 0.6667 x 0.5 = 0.3333
    prob = updown_probability(D("100000"), D("100000"), NOW, NOW + timedelta(minutes=10),
                              VolEstimate(0.0001, 0.0, 15), sources=("coinbase", "kraken"))
    assert prob.confidence == D("0.3333")


def test_the_ladder_is_the_shared_black_scholes():
    close = NOW + timedelta(minutes=45)
    vol = VolEstimate(0.6 / math.sqrt(SECONDS_PER_YEAR), 0.0, 60)  # 60% a year
    prob = ladder_probability("greater", D("100999.99"), None, D("100500"), NOW, close, vol, sources=("a", "b", "c"))
    assert prob is not None and prob.model == "btcd-black-scholes"
    expected = binary_value("greater", 100500.0, 100999.99, None, year_fraction(NOW, close), 0.6)
    assert expected is not None and prob.p_yes == D(str(round(expected, 4))).quantize(D("0.0001"))
    assert ladder_probability("functional", None, None, D("1"), NOW, close, vol) is None


def test_window_average():
    pts = [(NOW + timedelta(seconds=s), D(v)) for s, v in [(0, "10"), (10, "20"), (20, "60"), (70, "1000")]]
    # inside [NOW + 5 s, NOW + 60 s]: 20 and 60 -> 40
    assert window_average(pts, NOW + timedelta(seconds=5), NOW + timedelta(seconds=60)) == D("40")
    assert window_average(pts, NOW + timedelta(hours=1), NOW + timedelta(hours=2)) is None


@pytest.mark.parametrize("kw", [{"window_s": 0}, {"momentum_candles": 1}, {"basis_bps": -1}, {"full_sources": 0}])
def test_bad_params(kw):
    with pytest.raises(ConfigError):
        BtcModelParams(**kw)
