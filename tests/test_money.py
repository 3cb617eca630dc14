from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_trading.money import (
    GRIDS,
    MAX_COUNT,
    MoneyError,
    PriceGrid,
    fill_fee,
    fmt_count,
    fmt_dollars,
    is_valid_count,
    parse_count_text,
    parse_dollars_text,
    parse_price_text,
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


# ---- the one grammar for typed counts, prices and dollar amounts (issue 10 item 12) ----

NOT_THE_GRAMMAR = ["1e2", "1E2", "1e29", "1_000", "\u0665", "\u0661\u0660", "\uff15", "\u00b2", "-1", "+1", "1 0",
                   ".5", "5.", "1.2.3", "0x10", "nan", "inf", "Infinity", "", " ", "1,000", "１", "10\u00a0"]


@pytest.mark.parametrize("text", NOT_THE_GRAMMAR)
def test_counts_prices_and_dollars_refuse_the_same_texts(text):
    for parse in (parse_count_text, parse_price_text, parse_dollars_text):
        with pytest.raises(MoneyError):
            parse(text)


@pytest.mark.parametrize("text,count", [("10", D(10)), ("2.5", D("2.5")), ("0.25", D("0.25")), (" 7 ", D(7)),
                                        ("1000000", MAX_COUNT), ("007", D(7)), ("1.50", D("1.5"))])
def test_counts_in_the_grammar(text, count):
    assert parse_count_text(text) == count


@pytest.mark.parametrize("text,why", [("0", "more than 0"), ("0.00", "more than 0"), ("0.001", "steps of 0.01"),
                                      ("1000000.01", "at most"), ("99999999999999999999", "at most"),
                                      ("1" * 40, "not understood")])
def test_counts_out_of_range(text, why):
    with pytest.raises(MoneyError, match=why):
        parse_count_text(text)


@pytest.mark.parametrize("text,price", [("52", D("0.52")), ("1", D("0.01")), ("99", D("0.99")), ("05", D("0.05")),
                                        ("0.52", D("0.52")), ("0.525", D("0.525")), ("0.0001", D("0.0001"))])
def test_prices_in_the_grammar(text, price):
    assert parse_price_text(text) == price


@pytest.mark.parametrize("text", ["0", "100", "1.5", "52.3", "0.0", "0.00001", "00.5", "1.0"])
def test_prices_out_of_range(text):
    with pytest.raises(MoneyError):
        parse_price_text(text)


@pytest.mark.parametrize("text,ok", [("0", True), ("1000", True), ("250.50", True), ("1000000000", True),
                                     ("1000000000.01", False), ("0.00001", False), ("1e400", False)])
def test_dollar_amounts(text, ok):
    if ok:
        assert parse_dollars_text(text) == D(text)
    else:
        with pytest.raises(MoneyError):
            parse_dollars_text(text)


@given(st.text(max_size=12))
def test_typed_numbers_are_ascii_and_in_range_or_refused(text):
    for parse in (parse_count_text, parse_price_text, parse_dollars_text):
        try:
            value = parse(text)
        except MoneyError:
            continue
        assert text.strip(" \t\r\n").isascii() and value.is_finite() and value >= 0
        if parse is parse_count_text:
            assert 0 < value <= MAX_COUNT and is_valid_count(value)
        if parse is parse_price_text:
            assert 0 < value < 1
