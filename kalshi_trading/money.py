"""Exact money, counts, price grids and the fee formula.

Everything here is `Decimal` (or integer sub-units for hot paths), never float.
Prices are dollars per contract (a YES price in [0, 1]); counts are contracts in
steps of 0.01.  This module imports nothing of ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Iterable

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
COUNT_STEP = Decimal("0.01")
FEE_QUANTUM = Decimal("0.0001")
DOLLAR_PLACES = Decimal("0.0001")

TAKER_FEE_RATE = Decimal("0.07")
# Maker fees exist only for these fee types (reference section 8); others charge makers nothing.
MAKER_FEE_RATES = {
    "quadratic_with_maker_fees": Decimal("0.0175"),
    "quadratic_with_combo_maker_fees": Decimal("0.035"),
}
FEE_TYPES = ("quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat")

# Far finer than any tick, to step strictly past a price on the grid.
_EPSILON = Decimal("1e-9")

# Integer sub-units for hot paths: 1/10,000 of a dollar and 1/100 of a contract.
PRICE_UNITS = 10_000
COUNT_UNITS = 100


class MoneyError(ValueError):
    """A value that is not a valid exact amount (bad text, float, out of range)."""


# ---- what a person types ---------------------------------------------------------------------------
# One grammar for every count, price and dollar amount a user types (CLI arguments, the menu, the
# simulator's balance): ASCII digits with at most one decimal point and digits on both sides of it.
# No sign, exponent, digit separators, inner whitespace or non-ASCII digits; surrounding ASCII spaces and
# tabs are ignored.  Wire text from the exchange is parsed by `to_decimal`, not here.
MAX_COUNT = Decimal(1_000_000)  # contracts in one order or amend
MAX_DOLLARS = Decimal(1_000_000_000)  # a typed dollar amount (the simulator's starting balance)
MAX_PRICE_PLACES = 4  # prices are written to $0.0001 at most
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_TEXT = 32  # longer input is refused before Decimal sees it
_GRAMMAR = "digits 0-9 with at most one decimal point (no sign, exponent, separators or spaces)"


def _number_text(text: object, what: str) -> str:
    """The stripped text if it follows the grammar, else MoneyError naming `what`."""
    raw = str(text).strip(" \t\r\n")
    if len(raw) > _MAX_TEXT or not _NUMBER.fullmatch(raw):
        shown = raw if len(raw) <= _MAX_TEXT else raw[:_MAX_TEXT] + "..."
        raise MoneyError(f"{what} {shown!r} not understood: write {_GRAMMAR}")
    return raw


def parse_count_text(text: object, what: str = "count") -> Decimal:
    """A typed contract count: more than 0, in steps of 0.01, at most MAX_COUNT (`10`, `2.5`, `0.25`)."""
    raw = _number_text(text, what)
    value = Decimal(raw)
    if value <= 0:
        raise MoneyError(f"{what} {raw}: must be more than 0 contracts")
    if value % COUNT_STEP != 0:
        raise MoneyError(f"{what} {raw}: contracts come in steps of 0.01")
    if value > MAX_COUNT:
        raise MoneyError(f"{what} {raw}: at most {MAX_COUNT:,} contracts")
    return value


def parse_price_text(text: object, what: str = "price") -> Decimal:
    """A typed price: whole cents 1-99 (`52`) or dollars with a leading `0.` up to $0.0001 (`0.52`, `0.525`)."""
    raw = _number_text(text, what)
    rule = "write whole cents from 1 to 99 (52) or dollars with a leading 0. (0.52, 0.525)"
    if "." not in raw:
        cents = int(raw)
        if not 1 <= cents <= 99:
            raise MoneyError(f"{what} {raw}: a price in cents must be a whole number from 1 to 99")
        return Decimal(cents) / 100
    whole, places = raw.split(".")
    if whole != "0":
        raise MoneyError(f"{what} {raw}: {rule}")
    if len(places) > MAX_PRICE_PLACES:
        raise MoneyError(f"{what} {raw}: prices go to $0.0001 at most")
    value = Decimal(raw)
    if value <= 0:
        raise MoneyError(f"{what} {raw}: must be above 0")
    return value


def parse_dollars_text(text: object, what: str = "amount", maximum: Decimal = MAX_DOLLARS) -> Decimal:
    """A typed dollar amount: 0 to `maximum`, to $0.0001 at most (`1000`, `250.50`)."""
    raw = _number_text(text, what)
    value = Decimal(raw)
    if "." in raw and len(raw.split(".")[1]) > MAX_PRICE_PLACES:
        raise MoneyError(f"{what} {raw}: dollars go to $0.0001 at most")
    if value > maximum:
        raise MoneyError(f"{what} {raw}: at most ${maximum:,}")
    return value


def to_decimal(value: object, what: str = "value") -> Decimal:
    """Turn wire text (or an int / Decimal) into a Decimal; floats are refused."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or isinstance(value, float):
        # bool is an int subclass; float would carry binary noise into money.
        raise MoneyError(f"{what}: {value!r} is not an exact amount")
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise MoneyError(f"{what}: {value!r} is not a number") from None
    else:
        raise MoneyError(f"{what}: {value!r} is not a number")
    if not result.is_finite():
        raise MoneyError(f"{what}: {value!r} is not a finite number")
    return result


def cents_to_dollars(cents: int | Decimal | str) -> Decimal:
    """Integer cents (legacy wire fields, `balance`, `revenue`) to dollars."""
    return to_decimal(cents, "cents") / 100


def fmt_dollars(amount: Decimal, places: int = 4) -> str:
    """Fixed-point dollar string as the wire writes it: `0.5600`."""
    return str(amount.quantize(Decimal(1).scaleb(-places)))


def fmt_count(count: Decimal) -> str:
    """Fixed-point contract count as the wire writes it: `10.00`."""
    return str(count.quantize(COUNT_STEP))


def is_valid_count(count: Decimal) -> bool:
    """A positive multiple of 0.01 contracts."""
    return count > 0 and count % COUNT_STEP == 0


def price_to_units(price: Decimal) -> int:
    """Dollars to integer 1/10,000 units (exact for every grid Kalshi uses)."""
    units = price * PRICE_UNITS
    if units != units.to_integral_value():
        raise MoneyError(f"price {price} is finer than $0.0001")
    return int(units)


def units_to_price(units: int) -> Decimal:
    return Decimal(units) / PRICE_UNITS


def count_to_units(count: Decimal) -> int:
    units = count * COUNT_UNITS
    if units != units.to_integral_value():
        raise MoneyError(f"count {count} is finer than 0.01 contracts")
    return int(units)


def units_to_count(units: int) -> Decimal:
    return Decimal(units) / COUNT_UNITS


@dataclass(frozen=True)
class PriceRange:
    """One band of a market's tick grid: prices start, start+step, ... up to end."""

    start: Decimal
    end: Decimal
    step: Decimal

    def contains(self, price: Decimal) -> bool:
        return self.start <= price <= self.end and (price - self.start) % self.step == 0


@dataclass(frozen=True)
class PriceGrid:
    """A market's valid YES prices, the union of its `price_ranges`."""

    ranges: tuple[PriceRange, ...]

    @classmethod
    def of(cls, triples: Iterable[tuple[str, str, str]]) -> "PriceGrid":
        return cls(tuple(PriceRange(Decimal(a), Decimal(b), Decimal(c)) for a, b, c in triples))

    @property
    def min_price(self) -> Decimal:
        return min(r.start for r in self.ranges)

    @property
    def max_price(self) -> Decimal:
        return max(r.end for r in self.ranges)

    @property
    def finest_step(self) -> Decimal:
        return min(r.step for r in self.ranges)

    def contains(self, price: Decimal) -> bool:
        return any(r.contains(price) for r in self.ranges)

    def ticks(self) -> list[Decimal]:
        """Every valid price, ascending."""
        seen: set[Decimal] = set()
        for r in self.ranges:
            p = r.start
            while p <= r.end:
                seen.add(p)
                p += r.step
        return sorted(seen)

    def step_at(self, price: Decimal) -> Decimal:
        """The tick size that applies at `price` (the coarsest band containing it)."""
        steps = [r.step for r in self.ranges if r.start <= price <= r.end]
        return max(steps) if steps else self.finest_step

    def floor(self, price: Decimal) -> Decimal | None:
        """Highest valid price <= `price`, or None."""
        best = None
        for r in self.ranges:
            if price < r.start:
                continue
            p = min(price, r.end)
            p = r.start + ((p - r.start) // r.step) * r.step
            if best is None or p > best:
                best = p
        return best

    def ceil(self, price: Decimal) -> Decimal | None:
        """Lowest valid price >= `price`, or None."""
        best = None
        for r in self.ranges:
            if price > r.end:
                continue
            p = max(price, r.start)
            n = ((p - r.start) / r.step).to_integral_value(rounding=ROUND_CEILING)
            p = r.start + n * r.step
            if p > r.end:
                continue
            if best is None or p < best:
                best = p
        return best

    def next_above(self, price: Decimal) -> Decimal | None:
        """The first valid price strictly above `price`."""
        return self.ceil(price + _EPSILON)

    def next_below(self, price: Decimal) -> Decimal | None:
        """The last valid price strictly below `price`."""
        return self.floor(price - _EPSILON)


# Named structures from the reference (section 7).  Markets carry their own
# price_ranges on the wire; these exist for the simulator's catalogue and tests.
GRIDS: dict[str, PriceGrid] = {
    "linear_cent": PriceGrid.of([("0.01", "0.99", "0.01")]),
    "deci_cent": PriceGrid.of([("0.001", "0.999", "0.001")]),
    "tapered_deci_cent": PriceGrid.of(
        [("0.001", "0.100", "0.001"), ("0.10", "0.90", "0.01"), ("0.900", "0.999", "0.001")]
    ),
}


def round_fee_up(raw: Decimal) -> Decimal:
    """Fees are rounded up to $0.0001 per fill (reference section 8)."""
    return raw.quantize(FEE_QUANTUM, rounding=ROUND_CEILING)


def floor_to_cent(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_FLOOR)


def fee_rate(fee_type: str, is_taker: bool, multiplier: Decimal = ONE) -> Decimal:
    """The quadratic coefficient a fill pays: 0.07 for takers, the fee type's maker rate (often 0) for makers."""
    if fee_type not in FEE_TYPES:
        raise MoneyError(f"unknown fee type {fee_type!r}")
    if is_taker:
        base = TAKER_FEE_RATE
    else:
        base = MAKER_FEE_RATES.get(fee_type, ZERO)
    return base * multiplier


def trading_fee(count: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """round_up(rate x C x P x (1 - P)); symmetric in YES and NO prices."""
    if rate == 0:
        return ZERO
    return round_fee_up(rate * count * price * (ONE - price))


def taker_fee(count: Decimal, price: Decimal, multiplier: Decimal = ONE) -> Decimal:
    return trading_fee(count, price, TAKER_FEE_RATE * multiplier)


def fill_fee(count: Decimal, price: Decimal, fee_type: str, is_taker: bool, multiplier: Decimal = ONE) -> Decimal:
    """The fee one fill pays, per the series' fee type."""
    return trading_fee(count, price, fee_rate(fee_type, is_taker, multiplier))
