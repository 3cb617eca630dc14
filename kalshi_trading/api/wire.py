"""Reading single wire values: the typed, strict primitives `parse.py` builds models from.

Every failure is a `ResponseFormatError` naming the object and the field: a missing required field, a value
of the wrong JSON type, a number that does not parse (or is absurdly large, or too precise), a price outside
$0..$1, a negative size, an unreadable time.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, Iterable, Mapping, TypeVar

from kalshi_trading.errors import ResponseFormatError
from kalshi_trading.models import known_member
from kalshi_trading.money import ONE, ZERO, MoneyError, to_decimal

_MISSING = object()
_LARGEST = Decimal(10) ** 15  # no price, count or amount on the wire comes near a quadrillion
_MAX_DIGITS = 40


def fail(obj: str, name: str) -> ResponseFormatError:
    """The error for a missing required field."""
    return ResponseFormatError(f"{obj} is missing required field {name!r}")


def kind(value: Any) -> str:
    """A JSON value's type in words, for messages."""
    names = {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, Decimal)) else type(value).__name__)


def wrong(obj: str, name: str, value: Any, expected: str) -> ResponseFormatError:
    """The error for a field of the wrong type."""
    return ResponseFormatError(f"{obj} field {name!r} is {kind(value)}, expected {expected}")


def number(value: Any, obj: str, name: str) -> Decimal:
    """A finite Decimal of sane size from wire text or an int (never a float)."""
    try:
        result = to_decimal(value, f"{obj}.{name}")
    except MoneyError as exc:
        raise ResponseFormatError(one_line(exc)) from None
    if isinstance(value, str):
        digits = len(value)
    else:
        digits = len(result.as_tuple().digits) if isinstance(value, Decimal) else 0
    if abs(result) >= _LARGEST or digits > _MAX_DIGITS:
        raise ResponseFormatError(f"{obj} field {name!r} is out of range: {one_line(value, 40)!r}")
    return result


def as_object(value: Any, what: str) -> Mapping:
    """`value` if it is a JSON object, else a ResponseFormatError."""
    if not isinstance(value, dict):
        raise ResponseFormatError(f"{what} is {kind(value)}, expected an object")
    return value


def field_obj(d: Mapping, key: str, what: str) -> Mapping:
    """A required object field."""
    if d.get(key) is None:
        raise fail(what, key)
    return as_object(d[key], f"{what} field {key!r}")


def field_list(d: Mapping, key: str, what: str, required: bool = True) -> list:
    """A list field (missing or null is [] when not required)."""
    value = d.get(key)
    if value is None:
        if required:
            raise fail(what, key)
        return []
    if not isinstance(value, list):
        raise wrong(what, key, value, "a list")
    return value


def objects(d: Mapping, key: str, what: str, required: bool = True) -> list[Mapping]:
    """A list field whose every item is an object."""
    items = field_list(d, key, what, required)
    for i, item in enumerate(items):
        as_object(item, f"{what} field {key!r} item {i}")
    return items


def flag(d: Mapping, key: str, obj_name: str, default: Any = _MISSING) -> bool:
    """A JSON boolean: `"false"` or `1` is a format error, not a truthy value."""
    value = d.get(key)
    if value is None:
        if default is _MISSING:
            raise fail(obj_name, key)
        return default
    if not isinstance(value, bool):
        raise wrong(obj_name, key, value, "true or false")
    return value


def choice(d: Mapping, key: str, obj_name: str, allowed: Iterable[str], default: Any = _MISSING) -> str:
    """A text field that must be one of `allowed`."""
    value = text(d, key, obj_name, default)
    options = tuple(allowed)
    if value != default and value not in options:
        raise ResponseFormatError(f"{obj_name} field {key!r} is {value[:40]!r}, expected one of {', '.join(options)}")
    return value


E = TypeVar("E", bound=StrEnum)


def member(d: Mapping, key: str, obj_name: str, cls: type[E], unknown: E, aliases: Mapping[str, E] | None = None
           ) -> E:
    """A required text field of an open set: a value this code does not know is `unknown` (logged once).

    `aliases` maps legacy spellings to members."""
    value = text(d, key, obj_name)
    if aliases and value in aliases:
        return aliases[value]
    return known_member(cls, value, unknown)


def optional_member(d: Mapping, key: str, obj_name: str, cls: type[E], unknown: E) -> E | None:
    """`member`, or None when the field is missing or null."""
    return None if d.get(key) is None else member(d, key, obj_name, cls, unknown)


def dollars(d: Mapping, name: str, obj: str, default: Any = _MISSING) -> Decimal:
    """`name_dollars`, else `name_fixed`, else int cents `name`."""
    for key in (f"{name}_dollars", f"{name}_fixed"):
        value = d.get(key)
        if value is not None:
            return number(value, obj, key)
    value = d.get(name)
    if value is not None:
        return number(value, obj, name) / 100
    if default is _MISSING:
        raise fail(obj, f"{name}_dollars")
    return default


def price(d: Mapping, name: str, obj: str, default: Any = _MISSING) -> Decimal:
    """A contract price in dollars (`dollars`), which must lie in [0, 1]."""
    value = dollars(d, name, obj, default)
    if value is not None and value is not default and not (ZERO <= value <= ONE):
        raise ResponseFormatError(f"{obj} field {name!r} is {value}, outside $0..$1")
    return value


def count(d: Mapping, name: str, obj: str, default: Any = _MISSING, signed: bool = True) -> Decimal:
    """`name_fp`, else a plain `name` (int contracts, or a string in V2 write responses); negative only if `signed`."""
    for key in (f"{name}_fp", name):
        value = d.get(key)
        if value is not None:
            result = number(value, obj, key)
            if result < 0 and not signed:
                raise ResponseFormatError(f"{obj} field {key!r} is negative ({result})")
            return result
    if default is _MISSING:
        raise fail(obj, f"{name}_fp")
    return default


def size(d: Mapping, name: str, obj: str, default: Any = _MISSING) -> Decimal:
    """A count that cannot be negative (order, fill and trade sizes, volumes)."""
    return count(d, name, obj, default, signed=False)


def plain_dollars(d: Mapping, key: str, obj: str, default: Any = _MISSING) -> Decimal:
    """A dollar string whose wire name carries no suffix (V2 write responses: `average_fill_price`, `fee_cost`)."""
    value = d.get(key)
    if value is None:
        if default is _MISSING:
            raise fail(obj, key)
        return default
    return number(value, obj, key)


def text(d: Mapping, key: str, obj: str, default: Any = _MISSING) -> str:
    """A text field (a number in its place is a format error: ids and names are strings on the wire)."""
    value = d.get(key)
    if value is None:
        if default is _MISSING:
            raise fail(obj, key)
        return default
    if not isinstance(value, str):
        raise wrong(obj, key, value, "text")
    return value


def timestamp(value: Any) -> datetime | None:
    """RFC 3339 text, or Unix seconds (ms when implausibly large), as aware UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        seconds = Decimal(value)
        if seconds > 10**11:
            seconds /= 1000
        try:
            return datetime.fromtimestamp(float(seconds), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ResponseFormatError(f"unreadable timestamp {str(value)[:40]!r}") from None
    if not isinstance(value, str):
        raise ResponseFormatError(f"unreadable timestamp: {kind(value)}")
    text_value = value.strip()
    if text_value.endswith("Z"):
        text_value = text_value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text_value)
    except ValueError:
        raise ResponseFormatError(f"unreadable timestamp {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def optional_decimal(value: Any) -> Decimal | None:
    """An informative number (a strike, a multiplier override): None when missing or unreadable."""
    if value is None or value == "":
        return None
    try:
        return number(value, "value", "value")
    except ResponseFormatError:
        return None


def cents(d: Mapping, key: str, obj: str, default: Any = _MISSING) -> Decimal:
    """A whole number of cents (`balance`, `revenue`) as dollars."""
    value = d.get(key)
    if value is None:
        if default is _MISSING:
            raise fail(obj, key)
        return default
    return number(value, obj, key) / 100


def in_unit(value: Decimal | None, obj: str, key: str) -> Decimal | None:
    """`value` (a price) if it lies in $0..$1."""
    if value is not None and not (ZERO <= value <= ONE):
        raise ResponseFormatError(f"{obj} field {key!r} is {value}, outside $0..$1")
    return value


def one_line(value: Any, limit: int = 200) -> str:
    """Server-supplied text made safe for a one-line message: no control characters, bounded length."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
