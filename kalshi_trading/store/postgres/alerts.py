"""Alert events in PostgreSQL (implements `store.alerts.AlertStore`): the environment schema's `alert_events` table
(schema version 4; the text in its `message` column), the id an identity sequence, `at` a timestamptz
(microseconds, UTC out), the kinds and statuses checked by the database too.  `events` reads the newest `limit`
by the primary key (id) and returns them oldest first.  Failures are `StorageError` (exit 3); the notifier logs
them and goes on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from kalshi_trading.errors import StorageError
from kalshi_trading.store.sql import equals_since_clause, limit_clause
from kalshi_trading.store.alerts import filters, AlertEvent, DeliveryStatus, MessageKind, Severity, check_query
from kalshi_trading.store.postgres.codec import aware
from kalshi_trading.store.postgres.db import Database

_COLUMNS = "id, at, source, kind, severity, channel, status, rule, message, reason"


def _event(row: Sequence[Any]) -> AlertEvent:
    id_, at, source, kind, severity, channel, status, rule, text, reason = row
    return AlertEvent(at=at, source=source, kind=MessageKind(kind), severity=Severity(severity), channel=channel,
                      status=DeliveryStatus(status), text=text, rule=rule, reason=reason, id=int(id_))


class PostgresAlerts:
    """The alert events of one environment's schema, over the store's connection pool."""

    def __init__(self, db: Database):
        self._db = db

    def record(self, event: AlertEvent) -> int:
        rows = self._db.rows(
            "INSERT INTO alert_events (at, source, kind, severity, channel, status, rule, message, reason) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (aware(event.at), event.source, MessageKind(event.kind).value, Severity(event.severity).value,
             event.channel, DeliveryStatus(event.status).value, event.rule, event.text, event.reason),
            StorageError, "recording an alert event")
        return int(rows[0][0])

    def events(self, *, since: datetime | None = None, limit: int | None = None, status: DeliveryStatus | None = None,
               rule: str | None = None, source: str | None = None) -> list[AlertEvent]:
        check_query(since, limit)
        if limit == 0:
            return []
        where, args = equals_since_clause(filters(status, rule, source), since, "at", placeholder="%s",
                                          encode_time=aware)
        query = f"SELECT {_COLUMNS} FROM alert_events{where} ORDER BY id DESC{limit_clause(limit)}"
        rows = self._db.rows(query, args, StorageError, "reading alert events")
        return [_event(r) for r in reversed(rows)]

    def close(self) -> None:
        pass  # the pool belongs to the store
