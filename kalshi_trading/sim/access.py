"""Who a verified request acts as: the key's scopes, its subaccount lock, and the `subaccount` parameter.

`subaccount` is read from the query (every private GET/DELETE of the official SDK that takes it) and, for
order and order-group creation, from the body; a batch create must name one subaccount for all its orders
(the simulator serves one account per request).  A key locked to a subaccount acts there by default and is
refused (403) anywhere else.  Where the SDK says an omitted `subaccount` means "all subaccounts" (fills,
orders, settlements), the simulator answers for the primary account.
"""

from __future__ import annotations

from kalshi_trading.sim.errors import SimError, bad_request
from kalshi_trading.sim.params import Request
from kalshi_trading.sim.records import Account

BODY_SUBACCOUNT = ("/portfolio/events/orders", "/portfolio/order_groups/create")
BATCH = "/portfolio/events/orders/batched"
NO_SUBACCOUNT_PREFIXES = ("/api_keys", "/portfolio/subaccounts", "/communications", "/fcm")


def authorize(ex, key_id: str, req: Request) -> Account:
    """Check the key's scopes for the request and return the account it acts on (raise 403/400/404)."""
    extras = ex.extras
    extras.keys.check(key_id, req.method, req.path)
    primary = ex.engine.by_key[key_id]
    number = _requested(req)
    locked = extras.keys.locked_subaccount(key_id)
    if locked is not None:
        if number is not None and number != locked:
            raise SimError(403, "insufficient_scope", "this API key is locked to another subaccount",
                           f"key subaccount {locked}, requested {number}")
        number = locked
    if not number:
        return primary
    return extras.subaccounts.account(ex.engine, primary, number)


def _requested(req: Request) -> int | None:
    if req.path.startswith(NO_SUBACCOUNT_PREFIXES):
        return None
    values = [_number(req.one("subaccount"))] if req.one("subaccount") not in (None, "") else []
    body = req.body if isinstance(req.body, dict) else {}
    if req.path == BATCH and isinstance(body.get("orders"), list):
        values += [_number(o.get("subaccount")) for o in body["orders"]
                   if isinstance(o, dict) and o.get("subaccount") is not None]
    elif req.method == "POST" and req.path in BODY_SUBACCOUNT and body.get("subaccount") is not None:
        values.append(_number(body["subaccount"]))
    if len(set(values)) > 1:
        raise bad_request("one subaccount per request", "invalid_parameters", ",".join(map(str, sorted(set(values)))))
    return values[0] if values else None


def _number(value) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise bad_request("subaccount must be an integer", "invalid_parameters", str(value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request("subaccount must be an integer", "invalid_parameters", str(value)) from None
