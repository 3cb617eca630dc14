from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_trading.money import (
    GRIDS,
    MoneyError,
    PriceGrid,
    fill_fee,
    fmt_count,
    fmt_dollars,
    is_valid_count,
    taker_fee,
    to_decimal,
)


@pytest.mark.parametrize(
    "count,price,fee",
    [
        # reference section 8 [obs]: 1 @ 0.52 -> 0.07 * 0.52 * 0.48 = 0.017472 -> up to 0.0175
        ("1", "0.52", "0.0175"),
        # 1 @ 0.99 -> 0.07 * 0.99 * 0.01 = 0.000693 -> 0.0007
        ("1", "0.99", "0.0007"),
        # 10 @ 0.50 -> 0.07 * 10 * 0.25 = 0.175 exactly
        ("10", "0.50", "0.1750"),
        # fractional: 0.5 @ 0.30 -> 0.07 * 0.5 * 0.21 = 0.00735 -> 0.0074
        ("0.5", "0.30", "0.0074"),
    ],
)
def test_taker_fee_worked_examples(count, price, fee):
    assert taker_fee(D(count), D(price)) == D(fee)


def test_obs_fee_sum_for_three_buys():
    # [obs] buys at 0.52 + 0.99 + 0.99 -> fees_paid 0.0189 = 0.0175 + 0.0007 + 0.0007
    total = sum(taker_fee(D(1), D(p)) for p in ("0.52", "0.99", "0.99"))
    assert total == D("0.0189")


def test_maker_fee_depends_on_fee_type():
    assert fill_fee(D(1), D("0.52"), "quadratic", is_taker=False) == 0
    # 0.0175 * 0.2496 = 0.004368 -> 0.0044
    assert fill_fee(D(1), D("0.52"), "quadratic_with_maker_fees", is_taker=False) == D("0.0044")
    with pytest.raises(MoneyError):
        fill_fee(D(1), D("0.5"), "nonsense", is_taker=True)


def test_fee_symmetric_in_yes_and_no():
    for p in ("0.01", "0.37", "0.5", "0.83"):
        assert taker_fee(D(3), D(p)) == taker_fee(D(3), 1 - D(p))


def test_to_decimal_refuses_float_and_garbage():
    with pytest.raises(MoneyError):
        to_decimal(0.1)
    with pytest.raises(MoneyError):
        to_decimal("abc")
    with pytest.raises(MoneyError):
        to_decimal("NaN")
    assert to_decimal("0.5600") == D("0.56")
    assert to_decimal(3) == 3


def test_formats():
    assert fmt_dollars(D("0.56")) == "0.5600"
    assert fmt_count(D("10")) == "10.00"
    assert is_valid_count(D("0.01")) and not is_valid_count(D("1.005")) and not is_valid_count(D(0))


def test_grids():
    cent = GRIDS["linear_cent"]
    assert cent.contains(D("0.52")) and not cent.contains(D("0.525"))
    assert not cent.contains(D("0")) and not cent.contains(D("1")) and not cent.contains(D("1.00"))
    tapered = GRIDS["tapered_deci_cent"]
    assert tapered.contains(D("0.055")) and tapered.contains(D("0.955")) and not tapered.contains(D("0.555"))
    assert tapered.floor(D("0.5555")) == D("0.55") and tapered.ceil(D("0.5555")) == D("0.56")
    assert cent.next_above(D("0.52")) == D("0.53") and cent.next_below(D("0.01")) is None
    assert len(cent.ticks()) == 99
    assert tapered.next_above(D("0.099")) == D("0.100")


@given(st.integers(min_value=1, max_value=999))
def test_grid_floor_ceil_bracket(n):
    p = D(n) / 1000
    for grid in GRIDS.values():
        lo, hi = grid.floor(p), grid.ceil(p)
        if lo is not None:
            assert lo <= p and grid.contains(lo)
        if hi is not None:
            assert hi >= p and grid.contains(hi)
        if grid.contains(p):
            assert lo == hi == p


def test_custom_grid_of():
    grid = PriceGrid.of([("0.0001", "0.9999", "0.0001")])
    assert grid.contains(D("0.1234")) and grid.finest_step == D("0.0001")
