"""The Open-Meteo collector against a loopback server, in the exact shapes of data-sources.md section 1:
success, multi-model suffixed keys (both orders, both 2026 spellings), nulls, each documented error, garbage,
timeouts, the forecast fallback, units and the climate day."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from kalshi_trading.errors import ConfigError
from kalshi_trading.signals.collectors.weather import (ForecastKind, WeatherCollector, WeatherConfig,
                                                       climate_day_for_close, climate_day_of, parse_daily)
from kalshi_trading.signals.types import SourceStatus
from tests.signals import shapes
from tests.signals.conftest import fixed_clock

D1, D2 = date(2026, 12, 1), date(2026, 12, 2)
GEFS, IFS = "ncep_gefs_seamless", "ecmwf_ifs025_ensemble"


def collector(sources, session, models=(GEFS,), **kw) -> WeatherCollector:
    cfg = WeatherConfig(models=models, ensemble_base=sources.base("open-meteo-ensemble"),
                        forecast_base=sources.base("open-meteo"), timeout=kw.pop("timeout", 2.0), **kw)
    return WeatherCollector(cfg, session, fixed_clock())


def test_the_documented_example(sources, session):
    sources.set("open-meteo-ensemble", "/v1/ensemble", shapes.DOC_ENSEMBLE)
    sample = collector(sources, session).collect([D1, D2])
    (d1,), (d2,) = sample.for_day(D1), sample.for_day(D2)
    assert d1.members_f == (44.1, 43.8, 45.0) and d1.kind is ForecastKind.ENSEMBLE  # control + 2 members
    assert d2.members_f == (47.3, 48.0)  # member02 is null on 12-02: skipped
    assert [h.status for h in sample.health] == [SourceStatus.OK]
    assert sample.health[0].source == f"open-meteo-ensemble:{GEFS}"
    assert sources.requests_to("open-meteo") == []  # no fallback needed
    path, query = sources.requests_to("open-meteo-ensemble")[0]
    assert path == "/ext/open-meteo-ensemble/v1/ensemble"
    assert query == {"latitude": "40.7794", "longitude": "-73.9692", "daily": "temperature_2m_max", "models": GEFS,
                     "temperature_unit": "fahrenheit", "timezone": "America/New_York", "forecast_days": "3"}


def test_one_request_per_model_and_suffixed_keys_in_either_order(sources, session):
    # Keys carry the model name, before or after the member part; another model's keys are not ours.
    body = shapes.ensemble(["2026-12-01"], {
        f"temperature_2m_max_{GEFS}": [40.0],
        f"temperature_2m_max_member01_{GEFS}": [41.0],
        f"temperature_2m_max_{GEFS}_member02": [42.0],
        f"temperature_2m_max_member03_{IFS}": [99.0],
        "temperature_2m_min": [30.0], "temperature_2m_max_member1": [98.0],  # not the variable / not two digits
    })
    sources.set("open-meteo-ensemble", "/v1/ensemble", body)
    sample = collector(sources, session).collect([D1])
    assert sample.for_day(D1)[0].members_f == (40.0, 41.0, 42.0)


def test_both_2026_spellings_are_accepted(sources, session):
    # Configured with the old name, answered with keys suffixed by the new one.
    body = shapes.ensemble(["2026-12-01"], {"temperature_2m_max_member01_ncep_gefs_seamless": [50.5],
                                            "temperature_2m_max_ncep_gefs_seamless": [50.0]})
    sources.set("open-meteo-ensemble", "/v1/ensemble", body)
    sample = collector(sources, session, models=("gfs_seamless",)).collect([D1])
    assert sample.for_day(D1)[0].members_f == (50.0, 50.5)
    assert sources.requests_to("open-meteo-ensemble")[0][1]["models"] == "gfs_seamless"


def test_two_models_two_requests(sources, session):
    def route(model_value: float) -> dict:
        return shapes.ensemble(["2026-12-01"], {"temperature_2m_max": [model_value],
                                                "temperature_2m_max_member01": [model_value + 1]})
    # One loopback path serves both requests; tell them apart by the `models` query afterwards.
    sources.set("open-meteo-ensemble", "/v1/ensemble", route(45.0))
    sample = collector(sources, session, models=(GEFS, IFS)).collect([D1])
    assert [m.model for m in sample.for_day(D1)] == [GEFS, IFS]  # in the configured order
    assert sorted(q["models"] for _, q in sources.requests_to("open-meteo-ensemble")) == sorted([GEFS, IFS])
    assert sample.member_count(D1) == 4


def fallback_body(value: float | None = 46.0, key: str = "temperature_2m_max") -> dict:
    return shapes.ensemble(["2026-12-01", "2026-12-02", "2026-12-03"], {key: [value, 50.0, 51.0]})


@pytest.mark.parametrize("status, body, status_out, reason", [
    (400, shapes.OM_UNKNOWN_MODEL, SourceStatus.FAILED, "HTTP 400: Cannot initialize WeatherModel"),
    (429, shapes.OM_LIMIT, SourceStatus.FAILED, "HTTP 429: Daily API request limit exceeded"),
    (200, shapes.OM_LIMIT, SourceStatus.FAILED, "error envelope: Daily API request limit"),
    (500, "<html>Internal Server Error</html>", SourceStatus.FAILED, "HTTP 500"),
    (200, "<html>not json</html>", SourceStatus.GARBAGE, "not JSON"),
    (200, [1, 2, 3], SourceStatus.GARBAGE, "the body is not an object"),
    (200, {"latitude": 40.78}, SourceStatus.GARBAGE, "daily is not an object"),
    (200, {"daily": {"time": "2026-12-01"}}, SourceStatus.GARBAGE, "daily.time is not a list"),
    (200, shapes.ensemble(["2026-12-01"], {"temperature_2m_max": [1.0, 2.0]}), SourceStatus.GARBAGE,
     "has 2 values for 1 days"),
    (200, shapes.ensemble(["2026-12-01"], {"temperature_2m_max": ["44.1"]}), SourceStatus.GARBAGE,
     "is not a temperature"),
    (200, shapes.ensemble(["2026-12-01"], {"temperature_2m_max": [44.1]}, unit="K"), SourceStatus.GARBAGE,
     "not °F or °C"),
    (200, shapes.ensemble(["2026-12-01"], {"temperature_2m_max": [None], "temperature_2m_max_member01": [None]}),
     SourceStatus.FAILED, "no members for 2026-12-01"),
    (200, shapes.ensemble(["2026-12-02"], {"temperature_2m_max": [44.0]}), SourceStatus.FAILED,
     "no members for 2026-12-01"),
])
def test_an_ensemble_that_fails_falls_back_to_the_forecast(sources, session, caplog, status, body, status_out,
                                                           reason):
    sources.set("open-meteo-ensemble", "/v1/ensemble", body, status)
    sources.set("open-meteo", "/v1/forecast", fallback_body())
    sample = collector(sources, session).collect([D1])
    ens, fc = sample.health
    assert ens.status is status_out and reason in (ens.reason or "")
    assert fc.status is SourceStatus.OK and fc.source == "open-meteo:gfs_seamless"
    (m,) = sample.for_day(D1)
    assert m.kind is ForecastKind.FORECAST and m.members_f == (46.0,) and m.model == GEFS
    _, query = sources.requests_to("open-meteo")[0]
    assert query["models"] == "gfs_seamless"  # the forecast API's name for the deterministic run
    assert sum(reason in r.getMessage() for r in caplog.records) == 1  # logged once, with the reason


def test_a_timeout_falls_back(sources, session):
    sources.set("open-meteo-ensemble", "/v1/ensemble", shapes.DOC_ENSEMBLE, delay=0.5)
    sources.set("open-meteo", "/v1/forecast", fallback_body(key="temperature_2m_max_gfs_seamless"))
    sample = collector(sources, session, timeout=0.1).collect([D1])
    assert sample.health[0].status is SourceStatus.FAILED and "timed out after 0.1 s" in sample.health[0].reason
    assert sample.for_day(D1)[0].members_f == (46.0,)  # the suffixed forecast key counts as that model's value


def test_nothing_answers_and_nothing_raises(sources, session):
    # No routes at all: the loopback answers 404 to both.
    sample = collector(sources, session, models=(GEFS, IFS)).collect([D1])
    assert sample.for_day(D1) == () and sample.member_count(D1) == 0
    assert [h.status for h in sample.health] == [SourceStatus.FAILED] * 4
    assert all("HTTP 404" in (h.reason or "") for h in sample.health)


def test_connection_refused(session):
    cfg = WeatherConfig(models=(GEFS,), ensemble_base="http://127.0.0.1:9", forecast_base="http://127.0.0.1:9",
                        timeout=1.0)
    sample = WeatherCollector(cfg, session, fixed_clock()).collect([D1])
    assert all(h.status is SourceStatus.FAILED and "network error" in (h.reason or "") for h in sample.health)


def test_the_fallback_can_be_turned_off(sources, session):
    sources.set("open-meteo-ensemble", "/v1/ensemble", shapes.OM_UNKNOWN_MODEL, 400)
    sample = collector(sources, session, fallback=False).collect([D1])
    assert len(sample.health) == 1 and sources.requests_to("open-meteo") == []


def test_celsius_members_come_out_in_fahrenheit(sources, session):
    body = shapes.ensemble(["2026-12-01"], {"temperature_2m_max": [10.0], "temperature_2m_max_member01": [-5.0]},
                           unit="°C")
    sources.set("open-meteo-ensemble", "/v1/ensemble", body)
    sample = collector(sources, session, temperature_unit="celsius").collect([D1])
    assert sample.for_day(D1)[0].members_f == (50.0, 23.0)  # 10 x 9/5 + 32 = 50; -5 x 9/5 + 32 = 23


def test_far_days_widen_the_request():
    cfg = WeatherConfig(models=(GEFS,))
    c = WeatherCollector(cfg, None, fixed_clock())  # type: ignore[arg-type]  (no request is made)
    assert c._params(GEFS, (D1, date(2026, 12, 6)))["forecast_days"] == "7"  # 5 days ahead + today + 1 slack
    past = c._params(GEFS, (date(2026, 11, 30),))
    assert past["past_days"] == "2" and past["forecast_days"] == "3"


# --- the climate day -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("close, day", [
    ("2026-12-02T04:59:00Z", D1),          # winter: D+1 04:59Z closes day D
    ("2026-12-02T05:00:00Z", D1),          # the simulator closes on the hour
    ("2026-07-02T04:59:00Z", date(2026, 7, 1)),  # summer: still UTC-5, not EDT
])
def test_climate_day_for_close(close, day):
    assert climate_day_for_close(datetime.fromisoformat(close.replace("Z", "+00:00"))) == day


@pytest.mark.parametrize("instant, day", [
    ("2026-07-02T04:30:00Z", date(2026, 7, 1)),   # 00:30 EDT on the clock, still July 1 in standard time
    ("2026-07-02T05:00:00Z", date(2026, 7, 2)),   # 01:00 EDT = 00:00 EST: the new climate day
    ("2026-12-01T04:59:59Z", date(2026, 11, 30)),
])
def test_climate_day_of(instant, day):
    assert climate_day_of(datetime.fromisoformat(instant.replace("Z", "+00:00"))) == day


def test_the_row_of_the_climate_day_is_picked():
    body = shapes.ensemble(["2026-11-30", "2026-12-01", "2026-12-02"],
                           {"temperature_2m_max": [30.0, 40.0, 50.0],
                            "temperature_2m_max_member01": [31.0, 41.0, None]})
    assert parse_daily(body, GEFS, [D1], "fahrenheit") == {D1: (40.0, 41.0)}


@pytest.mark.parametrize("kw, key", [
    ({"models": ()}, "weather.models"),
    ({"models": ("GFS Seamless!",)}, "weather.models"),
    ({"models": (GEFS, GEFS)}, "weather.models"),
    ({"models": ("ncep_gefs_seamles",)}, "weather.models"),  # a typo of a known model
    ({"models": ("foo",)}, "weather.models"),
    ({"temperature_unit": "kelvin"}, "weather.temperature_unit"),
    ({"latitude": 91.0}, "weather.latitude"),
    ({"forecast_days": 0}, "weather.forecast_days"),
    ({"timeout": 0.0}, "weather.timeout"),
])
def test_bad_config_names_the_key(kw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        WeatherConfig(**kw)


def test_an_unknown_model_can_be_allowed_and_a_list_is_accepted():
    cfg = WeatherConfig(models=["icon_seamless", "brand_new_2027_ensemble"], allow_unknown_models=True)
    assert cfg.models == ("icon_seamless", "brand_new_2027_ensemble")


def test_utc_clock_is_aware():
    assert fixed_clock()().tzinfo is timezone.utc
