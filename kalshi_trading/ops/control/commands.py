"""The commands a phone may send, and the confirmations two of them need.

    /status              mode, risk state, markets, the last pass (bot) or cycle (pipeline)
    /positions           positions
    /pnl                 P&L
    /orders              working orders
    /mode [MODE]         show the mode; change it (live_auto needs /confirm within 60 s)
    /halt                cancel every order and halt: the kill switch (at once, no confirmation)
    /resume              trade again after a halt (needs /confirm within 60 s)
    /confirm, /cancel    confirm or drop what waits for a confirmation
    /help                this list

`/status@MyBot` (a command addressed to the bot in a group) is the same as `/status`.  A command the target
cannot carry out now (it is still starting, or it refuses) is answered with the reason; nothing here raises.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from kalshi_trading.errors import KalshiError
from kalshi_trading.signals.modes import BotMode

log = logging.getLogger(__name__)

CONFIRM_WINDOW_S = 60.0
HELP = ("/status  mode, risk state, markets, last cycle\n/positions  positions\n/pnl  P&L\n/orders  working orders\n"
        "/mode [demo_safe|live_safe|live_auto]  show or change the mode (live_auto: /confirm within 60 s)\n"
        "/halt  cancel every order and halt (the kill switch)\n/resume  trade again (/confirm within 60 s)\n"
        "/help  this list")


class NotNow(KalshiError):
    """The target cannot answer now (e.g. the bot is still starting, or its loop did not answer in time)."""


class ControlTarget(Protocol):
    """What a running bot (`kalshi auto`) or pipeline (`kalshi pipeline run`) lets the commands do.  Each method
    returns the reply's text, or raises a `KalshiError` whose message is the reply (a refusal, `NotNow`)."""

    source: str  # the bot's name, or "pipeline"

    def status(self) -> str: ...

    def positions(self) -> str: ...

    def pnl(self) -> str: ...

    def orders(self) -> str: ...

    def mode(self) -> str: ...

    def set_mode(self, mode: BotMode, who: str) -> str: ...

    def halt(self, who: str) -> str: ...

    def resume(self, who: str) -> str: ...


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    title: str
    text: str


@dataclass(frozen=True)
class _Pending:
    what: str  # "mode" or "resume"
    mode: BotMode | None
    expires: float


def parse(text: str) -> Command | None:
    """`/name args...` (a `@botname` suffix dropped, the name lower case); None for text that is not a command."""
    words = text.strip().split()
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        return None
    name = words[0][1:].split("@", 1)[0].lower()
    return Command(name, tuple(words[1:]))


class Commands:
    """Turns command text from the configured chat into a reply, acting on the target."""

    def __init__(self, target: ControlTarget, *, clock: Callable[[], float] = time.monotonic,
                 window: float = CONFIRM_WINDOW_S):
        self.target = target
        self.clock = clock
        self.window = window
        self._pending: _Pending | None = None
        self._handlers: dict[str, Callable[[Command, str], str]] = {
            "status": lambda c, w: target.status(), "positions": lambda c, w: target.positions(),
            "pnl": lambda c, w: target.pnl(), "orders": lambda c, w: target.orders(), "mode": self._mode,
            "halt": lambda c, w: target.halt(w), "resume": self._resume, "confirm": self._confirm,
            "cancel": self._cancel, "help": lambda c, w: HELP, "start": lambda c, w: HELP,
        }

    def handle(self, text: str, who: str) -> Reply:
        """The reply to one message of the configured chat (never raises for a target's refusal)."""
        command = parse(text)
        if command is None:
            return Reply("", "Commands start with a slash.\n" + HELP)
        handler = self._handlers.get(command.name)
        if handler is None:
            return Reply(f"unknown command /{command.name[:32]}", HELP)
        log.info("telegram command /%s from %s", command.name, who)
        try:
            return Reply(f"/{command.name}", handler(command, who))
        except KalshiError as exc:
            return Reply(f"/{command.name}: not done", str(exc))

    def _mode(self, command: Command, who: str) -> str:
        if not command.args:
            return self.target.mode()
        try:
            mode = BotMode(command.args[0].strip().lower())
        except ValueError:
            return f"unknown mode {command.args[0][:32]!r}; the modes are " + ", ".join(m.value for m in BotMode)
        if mode is BotMode.LIVE_AUTO:
            self._pending = _Pending("mode", mode, self.clock() + self.window)
            return (f"live_auto sends orders with REAL MONEY on production. Send /confirm within "
                    f"{self.window:.0f} s to switch; /cancel (or waiting) leaves the mode as it is.")
        return self.target.set_mode(mode, who)

    def _resume(self, command: Command, who: str) -> str:
        self._pending = _Pending("resume", None, self.clock() + self.window)
        return f"Resume trading? Send /confirm within {self.window:.0f} s; /cancel (or waiting) keeps it halted."

    def _confirm(self, command: Command, who: str) -> str:
        pending, self._pending = self._pending, None
        if pending is None:
            return "nothing waits for a confirmation"
        if self.clock() > pending.expires:
            return f"too late: the confirmation window ({self.window:.0f} s) has passed; nothing was changed"
        if pending.what == "resume":
            return self.target.resume(who)
        assert pending.mode is not None, "a pending mode change names its mode"
        return self.target.set_mode(pending.mode, who)

    def _cancel(self, command: Command, who: str) -> str:
        pending, self._pending = self._pending, None
        return "nothing waits for a confirmation" if pending is None else "cancelled; nothing was changed"
