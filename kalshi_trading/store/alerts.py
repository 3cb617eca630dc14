"""The alert store's port: every message the notifiers sent, failed to send, dropped or held back (a cooldown), so
the owner can see afterwards what the bot told them and what it could not.

Any adapter implements `AlertStore` (SQLite: `store/sqlite/alerts.py`; PostgreSQL and DynamoDB beside it);
`tests/store/test_alert_contract.py` runs the same contract against every adapter.

The contract, in words:

- `record` returns the new event's id (increasing within one store) and keeps every field exactly (times to the
  microsecond, UTC; text as given).  A naive time is a `UsageError`.
- `events` returns events oldest first; `since` is inclusive; `status`, `rule` and `source` filter exactly;
  `limit` >= 0 keeps the newest `limit` (still oldest first).
- The text is the message as sent: the notifier never puts a secret in it, and the store does not look.
- Failures of the storage itself are `StorageError` (exit 3); the notifier logs them and goes on (a notifier
  failure never stops trading).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from kalshi_trading.errors import UsageError


class MessageKind(StrEnum):
    """What a message is: an alert (a rule fired), a digest (one per cycle), or a trade notice."""

    ALERT = "alert"
    DIGEST = "digest"
    FILL = "fill"
    SETTLEMENT = "settlement"
    REPLY = "reply"  # an answer to a Telegram command


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class DeliveryStatus(StrEnum):
    """What became of one message on one channel."""

    SENT = "sent"              # the channel acknowledged it
    FAILED = "failed"          # the channel refused it or could not be reached: `reason` says why
    DROPPED = "dropped"        # the send queue was full and this digest was the oldest (alerts are never dropped)
    SUPPRESSED = "suppressed"  # a rule fired again within its cooldown: recorded, not sent


@dataclass(frozen=True)
class AlertEvent:
    """One message on one channel (`id` is None until recorded)."""

    at: datetime
    source: str                # who spoke: a bot's name, "pipeline", "manual"
    kind: MessageKind
    severity: Severity
    channel: str               # "telegram", "webhook", ...
    status: DeliveryStatus
    text: str
    rule: str = ""             # the alert rule that fired ("halted", "daily_pnl", ...); "" for digests and notices
    reason: str = ""           # why it failed, was dropped or was suppressed
    id: int | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise UsageError("an alert event's time must be timezone-aware (UTC)")


class AlertStore(Protocol):
    """The alert events of one store."""

    def record(self, event: AlertEvent) -> int:
        """Store one event; return its id."""
        ...

    def events(self, *, since: datetime | None = None, limit: int | None = None, status: DeliveryStatus | None = None,
               rule: str | None = None, source: str | None = None) -> list[AlertEvent]:
        """Events oldest first, filtered as the module docstring says."""
        ...

    def close(self) -> None:
        ...


def check_query(since: datetime | None, limit: int | None) -> None:
    """Refuse a naive `since` or a negative `limit` (every adapter calls this first)."""
    if since is not None and since.tzinfo is None:
        raise UsageError("`since` must be timezone-aware (UTC)")
    if limit is not None and limit < 0:
        raise UsageError("`limit` must be 0 or more")


def filters(status: DeliveryStatus | None, rule: str | None, source: str | None) -> list[tuple[str, str | None]]:
    """The exact-match filters of `AlertStore.events`, as (column, value) pairs for the SQL adapters."""
    return [("status", status.value if status else None), ("rule", rule), ("source", source)]
