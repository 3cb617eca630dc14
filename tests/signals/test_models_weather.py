"""The weather bracket model: table tests with the arithmetic written out, and the sum over an event's brackets."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_trading.errors import ConfigError
from kalshi_trading.signals.collectors.weather import ForecastKind, ModelMembers
from kalshi_trading.signals.models.weather import (Bracket, WeatherModelParams, bracket_probability,
                                                   event_probabilities, members_for_day, pool_members)

NO_WIDE = WeatherModelParams(wide_weight=0.0)


@pytest.mark.parametrize("strike_type, floor, cap, lo, hi", [
    ("between", "44", "45", 44, 45),             # "44° to 45°": both ends settle YES
    ("between", "43.5", "45.5", 44, 45),         # half-degree strikes: the whole degrees inside
    ("greater", "51", None, 52, math.inf),       # "above 51°": 52 or more
    ("greater", "51.5", None, 52, math.inf),
    ("greater_or_equal", "51", None, 51, math.inf),
    ("less", None, "44", -math.inf, 43),         # "below 44°": 43 or less
    ("less", None, "43.5", -math.inf, 43),
    ("less_or_equal", None, "44", -math.inf, 44),
])
def test_settled_range(strike_type, floor, cap, lo, hi):
    b = Bracket(strike_type, D(floor) if floor else None, D(cap) if cap else None)
    assert b.settled_range() == (lo, hi)


@pytest.mark.parametrize("bracket", [Bracket("between", D(1)), Bracket("greater"), Bracket("functional", D(1))])
def test_unmodelled_strikes_are_refused(bracket):
    with pytest.raises(ValueError, match="cannot model"):
        bracket.settled_range()


# Four members all at 70.0 °F: sd 0, so the bandwidth is the floor h = 1.0.  Rounded half up, T = k exactly when
# 69.5 <= X < 70.5 etc.
#   between 70-71: P(69.5 <= X < 71.5) = N((71.5-70)/1) - N((69.5-70)/1) = N(1.5) - N(-0.5)
#                = 0.9331928 - 0.3085375 = 0.6246553 -> 0.6247
#   greater 71 (T >= 72): P(X >= 71.5) = 1 - N(1.5) = 0.0668072 -> 0.0668
#   less 70 (T <= 69): P(X < 69.5) = N(-0.5) = 0.3085375 -> 0.3085
#   the three partition the line: 0.6247 + 0.0668 + 0.3085 = 1.0000
FLAT = {"gefs": [70.0, 70.0, 70.0, 70.0]}


@pytest.mark.parametrize("bracket, p", [
    (Bracket("between", D(70), D(71)), D("0.6247")),
    (Bracket("greater", D(71)), D("0.0668")),
    (Bracket("less", None, D(70)), D("0.3085")),
    (Bracket("between", D(90), D(91)), D("0.0001")),   # 20 bandwidths away: the 4-place floor, never 0
    (Bracket("greater", D(10)), D("0.9999")),           # certain by the members: the ceiling, never 1
])
def test_kernel_only_by_hand(bracket, p):
    prob = bracket_probability(FLAT, bracket, NO_WIDE)
    assert prob.p_yes == p
    # confidence: n / (n + 10) x 1 / (1 + (sd / 4)^2) = 4 / 14 x 1 = 0.285714 -> 0.2857
    assert prob.confidence == D("0.2857")
    assert dict(prob.inputs)["members"] == "4" and dict(prob.inputs)["bandwidth_f"] == "1.00"


def test_the_wide_component_by_hand():
    # 0.95 x [N(1.5) - N(-0.5)] + 0.05 x [N((71.5-70)/5) - N((69.5-70)/5)]
    # = 0.95 x 0.6246553 + 0.05 x [N(0.3) - N(-0.1)] = 0.5934225 + 0.05 x (0.6179114 - 0.4601722)
    # = 0.5934225 + 0.0078870 = 0.6013095 -> 0.6013
    prob = bracket_probability(FLAT, Bracket("between", D(70), D(71)))  # defaults: wide_weight 0.05, wide_sd 5
    assert prob.p_yes == D("0.6013")


def test_equal_weight_per_model_by_hand():
    # a: [60, 60] (weights 1/4 each), b: [70] (weight 1/2): mean = 0.25x60x2 + 0.5x70 = 65
    # variance = 0.5 x (60-65)^2 + 0.5 x (70-65)^2 = 25 -> sd 5; n_eff = 1 / (1/16 + 1/16 + 1/4) = 2.6667
    # h = 1.06 x 5 x 2.6667^(-1/5) = 5.3 / 1.2167287 = 4.3559
    # confidence = 3 / 13 x 1 / (1 + (5/4)^2) = 0.2307692 / 2.5625 = 0.0900563 -> 0.0901
    pool = pool_members({"a": [60.0, 60.0], "b": [70.0]})
    assert (pool.mean, pool.sd, pool.n) == (pytest.approx(65.0), pytest.approx(5.0), 3)
    assert pool.h == pytest.approx(4.3559423, abs=1e-6)
    prob = bracket_probability({"a": [60.0, 60.0], "b": [70.0]}, Bracket("greater", D(64)))
    assert prob.confidence == D("0.0901")
    # by symmetry around 65 (the mixture is symmetric about the mean): P(X >= 64.5) = 1 - P(X < 64.5) > 0.5
    assert prob.p_yes > D("0.5")


def test_spread_lowers_confidence():
    tight = bracket_probability({"m": [70.0, 70.5, 71.0, 70.2]}, Bracket("greater", D(70)))
    wide = bracket_probability({"m": [60.0, 80.0, 65.0, 75.0]}, Bracket("greater", D(70)))
    assert wide.confidence < tight.confidence


def test_model_members_from_the_collector_pool_the_same():
    day_models = (ModelMembers("gefs", ForecastKind.ENSEMBLE, None, (70.0, 70.0)),  # type: ignore[arg-type]
                  ModelMembers("ifs", ForecastKind.FORECAST, None, (70.0,)))  # type: ignore[arg-type]
    assert members_for_day(day_models) == {"gefs": (70.0, 70.0), "ifs": (70.0,)}
    a = bracket_probability(day_models, Bracket("between", D(70), D(71)), NO_WIDE)
    assert a.p_yes == D("0.6247")


def test_no_members_is_an_error_not_a_probability():
    with pytest.raises(ValueError, match="no members"):
        bracket_probability({"gefs": []}, Bracket("greater", D(70)))


def test_bias_shifts_every_member():
    # members 69 + bias 1 = 70: the same as FLAT
    assert bracket_probability({"m": [69.0] * 4}, Bracket("greater", D(71)),
                               WeatherModelParams(wide_weight=0, bias_f=1.0)).p_yes == D("0.0668")


@pytest.mark.parametrize("kw, key", [({"min_bandwidth_f": 0}, "min_bandwidth_f"), ({"wide_weight": 1.0}, "wide_weight"),
                                     ({"wide_sd_f": -1}, "wide_sd_f"), ({"count_half": 0}, "count_half")])
def test_bad_params_name_the_key(kw, key):
    with pytest.raises(ConfigError, match=key):
        WeatherModelParams(**kw)


# --- the brackets of one event sum to 1 within rounding ----------------------------------------------------------


def event(low: int, n_between: int, width: int) -> list[Bracket]:
    """A KXHIGHNY-like event: `less low`, then between brackets of `width` whole degrees, then a greater tail."""
    out = [Bracket("less", None, D(low))]
    for i in range(n_between):
        a = low + width * i
        out.append(Bracket("between", D(a), D(a + width - 1)))
    out.append(Bracket("greater", D(low + width * n_between - 1)))
    return out


@settings(max_examples=150, deadline=None)
@given(members=st.dictionaries(st.sampled_from(["gefs", "ifs", "icon"]),
                               st.lists(st.one_of(st.floats(-20, 110, allow_nan=False), st.integers(-20, 110)),
                                        min_size=1, max_size=60), min_size=1),
       low=st.integers(-10, 100), n=st.integers(1, 12), width=st.integers(1, 3),
       wide=st.floats(0, 0.5), min_bw=st.floats(0.3, 4))
def test_an_events_brackets_sum_to_one(members, low, n, width, wide, min_bw):
    brackets = event(low, n, width)
    probs = event_probabilities(members, brackets, WeatherModelParams(wide_weight=wide, min_bandwidth_f=min_bw))
    total = sum(p.p_yes for p in probs)
    # each probability is rounded to 4 places (+-0.00005) and kept inside [0.0001, 0.9999] (+0.0001 at most)
    assert abs(total - 1) <= D("0.0001") * len(brackets)
    assert all(D("0.0001") <= p.p_yes <= D("0.9999") for p in probs)


def test_the_simulator_shaped_event_sums_to_one_within_the_4_place_rounding():
    # less 40, five 2-degree brackets 40-41 ... 48-49, greater 49: the simulator's layout around 45.  No bracket is
    # near the floor, so the only error is each value's rounding to 4 places: at most 7 x 0.00005.
    probs = event_probabilities({"gefs": [44.0, 45.5, 46.0, 43.2, 47.1], "ifs": [45.0, 44.4]}, event(40, 5, 2))
    assert all(p.p_yes > D("0.001") for p in probs)
    assert abs(sum(p.p_yes for p in probs) - 1) <= D("0.00035")
