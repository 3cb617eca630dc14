"""Trading profiles (thresholds and sizes) and the pipeline's configuration file.

Presets `conservative | balanced | aggressive`; a configuration file (TOML, or JSON by extension, as the bot's)
picks one and may override any of its keys.  Numbers are read straight to Decimal.  Every mistake is a ConfigError
naming the key: an unknown key, a negative minimum edge, a price clamp whose min is above its max, an unknown series,
an empty keyword group, an unknown model.

```toml
profile = "balanced"          # conservative | balanced | aggressive
mode = "simulate"             # engine mode: simulate | sim | demo | live
bot_mode = "demo_safe"        # demo_safe | live_safe | live_auto
interval_s = 30               # seconds between cycles

[overrides]                   # any profile key
min_edge_bps = 300
order_size = 2

[discovery]
series = ["KXHIGHNY", "KXBTC15M", "KXBTCD"]
tickers = []
events = []
btc15m_next_margin_s = 120
[[discovery.keywords]]
words = ["bitcoin", "btc"]
series = "KXBTCD"             # optional: search across every open market without it

[models]                      # the model per family (below: the defaults)
weather = "weather-ensemble-kde"
btc15m = "btc15m-asian-digital"
btcd = "btcd-black-scholes"

[sources]                     # base URLs and the collectors' choices: `signals/outside.py`
kraken = "https://api.kraken.com"
weather_models = ["ncep_gefs_seamless", "ecmwf_ifs025_ensemble"]
```
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from kalshi_trading.errors import ConfigError
from kalshi_trading.money import COUNT_STEP, ONE, ZERO
from kalshi_trading.signals.discovery import SERIES_FAMILY, DiscoveryConfig, KeywordGroup
from kalshi_trading.signals.models.btc import LADDER_MODEL, UPDOWN_MODEL
from kalshi_trading.signals.models.weather import MODEL as WEATHER_MODEL
from kalshi_trading.signals.modes import BotMode, EngineMode
from kalshi_trading.signals.outside import SourcesConfig, parse_sources
from kalshi_trading.signals.types import Family

# model name -> the family it prices (`live.BUILDERS` builds each one's source from the collectors and models)
MODELS: dict[str, Family] = {
    WEATHER_MODEL: Family.WEATHER,      # weather-ensemble-kde
    UPDOWN_MODEL: Family.BTC15M,        # btc15m-asian-digital
    LADDER_MODEL: Family.BTCD,          # btcd-black-scholes
}
DEFAULT_MODELS: dict[Family, str] = {family: name for name, family in MODELS.items()}


@dataclass(frozen=True)
class Profile:
    """Thresholds and sizes of the paper-trading engine.  Prices in dollars, sizes in contracts."""

    name: str
    signal_types: tuple[str, ...]   # families (weather, btc15m, btcd) or model names the engine acts on
    min_edge_bps: int               # net edge (after the taker fee) a signal needs
    min_confidence: Decimal         # 0..1
    cooldown_s: int                 # per ticker and direction, after an order
    max_orders_per_cycle: int
    max_orders_per_day: int
    min_price: Decimal              # never buy a contract below this
    max_price: Decimal              # ... nor above this
    order_size: Decimal             # contracts per order
    max_inventory: Decimal          # contracts per market and side (the risk engine's inventory cap)
    max_total_exposure: Decimal     # dollars (the risk engine's exposure cap)
    max_daily_loss: Decimal         # dollars (the risk engine's loss limit)
    max_orders_per_minute: int = 30

    @property
    def min_edge(self) -> Decimal:
        return Decimal(self.min_edge_bps) / 10_000

    def limits_text(self) -> str:
        return (f"profile {self.name}: {self.order_size} contracts an order, at most {self.max_orders_per_cycle} a "
                f"cycle and {self.max_orders_per_day} a day, exposure cap ${self.max_total_exposure}, daily loss "
                f"limit ${self.max_daily_loss}")


_ALL = ("weather", "btc15m", "btcd")
PRESETS: dict[str, Profile] = {
    "conservative": Profile("conservative", _ALL, 800, Decimal("0.7"), 900, 2, 10, Decimal("0.10"),
                            Decimal("0.90"), Decimal(1), Decimal(5), Decimal(25), Decimal(10), 10),
    "balanced": Profile("balanced", _ALL, 400, Decimal("0.5"), 300, 5, 50, Decimal("0.05"), Decimal("0.95"),
                        Decimal(1), Decimal(10), Decimal(100), Decimal(25), 30),
    "aggressive": Profile("aggressive", _ALL, 150, Decimal("0.3"), 60, 20, 400, Decimal("0.02"), Decimal("0.98"),
                          Decimal(5), Decimal(50), Decimal(500), Decimal(100), 120),
}
_PROFILE_KEYS = tuple(f.name for f in fields(Profile) if f.name != "name")


@dataclass(frozen=True)
class PipelineConfig:
    """Everything one `kalshi pipeline run` needs besides the exchange."""

    profile: Profile = PRESETS["balanced"]
    mode: EngineMode | None = None      # None: the bot mode's default
    bot_mode: BotMode = BotMode.DEMO_SAFE
    interval_s: float = 30.0
    lease_ttl_s: float = 120.0
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    models: Mapping[Family, str] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    source: str = "<built-in defaults>"


_TOP_KEYS = ("profile", "mode", "bot_mode", "interval_s", "lease_ttl_s", "overrides", "discovery", "models",
             "sources", "alerts")  # [alerts]: the ops' table (kalshi_trading/ops/settings.py), read by them
_DISCOVERY_KEYS = ("series", "tickers", "events", "keywords", "btc15m_next_margin_s", "btcd_min_to_close_s")


def _unknown(key: str, allowed: tuple[str, ...], where: str) -> ConfigError:
    close = difflib.get_close_matches(key.split(".")[-1], allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(allowed)}"
    return ConfigError(f"unknown key {key!r}", variable=where, fix=f"remove it or rename it; {hint}")


def _decimal(value: Any, key: str) -> Decimal:
    if isinstance(value, (bool, float)) or not isinstance(value, (Decimal, int, str)):
        raise ConfigError(f"{value!r} is not an exact number", key, "write a number like 0.05 or \"0.05\"")
    try:
        result = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except ArithmeticError:
        raise ConfigError(f"{value!r} is not a number", key, "write a number") from None
    if not result.is_finite():
        raise ConfigError(f"{value!r} is not a finite number", key, "write a finite number")
    return result


def _whole(value: Any, key: str, lo: int, hi: int) -> int:
    d = _decimal(value, key)
    if d != d.to_integral_value():
        raise ConfigError(f"{value!r} is not a whole number", key, f"write a whole number {lo}..{hi}")
    if not lo <= d <= hi:
        raise ConfigError(f"{d} is out of range", key, f"use a whole number {lo}..{hi}")
    return int(d)


def _text_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{value!r} is not a list of names", key, 'write a list like ["A", "B"]')
    return tuple(v.strip() for v in value)


def _profile_value(key: str, value: Any, where: str) -> Any:
    if key == "signal_types":
        names = _text_list(value, where)
        for name in names:
            if name not in _ALL and name not in MODELS:
                raise ConfigError(f"unknown signal type {name!r}", where,
                                  f"use families ({', '.join(_ALL)}) or models ({', '.join(MODELS)})")
        return names
    if key == "min_edge_bps":
        d = _decimal(value, where)
        if d < 0:
            raise ConfigError(f"minimum edge {d} is negative", where, "use 0 or more basis points")
        return _whole(value, where, 0, 10_000)
    if key == "min_confidence":
        d = _decimal(value, where)
        if not ZERO <= d <= ONE:
            raise ConfigError(f"{d} is outside 0..1", where, "use a confidence between 0 and 1")
        return d
    if key in ("cooldown_s",):
        return _whole(value, where, 0, 86_400 * 7)
    if key in ("max_orders_per_cycle", "max_orders_per_day", "max_orders_per_minute"):
        return _whole(value, where, 0 if key != "max_orders_per_minute" else 1, 1_000_000)
    if key in ("min_price", "max_price"):
        d = _decimal(value, where)
        if not ZERO < d < ONE:
            raise ConfigError(f"{d} is outside 0 < price < 1", where, "use a dollar price like 0.05")
        return d
    d = _decimal(value, where)  # sizes and money
    if d <= 0 or (key in ("order_size", "max_inventory") and d % COUNT_STEP != 0):
        raise ConfigError(f"{d} must be positive" + (" in steps of 0.01" if "order" in key or "inv" in key else ""),
                          where, "use a positive amount")
    return d


def profile_with(base: Profile, overrides: Mapping[str, Any], where: str = "overrides") -> Profile:
    """`base` with `overrides` applied and checked (the clamp's min must not be above its max)."""
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        name = f"{where}.{key}"
        if key not in _PROFILE_KEYS:
            raise _unknown(name, _PROFILE_KEYS, name)
        changes[key] = _profile_value(key, value, name)
    profile = replace(base, **changes)
    if profile.min_price > profile.max_price:
        raise ConfigError(f"min_price {profile.min_price} is above max_price {profile.max_price}",
                          f"{where}.min_price", "make min_price at most max_price")
    return profile


def preset(name: str, variable: str = "profile") -> Profile:
    if name not in PRESETS:
        raise ConfigError(f"unknown profile {name!r}", variable, f"use one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{value!r} is not a table", key, f"write it as a [{key}] table")
    return value


def parse_series(value: Any, key: str) -> str:
    if not isinstance(value, str) or value.strip().upper() not in SERIES_FAMILY:
        raise ConfigError(f"unknown series {value!r}", key, f"use one of {', '.join(SERIES_FAMILY)}")
    return value.strip().upper()


def parse_keywords(value: Any, key: str) -> tuple[KeywordGroup, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{value!r} is not a list of keyword groups", key, "write [[discovery.keywords]] tables")
    groups = []
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        table = _table(item, where)
        for k in table:
            if k not in ("words", "series"):
                raise _unknown(f"{where}.{k}", ("words", "series"), f"{where}.{k}")
        words = table.get("words")
        if not isinstance(words, list) or not words:
            raise ConfigError("empty keyword group", f"{where}.words", 'give at least one word: words = ["rain"]')
        series = parse_series(table["series"], f"{where}.series") if "series" in table else None
        groups.append(KeywordGroup(_text_list(words, f"{where}.words"), series))
    return tuple(groups)


def _discovery(data: Mapping[str, Any]) -> DiscoveryConfig:
    base = DiscoveryConfig()
    changes: dict[str, Any] = {}
    for key, value in data.items():
        where = f"discovery.{key}"
        if key == "series":
            changes[key] = tuple(parse_series(s, where) for s in _text_list(value, where)) if value != [] else ()
        elif key in ("tickers", "events"):
            changes[key] = tuple(t.upper() for t in _text_list(value, where)) if value != [] else ()
        elif key == "keywords":
            changes[key] = parse_keywords(value, where)
        elif key == "btc15m_next_margin_s":
            changes[key] = _whole(value, where, 0, 900)
        elif key == "btcd_min_to_close_s":
            changes[key] = _whole(value, where, 0, 86_400)
        else:
            raise _unknown(where, _DISCOVERY_KEYS, where)
    return replace(base, **changes)


def _models(data: Mapping[str, Any]) -> dict[Family, str]:
    models = dict(DEFAULT_MODELS)
    for key, value in data.items():
        where = f"models.{key}"
        try:
            family = Family(key)
        except ValueError:
            raise _unknown(where, tuple(f.value for f in Family), where) from None
        if not isinstance(value, str) or MODELS.get(value) is not family:
            known = ", ".join(n for n, f in MODELS.items() if f is family)
            raise ConfigError(f"unknown model {value!r} for {family.value}", where, f"use one of {known}")
        models[family] = value
    return models


def _mode(value: Any, key: str, kind: type[EngineMode] | type[BotMode]) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"unknown {key} {value!r}", key, f"use one of {', '.join(m.value for m in kind)}") \
            from None


def build_config(data: Mapping[str, Any], source: str = "<config>") -> PipelineConfig:
    """Validate a parsed document (numbers already Decimal or int)."""
    data = _table(data, "the file")
    for key in data:
        if key not in _TOP_KEYS:
            raise _unknown(str(key), _TOP_KEYS, str(key))
    profile = preset(str(data.get("profile", "balanced")))
    profile = profile_with(profile, _table(data.get("overrides", {}), "overrides"))
    changes: dict[str, Any] = {"profile": profile, "source": source,
                               "discovery": _discovery(_table(data.get("discovery", {}), "discovery")),
                               "models": _models(_table(data.get("models", {}), "models")),
                               "sources": parse_sources(_table(data.get("sources", {}), "sources"))}
    if "mode" in data:
        changes["mode"] = _mode(data["mode"], "mode", EngineMode)
    if "bot_mode" in data:
        changes["bot_mode"] = _mode(data["bot_mode"], "bot_mode", BotMode)
    if "interval_s" in data:
        changes["interval_s"] = float(_whole(data["interval_s"], "interval_s", 1, 86_400))
    if "lease_ttl_s" in data:
        changes["lease_ttl_s"] = float(_whole(data["lease_ttl_s"], "lease_ttl_s", 10, 86_400))
    return dataclasses.replace(PipelineConfig(), **changes)


def load_pipeline_config(path: Path) -> PipelineConfig:
    """Read and validate a configuration file (TOML or JSON, by extension)."""
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"{path}: cannot tell the format from {suffix or 'no extension'!r}", "--config",
                          "name the file *.toml or *.json")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", "--config", "check the path") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", "--config", "save the file as UTF-8") from None
    try:
        data = tomllib.loads(text, parse_float=Decimal) if suffix == ".toml" else json.loads(text,
                                                                                             parse_float=Decimal)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {suffix[1:].upper()}: {exc}", "--config", "correct the syntax") \
            from None
    try:
        return build_config(data, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
