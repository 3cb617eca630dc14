"""What a backtest knows about the markets it replays, which a recording does not hold: the price grid, the fee
schedule, and (for the edge taker) the close time and strike.

Without a file every market gets the one-cent grid and the `quadratic` fee schedule (takers pay, makers do not) with
multiplier 1, and no close time or strike.  `--market-info FILE` (JSON) gives them per market:

    {"KXBTCD-26NOV3016-T94999.99": {"grid": "linear_cent", "fee_type": "quadratic", "fee_multiplier": "1",
                                    "close_time": "2026-11-30T21:00:00Z", "strike_type": "greater",
                                    "floor_strike": "94999.99", "cap_strike": null}}

Every key is optional; a `"*"` entry applies to every market the file does not name.  Mistakes are `ConfigError`s
naming the market and the key.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping

from kalshi_trading.auto.ports import MarketInfo
from kalshi_trading.errors import ConfigError
from kalshi_trading.money import FEE_TYPES, GRIDS

DEFAULT_GRID = "linear_cent"
DEFAULT_FEE_TYPE = "quadratic"
KEYS = ("grid", "fee_type", "fee_multiplier", "close_time", "strike_type", "floor_strike", "cap_strike")


def default_info(ticker: str) -> MarketInfo:
    return MarketInfo(ticker, GRIDS[DEFAULT_GRID], DEFAULT_FEE_TYPE, Decimal(1))


def grid_name(info: MarketInfo) -> str:
    return next((name for name, grid in GRIDS.items() if grid == info.grid), "custom")


def market_infos(tickers: Iterable[str], path: Path | None = None) -> dict[str, MarketInfo]:
    """A `MarketInfo` per ticker: the defaults, with what `path` (a --market-info file) says."""
    doc = _read(path) if path is not None else {}
    out = {}
    for t in tickers:
        entry = doc.get(t, doc.get("*", {}))
        out[t] = _info(t, entry, str(path))
    return out


def _read(path: Path) -> Mapping[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", fix="check the path") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}", fix="correct the JSON syntax") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise ConfigError(f"{path}: not an object of markets", fix='write {"TICKER": {"fee_type": ...}, ...}')
    return doc


def _info(ticker: str, entry: Mapping[str, Any], source: str) -> MarketInfo:
    info = default_info(ticker)
    changes: dict[str, Any] = {}
    for key, value in entry.items():
        where = f"{source}: {ticker}.{key}"
        if key not in KEYS:
            raise ConfigError(f"unknown key {key!r}", variable=where, fix=f"use one of {', '.join(KEYS)}")
        if value is None:
            continue
        if key == "grid":
            if value not in GRIDS:
                raise ConfigError(f"{value!r} is not a price grid", variable=where,
                                  fix=f"use one of {', '.join(GRIDS)}")
            changes["grid"] = GRIDS[value]
        elif key == "fee_type":
            if value not in FEE_TYPES:
                raise ConfigError(f"{value!r} is not a fee type", variable=where,
                                  fix=f"use one of {', '.join(FEE_TYPES)}")
            changes["fee_type"] = value
        elif key == "close_time":
            changes["close_time"] = _time(value, where)
        elif key == "strike_type":
            changes["strike_type"] = str(value)
        else:
            changes[key] = _number(value, where)
    return replace(info, **changes)


def _number(value: Any, where: str) -> Decimal:
    try:
        d = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise ConfigError(f"{value!r} is not a number", variable=where, fix="write an exact number, e.g. \"1\"")
    return d


def _time(value: Any, where: str) -> datetime:
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        ts = None
    if ts is None or ts.tzinfo is None:
        raise ConfigError(f"{value!r} is not an ISO-8601 time with its zone", variable=where,
                          fix="write e.g. 2026-11-30T21:00:00Z")
    return ts
