"""Simulator-only control routes (not part of Kalshi's API), for `kalshi sim status|advance|settle|reset` run
while `kalshi sim serve` holds the exchange:

    GET  /trade-api/v2/sim/control/status
    POST /trade-api/v2/sim/control/advance  {"seconds": 7200}
    POST /trade-api/v2/sim/control/settle   {"ticker": "...", "result": "yes" | "no" | "void"}
    POST /trade-api/v2/sim/control/reset    {"balance": "1000"}
    GET  /trade-api/v2/sim/control/faults   the outside sources' faults, by source
    POST /trade-api/v2/sim/control/faults   {"source": "kraken" | "*", "latency": 0.1, "status": 503, "rate": 1,
                                             "garbage": 0, "drop": 0}  (replaces that source's faults)
    DELETE /trade-api/v2/sim/control/faults {"source": "kraken"} clears one source; no body clears them all
    GET    /trade-api/v2/sim/control/telegram/messages?chat_id=123   what the bots sent through the Telegram stub
    POST   /trade-api/v2/sim/control/telegram/bots     {"token": "123:ABC...", "chats": [123, "@channel"]}
    POST   /trade-api/v2/sim/control/telegram/updates  {"chat_id": 123, "text": "/status", "token": "..."} (a person
                                                        typing in chat 123; the token may be left out with one bot)
    POST   /trade-api/v2/sim/control/telegram/failures {"status": 429, "description": "Too Many Requests: retry
                                                        after 3", "retry_after": 3, "count": 1, "method":
                                                        "sendMessage"} (the next answers; no retry_after: no
                                                        `parameters`)
    DELETE /trade-api/v2/sim/control/telegram          forget every bot, chat, update and message

Every request carries the header `KALSHI-SIM-CONTROL-TOKEN` with the token the server wrote (mode 0600) into
`<sim dir>/server.json`: whoever can read the simulator's files may control it, nobody else (401), however
the server is bound.  No rate limits and no injected faults apply.  Handlers run outside the exchange lock:
the operations in `control` take the locks they need.
"""

from __future__ import annotations

import hmac
from decimal import Decimal, InvalidOperation

from kalshi_trading.sim import control
from kalshi_trading.sim.errors import SimError, bad_request, not_found
from kalshi_trading.sim.faults import SourceFaults
from kalshi_trading.sim.params import Request

TOKEN_HEADER = "KALSHI-SIM-CONTROL-TOKEN"
PREFIX = "/sim/control/"


def check_token(app, headers) -> object:
    """The server to control, or raise 404 (no control here) / 401 (wrong or missing token)."""
    server = getattr(app, "control", None)
    if server is None:
        raise not_found("this server has no control routes")
    given = headers.get(TOKEN_HEADER) or ""
    if not hmac.compare_digest(given.encode(), server.control_token.encode()):
        raise SimError(401, "authentication_error", "control token missing or wrong", TOKEN_HEADER)
    return server


def status(server, req: Request):
    with server.exchange.lock:
        server.exchange.sync()
        return 200, control.status(server)


def advance(server, req: Request):
    seconds = req.field("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise bad_request("seconds must be a positive number", "invalid_parameters", str(seconds))
    return 200, control.advance(server, float(seconds))


def settle(server, req: Request):
    ticker, result = req.field("ticker"), req.field("result")
    if not isinstance(ticker, str) or not isinstance(result, str):
        raise bad_request("ticker and result must be strings", "invalid_parameters")
    return 200, control.settle(server, ticker, result)


def reset(server, req: Request):
    raw = req.field("balance", required=False)
    try:
        balance = Decimal(str(raw if raw is not None else "1000"))
    except InvalidOperation:
        raise bad_request("balance must be a dollar amount", "invalid_parameters", str(raw)) from None
    if not balance.is_finite() or balance < 0:
        raise bad_request("balance must be a non-negative dollar amount", "invalid_parameters", str(raw))
    account = control.reset(server, balance)
    return 200, {"key_id": account.key_id, "private_key_path": str(account.private_key_path),
                 "balance": str(balance)}


def _source_faults(server) -> dict:
    return {"sources": {name: spec.to_json() for name, spec in server.app.source_faults.settings().items()}}


def faults(server, req: Request):
    return 200, _source_faults(server)


def set_faults(server, req: Request):
    """Replace one source's faults (ValueError, answered 400, for an unknown source, kind or value)."""
    source = req.field("source")
    kinds = {k: v for k, v in req.body.items() if k != "source"} if isinstance(req.body, dict) else {}
    if not isinstance(source, str):
        raise bad_request("source must be a string", "invalid_parameters")
    server.app.source_faults.set(source, SourceFaults.build(kinds))
    return 200, _source_faults(server)


def clear_faults(server, req: Request):
    source = req.field("source", required=False)
    if source is None:
        server.app.source_faults.clear()
    elif isinstance(source, str):
        server.app.source_faults.set(source, None)
    else:
        raise bad_request("source must be a string", "invalid_parameters")
    return 200, _source_faults(server)


def telegram_messages(server, req: Request):
    chat = req.int("chat_id")
    stub = server.app.telegram
    return 200, {"messages": stub.messages(chat), "refused": {str(k): v for k, v in sorted(stub.refused.items())}}


def telegram_bot(server, req: Request):
    chats = req.field("chats", required=False) or []
    if not isinstance(chats, list):
        raise bad_request("chats must be a list of chat ids or @channel names", "invalid_parameters")
    return 200, server.app.telegram.register(req.field("token"), chats)


def telegram_update(server, req: Request):
    token = req.field("token", required=False)
    username = req.field("username", required=False)
    update = server.app.telegram.inject(token, req.field("chat_id"), req.field("text"),
                                        username if isinstance(username, str) else None)
    return 200, {"update": update}


def telegram_failures(server, req: Request):
    status_, description = req.field("status"), req.field("description", required=False)
    retry_after, count = req.field("retry_after", required=False), req.field("count", required=False) or 1
    method = req.field("method", required=False) or "sendMessage"
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (status_, count)) or not (
            retry_after is None or isinstance(retry_after, int)):
        raise bad_request("status, count and retry_after must be integers", "invalid_parameters")
    server.app.telegram.script(str(method), status_, str(description or f"HTTP {status_}"), retry_after, count)
    return 200, {"scripted": count}


def telegram_reset(server, req: Request):
    server.app.telegram.reset()
    return 200, {"reset": True}


ROUTES = [
    ("GET", "/sim/control/status", status, "control"),
    ("POST", "/sim/control/advance", advance, "control"),
    ("POST", "/sim/control/settle", settle, "control"),
    ("POST", "/sim/control/reset", reset, "control"),
    ("GET", "/sim/control/faults", faults, "control"),
    ("POST", "/sim/control/faults", set_faults, "control"),
    ("DELETE", "/sim/control/faults", clear_faults, "control"),
    ("GET", "/sim/control/telegram/messages", telegram_messages, "control"),
    ("POST", "/sim/control/telegram/bots", telegram_bot, "control"),
    ("POST", "/sim/control/telegram/updates", telegram_update, "control"),
    ("POST", "/sim/control/telegram/failures", telegram_failures, "control"),
    ("DELETE", "/sim/control/telegram", telegram_reset, "control"),
]
