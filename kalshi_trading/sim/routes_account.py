"""Account routes: API keys, subaccounts and transfers, netting, deposits and withdrawals, the resting order
value, balance allocation and the API usage level.

Tier rules follow the reference: creating a key from a public key needs Premier or above, subaccounts
Advanced or above (the simulator's default tier is Prestige, see `ratelimit.RateLimits`).
"""

from __future__ import annotations

import uuid
from typing import Literal, overload

from kalshi_trading.sim import wire
from kalshi_trading.sim.errors import SimError, bad_request, not_found
from kalshi_trading.sim.keys import FULL, ApiKey, parse_scopes
from kalshi_trading.sim.params import Request, paginate
from kalshi_trading.sim.records import BID, PU, RESTING, Account

TIERS = ("basic", "advanced", "expert", "premier", "paragon", "prime", "prestige")
MONTH_MS = 30 * 86_400_000


def _primary(app, req: Request) -> tuple[Account, int]:
    ex = app.exchange
    return ex.extras.subaccounts.primary_of(ex.engine, req.user)


def _need_tier(app, tier: str, what: str) -> None:
    have = app.limits.tier if app.limits.tier in TIERS else "basic"
    if TIERS.index(have) < TIERS.index(tier):
        raise SimError(403, "insufficient_api_usage_level", f"{what} needs the {tier} API usage level or above",
                       f"current level {have}")


@overload
def _int_field(req: Request, name: str, required: Literal[True] = True) -> int: ...


@overload
def _int_field(req: Request, name: str, required: bool) -> int | None: ...


def _int_field(req: Request, name: str, required: bool = True) -> int | None:
    value = req.field(name, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer", "invalid_parameters", str(value))
    return value


def _now_s(app) -> int:
    return app.exchange.clock.now_ms() // 1000


# ---- API keys ---------------------------------------------------------------------------------------


def list_keys(app, req: Request):
    primary, _ = _primary(app, req)
    ring = app.exchange.extras.keys
    rows = []
    if primary.key_id and primary.key_id not in ring.deleted:
        rows.append({"api_key_id": primary.key_id, "name": "primary", "scopes": list(FULL), "subaccount": None})
    rows += [{"api_key_id": k.key_id, "name": k.name, "scopes": list(k.scopes), "subaccount": k.subaccount}
             for k in ring.of_account(primary.account_id)]
    return 200, {"api_keys": rows}


def _new_key(app, req: Request, public_pem: str) -> str:
    primary, _ = _primary(app, req)
    name = req.field("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name must be a non-empty string", "invalid_parameters")
    if req.field("fcm_subtrader_id", required=False) is not None:
        raise SimError(403, "forbidden", "fcm_subtrader_id needs an FCM member caller", "not an FCM member")
    scopes = parse_scopes(req.field("scopes", required=False))
    subaccount = _int_field(req, "subaccount", required=False)
    ex = app.exchange
    if subaccount is not None:
        ex.extras.subaccounts.account(ex.engine, primary, subaccount)  # 400 / 404 when it does not exist
    key_id = str(uuid.uuid4())
    ex.extras.keys.add(ex.engine, ApiKey(key_id, name.strip(), primary.account_id, public_pem, scopes, subaccount,
                                         ex.clock.now_ms()))
    return key_id


def create_key(app, req: Request):
    _need_tier(app, "premier", "creating an API key from a public key")
    pem = req.field("public_key")
    if not isinstance(pem, str):
        raise bad_request("public_key must be a PEM string", "invalid_parameters")
    _check_public_key(pem)
    return 201, {"api_key_id": _new_key(app, req, pem)}


def _check_public_key(pem: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise bad_request("public_key is not a PEM public key", "invalid_parameters") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise bad_request("public_key must be an RSA key", "invalid_parameters")


def generate_key(app, req: Request):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key_id = _new_key(app, req, public)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return 201, {"api_key_id": key_id, "private_key": private}


def delete_key(app, req: Request):
    primary, _ = _primary(app, req)
    key_id = req.match["api_key"]
    ex = app.exchange
    ring = ex.extras.keys
    mine = (key_id == primary.key_id and key_id not in ring.deleted) or \
        any(k.key_id == key_id for k in ring.of_account(primary.account_id))
    if not mine:
        raise not_found("API key not found", key_id)
    ring.delete(ex.engine, key_id)
    return 204, None


# ---- subaccounts --------------------------------------------------------------------------------


def create_subaccount(app, req: Request):
    _need_tier(app, "advanced", "subaccounts")
    index = _int_field(req, "exchange_index", required=False)
    if index not in (None, 0):
        raise bad_request("the simulator has one exchange index, 0", "invalid_parameters", str(index))
    primary, _ = _primary(app, req)
    ex = app.exchange
    return 201, {"subaccount_number": ex.extras.subaccounts.create(ex.engine, primary)}


def subaccount_balances(app, req: Request):
    primary, _ = _primary(app, req)
    ex = app.exchange
    subs = ex.extras.subaccounts
    rows = []
    for number in subs.numbers(primary):
        account = subs.account(ex.engine, primary, number)
        rows.append({"subaccount_number": number, "exchange_index": 0,
                     "balance": wire.money(account.cash - account.reserved), "updated_ts": _now_s(app)})
    return 200, {"subaccount_balances": rows}


def transfer(app, req: Request):
    client_id = req.field("client_transfer_id")
    if not isinstance(client_id, str) or not client_id:
        raise bad_request("client_transfer_id must be a non-empty string", "invalid_parameters")
    index = _int_field(req, "exchange_index", required=False)
    if index not in (None, 0):
        raise bad_request("the simulator has one exchange index, 0", "invalid_parameters", str(index))
    source, target = _int_field(req, "from_subaccount"), _int_field(req, "to_subaccount")
    cents = _int_field(req, "amount_cents")
    primary, _ = _primary(app, req)
    ex = app.exchange
    ex.extras.subaccounts.transfer(ex.engine, primary, str(uuid.uuid4()), client_id, source, target, cents,
                                   ex.clock.now_ms())
    return 200, {}


def _transfer_row(t) -> dict:
    return {"transfer_id": t.transfer_id, "from_subaccount": t.from_subaccount, "to_subaccount": t.to_subaccount,
            "amount_cents": t.amount_cents, "created_ts": t.created_ms // 1000, "exchange_index": 0}


def transfers(app, req: Request):
    primary, _ = _primary(app, req)
    items = list(reversed(app.exchange.extras.subaccounts.of(primary)))
    page, cursor = paginate(req, items, 100, 1000)
    return 200, {"transfers": [_transfer_row(t) for t in page], "cursor": cursor}


def netting(app, req: Request):
    primary, _ = _primary(app, req)
    ex = app.exchange
    numbers = ex.extras.subaccounts.numbers(primary)
    if req.method == "PUT":
        number = _int_field(req, "subaccount_number")
        enabled = req.field("enabled")
        if not isinstance(enabled, bool):
            raise bad_request("enabled must be a boolean", "invalid_parameters", str(enabled))
        ex.extras.subaccounts.account(ex.engine, primary, number)
        if not enabled:
            raise bad_request("the simulator always nets positions", "invalid_parameters", str(number))
        return 200, {}
    return 200, {"netting_configs": [{"subaccount_number": n, "enabled": True, "exchange_index": 0} for n in numbers]}


# ---- money in and out, shards ---------------------------------------------------------------------


def deposits(app, req: Request):
    primary, _ = _primary(app, req)
    items = [d for d in reversed(app.exchange.extras.subaccounts.deposits) if d.account_id == primary.account_id]
    page, cursor = paginate(req, items, 100, 500)
    return 200, {"deposits": [{"id": d.deposit_id, "status": "applied", "type": "ach", "amount_cents": d.amount_cents,
                               "fee_cents": 0, "created_ts": d.created_ms // 1000,
                               "finalized_ts": d.created_ms // 1000} for d in page], "cursor": cursor}


def withdrawals(app, req: Request):
    paginate(req, [], 100, 500)  # validates limit and cursor; the simulator never pays out
    return 200, {"withdrawals": [], "cursor": ""}


def resting_order_value(app, req: Request):
    total = 0
    for order in req.user.orders:
        if order.status == RESTING:
            total += (order.price if order.side == BID else PU - order.price) * order.remaining
    return 200, {"total_resting_order_value": total // 10_000,
                 "resting_order_value_breakdown": [{"exchange_index": 0, "balance": wire.money(total)}]}


def intra_transfer(app, req: Request):
    source, destination = req.field("source"), req.field("destination")
    for value in (source, destination):
        if value not in ("event_contract", "margined"):
            raise bad_request("source and destination are event_contract or margined", "invalid_parameters",
                              str(value))
    if "margined" in (source, destination):
        raise SimError(403, "forbidden", "this account has no access to the margined exchange", "margined")
    for name in ("source_exchange_shard", "destination_exchange_shard"):
        if _int_field(req, name, required=False) not in (None, 0):
            raise bad_request("the simulator has one exchange shard, 0", "invalid_parameters", name)
    amount = _int_field(req, "amount")  # centicents
    if amount <= 0 or amount % 100:
        raise bad_request("amount must be a positive number of whole cents, in centicents", "invalid_parameters",
                          str(amount))
    primary, _ = _primary(app, req)
    ex = app.exchange
    transfer_id = str(uuid.uuid4())
    ex.extras.subaccounts.transfer(ex.engine, primary, transfer_id, transfer_id,
                                   _int_field(req, "source_subaccount", False) or 0,
                                   _int_field(req, "destination_subaccount", False) or 0, amount // 100,
                                   ex.clock.now_ms())
    return 200, {"transfer_id": transfer_id}


def _intra_row(t) -> dict:
    return {"transfer_id": t.transfer_id, "source": "event_contract", "destination": "event_contract",
            "source_exchange_shard": 0, "destination_exchange_shard": 0,
            "amount": wire.money(t.amount_cents * 10_000), "status": "complete", "created_ts": t.created_ms // 1000}


def intra_transfers(app, req: Request):
    primary, _ = _primary(app, req)
    items = list(reversed(app.exchange.extras.subaccounts.of(primary)))
    page, cursor = paginate(req, items, 100, 500)
    return 200, {"transfers": [_intra_row(t) for t in page], "cursor": cursor}


def intra_transfer_one(app, req: Request):
    primary, _ = _primary(app, req)
    wanted = req.match["transfer_id"]
    for t in app.exchange.extras.subaccounts.of(primary):
        if t.transfer_id == wanted:
            return 200, {"transfer": _intra_row(t)}
    raise not_found("transfer not found", wanted)


def allocation(app, req: Request):
    primary, _ = _primary(app, req)
    subs = app.exchange.extras.subaccounts
    if req.method == "POST":
        rows = req.field("allocations")
        reservation = req.field("resting_margin_reservation", required=False) or "max"
        if reservation not in ("max", "sum"):
            raise bad_request("resting_margin_reservation must be max or sum", "invalid_parameters", str(reservation))
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise bad_request("allocations must be a list of {exchange_index, percent}", "invalid_parameters")
        clean = []
        for row in rows:
            index, percent = row.get("exchange_index"), row.get("percent")
            if index != 0 or isinstance(percent, bool) or not isinstance(percent, (int, float)) or percent < 0:
                raise bad_request("each allocation needs exchange_index 0 and a percent >= 0", "invalid_parameters")
            clean.append({"exchange_index": 0, "percent": percent})
        if clean and sum(r["percent"] for r in clean) != 100:
            raise bad_request("percentages must total 100", "invalid_parameters")
        subs.allocations[primary.account_id] = (clean, reservation)
        subs.version += 1
        return 200, {}
    rows, reservation = subs.allocations.get(primary.account_id, ([{"exchange_index": 0, "percent": 100}], "max"))
    return 200, {"allocations": rows, "resting_margin_reservation": reservation}


# ---- API usage level ---------------------------------------------------------------------------------


def volume_progress(app, req: Request):
    primary, _ = _primary(app, req)
    ex = app.exchange
    since = ex.clock.now_ms() - MONTH_MS
    fills = list(ex.extras.history.fills.get(primary.account_id, ())) + primary.fills
    volume = sum(f.qty for f in fills if f.ts_ms >= since)
    # The simulator grants its tier outright (RateLimits.tier): there are no volume goals to earn or keep.
    return 200, {"volume_progress": [{"computed_ts": _now_s(app), "trailing_30d_volume_fp": wire.count(volume),
                                      "goals": []}]}


def upgrade_level(app, req: Request):
    primary, _ = _primary(app, req)
    ex = app.exchange
    if not primary.orders and not ex.extras.history.orders.get(primary.account_id):
        raise SimError(403, "forbidden", "no API-created order was found in the user's latest 100 orders")
    return 201, None


ROUTES = [
    ("GET", "/api_keys", list_keys, "private"),
    ("POST", "/api_keys", create_key, "private"),
    ("POST", "/api_keys/generate", generate_key, "private"),
    ("DELETE", "/api_keys/{api_key}", delete_key, "private"),
    ("POST", "/portfolio/subaccounts", create_subaccount, "private"),
    ("GET", "/portfolio/subaccounts/balances", subaccount_balances, "private"),
    ("POST", "/portfolio/subaccounts/transfer", transfer, "private"),
    ("GET", "/portfolio/subaccounts/transfers", transfers, "private"),
    ("GET", "/portfolio/subaccounts/netting", netting, "private"),
    ("PUT", "/portfolio/subaccounts/netting", netting, "private"),
    ("GET", "/portfolio/deposits", deposits, "private"),
    ("GET", "/portfolio/withdrawals", withdrawals, "private"),
    ("GET", "/portfolio/summary/total_resting_order_value", resting_order_value, "private"),
    ("POST", "/portfolio/intra_exchange_instance_transfer", intra_transfer, "private"),
    ("GET", "/portfolio/intra_exchange_instance_transfers", intra_transfers, "private"),
    ("GET", "/portfolio/intra_exchange_instance_transfers/{transfer_id}", intra_transfer_one, "private"),
    ("GET", "/portfolio/target_balance_allocation", allocation, "private"),
    ("POST", "/portfolio/target_balance_allocation", allocation, "private"),
    ("GET", "/account/api_usage_level/volume_progress", volume_progress, "private"),
    ("POST", "/account/api_usage_level/upgrade", upgrade_level, "private"),
]
