"""Query and body parsing shared by the routes: typed parameters, pagination, wire numbers."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, overload

from kalshi_trading.sim.errors import SimError, bad_request
from kalshi_trading.sim.records import Account


@dataclass
class Request:
    method: str
    path: str  # route path, after /trade-api/v2
    query: dict[str, list[str]]
    body: object
    account: Account | None = None
    match: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> Account:
        """The authenticated account (private routes run only after the dispatcher authorised the request)."""
        if self.account is None:
            raise SimError(401, "authentication_error", "this route needs a signed request")
        return self.account

    def one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def many(self, name: str) -> list[str]:
        """Repeated keys and comma lists alike: `?a=x&a=y` or `?a=x,y`."""
        out: list[str] = []
        for value in self.query.get(name, ()):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    @overload
    def int(self, name: str, default: builtins.int) -> builtins.int: ...

    @overload
    def int(self, name: str, default: None = None) -> builtins.int | None: ...

    def int(self, name: str, default: builtins.int | None = None) -> builtins.int | None:
        raw = self.one(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"{name} must be an integer", "invalid_parameters", raw) from None

    def bool(self, name: str, default: builtins.bool = False) -> builtins.bool:
        raw = self.one(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise bad_request(f"{name} must be true or false", "invalid_parameters", raw)

    def field(self, name: str, required: builtins.bool = True) -> Any:
        body = self.body if isinstance(self.body, dict) else {}
        if name not in body or body[name] is None:
            if required:
                raise bad_request(f"{name} is required", "invalid_parameters", name)
            return None
        return body[name]


def paginate(req: Request, items: list, default: int = 100, maximum: int = 1000) -> tuple[list, str]:
    """Offset cursor pagination; the last page answers cursor "" (reference section 10)."""
    limit = req.int("limit", default)
    if limit < 1 or limit > maximum:
        raise bad_request(f"limit must be between 1 and {maximum}", "invalid_parameters", str(limit))
    raw = req.one("cursor") or ""
    try:
        start = max(0, int(raw)) if raw else 0
    except ValueError:
        start = 0  # a garbage cursor starts over (the exchange answered 200)
    page = items[start:start + limit]
    end = start + limit
    return page, (str(end) if end < len(items) else "")


def parse_count(value, what: str = "count", allow_zero: bool = False) -> int:
    """fp text (or a number) -> count units; refuse <= 0 or finer than 0.01."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        dec = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise SimError(400, "invalid_order_size", f"{what} is not a number", str(value)) from None
    units = dec * 100
    if not dec.is_finite() or units != units.to_integral_value() or dec < 0 or (dec == 0 and not allow_zero):
        raise SimError(400, "invalid_order_size", f"{what} must be a positive multiple of 0.01", str(value))
    return int(units)


def parse_price(value) -> int:
    """$ text (or a number) -> price units; off-grid handling is the engine's."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        dec = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise SimError(400, "invalid_price", "price is not a number", str(value)) from None
    units = dec * 10_000
    if not dec.is_finite() or units != units.to_integral_value() or dec <= 0 or dec >= 1:
        raise SimError(400, "invalid_price", "price is not on the market's price grid", str(value))
    return int(units)


def ts_filter(items, key, lo_s: int | None, hi_s: int | None):
    """Keep items whose `key(item)` (ms) lies in [lo_s, hi_s] seconds."""
    if lo_s is None and hi_s is None:
        return list(items)
    lo = -1 if lo_s is None else lo_s * 1000
    hi = float("inf") if hi_s is None else hi_s * 1000 + 999
    return [x for x in items if lo <= key(x) <= hi]
