"""Where the pipeline's outside data comes from: the `[sources]` table of the pipeline configuration.

```toml
[sources]                                  # every key is optional
open-meteo-ensemble = "https://ensemble-api.open-meteo.com"   # base URLs: the source's real path is appended
open-meteo = "https://api.open-meteo.com"
coinbase = "https://api.exchange.coinbase.com"
coinbase-advanced = "https://api.coinbase.com"
kraken = "https://api.kraken.com"
bitstamp = "https://www.bitstamp.net"
cryptocom = "https://api.crypto.com"
cryptocom-ws = "wss://stream.crypto.com"   # the market WebSocket (used with cryptocom_stream = true)
weather_models = ["ncep_gefs_seamless", "ecmwf_ifs025_ensemble"]  # one ensemble request per model
allow_unknown_models = false               # true: a model name Open-Meteo added after this release
bitcoin = ["coinbase", "kraken", "bitstamp", "cryptocom"]          # ticker venues (crypto.com: not core)
quorum = 2                                 # core venues that must answer for a spot (and so a BTC signal)
timeout_s = 5
cryptocom_stream = false                   # also keep Crypto.com's pushed ticker as a (non-core) venue
```

A URL not set is the production host (the collectors' defaults), except in the sim environment: there every URL
not set explicitly is the simulator's loopback copy, `{simulator}/ext/<source>` (`sim_root_of` finds the
simulator from the exchange's base URL), so `kalshi pipeline run --sim` needs no network.  A URL set explicitly is
used as written in every environment.  Mistakes are a ConfigError naming the key (`sources.<key>`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from kalshi_trading.errors import ConfigError
from kalshi_trading.signals.collectors.bitcoin import HistoryConfig, SpotConfig, TickerSource
from kalshi_trading.signals.collectors.cryptocom_ws import WS_BASE
from kalshi_trading.signals.collectors.cycle import CollectorConfig
from kalshi_trading.signals.collectors.tickers import DEFAULT_BASES, Venue
from kalshi_trading.signals.collectors.weather import ENSEMBLE_BASE, FORECAST_BASE, WeatherConfig

ENSEMBLE, FORECAST, STREAM = "open-meteo-ensemble", "open-meteo", "cryptocom-ws"
PRODUCTION: dict[str, str] = {ENSEMBLE: ENSEMBLE_BASE, FORECAST: FORECAST_BASE,
                              **{v.value: DEFAULT_BASES[v] for v in Venue}, STREAM: WS_BASE}
NOT_CORE = frozenset({Venue.CRYPTOCOM.value})  # not a BRTI constituent: counts in the median, not the quorum
_OTHER_KEYS = ("weather_models", "allow_unknown_models", "bitcoin", "quorum", "timeout_s", "cryptocom_stream")
KEYS = tuple(PRODUCTION) + _OTHER_KEYS


def sim_root_of(base_url: str) -> str:
    """The simulator's root URL (`http://HOST:PORT`) from the exchange's REST base (`.../trade-api/v2`)."""
    return base_url.split("/trade-api/", 1)[0].rstrip("/")


@dataclass(frozen=True)
class SourcesConfig:
    """The outside sources of one pipeline (see the module docstring)."""

    urls: Mapping[str, str] = field(default_factory=dict)   # explicitly configured base URLs, by source
    weather_models: tuple[str, ...] = WeatherConfig().models
    allow_unknown_models: bool = False
    bitcoin: tuple[str, ...] = ("coinbase", "kraken", "bitstamp", "cryptocom")
    quorum: int = 2
    timeout_s: float = 5.0
    cryptocom_stream: bool = False

    def base(self, source: str, sim_root: str | None = None) -> str:
        """The base URL of `source`: as configured, else the simulator's copy (sim), else production."""
        if source in self.urls:
            return self.urls[source]
        if sim_root is not None:
            root = sim_root
            if source == STREAM:  # the WebSocket copy lives under the Crypto.com REST copy's prefix
                root = "ws" + root[4:] if root.startswith("http") else root
                return f"{root}/ext/{Venue.CRYPTOCOM.value}"
            return f"{root}/ext/{source}"
        return PRODUCTION[source]

    def collector_config(self, sim_root: str | None = None, *, weather: bool = True,
                         history: bool = True) -> CollectorConfig:
        """The collectors' configuration (weather and candles optional, e.g. for a spot alone)."""
        timeout = self.timeout_s
        spot = SpotConfig(tuple(TickerSource(Venue(v), self.base(v, sim_root), core=v not in NOT_CORE)
                                for v in self.bitcoin), quorum=self.quorum, timeout=timeout)
        return CollectorConfig(
            weather=WeatherConfig(models=self.weather_models, allow_unknown_models=self.allow_unknown_models,
                                  ensemble_base=self.base(ENSEMBLE, sim_root),
                                  forecast_base=self.base(FORECAST, sim_root), timeout=timeout) if weather else None,
            spot=spot,
            history=HistoryConfig(base_url=self.base(Venue.CRYPTOCOM.value, sim_root), timeout=timeout)
            if history else None)


def _url(value: Any, key: str) -> str:
    scheme_ok = ("ws", "wss") if key.endswith(STREAM) else ("http", "https")
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in scheme_ok or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{value!r} is not a base URL", key,
                          f"write {scheme_ok[1]}://HOST[:PORT][/PREFIX] (the source's real path is appended)")
    return value.rstrip("/")


def _names(value: Any, key: str, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{value!r} is not a non-empty list of names", key, 'write a list like ["a", "b"]')
    names = tuple(v.strip() for v in value)
    for name in names:
        if allowed is not None and name not in allowed:
            raise ConfigError(f"unknown source {name!r}", key, f"use some of {', '.join(allowed)}")
    if len(set(names)) != len(names):
        raise ConfigError("a name is listed twice", key, "list each once")
    return names


def _number(value: Any, key: str, lo: float, hi: float, whole: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "is_finite"):
        raise ConfigError(f"{value!r} is not a number", key, f"write a number {lo:g}..{hi:g}")
    number = float(value)
    if not lo <= number <= hi or (whole and number != int(number)):
        raise ConfigError(f"{value} is out of range", key, f"use a {'whole ' if whole else ''}number {lo:g}..{hi:g}")
    return number


def _unknown(key: str) -> ConfigError:
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], KEYS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(KEYS)}"
    return ConfigError(f"unknown key {key!r}", variable=key, fix=f"remove it or rename it; {hint}")


def parse_sources(data: Mapping[str, Any], where: str = "sources") -> SourcesConfig:
    """Validate a `[sources]` table (numbers may be Decimal or int); a mistake is a ConfigError naming the key."""
    urls: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{where}.{key}"
        if key in PRODUCTION:
            urls[key] = _url(value, name)
        elif key == "weather_models":
            changes[key] = _names(value, name, None)
        elif key == "bitcoin":
            changes[key] = _names(value, name, tuple(v.value for v in Venue))
        elif key == "quorum":
            changes[key] = int(_number(value, name, 1, len(Venue), whole=True))
        elif key == "timeout_s":
            changes[key] = _number(value, name, 0.1, 60, whole=False)
        elif key in ("cryptocom_stream", "allow_unknown_models"):
            if not isinstance(value, bool):
                raise ConfigError(f"{value!r} is not true or false", name, "write true or false")
            changes[key] = value
        else:
            raise _unknown(name)
    config = SourcesConfig(urls=urls, **changes)
    try:
        WeatherConfig(models=config.weather_models, allow_unknown_models=config.allow_unknown_models)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("weather.allow_unknown_models", f"{where}.allow_unknown_models")
                          .replace("weather.models", f"{where}.weather_models")) from None
    core = sum(1 for v in config.bitcoin if v not in NOT_CORE)
    if not 1 <= config.quorum <= core:
        raise ConfigError(f"quorum {config.quorum} is more than the {core} core venue(s) in bitcoin",
                          f"{where}.quorum", "lower the quorum or list more core venues (all but cryptocom)")
    return config
