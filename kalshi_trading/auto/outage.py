"""The store going away under a running bot: what the bot does until it answers again.

Every order needs its journal intent written first, so with the store gone nothing new can be sent anyway; the
bot makes that a state of its own rather than an exit: it cancels every order through the exchange (the cancels
need no store), waits for the store with a growing pause, and then starts again as after a crash: the start-up
reconciliation reads the exchange and records what happened meanwhile (a fill exactly once: fills are unique by
id in every store).  Nothing acknowledged is lost: an acknowledged write is committed in the store.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from kalshi_trading.errors import StorageError

log = logging.getLogger(__name__)

FIRST_PAUSE = 0.5  # seconds between the first looks at the store; doubled up to MAX_PAUSE
MAX_PAUSE = 5.0


@dataclass
class Outages:
    """What the run went through: each outage's start and end (UTC), and the orders cancelled for them."""

    spans: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    cancelled: int = 0

    def began(self) -> None:
        self.spans.append((datetime.now(timezone.utc), None))

    def ended(self) -> None:
        start, _ = self.spans[-1]
        self.spans[-1] = (start, datetime.now(timezone.utc))

    def summary(self) -> list[dict[str, str | None]]:
        return [{"from": a.isoformat(), "to": b.isoformat() if b else None} for a, b in self.spans]


def wait_for_store(probe: Callable[[], StorageError | None], stop: threading.Event, deadline: float | None,
                   *, first: float = FIRST_PAUSE, most: float = MAX_PAUSE) -> bool:
    """Look at the store until it answers (True), or `stop` is set or the monotonic `deadline` passes (False)."""
    pause = first
    last_reason = ""
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        problem = probe()
        if problem is None:
            return True
        if str(problem) != last_reason:
            log.warning("the store does not answer yet: %s", problem)
            last_reason = str(problem)
        wait = pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic()))
        stop.wait(wait)
        pause = min(pause * 2, most)
    return False
