"""Order-group routes (reference section 6)."""

from __future__ import annotations

from kalshi_trading.sim import wire
from kalshi_trading.sim.errors import bad_request, not_found
from kalshi_trading.sim.groups import OrderGroup
from kalshi_trading.sim.params import Request, parse_count
from kalshi_trading.sim.records import RESTING


def _limit(req: Request) -> int | None:
    body = req.body if isinstance(req.body, dict) else {}
    if body.get("contracts_limit_fp") is not None:
        return parse_count(body["contracts_limit_fp"], "contracts_limit_fp")
    if body.get("contracts_limit") is not None:
        value = body["contracts_limit"]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise bad_request("contracts_limit must be a positive integer", "invalid_parameters", str(value))
        return value * 100
    return None


def _group(app, req: Request) -> OrderGroup:
    group = app.exchange.engine.groups.get(req.match["group_id"])
    if group is None or group.account is not req.account:
        raise not_found("order group not found", req.match["group_id"])
    return group


def create(app, req: Request):
    engine = app.exchange.engine
    group = OrderGroup(engine.next_id(), req.user, _limit(req))
    engine.groups[group.group_id] = group
    engine.version += 1
    return 201, {"order_group_id": group.group_id, "subaccount": 0}


def _row(group: OrderGroup) -> dict:
    row = {"id": group.group_id, "is_auto_cancel_enabled": group.limit is not None}
    if group.limit is not None:
        row["contracts_limit_fp"] = wire.count(group.limit)
    return row


def list_groups(app, req: Request):
    groups = [g for g in app.exchange.engine.groups.values() if g.account is req.account]
    return 200, {"order_groups": [_row(g) for g in groups]}


def get_group(app, req: Request):
    group = _group(app, req)
    body = {k: v for k, v in _row(group).items() if k != "id"}
    body["orders"] = [o.order_id for o in req.user.orders
                      if o.order_group_id == group.group_id and o.status == RESTING]
    return 200, body


def delete_group(app, req: Request):
    group = _group(app, req)
    engine = app.exchange.engine
    engine.cancel_group_orders(group)
    del engine.groups[group.group_id]
    engine.version += 1
    return 200, {}


def reset(app, req: Request):
    group = _group(app, req)
    group.triggered = False
    group.fills.clear()
    app.exchange.engine.version += 1
    return 200, {}


def trigger(app, req: Request):
    group = _group(app, req)
    group.triggered = True
    app.exchange.engine.cancel_group_orders(group)
    app.exchange.engine.version += 1
    return 200, {}


def set_limit(app, req: Request):
    group = _group(app, req)
    limit = _limit(req)
    if limit is None:
        raise bad_request("contracts_limit or contracts_limit_fp is required", "invalid_parameters")
    group.limit = limit
    app.exchange.engine.version += 1
    return 200, {}
