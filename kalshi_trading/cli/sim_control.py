"""`kalshi sim status|advance|settle|reset` whether or not `kalshi sim serve` is running.

A running server holds the exchange's files, so these go to it over its simulator-only control routes
(`sim/routes_control`: token from `<sim dir>/server.json`); with no server they run in-process as before.
Both paths return the same values and raise the same errors (`SimError` for what the exchange refuses).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import requests

from kalshi_trading.errors import ExchangeUnavailable
from kalshi_trading.sim import runtime
from kalshi_trading.sim.errors import SimError

log = logging.getLogger(__name__)

TOKEN_HEADER = "KALSHI-SIM-CONTROL-TOKEN"
TIMEOUT_S = 30.0
ADVANCE_TIMEOUT_S = 600.0  # a long advance crosses every lifecycle boundary on the way


class _Unreachable(Exception):
    """The server named in server.json did not take the connection (it died): run in-process instead."""


def _call(directory: Path, method: str, action: str, body: dict | None = None, timeout: float = TIMEOUT_S):
    """The control route's JSON answer, or None when no server runs for `directory`."""
    found = runtime.running_control(directory)
    if found is None:
        return None
    base_url, token = found
    url = f"{base_url}/sim/control/{action}"
    try:
        response = requests.request(method, url, json=body, headers={TOKEN_HEADER: token}, timeout=timeout)
    except requests.ConnectionError as exc:
        if "refused" in str(exc).lower():
            log.info("the simulator server at %s is gone; running in-process", base_url)
            raise _Unreachable from exc
        raise ExchangeUnavailable(f"the running simulator did not answer: {exc}", method=method, path=url) from exc
    except requests.Timeout as exc:
        raise ExchangeUnavailable(f"the running simulator did not answer in {timeout:.0f} s", method=method,
                                  path=url) from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            raise SimError(response.status_code, str(error.get("code", "")), str(error.get("message", "")),
                           str(error.get("details", "")))
        raise SimError(response.status_code, "error", f"the simulator answered HTTP {response.status_code}")
    return data


def sim_status(directory: Path) -> dict:
    """runtime.sim_status, from the running server when there is one (then with `served_at`)."""
    try:
        out = _call(directory, "GET", "status")
    except _Unreachable:
        out = None
    return out if out is not None else runtime.sim_status(directory)


def sim_advance(directory: Path, seconds: float) -> dict:
    """runtime.sim_advance, on the running server when there is one."""
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    try:
        out = _call(directory, "POST", "advance", {"seconds": seconds}, timeout=ADVANCE_TIMEOUT_S)
    except _Unreachable:
        out = None
    return out if out is not None else runtime.sim_advance(directory, seconds)


def sim_settle(directory: Path, ticker: str, result: str) -> dict:
    """runtime.sim_settle, on the running server when there is one."""
    try:
        out = _call(directory, "POST", "settle", {"ticker": ticker, "result": result})
    except _Unreachable:
        out = None
    return out if out is not None else runtime.sim_settle(directory, ticker, result)


def sim_reset(directory: Path, balance: Decimal = runtime.DEFAULT_BALANCE) -> runtime.SimAccount:
    """runtime.sim_reset, on the running server when there is one (it keeps serving the fresh exchange)."""
    try:
        out = _call(directory, "POST", "reset", {"balance": str(balance)})
    except _Unreachable:
        out = None
    if out is None:
        return runtime.sim_reset(directory, balance)
    return runtime.SimAccount(out["key_id"], Path(out["private_key_path"]))
