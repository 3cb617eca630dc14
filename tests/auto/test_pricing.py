"""Binary-option pricing, realized volatility and the recorded/CSV underlying sources."""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_trading.auto.pricing import (SECONDS_PER_YEAR, CsvUnderlying, RecordedUnderlying, binary_value, d2,
                                         norm_cdf, parse_timestamp, prob_above, prob_above_ladder,
                                         realized_volatility, year_fraction)
from kalshi_trading.errors import ConfigError

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_norm_cdf_known_values():
    assert norm_cdf(0.0) == 0.5
    assert norm_cdf(1.0) == pytest.approx(0.8413447460685429, abs=1e-15)
    assert norm_cdf(-1.959963984540054) == pytest.approx(0.025, abs=1e-12)
    assert norm_cdf(-10) == pytest.approx(7.619853024160527e-24, rel=1e-9)  # erfc keeps the tail


def test_at_the_money_by_hand():
    # S = K, r = 0, vol 0.5, T = 1: d2 = -vol^2 T / (2 vol sqrt T) = -0.25.
    assert d2(100, 100, 1.0, 0.5) == pytest.approx(-0.25)
    assert prob_above(100, 100, 1.0, 0.5) == pytest.approx(0.4012936743170763, abs=1e-12)


def test_in_the_money_by_hand():
    # d2 = (ln(100/90) - 0.5 * 0.04 * 0.25) / (0.2 * 0.5) = (0.1053605157 - 0.005) / 0.1 = 1.003605157
    assert d2(100, 90, 0.25, 0.2) == pytest.approx(1.003605157, abs=1e-9)
    assert prob_above(100, 90, 0.25, 0.2) == pytest.approx(0.8422155, abs=1e-6)  # N(1.003605157)


@settings(deadline=None)
@given(spot=st.floats(1, 1e5), k=st.floats(0.5, 2.0), t=st.floats(1e-6, 2.0), vol=st.floats(0.01, 3.0))
def test_matches_scipy(spot, k, t, vol):
    from scipy.stats import norm

    strike = spot * k
    expected = norm.cdf((math.log(spot / strike) - 0.5 * vol * vol * t) / (vol * math.sqrt(t)))
    assert prob_above(spot, strike, t, vol) == pytest.approx(expected, abs=1e-12)


def test_deterministic_limits():
    assert prob_above(101, 100, 0.0, 0.5) == 1.0
    assert prob_above(99, 100, 0.0, 0.5) == 0.0
    assert prob_above(100, 100, 0.0, 0.5) == 0.5
    assert prob_above(101, 100, 1.0, 0.0) == 1.0


def test_strike_types():
    args = dict(spot=100.0, t_years=0.1, vol=0.4)
    up = prob_above(100, 95, 0.1, 0.4)
    down = prob_above(100, 105, 0.1, 0.4)
    assert binary_value("greater", floor_strike=95.0, cap_strike=None, **args) == pytest.approx(up)
    assert binary_value("greater_or_equal", floor_strike=95.0, cap_strike=None, **args) == pytest.approx(up)
    assert binary_value("less", floor_strike=None, cap_strike=105.0, **args) == pytest.approx(1 - down)
    assert binary_value("between", floor_strike=95.0, cap_strike=105.0, **args) == pytest.approx(up - down)
    assert binary_value("functional", floor_strike=95.0, cap_strike=105.0, **args) is None
    assert binary_value("greater", floor_strike=None, cap_strike=105.0, **args) is None
    assert binary_value(None, floor_strike=95.0, cap_strike=105.0, **args) is None


def test_between_against_scipy():
    from scipy.stats import norm

    s, lo, hi, t, v = 50_000.0, 49_500.0, 50_250.0, 2 / 24 / 365, 0.6
    sd = v * math.sqrt(t)
    expected = (norm.cdf((math.log(s / lo) - v * v * t / 2) / sd) - norm.cdf((math.log(s / hi) - v * v * t / 2) / sd))
    assert binary_value("between", s, lo, hi, t, v) == pytest.approx(expected, abs=1e-12)


def test_ladder_matches_scalar():
    strikes = [80 + i * 0.5 for i in range(80)]
    got = prob_above_ladder(100.0, strikes, 0.05, 0.7)
    for k, g in zip(strikes, got, strict=True):
        assert g == pytest.approx(prob_above(100.0, k, 0.05, 0.7), abs=2e-7)
    assert list(prob_above_ladder(100.0, [99, 100, 101], 0.0, 0.7)) == [1.0, 0.5, 0.0]


def test_year_fraction():
    assert year_fraction(T0, T0 + timedelta(days=365)) == pytest.approx(1.0)
    assert year_fraction(T0, T0 - timedelta(days=1)) == 0.0


def test_realized_volatility_by_hand():
    # Alternate +r, -r log returns once a second: variance per second r^2, so vol = r * sqrt(seconds per year).
    r = 0.001
    points, px = [], 100.0
    for i in range(101):
        points.append((T0 + timedelta(seconds=i), px))
        px *= math.exp(r if i % 2 == 0 else -r)
    assert realized_volatility(points) == pytest.approx(r * math.sqrt(SECONDS_PER_YEAR), rel=1e-9)


def test_realized_volatility_irregular_sampling_and_junk():
    # One return over 4 s counts as 4 s of variance, not one sample.
    points = [(T0, 100.0), (T0 + timedelta(seconds=4), 100 * math.exp(0.002)), (T0 + timedelta(seconds=4), 5.0),
              (T0 + timedelta(seconds=5), 100 * math.exp(0.002)), (T0 + timedelta(seconds=6), -1.0)]
    expected = math.sqrt(0.002 ** 2 / (5 / SECONDS_PER_YEAR))
    assert realized_volatility(points) == pytest.approx(expected, rel=1e-9)
    assert realized_volatility(points[:2]) is None  # one return is not enough
    assert realized_volatility([]) is None


def test_recorded_underlying():
    src = RecordedUnderlying([(T0 + timedelta(seconds=2), 102.0), (T0, 100.0)])
    src.append(T0 + timedelta(seconds=5), 105.0)
    assert src.latest() == (T0 + timedelta(seconds=5), 105.0)
    assert src.latest(T0 + timedelta(seconds=3)) == (T0 + timedelta(seconds=2), 102.0)
    assert src.latest(T0 - timedelta(seconds=1)) is None
    assert [p for _, p in src.window(T0 + timedelta(seconds=1), T0 + timedelta(seconds=5))] == [102.0, 105.0]
    with pytest.raises(ValueError):
        src.append(T0, 1.0)
    with pytest.raises(ValueError):
        RecordedUnderlying([(datetime(2026, 1, 1), 1.0)])
    assert RecordedUnderlying().latest() is None


def test_parse_timestamp():
    assert parse_timestamp("2026-01-01T00:00:00Z") == T0
    assert parse_timestamp("2026-01-01T01:00:00+01:00") == T0
    assert parse_timestamp(str(T0.timestamp())) == T0
    assert parse_timestamp(str(int(T0.timestamp() * 1000))) == T0
    with pytest.raises(ValueError):
        parse_timestamp("2026-01-01T00:00:00")


def test_csv_underlying(tmp_path):
    f = tmp_path / "spot.csv"
    f.write_text("timestamp,price\n2026-01-01T00:00:01Z,101.5\n2026-01-01T00:00:00Z,100\n")
    src = CsvUnderlying(f)
    assert len(src) == 2
    assert src.latest() == (T0 + timedelta(seconds=1), 101.5)
    assert src.window(T0, T0) == [(T0, 100.0)]
    assert src.refresh() is False
    f.write_text(f.read_text() + "2026-01-01T00:00:02Z,102\n")
    os.utime(f, ns=(1, 2_000_000_000))
    assert src.refresh() is True
    assert src.latest()[1] == 102.0


@pytest.mark.parametrize("text, fragment", [
    ("time,price\n2026-01-01T00:00:00Z,1\n", "header"),
    ("timestamp,price\n2026-01-01T00:00:00Z,abc\n", "line 2"),
    ("timestamp,price\n2026-01-01T00:00:00Z,1\n2026-01-01T00:00:01,1\n", "line 3"),
    ("timestamp,price\n2026-01-01T00:00:00Z,0\n", "not positive"),
])
def test_csv_underlying_bad_files(tmp_path, text, fragment):
    f = tmp_path / "spot.csv"
    f.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        CsvUnderlying(f)


def test_csv_underlying_missing(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        CsvUnderlying(tmp_path / "nope.csv")
