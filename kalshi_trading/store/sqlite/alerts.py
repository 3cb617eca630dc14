"""Alert events in SQLite: `alerts.sqlite` beside the journal (implements `store.alerts.AlertStore`).

Times are fixed-width ISO-8601 UTC text, so text order is time order; the id is the row id.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from kalshi_trading.store.alerts import filters, AlertEvent, DeliveryStatus, MessageKind, Severity, check_query
from kalshi_trading.store.sql import equals_since_clause, limit_clause
from kalshi_trading.store.sqlite.codec import iso, parse_time
from kalshi_trading.store.sqlite.smallfile import FileKind, SmallFile

KIND = FileKind("alert file", application_id=0x4B414C54, version=1, schema="""
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
    severity TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL, rule TEXT NOT NULL, text TEXT NOT NULL,
    reason TEXT NOT NULL
);;
CREATE INDEX alert_events_at ON alert_events (at);;
""")  # "KALT": kalshi alerts

_COLUMNS = "id, at, source, kind, severity, channel, status, rule, text, reason"


def _event(row: Sequence[Any]) -> AlertEvent:
    id_, at, source, kind, severity, channel, status, rule, text, reason = row
    return AlertEvent(at=parse_time(at), source=source, kind=MessageKind(kind), severity=Severity(severity),
                      channel=channel, status=DeliveryStatus(status), text=text, rule=rule, reason=reason,
                      id=int(id_))


class SqliteAlerts:
    """The alert file of one store directory (created by the first event recorded)."""

    def __init__(self, path: Path):
        self.file = SmallFile(path, KIND)

    def record(self, event: AlertEvent) -> int:
        with self.file.transaction():
            cur = self.file.run(
                "INSERT INTO alert_events (at, source, kind, severity, channel, status, rule, text, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (iso(event.at), event.source, event.kind.value, event.severity.value, event.channel,
                 event.status.value, event.rule, event.text, event.reason))
            return int(cur.lastrowid or 0)

    def events(self, *, since: datetime | None = None, limit: int | None = None, status: DeliveryStatus | None = None,
               rule: str | None = None, source: str | None = None) -> list[AlertEvent]:
        check_query(since, limit)
        if not self.file.exists:
            return []
        where, args = equals_since_clause(filters(status, rule, source), since, "at", placeholder="?",
                                          encode_time=iso)
        sql = f"SELECT {_COLUMNS} FROM alert_events{where} ORDER BY id DESC{limit_clause(limit)}"
        rows = self.file.run(sql, tuple(args)).fetchall()
        return [_event(r) for r in reversed(rows)]

    def close(self) -> None:
        self.file.close()
