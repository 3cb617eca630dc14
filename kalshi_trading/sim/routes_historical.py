"""`/historical/*`: the archived tier (see `history`).  Markets, candles, trades and the cutoff are public;
fills, orders and positions are signed and per account (or subaccount)."""

from __future__ import annotations

from kalshi_trading.sim import wire
from kalshi_trading.sim.candles import aggregate
from kalshi_trading.sim.clock import fmt_time
from kalshi_trading.sim.errors import bad_request, not_found
from kalshi_trading.sim.params import Request, paginate, ts_filter
from kalshi_trading.sim.records import PU

PERIODS = (1, 60, 1440)


def _history(app):
    return app.exchange.extras.history


def cutoff(app, req: Request):
    h = _history(app)
    market = fmt_time(max(0, h.market_cutoff_ms))
    records = fmt_time(max(0, h.cutoff_ms))
    return 200, {"market_settled_ts": market, "trades_created_ts": records, "orders_updated_ts": records,
                 "market_positions_last_updated_ts": market}


def markets(app, req: Request):
    given = [name for name in ("tickers", "event_ticker", "series_ticker") if req.one(name)]
    if len(given) > 1:
        raise bad_request("tickers, event_ticker and series_ticker are mutually exclusive", "invalid_parameters",
                          ",".join(given))
    mve = req.one("mve_filter")
    if mve not in (None, "", "only", "exclude"):
        raise bad_request("mve_filter must be only or exclude", "invalid_parameters", mve)
    rows = sorted(_history(app).markets.values(), key=lambda m: (-(m.settled_ms or 0), m.ticker))
    if mve == "only":
        rows = []
    if tickers := req.many("tickers"):
        wanted = set(tickers)
        rows = [m for m in rows if m.ticker in wanted]
    if event := req.one("event_ticker"):
        rows = [m for m in rows if m.event_ticker == event]
    if series := req.one("series_ticker"):
        rows = [m for m in rows if m.series_ticker == series]
    page, cursor = paginate(req, rows, 100, 1000)
    now = app.exchange.clock.now_ms()
    return 200, {"markets": [wire.market(m, None, now) for m in page], "cursor": cursor}


def _market(app, ticker: str):
    market = _history(app).markets.get(ticker)
    if market is None:
        raise not_found("market not found in the historical tier", ticker)
    return market


def market(app, req: Request):
    m = _market(app, req.match["ticker"])
    return 200, {"market": wire.market(m, None, app.exchange.clock.now_ms())}


def candlesticks(app, req: Request):
    m = _market(app, req.match["ticker"])
    start, end, period = req.int("start_ts"), req.int("end_ts"), req.int("period_interval")
    if start is None or end is None or period is None:
        raise bad_request("start_ts, end_ts and period_interval are required", "invalid_parameters")
    if period not in PERIODS:
        raise bad_request("period_interval must be 1, 60 or 1440", "invalid_parameters", str(period))
    if end < start:
        raise bad_request("end_ts is before start_ts", "invalid_parameters")
    first = m.created_ms // 1000 - period * 60  # the whole history: quotes carry into later candles
    minutes = dict(app.store.candles(m.ticker, first, end + period * 60)) if app.store is not None else {}
    return 200, {"ticker": m.ticker, "candlesticks": historical_candles(aggregate(minutes, first, end, period), start)}


def historical_candles(rows, start_s: int) -> list[dict]:
    """aggregate() rows -> MarketCandlestickHistorical: bid/ask always strings (a period without a quote
    sample carries the last one; an empty side is bid 0, ask 1), price keys present and null without trades."""
    p = wire.price
    bid = [0] * 4
    ask = [PU] * 4
    last = None
    out = []
    for end_ts, row, _ in rows:
        if row[0] is not None:
            bid = row[0:4]
            ask = [a or PU for a in row[4:8]]
        else:
            bid, ask = [bid[3]] * 4, [ask[3]] * 4
        traded = row[8] is not None
        candle = {
            "end_period_ts": end_ts,
            "yes_bid": {"open": p(bid[0]), "low": p(bid[2]), "high": p(bid[1]), "close": p(bid[3])},
            "yes_ask": {"open": p(ask[0]), "low": p(ask[2]), "high": p(ask[1]), "close": p(ask[3])},
            "price": {"open": p(row[8]) if traded else None, "low": p(row[10]) if traded else None,
                      "high": p(row[9]) if traded else None, "close": p(row[11]) if traded else None,
                      "mean": p((2 * row[12] + row[13]) // (2 * row[13])) if traded and row[13] else None,
                      "previous": p(last) if last is not None else None},
            "volume": wire.count(row[13]),
            "open_interest": wire.count(row[14]),
        }
        if traded:
            last = row[11]
        if end_ts >= start_s:
            out.append(candle)
    return out


def trades(app, req: Request):
    items = list(_history(app).trades)
    if ticker := req.one("ticker"):
        items = [t for t in items if t.ticker == ticker]
    if req.one("is_block_trade") not in (None, "") and req.bool("is_block_trade"):
        items = []  # the simulator has no block trades
    items = ts_filter(items, lambda t: t.ts_ms, req.int("min_ts"), req.int("max_ts"))
    items.reverse()
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"trades": [wire.trade(t) for t in page], "cursor": cursor}


def fills(app, req: Request):
    items = list(_history(app).fills.get(req.user.account_id, ()))
    if ticker := req.one("ticker"):
        items = [f for f in items if f.ticker == ticker]
    items = ts_filter(items, lambda f: f.ts_ms, req.int("min_ts"), req.int("max_ts"))
    items.reverse()
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"fills": [wire.fill(f) for f in page], "cursor": cursor}


def orders(app, req: Request):
    items = list(_history(app).orders.get(req.user.account_id, ()))
    if ticker := req.one("ticker"):
        items = [o for o in items if o.ticker == ticker]
    items = ts_filter(items, lambda o: o.created_ms, req.int("min_ts"), req.int("max_ts"))
    items.reverse()
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"orders": [wire.order(o) for o in page], "cursor": cursor}


def positions(app, req: Request):
    rows = sorted(_history(app).positions.get(req.user.account_id, ()), key=lambda p: (-p.settled_ms, p.ticker))
    if ticker := req.one("ticker"):
        rows = [p for p in rows if p.ticker == ticker]
    if event := req.one("event_ticker"):
        rows = [p for p in rows if p.event_ticker == event]
    page, cursor = paginate(req, rows, 100, 1000)
    by_event: dict[str, list] = {}
    for p in page:
        by_event.setdefault(p.event_ticker, []).append(p)
    m = wire.money
    market_rows = [{"ticker": p.ticker, "exchange_index": 0, "total_traded_dollars": m(p.total_traded),
                    "position_fp": "0.00", "market_exposure_dollars": m(0), "realized_pnl_dollars": m(p.realized),
                    "fees_paid_dollars": m(p.fees), "last_updated_ts": fmt_time(p.settled_ms)} for p in page]
    event_rows = [{"event_ticker": e, "total_cost_dollars": m(sum(p.total_traded for p in ps)),
                   "total_cost_shares_fp": wire.count(sum(p.traded_count for p in ps)),
                   "event_exposure_dollars": m(0), "realized_pnl_dollars": m(sum(p.realized for p in ps)),
                   "fees_paid_dollars": m(sum(p.fees for p in ps))} for e, ps in by_event.items()]
    return 200, {"market_positions": market_rows, "event_positions": event_rows, "cursor": cursor}


ROUTES = [
    ("GET", "/historical/cutoff", cutoff, "public"),
    ("GET", "/historical/markets", markets, "public"),
    ("GET", "/historical/markets/{ticker}", market, "public"),
    ("GET", "/historical/markets/{ticker}/candlesticks", candlesticks, "public"),
    ("GET", "/historical/trades", trades, "public"),
    ("GET", "/historical/fills", fills, "private"),
    ("GET", "/historical/orders", orders, "private"),
    ("GET", "/historical/positions", positions, "private"),
]
