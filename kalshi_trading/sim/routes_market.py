"""Public routes: exchange, markets, order books, trades, candlesticks, events, series, misc."""

from __future__ import annotations

from kalshi_trading.sim import wire
from kalshi_trading.sim.candles import aggregate, merge
from kalshi_trading.sim.catalogue import SERIES, SERIES_BY_TICKER
from kalshi_trading.sim.clock import fmt_time
from kalshi_trading.sim.errors import bad_request, not_found
from kalshi_trading.sim.params import Request, paginate, ts_filter
from kalshi_trading.sim.ratelimit import DEFAULT_COST, ENDPOINT_COSTS

STATUS_FILTER = {
    "unopened": ("initialized",),
    "open": ("active",),
    "paused": ("inactive",),
    "closed": ("closed", "determined", "disputed", "amended"),
    "settled": ("finalized",),
}
_TS_GROUPS = {
    "created": (("min_created_ts", "max_created_ts"), (None, "unopened", "open")),
    "close": (("min_close_ts", "max_close_ts"), (None, "closed")),
    "settled": (("min_settled_ts", "max_settled_ts"), (None, "settled")),
}


def exchange_status(app, req: Request):
    return 200, {"exchange_active": True, "trading_active": True, "intra_exchange_transfers_active": True,
                 "exchange_estimated_resume_time": None,
                 "exchange_index_statuses": [{"exchange_index": 0, "description": "simulated", "exchange_active": True,
                                              "trading_active": True, "intra_exchange_transfers_active": True}]}


def exchange_schedule(app, req: Request):
    day = [{"open_time": "00:00", "close_time": "23:59"}]
    days = {d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
    hours = {"start_time": "2020-01-01T00:00:00Z", "end_time": "2100-01-01T00:00:00Z", **days}
    return 200, {"schedule": {"standard_hours": [hours], "maintenance_windows": []}}


def user_data_timestamp(app, req: Request):
    return 200, {"as_of_time": fmt_time(app.exchange.clock.now_ms())}


def _market_rows(app, markets):
    engine = app.exchange.engine
    now = app.exchange.clock.now_ms()
    return [wire.market(m, engine.books.get(m.ticker), now) for m in markets]


def list_markets(app, req: Request):
    status = req.one("status")
    if status is not None and status not in STATUS_FILTER:
        raise bad_request("status must be one of unopened, open, paused, closed, settled", "invalid_parameters", status)
    groups = [g for g, (names, _) in _TS_GROUPS.items() if any(req.one(n) for n in names)]
    if len(groups) > 1:
        raise bad_request("timestamp filters of different groups cannot be combined", "invalid_parameters",
                          ",".join(groups))
    if groups and status not in _TS_GROUPS[groups[0]][1]:
        raise bad_request(f"{groups[0]} timestamp filters do not combine with status {status}", "invalid_parameters")
    if req.one("min_updated_ts") and req.one("mve_filter") != "exclude":
        raise bad_request("min_updated_ts needs mve_filter=exclude", "invalid_parameters")
    mve = req.one("mve_filter")
    if mve not in (None, "", "only", "exclude"):
        raise bad_request("mve_filter must be only or exclude", "invalid_parameters", mve)
    markets = list(app.exchange.engine.markets.values())
    if mve == "only":
        markets = []
    if event := req.one("event_ticker"):
        markets = [m for m in markets if m.event_ticker == event]
    if series := req.one("series_ticker"):
        markets = [m for m in markets if m.series_ticker == series]
    if tickers := req.many("tickers"):
        wanted = set(tickers)
        markets = [m for m in markets if m.ticker in wanted]
    if status:
        allowed = STATUS_FILTER[status]
        markets = [m for m in markets if m.status in allowed]
    markets = ts_filter(markets, lambda m: m.created_ms, req.int("min_created_ts"), req.int("max_created_ts"))
    markets = ts_filter(markets, lambda m: m.close_ms, req.int("min_close_ts"), req.int("max_close_ts"))
    if groups == ["settled"]:
        markets = ts_filter([m for m in markets if m.settled_ms], lambda m: m.settled_ms,
                            req.int("min_settled_ts"), req.int("max_settled_ts"))
    markets = ts_filter(markets, lambda m: m.updated_ms, req.int("min_updated_ts"), None)
    page, cursor = paginate(req, markets, 100, 1000)
    return 200, {"markets": _market_rows(app, page), "cursor": cursor}


def get_market(app, req: Request):
    market = app.exchange.engine.market(req.match["ticker"])
    return 200, {"market": _market_rows(app, [market])[0]}


def _depth(req: Request) -> int:
    depth = req.int("depth", 0)
    if depth > 100:
        raise bad_request("depth must be at most 100", "invalid_parameters", str(depth))
    return depth


def orderbook(app, req: Request):
    engine = app.exchange.engine
    engine.market(req.match["ticker"])
    return 200, {"orderbook_fp": wire.orderbook(engine.books[req.match["ticker"]], _depth(req))}


def orderbooks(app, req: Request):
    tickers = req.many("tickers")
    if not tickers:
        raise bad_request("tickers is required", "invalid_parameters")
    if len(tickers) > 100:
        raise bad_request("at most 100 tickers", "invalid_parameters")
    engine = app.exchange.engine
    depth = _depth(req)
    out = []
    for ticker in tickers:
        engine.market(ticker)
        out.append({"ticker": ticker, "orderbook_fp": wire.orderbook(engine.books[ticker], depth)})
    return 200, {"orderbooks": out}


def trades(app, req: Request):
    engine = app.exchange.engine
    if ticker := req.one("ticker"):
        items = list(engine.trades.get(ticker, ()))
    else:
        items = [t for q in engine.trades.values() for t in q]
    block = req.one("is_block_trade")
    if block is not None and req.bool("is_block_trade"):
        items = []
    items = ts_filter(items, lambda t: t.ts_ms, req.int("min_ts"), req.int("max_ts"))
    items.sort(key=lambda t: (t.ts_ms, t.trade_id), reverse=True)
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"trades": [wire.trade(t) for t in page], "cursor": cursor}


def _candles(app, req: Request, ticker: str) -> list[dict]:
    start, end, period = req.int("start_ts"), req.int("end_ts"), req.int("period_interval")
    if start is None or end is None or period is None:
        raise bad_request("start_ts, end_ts and period_interval are required", "invalid_parameters")
    if period not in (1, 60, 1440):
        raise bad_request("period_interval must be 1, 60 or 1440", "invalid_parameters", str(period))
    if end < start:
        raise bad_request("end_ts is before start_ts", "invalid_parameters")
    market = app.exchange.engine.market(ticker)
    span = period * 60
    # the market's whole history up to `end`: quotes and last prices carry into later candles
    first = min(start, market.created_ms // 1000) - span
    minutes = merge(app.store.candles(ticker, first, end + span) if app.store else [],
                    app.exchange.candles.live_rows(ticker))
    return wire.candles(aggregate(minutes, first, end, period), start, period,
                        req.bool("include_latest_before_start"))


def candlesticks(app, req: Request):
    market = app.exchange.engine.market(req.match["ticker"])
    if market.series_ticker != req.match["series"]:
        raise not_found("market not found in series", req.match["ticker"])
    return 200, {"ticker": market.ticker, "candlesticks": _candles(app, req, market.ticker)}


def batch_candlesticks(app, req: Request):
    tickers = req.many("market_tickers")
    if not tickers or len(tickers) > 100:
        raise bad_request("market_tickers: 1 to 100 tickers", "invalid_parameters")
    return 200, {"markets": [{"market_ticker": t, "candlesticks": _candles(app, req, t)} for t in tickers]}


# ---- events and series -------------------------------------------------------------------------


def list_events(app, req: Request):
    ex = app.exchange
    status = req.one("status")
    if status is not None and status not in ("unopened", "open", "closed", "settled"):
        raise bad_request("status must be one of unopened, open, closed, settled", "invalid_parameters", status)
    events = list(ex.events.values())
    if series := req.one("series_ticker"):
        events = [e for e in events if e.series_ticker == series]
    if tickers := req.many("tickers") or req.many("event_tickers"):
        events = [e for e in events if e.event_ticker in set(tickers)]
    if status:
        allowed = STATUS_FILTER[status]
        events = [e for e in events
                  if any(ex.engine.markets[t].status in allowed for t in e.market_tickers if t in ex.engine.markets)]
    if (min_close := req.int("min_close_ts")) is not None:
        events = [e for e in events if e.close_ms >= min_close * 1000]
    page, cursor = paginate(req, events, 200, 200)
    nested = req.bool("with_nested_markets")
    out = [wire.event(e, _event_markets(app, e) if nested else None) for e in page]
    body = {"events": out, "cursor": cursor}
    if req.bool("with_milestones"):
        body["milestones"] = []
    return 200, body


def _event_markets(app, event) -> list[dict]:
    engine = app.exchange.engine
    return _market_rows(app, [engine.markets[t] for t in event.market_tickers if t in engine.markets])


def get_event(app, req: Request):
    event = app.exchange.events.get(req.match["event"])
    if event is None:
        raise not_found("event not found", req.match["event"])
    markets = _event_markets(app, event)
    nested = req.bool("with_nested_markets")
    return 200, {"event": wire.event(event, markets if nested else None), "markets": markets}


def multivariate_events(app, req: Request):
    paginate(req, [], 100, 200)
    return 200, {"events": [], "cursor": ""}


def event_fee_changes(app, req: Request):
    return 200, {"event_fee_changes": [], "cursor": ""}


def _series_volume(app, ticker: str) -> int:
    return sum(m.volume for m in app.exchange.engine.markets.values() if m.series_ticker == ticker)


def list_series(app, req: Request):
    items = list(SERIES)
    if category := req.one("category"):
        items = [s for s in items if s.category == category]
    if tags := req.many("tags"):
        items = [s for s in items if set(tags) & set(s.tags)]
    vol = req.bool("include_volume")
    return 200, {"series": [wire.series(s, _series_volume(app, s.ticker) if vol else None) for s in items]}


def get_series(app, req: Request):
    s = SERIES_BY_TICKER.get(req.match["series"])
    if s is None:
        raise not_found("series not found", req.match["series"])
    vol = req.bool("include_volume")
    return 200, {"series": wire.series(s, _series_volume(app, s.ticker) if vol else None)}


def series_fee_changes(app, req: Request):
    items = [s for s in SERIES if req.one("series_ticker") in (None, "", s.ticker)]
    if not req.bool("show_historical"):
        return 200, {"series_fee_change_arr": []}
    return 200, {"series_fee_change_arr": [
        {"id": f"fee-{s.ticker.lower()}", "series_ticker": s.ticker, "fee_type": s.fee_type,
         "fee_multiplier": int(s.fee_multiplier), "scheduled_ts": "2025-01-01T00:00:00Z"} for s in items]}


def endpoint_costs(app, req: Request):
    return 200, {"default_cost": DEFAULT_COST, "endpoint_costs": ENDPOINT_COSTS}


def historical_cutoff(app, req: Request):
    past = "2020-01-01T00:00:00Z"
    return 200, {"market_settled_ts": past, "trades_created_ts": past, "orders_updated_ts": past,
                 "market_positions_last_updated_ts": past}
