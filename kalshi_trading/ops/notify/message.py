"""One message to the owner, before any channel formats it, and the sink that accepts messages.

`Message.text` is plain text (a channel escapes it for its own format: HTML for Telegram, JSON for a webhook); it
never holds a secret.  A `Sink` accepts messages without blocking and without raising: sending happens off the
decision path, and a notifier failure never stops trading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kalshi_trading.store.alerts import MessageKind, Severity


@dataclass(frozen=True)
class Message:
    """What to tell the owner: an alert (`rule` names the rule that fired), a digest, or a trade notice."""

    kind: MessageKind
    severity: Severity
    text: str
    source: str          # who speaks: a bot's name, "pipeline", "manual"
    rule: str = ""
    title: str = ""      # a short first line (bold where the channel can)

    @property
    def is_alert(self) -> bool:
        """Alerts are never dropped from a full queue; digests and notices may be."""
        return self.kind is MessageKind.ALERT


class Sink(Protocol):
    """Where messages go: the notifier's queue (ops/notify/dispatch.py) or, in a test, a list."""

    def submit(self, message: Message) -> None:
        """Queue `message` for every channel; returns at once and never raises."""
        ...

    def suppressed(self, message: Message, reason: str) -> None:
        """Record (not send) a message an alert rule held back, e.g. within its cooldown."""
        ...
