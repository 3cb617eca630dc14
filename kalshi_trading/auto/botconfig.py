"""The bot's configuration file: global limits, a strategy, `[defaults]` and per-market tables.

TOML (stdlib `tomllib`) or JSON, chosen by the file's extension.  Numbers are parsed straight to
`Decimal` (never through float), so `min_spread = 0.02` is exactly two cents.  Every mistake is a
`ConfigError` naming the key and the fix.  `ConfigWatcher` reloads the file when it changes and keeps
the last good configuration in force when an edit is bad.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol

from kalshi_trading.errors import ConfigError
from kalshi_trading.money import COUNT_STEP, ONE, ZERO

log = logging.getLogger(__name__)

STRATEGIES = ("mm", "edge")  # the built-in strategies; others are installed or imported (auto.strategies.registry)
STRATEGY_ENTRY_POINTS = "kalshi_trading.strategies"  # the entry-point group installed strategies declare
RESERVED_STRATEGIES = {"signals": "the signal pipeline is not a loop strategy: run it with `kalshi pipeline run` "
                                  "(`kalshi pipeline run --sim --once` to try it)"}
_STRATEGY_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

SCHEMA_DOC = '''\
Bot configuration (`kalshi auto --config bot.toml`; JSON works too, by extension `.json`).

Global keys (top level):
  strategy               "mm", "edge", an installed strategy or "pkg.module:Class"  default "mm"
  trading_enabled        false = send no orders at all (kill switch)                  default true
  max_total_exposure     dollars at risk across all markets: sum |position| x price
                         at risk + cost of working orders                             default 50
  max_daily_loss         dollars; realized today + unrealized <= -this halts the bot  default 10
  loop_interval_ms       milliseconds between loop passes (10 .. 3600000)             default 1000
  max_orders_per_minute  new orders allowed in any sliding 60 s window (>= 1)        default 30
  lease_ttl_seconds      seconds a bot's lease on its markets lasts unless renewed
                         (2 .. 3600); a crashed bot's markets are free after this     default 30
  store_reload_passes    loop passes between full reloads of the store's runtime
                         configuration (1 .. 100000); a new version reloads at once   default 20

[defaults] applies to every market; a [markets."TICKER"] table overrides only the keys it names:
  enabled                trade this market                                            default true
  max_inventory_yes      contracts; cap on YES position + working bids + new order    default 10
  max_inventory_no       contracts; cap on NO position + working asks + new order     default 10
  min_spread             dollars; the market maker quotes only when ask - bid >= this default 0.02
  quote_size             contracts per quote / per edge clip (multiple of 0.01)       default 1
  inventory_skew_factor  dollars both quotes move per contract held (long YES lowers
                         them, long NO raises them)                                   default 0.001
  min_edge               dollars of value beyond price + taker fee to take            default 0.03
  reprice_tolerance      dollars; a working quote within this of its target price is
                         kept (its queue place is worth more than following the book
                         tick by tick); 0 = re-price on every tick                    default 0.02
  min_size_change        contracts; a working quote short of its target size by less
                         than this is kept, not topped up (a smaller target decreases
                         it, keeping its queue place); 0 = always top up              default 1
  hold_in_narrow_spread  true: while the others' spread is under min_spread, resting
                         quotes no better than their best are kept (queue place), not
                         cancelled; false: every quote comes off                      default true
  toxicity               0 .. 1: how toxic the market's flow is, for strategies that
                         read it (the built-in ones do not); unset by default         default none

[alerts] (optional): the alert rules and digests, read once at the start; see the README's "Alerts, digests
and metrics" (e.g. [alerts.daily_pnl] below = -5, [alerts.no_fills] enabled = false).

Money and counts are exact decimals: write 0.02 or "0.02".  Example:

```toml
strategy = "mm"
trading_enabled = true
max_total_exposure = 200
max_daily_loss = 40
loop_interval_ms = 500
max_orders_per_minute = 60

[defaults]
max_inventory_yes = 20
max_inventory_no = 20
min_spread = 0.03
quote_size = 2
inventory_skew_factor = 0.001
min_edge = 0.04

[markets."KXHIGHNY-26JAN01-B45.5"]
quote_size = 5
min_spread = 0.02

[markets."KXBTCD-26JAN0117-T100000"]
enabled = false
```
'''


@dataclass(frozen=True)
class MarketConfig:
    """What one market may do.  Counts are contracts, prices and edges dollars (YES price units)."""

    enabled: bool = True
    max_inventory_yes: Decimal = Decimal(10)
    max_inventory_no: Decimal = Decimal(10)
    min_spread: Decimal = Decimal("0.02")
    quote_size: Decimal = Decimal(1)
    inventory_skew_factor: Decimal = Decimal("0.001")
    min_edge: Decimal = Decimal("0.03")
    reprice_tolerance: Decimal = Decimal("0.02")
    min_size_change: Decimal = Decimal(1)
    hold_in_narrow_spread: bool = True
    toxicity: Decimal | None = None


@dataclass(frozen=True)
class BotConfig:
    """Global limits plus per-market tables; `market(ticker)` falls back to `defaults`."""

    strategy: str = "mm"
    trading_enabled: bool = True
    max_total_exposure: Decimal = Decimal(50)
    max_daily_loss: Decimal = Decimal(10)
    loop_interval_ms: int = 1000
    max_orders_per_minute: int = 30
    lease_ttl_seconds: int = 30
    store_reload_passes: int = 20
    defaults: MarketConfig = MarketConfig()
    markets: Mapping[str, MarketConfig] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    source: str = field(default="<built-in defaults>", compare=False)

    @classmethod
    def default(cls) -> "BotConfig":
        """The configuration used when no file is given: small, conservative limits."""
        return cls()

    def market(self, ticker: str) -> MarketConfig:
        return self.markets.get(ticker, self.defaults)

    @property
    def tickers(self) -> tuple[str, ...]:
        """Markets named in the file, in file order."""
        return tuple(self.markets)

    @property
    def enabled_tickers(self) -> tuple[str, ...]:
        return tuple(t for t, m in self.markets.items() if m.enabled)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<config>") -> "BotConfig":
        """Validate a parsed document (numbers already Decimal or int)."""
        return _build(data, source)


# --- validation -----------------------------------------------------------------------------------

_GLOBAL_KEYS = ("strategy", "trading_enabled", "max_total_exposure", "max_daily_loss",
                "loop_interval_ms", "max_orders_per_minute", "lease_ttl_seconds", "store_reload_passes",
                "defaults", "markets")
_MARKET_KEYS = tuple(f.name for f in fields(MarketConfig))
GLOBAL_KEYS = _GLOBAL_KEYS[:-2]  # the global settings (not the tables)
MARKET_KEYS = _MARKET_KEYS
BOOL_KEYS = frozenset({"trading_enabled", "enabled", "hold_in_narrow_spread"})  # true or false


def _unknown(key: str, allowed: tuple[str, ...], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(allowed)}"
    return ConfigError(f"unknown key {key!r}", variable=where, fix=f"remove it or rename it; {hint}")


def _decimal(value: Any, key: str, what: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise ConfigError(f"{value!r} is not an exact number", variable=key, fix=f"write {what} like 0.02 or \"0.02\"")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except ArithmeticError:
            raise ConfigError(f"{value!r} is not a number", variable=key, fix=f"write {what} as a number") from None
    else:
        raise ConfigError(f"{value!r} is not a number", variable=key, fix=f"write {what} as a number")
    if not result.is_finite():
        raise ConfigError(f"{value!r} is not a finite number", variable=key, fix=f"write {what} as a finite number")
    return result


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{value!r} is not true or false", variable=key, fix="write true or false (no quotes)")
    return value


def _int(value: Any, key: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Decimal) and value == value.to_integral_value():
            value = int(value)
        else:
            raise ConfigError(f"{value!r} is not a whole number", variable=key, fix=f"write a whole number {lo}..{hi}")
    if not lo <= value <= hi:
        raise ConfigError(f"{value} is out of range", variable=key, fix=f"use a whole number {lo}..{hi}")
    return value


def _count(value: Any, key: str, allow_zero: bool) -> Decimal:
    d = _decimal(value, key, "a contract count")
    try:
        off_grid = d % COUNT_STEP != 0
    except ArithmeticError:  # too large to divide exactly (1e400): no count of contracts anyway
        off_grid = True
    if d < 0 or (d == 0 and not allow_zero) or off_grid:
        least = "0 or more" if allow_zero else "more than 0"
        raise ConfigError(f"{d} is not a valid contract count", variable=key,
                          fix=f"use {least}, in steps of 0.01")
    return d


def _price_amount(value: Any, key: str) -> Decimal:
    d = _decimal(value, key, "a dollar amount")
    if not ZERO <= d < ONE:
        raise ConfigError(f"{d} is outside 0 <= x < 1", variable=key, fix="use a dollar amount below $1, e.g. 0.02")
    return d


def _positive_money(value: Any, key: str) -> Decimal:
    d = _decimal(value, key, "a dollar amount")
    if d <= 0:
        raise ConfigError(f"{d} must be more than 0", variable=key, fix="use a positive dollar amount")
    return d


def _score(value: Any, key: str) -> Decimal | None:
    if value is None:
        return None
    d = _decimal(value, key, "a score")
    if not ZERO <= d <= ONE:
        raise ConfigError(f"{d} is outside 0 <= x <= 1", variable=key, fix="use a score from 0 to 1, e.g. 0.25")
    return d


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{value!r} is not a table", variable=key, fix=f"write it as a [{key}] table")
    return value


def _market(data: Mapping[str, Any], base: MarketConfig, where: str) -> MarketConfig:
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{where}.{key}"
        if key in BOOL_KEYS:
            changes[key] = _bool(value, name)
        elif key in ("max_inventory_yes", "max_inventory_no"):
            changes[key] = _count(value, name, allow_zero=True)
        elif key == "quote_size":
            changes[key] = _count(value, name, allow_zero=False)
        elif key == "min_size_change":
            changes[key] = _count(value, name, allow_zero=True)
        elif key in ("min_spread", "inventory_skew_factor", "min_edge", "reprice_tolerance"):
            changes[key] = _price_amount(value, name)
        elif key == "toxicity":
            changes[key] = _score(value, name)
        else:
            raise _unknown(str(key), _MARKET_KEYS, name)
    return replace(base, **changes)


def installed_strategies() -> list[str]:
    """The names installed packages declare in the `kalshi_trading.strategies` entry-point group."""
    from importlib import metadata

    return sorted({ep.name for ep in metadata.entry_points(group=STRATEGY_ENTRY_POINTS)})


def strategy_spec_problem(spec: str) -> str | None:
    """Why `spec` cannot name a strategy, judged without importing anything; None when it may (a built-in, an
    installed name, or something of the form package.module:Class, which is imported only when the bot starts)."""
    key = spec.strip().lower()
    if not key:
        return "it is empty"
    if key in RESERVED_STRATEGIES:
        return RESERVED_STRATEGIES[key]
    if key in STRATEGIES:
        return None
    if ":" in spec:
        module, _, attr = spec.strip().partition(":")
        if _STRATEGY_PATH.fullmatch(module) and _STRATEGY_PATH.fullmatch(attr):
            return None
        return "it is not of the form package.module:Class"
    installed = installed_strategies()
    if spec.strip() in installed:
        return None
    return (f"no such strategy (built-in: {', '.join(STRATEGIES)}; installed: {', '.join(installed) or 'none'}); "
            "to load your own, give package.module:Class")


def _global(key: str, value: Any) -> Any:
    """One global setting, validated (the rule for each key lives here only)."""
    if key == "strategy":  # a built-in, an installed name or a module path: resolved when the bot starts
        problem = strategy_spec_problem(value) if isinstance(value, str) else "not a string"
        if problem is not None:
            raise ConfigError(f"{value!r} is not a strategy: {problem}", variable="strategy",
                              fix=f"use one of {', '.join(repr(s) for s in STRATEGIES)}, an installed "
                                  "strategy's name or \"package.module:Class\"")
        return value.strip()
    if key == "trading_enabled":
        return _bool(value, key)
    if key in ("max_total_exposure", "max_daily_loss"):
        return _positive_money(value, key)
    if key == "loop_interval_ms":
        return _int(value, key, 10, 3_600_000)
    if key == "max_orders_per_minute":
        return _int(value, key, 1, 100_000)
    if key == "lease_ttl_seconds":
        return _int(value, key, 2, 3600)
    if key == "store_reload_passes":
        return _int(value, key, 1, 100_000)
    raise _unknown(str(key), _GLOBAL_KEYS, key)


def _ticker_table(ticker: Any, table: Any) -> tuple[str, Mapping[str, Any]]:
    where = f'markets."{ticker}"'
    if not isinstance(ticker, str) or not ticker.strip() or ticker != ticker.strip():
        raise ConfigError(f"{ticker!r} is not a market ticker", variable=where, fix="name the market by its ticker")
    return where, _table(table, where)


def _build(data: Mapping[str, Any], source: str) -> BotConfig:
    data = _table(data, "the file")
    base = BotConfig()
    changes: dict[str, Any] = {"source": source}
    for key, value in data.items():
        if key not in ("defaults", "markets", "alerts"):  # [alerts] is the ops' (kalshi_trading/ops/settings.py)
            changes[key] = _global(key, value)
    defaults = _market(_table(data.get("defaults", {}), "defaults"), base.defaults, "defaults")
    markets: dict[str, MarketConfig] = {}
    for ticker, table in _table(data.get("markets", {}), "markets").items():
        where, values = _ticker_table(ticker, table)
        markets[ticker] = _market(values, defaults, where)
    return replace(base, defaults=defaults, markets=MappingProxyType(markets), **changes)


def overlay(base: BotConfig, global_values: Mapping[str, Any], markets: Mapping[str, Mapping[str, Any]],
            source: str) -> BotConfig:
    """`base` with these settings over it, each validated by the file's rules: global ones replace base's, a
    market's go over its table in base (or base's defaults).  A ConfigError names the first bad one."""
    for name in ("defaults", "markets"):
        if name in global_values:
            raise _unknown(name, GLOBAL_KEYS, "global")
    changes = {key: _global(key, value) for key, value in global_values.items()}
    merged = dict(base.markets)
    for ticker, table in markets.items():
        where, values = _ticker_table(ticker, table)
        merged[ticker] = _market(values, base.market(ticker), where)
    return replace(base, markets=MappingProxyType(merged), source=source, **changes)


def typed_value(key: str, text: str) -> Any:
    """A setting written as text (a command line's key=value, a store's record) as a file would hold it: true or
    false for the switches, a Decimal for numbers, else the text itself (the rules then say what is wrong)."""
    if key in BOOL_KEYS:
        low = text.strip().lower()
        return low == "true" if low in ("true", "false") else text
    if key == "strategy":
        return text
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        return text


def parse_config(text: str, fmt: str, source: str = "<config>") -> BotConfig:
    """Parse TOML (`fmt="toml"`) or JSON text into a validated `BotConfig`."""
    if fmt == "toml":
        try:
            data = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}", fix="correct the TOML syntax") from None
    elif fmt == "json":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON: {exc}", fix="correct the JSON syntax") from None
    else:
        raise ConfigError(f"unknown configuration format {fmt!r}", fix="use a .toml or .json file")
    try:
        return _build(data, source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise ConfigError(f"{path}: cannot tell the format from {suffix or 'no extension'!r}",
                      fix="name the file *.toml or *.json")


def load_config(path: str | os.PathLike[str]) -> BotConfig:
    """Read and validate a configuration file (TOML or JSON by extension)."""
    p = Path(path)
    fmt = format_of(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}", fix="check the path and permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text", fix="save the file as UTF-8") from None
    return parse_config(text, fmt, str(p))


# --- hot reload -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReloadResult:
    """What one `ConfigWatcher.poll()` found.  `config` is always the configuration in force."""

    config: BotConfig
    changed: bool
    error: ConfigError | None
    at: datetime


class Reloader(Protocol):
    """What the loop polls for a new configuration: a file (`ConfigWatcher`), the store (`auto.runtime_config`)."""

    @property
    def path(self) -> object:
        """Where the configuration comes from, for messages."""
        ...

    def poll(self) -> ReloadResult:
        """Check once; never raises a configuration error into the loop (the result carries it)."""
        ...


class ConfigWatcher:
    """Reload a configuration file when its mtime or size changes; a bad edit keeps the last good config.

    The first load happens in the constructor and raises `ConfigError` (startup may fail loudly);
    `poll()` never raises a configuration or file error into the loop: it returns it and logs it once.
    """

    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], datetime],
                 initial: BotConfig | None = None):
        self.path = Path(path)
        self._clock = clock
        self._signature = self._stat()
        self._config = initial if initial is not None else load_config(self.path)
        self._last_error: ConfigError | None = None

    @property
    def config(self) -> BotConfig:
        """The configuration in force (the last good one)."""
        return self._config

    def override(self, config: BotConfig) -> None:
        """Use `config` (e.g. a command-line override) until the file next changes."""
        self._config = config

    @property
    def last_error(self) -> ConfigError | None:
        """The error of the latest bad edit, cleared by the next good one."""
        return self._last_error

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def poll(self) -> ReloadResult:
        """Check the file once; reload it if it changed."""
        now = self._clock()
        signature = self._stat()
        if signature == self._signature:
            return ReloadResult(self._config, False, None, now)
        self._signature = signature
        try:
            if signature is None:
                raise ConfigError(f"{self.path}: the file is gone",
                                  fix="restore it; the last good configuration stays in force")
            fresh = load_config(self.path)
        except ConfigError as exc:
            self._last_error = exc
            log.warning("configuration reload failed, keeping the last good configuration: %s", exc)
            return ReloadResult(self._config, False, exc, now)
        self._last_error = None
        changed = fresh != self._config
        self._config = fresh
        if changed:
            log.info("configuration reloaded from %s", self.path)
        return ReloadResult(fresh, changed, None, now)
