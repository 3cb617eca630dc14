"""Private routes: balance, positions, fills, settlements, orders, V2 writes, account limits."""

from __future__ import annotations

from kalshi_trading.sim import wire
from kalshi_trading.sim.errors import SimError, bad_request, not_found
from kalshi_trading.sim.params import Request, paginate, parse_count, parse_price, ts_filter
from kalshi_trading.sim.records import PU, RESTING, Account

MAX_BATCH = 20
ORDER_STATUSES = ("resting", "canceled", "executed")


def portfolio_value(app, account: Account) -> int:
    """Positions marked at the price they could be sold for now (best bid of their side, else the
    last trade), in micro-dollars."""
    engine = app.exchange.engine
    total = 0
    for pos in account.positions.values():
        if not pos.pos:
            continue
        market = engine.markets.get(pos.ticker)
        book = engine.books.get(pos.ticker)
        if market is None or book is None:
            continue
        bb, ba = book.best_bid(), book.best_ask()
        if pos.pos > 0:
            mark = bb if bb is not None else market.last_price
        else:
            mark = PU - ba if ba is not None else (PU - market.last_price if market.last_price else 0)
        total += abs(pos.pos) * mark
    return total


def balance(app, req: Request):
    account = req.user
    return 200, wire.balance(account, portfolio_value(app, account), app.exchange.clock.now_ms())


def positions(app, req: Request):
    account = req.user
    rows = sorted(account.positions.values(), key=lambda p: p.ticker)
    if ticker := req.one("ticker"):
        rows = [p for p in rows if p.ticker == ticker]
    markets = app.exchange.engine.markets
    if event := req.one("event_ticker"):
        rows = [p for p in rows if p.ticker in markets and markets[p.ticker].event_ticker == event]
    filters = req.many("count_filter")
    for f in filters:
        if f not in ("position", "total_traded"):
            raise bad_request("count_filter takes position and/or total_traded", "invalid_parameters", f)
    if filters:
        rows = [p for p in rows if ("position" in filters and p.pos) or ("total_traded" in filters and p.total_traded)]
    page, cursor = paginate(req, rows, 100, 1000)
    by_event: dict[str, list] = {}
    for p in page:
        market = markets.get(p.ticker)
        by_event.setdefault(market.event_ticker if market else p.ticker, []).append(p)
    return 200, {"market_positions": [wire.market_position(p) for p in page],
                 "event_positions": [wire.event_position(e, ps) for e, ps in by_event.items()], "cursor": cursor}


def fills(app, req: Request):
    items = list(req.user.fills)
    if ticker := req.one("ticker"):
        items = [f for f in items if f.ticker == ticker]
    if order_id := req.one("order_id"):
        items = [f for f in items if f.order_id == order_id]
    items = ts_filter(items, lambda f: f.ts_ms, req.int("min_ts"), req.int("max_ts"))
    items.reverse()
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"fills": [wire.fill(f) for f in page], "cursor": cursor}


def settlements(app, req: Request):
    items = list(req.user.settlements)
    if ticker := req.one("ticker"):
        items = [s for s in items if s.ticker == ticker]
    if event := req.one("event_ticker"):
        items = [s for s in items if s.event_ticker == event]
    items = ts_filter(items, lambda s: s.ts_ms, req.int("min_ts"), req.int("max_ts"))
    items.reverse()
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"settlements": [wire.settlement(s) for s in page], "cursor": cursor}


def list_orders(app, req: Request):
    items = list(req.user.orders)
    if ticker := req.one("ticker"):
        items = [o for o in items if o.ticker == ticker]
    if events := req.many("event_ticker"):
        if len(events) > 10:
            raise bad_request("at most 10 event tickers", "invalid_parameters")
        markets = app.exchange.engine.markets
        wanted = set(events)
        items = [o for o in items if o.ticker in markets and markets[o.ticker].event_ticker in wanted]
    if status := req.one("status"):
        if status not in ORDER_STATUSES:
            raise bad_request("status must be resting, canceled or executed", "invalid_parameters", status)
        items = [o for o in items if o.status == status]
    items = ts_filter(items, lambda o: o.created_ms, req.int("min_ts"), req.int("max_ts"))
    items.reverse()
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"orders": [wire.order(o) for o in page], "cursor": cursor}


def get_order(app, req: Request):
    return 200, {"order": wire.order(app.exchange.engine.user_order(req.user, req.match["order_id"]))}


def queue_position(app, req: Request):
    engine = app.exchange.engine
    order = engine.user_order(req.user, req.match["order_id"])
    if order.status != RESTING:
        raise not_found("order is not resting", order.order_id)
    return 200, {"queue_position_fp": wire.count(engine.queue_position(order))}


def queue_positions(app, req: Request):
    engine = app.exchange.engine
    tickers = set(req.many("market_tickers"))
    event = req.one("event_ticker")
    out = []
    for order in req.user.orders:
        if order.status != RESTING:
            continue
        if tickers and order.ticker not in tickers:
            continue
        market = engine.markets.get(order.ticker)
        if event and (market is None or market.event_ticker != event):
            continue
        out.append({"order_id": order.order_id, "market_ticker": order.ticker,
                    "queue_position_fp": wire.count(engine.queue_position(order))})
    return 200, {"queue_positions": out}


# ---- writes ------------------------------------------------------------------------------------


def _create(app, account: Account, body) -> dict:
    if not isinstance(body, dict):
        raise bad_request("order body must be a JSON object", "bad_request")
    req = Request("POST", "", {}, body)
    ticker = req.field("ticker")
    side = req.field("side")
    count = parse_count(req.field("count"))
    price = parse_price(req.field("price"))
    tif = req.field("time_in_force")
    stp = req.field("self_trade_prevention_type")
    expiration = req.field("expiration_time", required=False)
    if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, int)):
        raise bad_request("expiration_time must be Unix seconds (integer)", "invalid_parameters", str(expiration))
    for flag in ("post_only", "reduce_only", "cancel_order_on_pause"):
        value = body.get(flag)
        if value is not None and not isinstance(value, bool):
            raise bad_request(f"{flag} must be a boolean", "invalid_parameters", str(value))
    client_order_id = body.get("client_order_id") or ""
    if not isinstance(client_order_id, str):
        raise bad_request("client_order_id must be a string", "invalid_parameters")
    engine = app.exchange.engine
    order = engine.place(account, str(ticker), str(side), price, count, str(tif), str(stp), client_order_id,
                         expiration, bool(body.get("post_only")), bool(body.get("reduce_only")),
                         body.get("order_group_id"), bool(body.get("cancel_order_on_pause")))
    return wire.create_result(order, app.exchange.clock.now_ms())


def create_order(app, req: Request):
    return 201, _create(app, req.user, req.body)


def batch_create(app, req: Request):
    items = req.field("orders")
    if not isinstance(items, list) or not items:
        raise bad_request("orders must be a non-empty list", "invalid_parameters")
    if len(items) > MAX_BATCH:
        raise bad_request(f"at most {MAX_BATCH} orders per batch", "invalid_parameters", str(len(items)))
    out = []
    for item in items:
        try:
            out.append(_create(app, req.user, item))
        except SimError as exc:
            entry = {"error": exc.body()["error"]}
            if isinstance(item, dict) and item.get("client_order_id"):
                entry["client_order_id"] = item["client_order_id"]
            out.append(entry)
    return 201, {"orders": out}


def _cancel(app, account: Account, order_id: str) -> dict:
    order, reduced = app.exchange.engine.cancel(account, order_id)
    return {"order_id": order.order_id, "client_order_id": order.client_order_id, "reduced_by": wire.count(reduced),
            "ts_ms": app.exchange.clock.now_ms()}


def cancel_order(app, req: Request):
    return 200, _cancel(app, req.user, req.match["order_id"])


def batch_cancel(app, req: Request):
    items = req.field("orders", required=False)
    if items is None:
        items = [{"order_id": i} for i in (req.field("ids", required=False) or [])]
    if not isinstance(items, list) or not items:
        raise bad_request("orders must be a non-empty list", "invalid_parameters")
    if len(items) > MAX_BATCH:
        raise bad_request(f"at most {MAX_BATCH} orders per batch", "invalid_parameters", str(len(items)))
    out = []
    for item in items:
        order_id = item.get("order_id") if isinstance(item, dict) else None
        try:
            if not isinstance(order_id, str):
                raise bad_request("order_id is required", "invalid_parameters")
            out.append(_cancel(app, req.user, order_id))
        except SimError as exc:
            out.append({"order_id": order_id or "", "reduced_by": "0.00", "error": exc.body()["error"]})
    return 200, {"orders": out}


def cancel_all(app, req: Request):
    app.exchange.engine.cancel_all(req.user)
    return 204, None


def amend(app, req: Request):
    engine = app.exchange.engine
    order = engine.amend(req.user, req.match["order_id"], str(req.field("ticker")), str(req.field("side")),
                         parse_price(req.field("price")), parse_count(req.field("count")),
                         req.field("client_order_id", required=False), req.field("updated_client_order_id", False))
    body = {"order_id": order.order_id, "client_order_id": order.client_order_id,
            "remaining_count": wire.count(order.remaining), "fill_count": wire.count(order.filled),
            "ts_ms": app.exchange.clock.now_ms()}
    body.update(wire.averages(order))
    return 200, body


def decrease(app, req: Request):
    by = req.field("reduce_by", required=False)
    to = req.field("reduce_to", required=False)
    if (by is None) == (to is None):
        raise bad_request("give exactly one of reduce_by and reduce_to", "invalid_parameters")
    order = app.exchange.engine.decrease(
        req.user, req.match["order_id"], parse_count(by, "reduce_by") if by is not None else None,
        parse_count(to, "reduce_to", allow_zero=True) if to is not None else None)
    return 200, {"order_id": order.order_id, "client_order_id": order.client_order_id,
                 "remaining_count": wire.count(order.remaining), "ts_ms": app.exchange.clock.now_ms()}


def account_limits(app, req: Request):
    lim = app.limits
    return 200, {"usage_tier": lim.tier, "read": {"refill_rate": lim.read_rate, "bucket_capacity": lim.read_capacity},
                 "write": {"refill_rate": lim.write_rate, "bucket_capacity": lim.write_capacity},
                 "grants": [{"exchange_instance": "event_contract", "level": lim.tier, "expires_ts": None,
                             "source": "manual"}]}


def netting(app, req: Request):
    if req.method == "PUT":
        if req.field("enabled") is not True:
            raise bad_request("the simulator always nets positions", "invalid_parameters")
        return 200, {}
    return 200, {"netting_configs": [{"subaccount_number": 0, "enabled": True, "exchange_index": 0}]}
