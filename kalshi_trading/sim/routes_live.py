"""Milestones and live data, from the simulator's catalogue and world.

Every listed event is one milestone (the moment it resolves: an hourly Bitcoin fixing, a day's high
temperature or rain in New York), with a stable id.  Its live data is what the world knows now: the
simulated Bitcoin index, or the day's temperature so far.  The weather index serves city `nyc`: a minute
series shaped by the day (coolest at 03:00, warmest at 15:00 Eastern) whose daily maximum is the simulated
true high the KXHIGHNY markets settle on; minutes of days the world no longer (or not yet) knows are gaps.
"""

from __future__ import annotations

import math
from datetime import datetime

from kalshi_trading.sim import catalogue
from kalshi_trading.sim.catalogue import SERIES_BY_TICKER
from kalshi_trading.sim.clock import fmt_time
from kalshi_trading.sim.errors import bad_request, not_found
from kalshi_trading.sim.params import Request, paginate
from kalshi_trading.sim.routes_misc import stable_id

TYPES = {"btc": "crypto_price", "btc15m": "crypto_price", "temp": "weather_daily_high",
         "rain": "weather_daily_precipitation"}
CITY = "nyc"
STATION = "KNYC"
MINUTE_MS = 60_000
MAX_WINDOW_MS = 7 * 86_400_000
DIURNAL_RANGE_F = 9.0
INDEX_LAUNCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def _milestone(event) -> dict:
    series = SERIES_BY_TICKER.get(event.series_ticker)
    return {
        "id": stable_id("milestone", event.event_ticker),
        "category": series.category if series else "",
        "type": TYPES.get(event.kind, event.kind),
        "start_date": fmt_time(event.open_ms),
        "end_date": fmt_time(event.close_ms),
        "related_event_tickers": [event.event_ticker],
        "title": event.title,
        "notification_message": f"{event.title} resolves at {fmt_time(event.close_ms)}",
        "source_id": None,
        "source_ids": {},
        "details": {"series_ticker": event.series_ticker, "settlement_source": series.settlement_source[0]
                    if series else ""},
        "primary_event_tickers": [event.event_ticker],
        "last_updated_ts": fmt_time(event.created_ms),
    }


def _by_id(app, milestone_id: str):
    for event in app.exchange.events.values():
        if stable_id("milestone", event.event_ticker) == milestone_id:
            return event
    raise not_found("milestone not found", milestone_id)


def _parse_time(text: str, name: str) -> int:
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        raise bad_request(f"{name} must be an RFC 3339 time", "invalid_parameters", text) from None


def milestones(app, req: Request):
    if req.one("limit") in (None, ""):
        raise bad_request("limit is required", "invalid_parameters")
    events = sorted(app.exchange.events.values(), key=lambda e: (e.close_ms, e.event_ticker))
    if text := req.one("minimum_start_date"):
        since = _parse_time(text, "minimum_start_date")
        events = [e for e in events if e.open_ms >= since]
    if (updated := req.int("min_updated_ts")) is not None:
        events = [e for e in events if e.created_ms >= updated * 1000]
    rows = [_milestone(e) for e in events]
    for name in ("category", "type"):
        if value := req.one(name):
            rows = [m for m in rows if m[name] == value]
    if req.one("competition") or req.one("source_id"):
        rows = []  # no milestone of the catalogue has a competition or an outside source id
    if related := req.one("related_event_ticker"):
        rows = [m for m in rows if related in m["related_event_tickers"]]
    page, cursor = paginate(req, rows, 100, 1000)
    return 200, {"milestones": page, "cursor": cursor}


def milestone(app, req: Request):
    return 200, {"milestone": _milestone(_by_id(app, req.match["milestone_id"]))}


def events_with_milestones(app, req: Request):
    """GET /events (routes_market), with each listed event's milestone when `with_milestones` asks."""
    from kalshi_trading.sim import routes_market as mk

    status, body = mk.list_events(app, req)
    if req.bool("with_milestones"):
        events = app.exchange.events
        body["milestones"] = [_milestone(events[e["event_ticker"]]) for e in body["events"]
                              if e["event_ticker"] in events]
    return status, body


# ---- live data ----------------------------------------------------------------------------------------


def _details(app, event) -> dict:
    ex = app.exchange
    now = ex.clock.now_ms()
    if event.kind in ("btc", "btc15m"):
        return {"index": "BRTI (simulated)", "price": round(ex.world.spot, 2), "ts_ms": now}
    day = f"KXHIGHNY-{catalogue.et_label(event.close_ms - catalogue.HOUR_MS, False)}"
    if event.kind == "temp":
        readings = [v for _, v in _series(app, max(event.open_ms, now - 86_400_000), now) if v is not None]
        return {"station_id": STATION, "high_so_far_f": max(readings) if readings else None,
                "current_f": readings[-1] if readings else None, "ts_ms": now, "day_event_ticker": day}
    return {"station_id": STATION, "ts_ms": now}


def _live(app, event) -> dict:
    return {"type": TYPES.get(event.kind, event.kind), "details": _details(app, event),
            "milestone_id": stable_id("milestone", event.event_ticker)}


def live_by_milestone(app, req: Request):
    return 200, {"live_data": _live(app, _by_id(app, req.match["milestone_id"]))}


def live_typed(app, req: Request):
    event = _by_id(app, req.match["milestone_id"])
    if req.match["type"] != TYPES.get(event.kind, event.kind):
        raise not_found("no live data of this type for the milestone", req.match["type"])
    return 200, {"live_data": _live(app, event)}


def live_batch(app, req: Request):
    wanted = set(req.many("milestone_ids"))
    events = [e for e in app.exchange.events.values() if stable_id("milestone", e.event_ticker) in wanted]
    return 200, {"live_datas": [_live(app, e) for e in events]}


def event_live(app, req: Request):
    event = app.exchange.events.get(req.match["event"])
    if event is None:
        raise not_found("live data not found", req.match["event"])
    live = _live(app, event)
    closed = app.exchange.clock.now_ms() >= event.close_ms
    return 200, {"live_data": {"type": live["type"], "details": live["details"], "is_historical": closed}}


def game_stats(app, req: Request):
    _by_id(app, req.match["milestone_id"])
    return 200, {}  # not a sports milestone: no play-by-play


# ---- the weather index ----------------------------------------------------------------------------------


def _city(req: Request) -> str:
    city = req.match["city"].lower()
    if city != CITY:
        raise bad_request(f"unknown city; the simulator's weather index serves {CITY!r}", "invalid_parameters",
                          req.match["city"])
    return city


def _series(app, start_ms: int, end_ms: int) -> list[tuple[int, float | None]]:
    """(minute ms, degrees F or None) from start to end (inclusive, never past now)."""
    ex = app.exchange
    end_ms = min(end_ms, ex.clock.now_ms())
    out = []
    t = -(-start_ms // MINUTE_MS) * MINUTE_MS
    while t <= end_ms:
        state = ex.world.temps.get(f"KXHIGHNY-{catalogue.et_label(t, False)}")
        value = None
        if state is not None:
            hour = datetime.fromtimestamp(t / 1000, tz=catalogue.ET)
            h = hour.hour + hour.minute / 60
            value = round(state[0] - DIURNAL_RANGE_F * (1 - math.cos(2 * math.pi * (h - 15) / 24)) / 2, 2)
        out.append((t, value))
        t += MINUTE_MS
    return out


def weather_index(app, req: Request):
    city = _city(req)
    now = app.exchange.clock.now_ms()
    last, lo, hi = req.int("last_sec"), req.int("from"), req.int("to")
    if last is not None:
        if lo is not None or hi is not None:
            raise bad_request("last_sec excludes from and to", "invalid_parameters")
        lo, hi = now - last * 1000, now
    else:
        if (lo is None) != (hi is None) and lo is not None:
            raise bad_request("from needs to", "invalid_parameters")
        hi = now if hi is None else hi
        lo = hi - 86_400_000 if lo is None else lo
    if lo > hi or hi - lo > MAX_WINDOW_MS:
        raise bad_request("the window must run forward and span at most 7 days", "invalid_parameters")
    detailed = req.bool("detailed")
    points = []
    for t, v in _series(app, lo, hi):
        if v is None:
            continue
        point = {"t": t, "v": v, "status": "ok", "contributors": 1}
        if detailed:
            point["stations"] = [{"station_id": STATION, "code": "ok", "source": "simulated", "temp_f": v,
                                  "obs_time_ms": t, "received_at_ms": t, "primary_code": "ok"}]
        points.append(point)
    return 200, {"city": city, "config_version": "sim-1", "units": "F", "timeseries": points}


def weather_calibrations(app, req: Request):
    city = _city(req)
    return 200, {"city": city, "units": "F", "calibrations": [
        {"config_version": "sim-1", "published_at_ms": INDEX_LAUNCH_MS, "effective_at_ms": INDEX_LAUNCH_MS,
         "change_reason": "launch", "city_reference_c": 0.0,
         "stations": [{"station_id": STATION, "weight": 1.0, "offset_c": 0.0}]}]}


ROUTES = [
    ("GET", "/milestones", milestones, "public"),
    ("GET", "/milestones/{milestone_id}", milestone, "public"),
    ("GET", "/live_data/batch", live_batch, "public"),
    ("GET", "/live_data/events/{event}", event_live, "public"),
    ("GET", "/live_data/milestone/{milestone_id}", live_by_milestone, "public"),
    ("GET", "/live_data/milestone/{milestone_id}/game_stats", game_stats, "public"),
    ("GET", "/live_data/weather/{city}", weather_index, "public"),
    ("GET", "/live_data/weather/{city}/calibrations", weather_calibrations, "public"),
    ("GET", "/live_data/{type}/milestone/{milestone_id}", live_typed, "public"),
]
