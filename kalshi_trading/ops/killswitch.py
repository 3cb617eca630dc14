"""The kill switch: cancel every resting order of the account and halt every bot of the store.

Used by the dashboard's one write (`POST /api/kill`); a Telegram `/halt` can call the same function.

1. Every resting order of the account is cancelled through the executor (journalled, as `kalshi cancel --all`).
2. Every bot of the store is HALTED in its saved risk state (its reason: the kill switch), as a risk rule halts it:
   a stopped bot refuses to start until a person runs `kalshi auto resume`.  A bot running now (its `bot/NAME`
   lease is held, or its PID file names a live process here) also gets a halt request in its state, which its loop
   takes within a second (like `kalshi auto resume`'s request): it halts, cancels its orders, keeps running HALTED
   and quotes nothing until resumed.  So a running bot halts rather than stops, on any machine and with any store.
3. Running bots are given `wait` seconds to take the request (`confirmed`); then the account's resting orders are
   cancelled once more, for any a bot placed before it halted.

Each step is tried even when another fails: a failure (the exchange or the store down) is reported in `problems`,
never hidden, and the result says what was done.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from kalshi_trading.auto.botconfig import BotConfig
from kalshi_trading.auto.leases import BOT_PREFIX, holder_gone
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.runner import pid_alive, read_pid
from kalshi_trading.auto.state import BotState
from kalshi_trading.errors import ApiError, ConfigError, StorageError
from kalshi_trading.store.base import Store
from kalshi_trading.trading.executor import Executor

log = logging.getLogger(__name__)

HALT_REQUEST = "halt_request"  # bot state key the loop reads (auto/loop.py `check_resume`)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class BotHalt:
    bot: str
    before: str  # the risk state it was in
    running: bool  # a process ran it when the switch was used
    confirmed: bool  # its saved risk state says HALTED (a running bot: it took the request itself)


@dataclass(frozen=True)
class KillResult:
    at: datetime
    reason: str
    cancelled: tuple[str, ...]  # ids of the orders the exchange cancelled
    bots: tuple[BotHalt, ...]
    problems: tuple[str, ...]  # what could not be done, and why

    @property
    def complete(self) -> bool:
        return not self.problems and all(b.confirmed for b in self.bots)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat().replace("+00:00", "Z"), "reason": self.reason,
                "cancelled": list(self.cancelled), "cancelled_count": len(self.cancelled),
                "bots": [{"bot": b.bot, "before": b.before, "running": b.running, "confirmed": b.confirmed}
                         for b in self.bots],
                "problems": list(self.problems), "complete": self.complete}


def kill_switch(executor: Executor, store: Store, *, state_dir: Path, reason: str, wait: float = 5.0,
                clock: Callable[[], datetime] = utc_now, sleep: Callable[[float], None] = time.sleep) -> KillResult:
    """Cancel every resting order of the account and halt every bot of `store` (see the module docstring)."""
    at = clock()
    log.critical("KILL SWITCH: cancelling every resting order and halting every bot (%s)", reason)
    problems: list[str] = []
    cancelled = _cancel_all(executor, problems)
    halted: list[tuple[str, str, bool, BotState]] = []
    try:
        names = store.bots()
        running = _running_bots(store, state_dir, names, at, problems)
    except StorageError as exc:
        problems.append(f"could not list the bots of the store: {exc}")
        names, running = [], set()
    for name in names:
        try:
            state = BotState(store.bot_state(bot=name))
            before = request_halt(state, reason, at, running=name in running)
        except StorageError as exc:
            problems.append(f"could not halt bot {name!r}: {exc}")
            continue
        halted.append((name, before, name in running, state))
    confirmed = _await_halts([(n, s) for n, _, r, s in halted if r], wait, sleep, problems)
    if any(r for _, _, r, _ in halted):
        cancelled += _cancel_all(executor, problems)  # anything a bot placed before it took the request
    bots = tuple(BotHalt(n, before, r, (n in confirmed) if r else True) for n, before, r, _ in halted)
    for b in bots:
        if b.running and not b.confirmed:
            problems.append(f"bot {b.bot!r} is running and did not confirm the halt within {wait:g} s; it is "
                            "HALTED in the store and will halt when its loop next reads its state")
    result = KillResult(at, reason, tuple(dict.fromkeys(cancelled)), bots, tuple(problems))
    log.critical("KILL SWITCH done: %d orders cancelled; bots %s; problems: %s", len(result.cancelled),
                 ", ".join(f"{b.bot} {'halted' if b.confirmed else 'halt requested'}" for b in bots) or "none",
                 "; ".join(problems) or "none")
    return result


def request_halt(state: BotState, reason: str, now: datetime, *, running: bool) -> str:
    """Save the bot HALTED with `reason` (and, for a running bot, the request its loop takes); the state it was in.
    A pending `kalshi auto resume` request is withdrawn: the switch is the later decision."""
    risk = RiskEngine(BotConfig.default(), lambda: now)
    saved = state.risk_state()
    before = "active"
    if saved:
        try:
            risk.from_state(saved)
            before = risk.state.value
        except ConfigError as exc:  # an unreadable saved state is halted all the same
            before = "unreadable"
            log.warning("bot state's risk record unreadable (%s); halting it anyway", exc)
    risk.halt(reason)
    state.save_risk(risk.to_state())
    state.put("resume_request", None)
    if running:
        state.put(HALT_REQUEST, {"at": now.isoformat(), "reason": reason})
    state.log_event(now, "kill", f"{reason}: risk state {before} -> halted"
                    + ("; the running bot is asked to halt" if running else ""), {"old": before, "new": "halted"})
    return before


def _cancel_all(executor: Executor, problems: list[str]) -> list[str]:
    try:
        return [ack.order_id for ack in executor.cancel_all()]
    except (ApiError, StorageError) as exc:
        problems.append(f"could not cancel the account's resting orders: {exc}")
        return []


def _running_bots(store: Store, state_dir: Path, names: list[str], now: datetime, problems: list[str]) -> set[str]:
    """Bots a process runs now: their `bot/NAME` lease is held (by a holder not known to be gone), or their PID
    file names a live process of this machine."""
    running = {name for name in names if pid_alive(read_pid(state_dir, name))}
    try:
        for lease in store.leases().holders(BOT_PREFIX):
            if not lease.expired(now) and not holder_gone(lease.holder):
                running.add(lease.name[len(BOT_PREFIX):])
    except StorageError as exc:
        problems.append(f"could not read the bots' leases (running bots judged by their PID files only): {exc}")
    return running & set(names)


def _await_halts(bots: list[tuple[str, BotState]], wait: float, sleep: Callable[[float], None],
                 problems: list[str]) -> set[str]:
    """The running bots that took their halt request (it is gone from their state) within `wait` seconds."""
    confirmed: set[str] = set()
    waited = 0.0
    while bots:
        for name, state in list(bots):
            try:
                if state.get(HALT_REQUEST) is None and (state.risk_state() or {}).get("state") == "halted":
                    confirmed.add(name)
                    bots.remove((name, state))
            except StorageError as exc:
                problems.append(f"could not read bot {name!r}'s state: {exc}")
                bots.remove((name, state))
        if not bots or waited >= wait:
            break
        sleep(0.1)
        waited += 0.1
    return confirmed
