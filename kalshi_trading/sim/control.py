"""`kalshi sim status|advance|settle|reset` against a running server, applied to its live exchange.

A `SimServer` holds the exchange lock of its files, so another process cannot open them; instead it asks
the server through the simulator-only routes of `routes_control` (authenticated by the control token the
server writes, mode 0600, into `<sim dir>/server.json`).  These functions run in the server, under the
exchange lock (the route handler holds it), and answer what the in-process operations of `runtime` answer.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from kalshi_trading.sim.clock import fmt_time

if TYPE_CHECKING:  # runtime starts the server that serves these routes: a type-only import, no circle
    from kalshi_trading.sim import runtime

log = logging.getLogger(__name__)


def status(server) -> dict:
    """What `runtime.sim_status` reports, from the live exchange, plus where it is served."""
    ex = server.exchange
    by_status: dict[str, int] = {}
    for m in ex.engine.markets.values():
        by_status[m.status] = by_status.get(m.status, 0) + 1
    demo = server.demo_info()
    account = ex.engine.by_key.get(demo.get("key_id", ""))
    return {"exists": True, "data_dir": str(server.directory), "sim_time": fmt_time(ex.clock.now_ms()),
            "saved_at": fmt_time(int(time.time() * 1000)), "seed": ex.seed, "markets": by_status,
            "events": len(ex.events), "accounts": sum(1 for a in ex.engine.accounts.values() if not a.house),
            "demo_key_id": demo.get("key_id"), "demo_private_key_path": demo.get("path"),
            "demo_cash_dollars": str(Decimal(account.cash) / 1_000_000) if account else None,
            "served_at": server.base_url}


def advance(server, seconds: float) -> dict:
    """Move simulated time forward (as `runtime.sim_advance`)."""
    if not seconds > 0:
        raise ValueError("seconds must be positive")
    out = advance_exchange(server.exchange, seconds)
    server.changed()
    return out


def advance_exchange(ex, seconds: float) -> dict:
    """Move `ex` forward; report what settled and what was listed meanwhile (`kalshi sim advance`)."""
    with ex.lock:
        ex.sync()
        before = {t: m.status for t, m in ex.engine.markets.items()}
        ex.advance(seconds)
        archived = ex.extras.history.markets  # settled long enough ago to have left the live tier already
        settled = sorted(t for t, m in list(ex.engine.markets.items()) + list(archived.items())
                         if m.status == "finalized" and t in before and before[t] != "finalized")
        listed = sorted(t for t in ex.engine.markets if t not in before)
        return {"sim_time": fmt_time(ex.clock.now_ms()), "advanced_seconds": seconds, "settled": settled,
                "listed": listed}


def settle(server, ticker: str, result: str) -> dict:
    """Settle one market now (as `runtime.sim_settle`)."""
    market = server.exchange.settle(ticker, result)
    server.changed()
    return {"ticker": market.ticker, "result": market.result, "status": market.status}


def reset(server, balance: Decimal) -> "runtime.SimAccount":
    """Wipe the exchange and carry on serving a fresh one with a new demo account and key (as `sim_reset`).
    WebSocket connections to the old exchange are closed; old keys answer 401."""
    account = server.replace_exchange(balance)
    log.info("simulated exchange reset while serving; new demo key %s", account.key_id)
    return account
