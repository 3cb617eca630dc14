"""What the loopback copies of outside sources share: their query, their errors, and prices as strings.

Model quantities are floats; what goes on the wire is a decimal string made with `Decimal` (never float
formatting), on the source's own price tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal


class OutsideError(Exception):
    """An answer other than 200, already in the source's own error shape."""

    def __init__(self, status: int, body: object):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Query:
    """A parsed query string (`parse_qs` with blank values kept)."""

    values: dict[str, list[str]]

    def one(self, name: str) -> str | None:
        """The last value given for `name` (None when absent)."""
        got = self.values.get(name)
        return got[-1] if got else None

    def items(self, name: str) -> list[str]:
        """Comma lists and repeated keys alike, blanks dropped."""
        out: list[str] = []
        for value in self.values.get(name, ()):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out


def dec(value: float) -> Decimal:
    """A model float as a Decimal (its shortest repr, so 0.1 stays 0.1)."""
    return Decimal(repr(float(value)))


def on_tick(value: Decimal, tick: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """`value` rounded to a multiple of `tick` (keeping the tick's exponent)."""
    return ((value / tick).to_integral_value(rounding=rounding) * tick).quantize(tick)


def floor_tick(value: Decimal, tick: Decimal) -> Decimal:
    return on_tick(value, tick, ROUND_FLOOR)


def fixed(value: Decimal | float, places: int) -> str:
    """A decimal string with exactly `places` decimals."""
    number = value if isinstance(value, Decimal) else dec(value)
    return str(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def iso_micro(ms: int) -> str:
    """RFC 3339 UTC with six fractional digits and a Z (as Coinbase writes times)."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}000Z"
