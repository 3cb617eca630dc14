"""Open-Meteo ensemble members for the day's maximum temperature, with the forecast API as the fallback.

One request per configured model (`GET {ensemble_base}/v1/ensemble?...&models=<model>`): the control run is the
bare `temperature_2m_max` key and the members are `temperature_2m_max_memberNN`, either possibly suffixed with the
model name (`..._member01_ncep_gefs_seamless`; the order of the two suffixes is unconfirmed, so both are accepted).
Null member values are skipped.  When the ensemble answers an error, a wrong shape, or no members for a wanted day,
the forecast API (`GET {forecast_base}/v1/forecast?...&models=<forecast model>`) is asked instead and that model's
one value counts as one member.  Temperatures come out in °F whatever unit was requested (the contracts settle in
whole °F).

**The climate day.**  KXHIGHNY settles on the NWS daily climate report, whose day is local *standard* time all year
(NYC: UTC-5; during daylight time it runs 01:00-00:59 on the clock), so the event for day D closes at D+1 04:59Z.
`climate_day_for_close(close_time)` maps an event to D: it steps an hour back from the close and reads the date at
UTC-5.  We ask Open-Meteo for daily values with `timezone=America/New_York` (as documented) and take the row whose
`time` is D.  In winter that row is exactly the climate day.  In summer the row covers D 00:00-24:00 EDT, one hour
earlier than the climate day (D 01:00 EDT to D+1 01:00 EDT): a maximum set between midnight and 1 a.m. EDT lands
in the neighbouring day.  The daily high almost never falls in that hour, so we accept the shift; a deployment that
wants the exact standard-time day can set `timezone="Etc/GMT+5"` (POSIX sign: UTC-5), which Open-Meteo accepts
like any IANA zone.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from functools import partial
from typing import Any, Callable, Sequence

import requests

from kalshi_trading.errors import ConfigError
from kalshi_trading.signals.collectors.fetch import (Clock, downgrade, fan_out, failed, garbage, get_json, items, obj,
                                                     run_source, utcnow)
from kalshi_trading.signals.types import SourceHealth, SourceStatus

ENSEMBLE_BASE = "https://ensemble-api.open-meteo.com"
FORECAST_BASE = "https://api.open-meteo.com"
ENSEMBLE_PATH = "/v1/ensemble"
FORECAST_PATH = "/v1/forecast"
VARIABLE = "temperature_2m_max"

CLIMATE_TZ = timezone(timedelta(hours=-5), "EST")  # NWS climate day for NYC: local standard time all year
# The 2026 renames: the configured name or its other spelling may come back as a key suffix.
ALIASES = {"gfs_seamless": "ncep_gefs_seamless", "ncep_gefs_seamless": "gfs_seamless",
           "ecmwf_ifs025": "ecmwf_ifs025_ensemble", "ecmwf_ifs025_ensemble": "ecmwf_ifs025"}
# The forecast API knows the deterministic runs by their own names.
FORECAST_MODEL = {"ncep_gefs_seamless": "gfs_seamless", "gfs_seamless": "gfs_seamless", "gfs025": "gfs_seamless",
                  "ecmwf_ifs025_ensemble": "ecmwf_ifs025", "ecmwf_ifs025": "ecmwf_ifs025"}
_MODEL_NAME = re.compile(r"^[a-z0-9_]{2,64}$")
# Ensemble models Open-Meteo serves (both 2026 spellings); a name outside this set is refused as a likely typo
# unless `allow_unknown_models` says the deployment knows better (the list keeps changing).
KNOWN_MODELS = frozenset({
    "ncep_gefs_seamless", "gfs_seamless", "gfs025", "gfs05", "ncep_gefs025", "ncep_gefs05",
    "ecmwf_ifs025_ensemble", "ecmwf_ifs025", "ecmwf_ifs04", "ecmwf_aifs025", "ecmwf_aifs025_ensemble",
    "icon_seamless", "icon_global", "icon_eu", "icon_d2", "gem_global", "bom_access_global_ensemble",
    "ukmo_global_ensemble_20km", "ukmo_uk_ensemble_2km", "meteoswiss_icon_ch1", "meteoswiss_icon_ch2",
})
UNITS = {"fahrenheit": "°F", "celsius": "°C"}
MAX_FORECAST_DAYS = 16  # the forecast API's limit (the ensemble allows 35)


def climate_day_of(instant: datetime) -> date:
    """The NWS climate day (NYC local standard time, UTC-5 all year) that `instant` falls in."""
    return instant.astimezone(CLIMATE_TZ).date()


def climate_day_for_close(close_time: datetime) -> date:
    """The climate day a KXHIGHNY event settles on, from its close time (D+1 04:59Z -> D; an hour of slack)."""
    return climate_day_of(close_time - timedelta(hours=1))


class ForecastKind(StrEnum):
    ENSEMBLE = "ensemble"   # members of an ensemble run
    FORECAST = "forecast"   # the fallback: one deterministic value per model


@dataclass(frozen=True)
class WeatherConfig:
    """Where and what to ask Open-Meteo; validated when built (a bad key is a ConfigError naming it)."""

    models: tuple[str, ...] = ("ncep_gefs_seamless", "ecmwf_ifs025_ensemble")
    latitude: float = 40.7794    # Central Park
    longitude: float = -73.9692
    temperature_unit: str = "fahrenheit"
    timezone: str = "America/New_York"
    forecast_days: int = 3
    ensemble_base: str = ENSEMBLE_BASE
    forecast_base: str = FORECAST_BASE
    fallback: bool = True
    forecast_models: tuple[tuple[str, str], ...] = ()  # (ensemble model, forecast model) overrides
    timeout: float = 5.0
    allow_unknown_models: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))  # a list from a config file is fine
        object.__setattr__(self, "forecast_models", tuple(tuple(p) for p in self.forecast_models))
        if not self.models:
            raise ConfigError("no models configured", variable="weather.models", fix="name at least one model")
        bad = [m for m in self.models if not isinstance(m, str) or not _MODEL_NAME.match(m)
               or (m not in KNOWN_MODELS and not self.allow_unknown_models)]
        if bad:
            raise ConfigError(f"unknown model(s): {', '.join(map(repr, bad))}", variable="weather.models",
                              fix="use Open-Meteo ensemble names such as ncep_gefs_seamless or ecmwf_ifs025_ensemble "
                                  "(or set weather.allow_unknown_models for a new one)")
        if len(set(self.models)) != len(self.models):
            raise ConfigError("a model is listed twice", variable="weather.models")
        if not -90 <= self.latitude <= 90:
            raise ConfigError(f"{self.latitude} is not a latitude", variable="weather.latitude")
        if not -180 <= self.longitude <= 180:
            raise ConfigError(f"{self.longitude} is not a longitude", variable="weather.longitude")
        if self.temperature_unit not in UNITS:
            raise ConfigError(f"unknown unit {self.temperature_unit!r}", variable="weather.temperature_unit",
                              fix="fahrenheit or celsius")
        if not 1 <= self.forecast_days <= MAX_FORECAST_DAYS:
            raise ConfigError(f"{self.forecast_days} is outside 1..{MAX_FORECAST_DAYS}",
                              variable="weather.forecast_days")
        if not self.timeout > 0:
            raise ConfigError("the timeout must be positive", variable="weather.timeout")

    def forecast_model(self, model: str) -> str:
        """The forecast API's name for an ensemble model's deterministic run."""
        return dict(self.forecast_models).get(model) or FORECAST_MODEL.get(model, model)


@dataclass(frozen=True)
class ModelMembers:
    """One model's values of the day's maximum for one climate day, in °F (nulls skipped, control included)."""

    model: str
    kind: ForecastKind
    day: date
    members_f: tuple[float, ...]


@dataclass(frozen=True)
class WeatherSample:
    """What one cycle learned about the days asked for: members per model and day, and each source's health."""

    at: datetime
    days: tuple[date, ...]
    models: tuple[ModelMembers, ...]
    health: tuple[SourceHealth, ...] = field(default=())

    def for_day(self, day: date) -> tuple[ModelMembers, ...]:
        """The models that have members for `day` (ensemble or fallback)."""
        return tuple(m for m in self.models if m.day == day and m.members_f)

    def member_count(self, day: date) -> int:
        return sum(len(m.members_f) for m in self.for_day(day))


def member_key(model: str) -> re.Pattern[str]:
    """`^temperature_2m_max(_memberNN)?(_<model>)?$`, with the model suffix before or after the member part,
    and either spelling of a renamed model."""
    names = "|".join(re.escape(n) for n in sorted({model, ALIASES.get(model, model)}, key=len, reverse=True))
    return re.compile(rf"^{VARIABLE}(?:_(?P<m1>member\d{{2}}))?(?:_(?:{names}))?(?:_(?P<m2>member\d{{2}}))?$")


def parse_daily(body: Any, model: str, days: Sequence[date], requested_unit: str) -> dict[date, tuple[float, ...]]:
    """Members (°F) per wanted day from an Open-Meteo daily body; raises SourceProblem for envelopes and garbage."""
    body = obj(body, "the body")
    if body.get("error") is True:
        raise failed(f"error envelope: {body.get('reason') or 'no reason given'}")
    daily = obj(body.get("daily"), "daily")
    times = items(daily.get("time"), "daily.time")
    unit = _reported_unit(body, requested_unit)
    rows = {d: times.index(d.isoformat()) for d in days if d.isoformat() in times}
    pattern = member_key(model)
    found: dict[date, list[tuple[int, float]]] = {d: [] for d in days}
    for key in daily:
        m = pattern.match(key)
        if m is None or (m.group("m1") and m.group("m2")):
            continue
        member = int((m.group("m1") or m.group("m2") or "member00")[6:])  # 0: the control run
        values = items(daily[key], f"daily.{key}")
        if len(values) != len(times):
            raise garbage(f"daily.{key} has {len(values)} values for {len(times)} days")
        for d, i in rows.items():
            v = values[i]
            if v is None:
                continue  # a member without a value: skipped, as documented
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise garbage(f"daily.{key}[{i}] is not a temperature: {v!r}")
            found[d].append((member, float(v) * 9 / 5 + 32 if unit == "°C" else float(v)))
    return {d: tuple(v for _, v in sorted(vs)) for d, vs in found.items()}  # control first, then by member


def _reported_unit(body: dict[str, Any], requested_unit: str) -> str:
    units = body.get("daily_units")
    reported = units.get(VARIABLE) if isinstance(units, dict) else None
    if reported is None:
        return UNITS[requested_unit]
    if reported not in ("°F", "°C"):
        raise garbage(f"daily_units.{VARIABLE} is {reported!r}, not °F or °C")
    return str(reported)


class WeatherCollector:
    """Collects members for the wanted climate days: one ensemble request per model, each with its own fallback."""

    def __init__(self, config: WeatherConfig, session: requests.Session, clock: Clock = utcnow):
        self.config = config
        self.session = session
        self.clock = clock

    def collect(self, days: Sequence[date], pool: Executor | None = None) -> WeatherSample:
        """Members for `days` (climate days) from every model; never raises for a source's fault.

        With `pool` the models are asked concurrently; None asks them one after another.
        """
        wanted = tuple(sorted(set(days)))
        outcomes = fan_out(self.jobs(wanted), pool)
        members = tuple(m for ms, _ in outcomes for m in ms)
        health = tuple(h for _, hs in outcomes for h in hs)
        return WeatherSample(self.clock(), wanted, members, health)

    def jobs(self, days: tuple[date, ...]) -> list[Callable[[], tuple[list[ModelMembers], list[SourceHealth]]]]:
        """One job per model (ensemble, then the fallback if needed), to run on any executor."""
        return [partial(self._one_model, model, days) for model in self.config.models]

    def _one_model(self, model: str, days: tuple[date, ...]) -> tuple[list[ModelMembers], list[SourceHealth]]:
        cfg = self.config
        url = cfg.ensemble_base.rstrip("/") + ENSEMBLE_PATH
        got, health = run_source(f"open-meteo-ensemble:{model}",
                                 lambda: self._members(url, model, days), self.clock)
        by_day = dict(got or {})
        healths = [health]
        missing = [d for d in days if not by_day.get(d)]
        if got is not None and missing:
            healths[0] = downgrade(health, SourceStatus.FAILED,
                                   f"no members for {', '.join(d.isoformat() for d in missing)}")
        out = [ModelMembers(model, ForecastKind.ENSEMBLE, d, by_day[d]) for d in days if by_day.get(d)]
        if missing and cfg.fallback:
            fmodel = cfg.forecast_model(model)
            furl = cfg.forecast_base.rstrip("/") + FORECAST_PATH
            fgot, fhealth = run_source(f"open-meteo:{fmodel}",
                                       lambda: self._members(furl, fmodel, tuple(missing)), self.clock)
            healths.append(fhealth)
            out += [ModelMembers(model, ForecastKind.FORECAST, d, vs) for d, vs in (fgot or {}).items() if vs]
        return out, healths

    def _members(self, url: str, model: str, days: tuple[date, ...]) -> dict[date, tuple[float, ...]]:
        fetched = get_json(self.session, url, self._params(model, days), self.config.timeout, self.clock)
        return parse_daily(fetched.body, model, days, self.config.temperature_unit)

    def _params(self, model: str, days: tuple[date, ...]) -> dict[str, str]:
        cfg = self.config
        today = climate_day_of(self.clock())
        ahead = (max(days) - today).days
        params = {"latitude": f"{cfg.latitude:g}", "longitude": f"{cfg.longitude:g}", "daily": VARIABLE,
                  "models": model, "temperature_unit": cfg.temperature_unit, "timezone": cfg.timezone,
                  "forecast_days": str(min(MAX_FORECAST_DAYS, max(cfg.forecast_days, ahead + 2)))}
        behind = (today - min(days)).days
        if behind > 0:  # a day already under way in another zone, or over: ask for it explicitly
            params["past_days"] = str(min(92, behind + 1))
        return params
