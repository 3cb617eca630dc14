"""What a channel is to the dispatcher: `send(message)` -> a `Delivery` (never an exception), and the failure kinds
that decide what happens next.

- CONFIG: the service refused our configuration (a wrong token, a chat that does not exist, a webhook URL that
  says 401/403/404).  Retrying cannot help: the dispatcher records it, logs it once and disables the channel for
  the rest of the run, with the reason.
- UNREACHABLE: no usable answer within the limits (timeouts, refused connections, 5xx storms, rate limits that
  outlast the message's deadline).  The message failed; the channel stays on (after a streak of these it is given
  a rest: see dispatch.py).
- REFUSED: the service refused this one message (e.g. a 400 about its content); the next may go through.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from kalshi_trading.ops.notify.message import Message


class Failure(StrEnum):
    CONFIG = "config"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"


@dataclass(frozen=True)
class Delivery:
    """What became of one message on one channel: sent, or why not."""

    ok: bool
    reason: str = ""
    failure: Failure | None = None

    @classmethod
    def sent(cls, reason: str = "") -> "Delivery":
        return cls(True, reason)

    @classmethod
    def failed(cls, failure: Failure, reason: str) -> "Delivery":
        return cls(False, reason, failure)


@dataclass(frozen=True)
class Limits:
    """How hard a channel tries with one message: attempts, the back-off between them, and the deadline for all
    of it (a hanging server costs at most this)."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float = 30.0
    attempt_deadline: float = 10.0


class Channel(Protocol):
    """One way to reach the owner (Telegram, a webhook)."""

    name: str

    def send(self, message: Message) -> Delivery:
        """Deliver `message` within the channel's limits; never raises."""
        ...

    def close(self) -> None:
        ...
