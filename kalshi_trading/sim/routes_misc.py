"""Catalogue reads beyond markets: event candlesticks, metadata and forecasts, search tags, structured targets,
incentive programs, multivariate collections; and the permission-denied families (FCM, communications).

Everything is derived from the simulator's own catalogue and world: it runs no incentive programs and no
multivariate collections (those lists are empty), its structured targets are the underlyings its series
settle on, and an event's forecast is the distribution the simulated world prices its markets with.
"""

from __future__ import annotations

import uuid

from kalshi_trading.sim import routes_market as mk
from kalshi_trading.sim.catalogue import SERIES, SERIES_BY_TICKER
from kalshi_trading.sim.errors import SimError, bad_request, not_found
from kalshi_trading.sim.params import Request, paginate

NAMESPACE = uuid.UUID("6f1c5a52-2f7b-4d0e-9a51-5e3b1d7c0a11")
MAX_EVENT_CANDLES = 5000
TARGETS = (  # (name, type, details, series it settles) — the underlyings of the catalogue
    ("Bitcoin", "crypto_asset", {"symbol": "BTC", "index": "CF Benchmarks BRTI (simulated)"}, ("KXBTCD", "KXBTC15M")),
    ("Central Park, New York", "weather_station", {"station_id": "KNYC", "city": "New York", "country": "US"},
     ("KXHIGHNY", "KXRAINNYC")),
)
COLORS = ("#0B6E4F", "#2D7DD2", "#F2A541", "#D7263D", "#6C4AB6", "#3E92CC", "#AA4465", "#1B998B")


def stable_id(kind: str, name: str) -> str:
    """A UUID that is the same on every run for the same thing."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def _event(app, req: Request, key: str = "event"):
    event = app.exchange.events.get(req.match[key])
    if event is None:
        raise not_found("event not found", req.match[key])
    if "series" in req.match and event.series_ticker != req.match["series"]:
        raise not_found("event not found in series", req.match[key])
    return event


# ---- events -----------------------------------------------------------------------------------------


def event_candlesticks(app, req: Request):
    """Each live market's candles (the shape and rules of the market endpoint), capped at 5000 in all."""
    event = _event(app, req)
    start, end, period = req.int("start_ts"), req.int("end_ts"), req.int("period_interval")
    if start is None or end is None or period is None:
        raise bad_request("start_ts, end_ts and period_interval are required", "invalid_parameters")
    if period not in (1, 60, 1440):
        raise bad_request("period_interval must be 1, 60 or 1440", "invalid_parameters", str(period))
    if end < start:
        raise bad_request("end_ts is before start_ts", "invalid_parameters")
    engine = app.exchange.engine
    tickers = [t for t in event.market_tickers if t in engine.markets]
    span = period * 60
    most = max(1, MAX_EVENT_CANDLES // max(1, len(tickers)))
    if (end - start) // span + 1 > most:
        end = start + (most - 1) * span
    query = dict(req.query, end_ts=[str(end)])
    out = []
    for ticker in tickers:
        sub = Request("GET", req.path, query, None, None, {"series": event.series_ticker, "ticker": ticker})
        out.append(mk.candlesticks(app, sub)[1]["candlesticks"])
    return 200, {"market_tickers": tickers, "market_candlesticks": out, "adjusted_end_ts": end}


def event_metadata(app, req: Request):
    event = _event(app, req)
    series = SERIES_BY_TICKER.get(event.series_ticker)
    image = f"{series.contract_url}/image.png" if series else ""
    details = [{"market_ticker": t, "image_url": image, "color_code": COLORS[i % len(COLORS)]}
               for i, t in enumerate(event.market_tickers)]
    sources = [{"name": series.settlement_source[0], "url": series.settlement_source[1]}] if series else []
    return 200, {"image_url": image, "market_details": details, "settlement_sources": sources,
                 "competition": None, "competition_scope": None}


def forecast_history(app, req: Request):
    """The world's current forecast distribution for the event, as one point at the current period (the
    simulator keeps no history of its forecasts); events without a numeric underlying answer no points."""
    from kalshi_trading.sim.forecast import percentile_points

    event = _event(app, req, "ticker")
    raw = req.many("percentiles")
    try:
        percentiles = [int(p) for p in raw]
    except ValueError:
        raise bad_request("percentiles must be integers 0-9999", "invalid_parameters", ",".join(raw)) from None
    if not percentiles or len(percentiles) > 10 or not all(0 <= p <= 9999 for p in percentiles):
        raise bad_request("1 to 10 percentiles, each 0-9999", "invalid_parameters", ",".join(raw))
    start, end, period = req.int("start_ts"), req.int("end_ts"), req.int("period_interval")
    if start is None or end is None or period is None:
        raise bad_request("start_ts, end_ts and period_interval are required", "invalid_parameters")
    if period not in (0, 1, 60, 1440):
        raise bad_request("period_interval must be 0, 1, 60 or 1440", "invalid_parameters", str(period))
    ex = app.exchange
    now_s = ex.clock.now_ms() // 1000
    span = period * 60 if period else 5
    point_ts = -(-now_s // span) * span
    points = []
    if start <= point_ts and now_s <= end:
        rows = percentile_points(ex, event, percentiles)
        if rows:
            points.append({"event_ticker": event.event_ticker, "end_period_ts": point_ts, "period_interval": period,
                           "percentile_points": rows})
    return 200, {"forecast_history": points}


# ---- search, structured targets, incentives, multivariate ---------------------------------------------


def tags_by_categories(app, req: Request):
    out: dict[str, list[str]] = {}
    for s in SERIES:
        tags = out.setdefault(s.category, [])
        tags.extend(t for t in s.tags if t not in tags)
    return 200, {"tags_by_categories": out}


def filters_by_sport(app, req: Request):
    return 200, {"filters_by_sports": {}, "sport_ordering": []}  # the catalogue lists no sports


def _targets() -> list[dict]:
    return [{"id": stable_id("target", name), "name": name, "type": kind, "details": dict(details),
             "source_id": series[0], "source_ids": {"kalshi_sim": "/".join(series)},
             "last_updated_ts": "2025-01-01T00:00:00Z"} for name, kind, details, series in TARGETS]


def structured_targets(app, req: Request):
    rows = _targets()
    if ids := req.many("ids"):
        rows = [t for t in rows if t["id"] in set(ids)]
    if kind := req.one("type"):
        rows = [t for t in rows if t["type"] == kind]
    if req.one("competition"):
        rows = []  # no target of the catalogue belongs to a competition
    size = req.int("page_size", 100)
    if not 1 <= size <= 2000:
        raise bad_request("page_size must be between 1 and 2000", "invalid_parameters", str(size))
    cursor = req.one("cursor") or ""
    start = int(cursor) if cursor.isdigit() else 0
    page = rows[start:start + size]
    return 200, {"structured_targets": page, "cursor": str(start + size) if start + size < len(rows) else ""}


def structured_target(app, req: Request):
    for target in _targets():
        if target["id"] == req.match["target_id"]:
            return 200, {"structured_target": target}
    raise not_found("structured target not found", req.match["target_id"])


def incentive_programs(app, req: Request):
    status, kind = req.one("status"), req.one("type")
    if status not in (None, "", "all", "active", "upcoming", "closed", "paid_out"):
        raise bad_request("status must be all, active, upcoming, closed or paid_out", "invalid_parameters", status)
    if kind not in (None, "", "all", "liquidity", "volume", "margin_maker_volume", "margin_taker_volume"):
        raise bad_request("type must be all, liquidity, volume, margin_maker_volume or margin_taker_volume",
                          "invalid_parameters", kind)
    paginate(req, [], 100, 10_000)
    return 200, {"incentive_programs": []}  # the simulator pays no incentives


def mve_collections(app, req: Request):
    status = req.one("status")
    if status not in (None, "", "unopened", "open", "closed"):
        raise bad_request("status must be unopened, open or closed", "invalid_parameters", status)
    paginate(req, [], 100, 200)
    return 200, {"multivariate_contracts": [], "cursor": ""}  # the catalogue has no combos


def mve_collection(app, req: Request):
    raise not_found("multivariate event collection not found", req.match["collection"])


# ---- families an ordinary simulated account may not use ------------------------------------------------


def fcm_denied(app, req: Request):
    raise SimError(403, "forbidden", "this endpoint is for FCM members; the simulated account is not one",
                   f"{req.method} {req.path}")


def communications_denied(app, req: Request):
    raise SimError(403, "forbidden", "RFQs, quotes and block trades need a permission the simulated account "
                   "does not have", f"{req.method} {req.path}")



_FCM = [("POST", "/fcm/subtraders"), ("GET", "/fcm/subtraders"), ("GET", "/fcm/subtraders/event_contract_daily_cap"),
        ("PUT", "/fcm/subtraders/event_contract_daily_cap"), ("DELETE", "/fcm/subtraders/event_contract_daily_cap"),
        ("GET", "/fcm/orders"), ("GET", "/fcm/positions")]
_COMMUNICATIONS = [
    ("GET", "/communications/id"), ("GET", "/communications/rfqs"), ("POST", "/communications/rfqs"),
    ("GET", "/communications/rfqs/{rfq_id}"), ("DELETE", "/communications/rfqs/{rfq_id}"),
    ("GET", "/communications/rfqs/{rfq_id}/quotes/{quote_id}"),
    ("DELETE", "/communications/rfqs/{rfq_id}/quotes/{quote_id}"),
    ("PUT", "/communications/rfqs/{rfq_id}/quotes/{quote_id}/accept"),
    ("PUT", "/communications/rfqs/{rfq_id}/quotes/{quote_id}/confirm"),
    ("GET", "/communications/quotes"), ("POST", "/communications/quotes"), ("GET", "/communications/quotes/{quote_id}"),
    ("DELETE", "/communications/quotes/{quote_id}"), ("PUT", "/communications/quotes/{quote_id}/accept"),
    ("PUT", "/communications/quotes/{quote_id}/confirm"), ("GET", "/communications/block-trade-proposals"),
    ("POST", "/communications/block-trade-proposals"),
    ("POST", "/communications/block-trade-proposals/{proposal_id}/accept"),
]

ROUTES = [
    ("GET", "/series/{series}/events/{event}/candlesticks", event_candlesticks, "public"),
    ("GET", "/series/{series}/events/{ticker}/forecast_percentile_history", forecast_history, "private"),
    ("GET", "/events/{event}/metadata", event_metadata, "public"),
    ("GET", "/search/tags_by_categories", tags_by_categories, "public"),
    ("GET", "/search/filters_by_sport", filters_by_sport, "public"),
    ("GET", "/structured_targets", structured_targets, "public"),
    ("GET", "/structured_targets/{target_id}", structured_target, "public"),
    ("GET", "/incentive_programs", incentive_programs, "public"),
    ("GET", "/multivariate_event_collections", mve_collections, "public"),
    ("GET", "/multivariate_event_collections/{collection}", mve_collection, "public"),
    ("POST", "/multivariate_event_collections/{collection}", mve_collection, "private"),
    *((method, path, fcm_denied, "private") for method, path in _FCM),
    *((method, path, communications_denied, "private") for method, path in _COMMUNICATIONS),
]
