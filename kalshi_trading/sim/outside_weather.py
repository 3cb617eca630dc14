"""Loopback Open-Meteo: the ensemble API (`/v1/ensemble`) and the forecast API (`/v1/forecast`), in the shapes of
data-sources.md section 1, forecasting the simulator's own weather.

A local date D of `daily.time` is the climate day of the KXHIGHNY event `KXHIGHNY-<D>`; its true high
(`World.true_high`, fixed by the seed and the day, whether or not the event is listed yet) is what settles
the event.  Each model family forecasts it from its latest run (every 6 hours, available some hours after
the run): a centre = truth + the family's bias + an error that shrinks with the lead time (part of it kept
from run to run, part new each run), and members spread around the centre (ensembles are a little
under-dispersed, as real ones are).  A member value is `null` now and then (2%).  Everything is a function
of (seed, model family, day, run, member), so a request never changes the simulation and the same seed
answers the same numbers.  The simulator has one place: any latitude/longitude gets New York's weather.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kalshi_trading.sim import catalogue, noise
from kalshi_trading.sim.outside_wire import OutsideError, Query

if TYPE_CHECKING:
    from kalshi_trading.sim.exchange import SimExchange

HOUR_MS = 3_600_000
VARIABLE = "temperature_2m_max"
LOCAL_ZONE = "America/New_York"
ELEVATION_M = 38.0
NULL_MEMBER = 0.02


@dataclass(frozen=True)
class Family:
    """A model family's skill, in °F at one day of lead: the centre's bias and error, the members' spread."""

    name: str
    bias: float
    error: float
    spread: float
    run_every_h: int = 6
    ready_after_h: int = 5


FAMILIES = {f.name: f for f in (
    Family("gfs", bias=0.6, error=1.7, spread=1.2),
    Family("ecmwf", bias=-0.2, error=1.1, spread=1.0, ready_after_h=7),
    Family("icon", bias=0.3, error=1.5, spread=0.0),
    Family("gem", bias=0.8, error=1.9, spread=0.0),
    Family("best", bias=0.0, error=1.2, spread=0.0, run_every_h=1, ready_after_h=2),
)}
# ensemble API: model name -> (family, members including the control run); both spellings of 2026
ENSEMBLE_MODELS = {
    "ncep_gefs_seamless": ("gfs", 31), "gfs_seamless": ("gfs", 31),
    "ecmwf_ifs025_ensemble": ("ecmwf", 51), "ecmwf_ifs025": ("ecmwf", 51),
}
FORECAST_MODELS = {
    "best_match": "best", "gfs_seamless": "gfs", "gfs_global": "gfs", "ecmwf_ifs025": "ecmwf",
    "ecmwf_ifs04": "ecmwf", "icon_seamless": "icon", "gem_seamless": "gem",
}
MAX_FORECAST_DAYS = {"ensemble": 35, "forecast": 16}
MAX_PAST_DAYS = 92


def _bad(reason: str) -> OutsideError:
    return OutsideError(400, {"error": True, "reason": reason})


@dataclass(frozen=True)
class Request:
    """A checked Open-Meteo request."""

    latitude: float
    longitude: float
    models: tuple[str, ...]
    fahrenheit: bool
    zone_name: str
    zone: ZoneInfo | timezone
    days: tuple[date, ...]
    daily: bool


def _coordinate(query: Query, name: str, limit: float) -> float:
    raw = query.one(name)
    if raw is None or raw == "":
        raise _bad(f"Parameter '{name}' is required")
    try:
        value = float(raw)
    except ValueError:
        raise _bad(f"Cannot initialize Float from invalid String value {raw} for key {name}") from None
    if not (math.isfinite(value) and -limit <= value <= limit):
        raise _bad(f"{name.capitalize()} must be in range of -{limit:g} to {limit:g}°. Given: {raw}.")
    return value


def _days_param(query: Query, name: str, default: int, most: int) -> int:
    raw = query.one(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"Cannot initialize Int from invalid String value {raw} for key {name}") from None
    if not 0 <= value <= most:
        label = "Forecast days" if name == "forecast_days" else "Past days"
        raise _bad(f"{label} is invalid. Allowed range 0 to {most}. Given {value}.")
    return value


def _zone(query: Query) -> tuple[str, ZoneInfo | timezone]:
    raw = query.one("timezone") or "GMT"
    if raw.lower() == "auto":
        raw = LOCAL_ZONE
    if raw.upper() in ("GMT", "UTC"):
        return "GMT", timezone.utc
    try:
        return raw, ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(f"Invalid timezone: {raw}") from None


def parse(ex: SimExchange, query: Query, api: str) -> Request:
    """Check an ensemble (`api="ensemble"`) or forecast request; raise the API's 400 envelope when bad."""
    latitude = _coordinate(query, "latitude", 90)
    longitude = _coordinate(query, "longitude", 180)
    known = ENSEMBLE_MODELS if api == "ensemble" else FORECAST_MODELS
    models = tuple(query.items("models")) or (() if api == "ensemble" else ("best_match",))
    if not models:
        raise _bad("Parameter 'models' is required")
    for model in models:
        if model not in known:
            raise _bad(f"Cannot initialize MultiDomains from invalid String value {model}.")
    unit = (query.one("temperature_unit") or "celsius").lower()
    if unit not in ("celsius", "fahrenheit"):
        raise _bad(f"Cannot initialize TemperatureUnit from invalid String value {unit}.")
    variables = query.items("daily")
    for variable in variables:
        if variable != VARIABLE:
            raise _bad(f"Cannot initialize {'EnsembleVariableDaily' if api == 'ensemble' else 'ForecastVariableDaily'}"
                       f" from invalid String value {variable}.")
    if variables and not query.one("timezone"):
        raise _bad("Parameter 'timezone' is required when requesting daily data")
    zone_name, zone = _zone(query)
    forecast_days = _days_param(query, "forecast_days", 7, MAX_FORECAST_DAYS[api])
    past_days = _days_param(query, "past_days", 0, MAX_PAST_DAYS)
    today = datetime.fromtimestamp(ex.clock.now_ms() / 1000, tz=zone).date()
    first = today - timedelta(days=past_days)
    days = tuple(first + timedelta(days=i) for i in range(past_days + forecast_days))
    return Request(latitude, longitude, models, unit == "fahrenheit", zone_name, zone, days, bool(variables))


# ---- the forecasts ----------------------------------------------------------------------------------------


def _event_ticker(day: date) -> str:
    return f"KXHIGHNY-{day.year % 100:02d}{catalogue._MONTHS[day.month - 1]}{day.day:02d}"


def _day_end_ms(day: date) -> int:
    """When the climate day (US Eastern standard time, as the catalogue's events) ends."""
    nxt = day + timedelta(days=1)
    return int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=catalogue.ET).timestamp() * 1000)


def latest_run_ms(family: Family, now_ms: int) -> int:
    """The start of the family's newest run that is available at `now`."""
    period = family.run_every_h * HOUR_MS
    return (now_ms - family.ready_after_h * HOUR_MS) // period * period


def _scale(lead_h: float) -> float:
    """How a forecast's error grows with the lead time (1 at one day; small once the day is over)."""
    return math.sqrt(0.05 + min(max(lead_h, 0.0), 360.0) / 24.0)


def centre_f(ex: SimExchange, family: Family, day: date, run_ms: int) -> float:
    """The family's forecast of the day's high (°F) from the run starting at `run_ms`."""
    world = ex.world
    ticker = _event_ticker(day)
    lead_h = (_day_end_ms(day) - run_ms) / HOUR_MS
    seed = world.seed
    error = 0.6 * noise.gauss(seed, "wx-persist", family.name, ticker) + \
        0.8 * noise.gauss(seed, "wx-run", family.name, ticker, run_ms)
    return world.true_high(ticker) + family.bias * min(1.0, max(lead_h, 0.0) / 24.0) + \
        family.error * _scale(lead_h) * error


def members_f(ex: SimExchange, family: Family, count: int, day: date, run_ms: int) -> list[float | None]:
    """Control run first, then count - 1 members (°F); a member is None now and then."""
    centre = centre_f(ex, family, day, run_ms)
    spread = family.spread * _scale((_day_end_ms(day) - run_ms) / HOUR_MS)
    seed, ticker = ex.world.seed, _event_ticker(day)
    out: list[float | None] = [centre + 0.2 * spread * noise.gauss(seed, "wx-control", family.name, ticker, run_ms)]
    for i in range(1, count):
        if noise.uniform(seed, "wx-null", family.name, ticker, run_ms, i) < NULL_MEMBER:
            out.append(None)
        else:
            out.append(centre + spread * noise.gauss(seed, "wx-member", family.name, ticker, run_ms, i))
    return out


def _render(value_f: float | None, fahrenheit: bool) -> float | None:
    if value_f is None:
        return None
    return round(value_f if fahrenheit else (value_f - 32.0) * 5.0 / 9.0, 1)


def _envelope(ex: SimExchange, req: Request) -> dict:
    now = datetime.fromtimestamp(ex.clock.now_ms() / 1000, tz=req.zone)
    offset = now.utcoffset() or timedelta(0)
    return {"latitude": round(req.latitude, 2), "longitude": round(req.longitude, 2), "generationtime_ms": 0.5,
            "utc_offset_seconds": int(offset.total_seconds()), "timezone": req.zone_name,
            "timezone_abbreviation": now.tzname() or "GMT", "elevation": ELEVATION_M}


def _with_daily(body: dict, req: Request, series: dict[str, list[float | None]]) -> dict:
    if req.daily:
        unit = "°F" if req.fahrenheit else "°C"
        body["daily_units"] = {"time": "iso8601", **{key: unit for key in series}}
        body["daily"] = {"time": [d.isoformat() for d in req.days], **series}
    return body


def ensemble(ex: SimExchange, query: Query) -> dict:
    """GET /v1/ensemble: the control run under the bare key, members as `_memberNN`; with several models every key
    gains the model's name as a suffix."""
    req = parse(ex, query, "ensemble")
    now = ex.clock.now_ms()
    series: dict[str, list[float | None]] = {}
    for model in req.models:
        family_name, count = ENSEMBLE_MODELS[model]
        family = FAMILIES[family_name]
        run = latest_run_ms(family, now)
        by_day = [members_f(ex, family, count, day, run) for day in req.days]
        suffix = f"_{model}" if len(req.models) > 1 else ""
        for i in range(count):
            key = f"{VARIABLE}{f'_member{i:02d}' if i else ''}{suffix}"
            series[key] = [_render(values[i], req.fahrenheit) for values in by_day]
    return _with_daily(_envelope(ex, req), req, series)


def forecast(ex: SimExchange, query: Query) -> dict:
    """GET /v1/forecast: one value a day per model; a plain key for one model, `_<model>` suffixes for several."""
    req = parse(ex, query, "forecast")
    now = ex.clock.now_ms()
    series: dict[str, list[float | None]] = {}
    for model in req.models:
        family = FAMILIES[FORECAST_MODELS[model]]
        run = latest_run_ms(family, now)
        key = VARIABLE if len(req.models) == 1 else f"{VARIABLE}_{model}"
        series[key] = [_render(centre_f(ex, family, day, run), req.fahrenheit) for day in req.days]
    return _with_daily(_envelope(ex, req), req, series)
