"""Alert events on DynamoDB (implements `store.alerts.AlertStore`; the contract is there).

Table `{prefix}{env}_alerts`, keys `day` / `sk`:

    day = the event's UTC date      sk = {at}#{id:020d}      one item per event (every field as text, the id a number)

Ids come from the atomic counter `alert` (`meta`, name=counters); the dates that hold events are a string set in
`meta` (name=alerts, attribute `days`), so `events` never scans: it Queries the dates from `since` on, newest date
first (and each date newest first) when a `limit` wants the newest N, stopping as soon as it has them, and
filters status / rule / source on the server.  Times are fixed-width ISO-8601 UTC text, so the sort key's text
order is time order.  The table and its layout part (`alerts`, version 1) are added to a store made before them
on first use (`layout.ensure`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kalshi_trading.store.alerts import AlertEvent, DeliveryStatus, MessageKind, Severity, check_query
from kalshi_trading.store.dynamodb.codec import iso
from kalshi_trading.store.dynamodb.wire import Dynamo, Item, N, S, integer, pad, strings, text
from kalshi_trading.store.sqlite.codec import parse_time

_META = {"name": S("alerts")}


def _event(item: Item) -> AlertEvent:
    return AlertEvent(at=parse_time(text(item, "at")), source=text(item, "src"), kind=MessageKind(text(item, "kind")),
                      severity=Severity(text(item, "sev")), channel=text(item, "ch"),
                      status=DeliveryStatus(text(item, "st")), text=text(item, "text"), rule=text(item, "rule"),
                      reason=text(item, "reason"), id=integer(item, "id"))


class DynamoAlerts:
    """The alert events of one environment's tables (the store opens it: `Store.alerts()`)."""

    def __init__(self, db: Dynamo):
        self.db = db
        self._days: set[str] = set()  # dates this process has already added to the day set

    def record(self, event: AlertEvent) -> int:
        at = iso(event.at)
        day = at[:10]
        fields = {"src": event.source, "kind": MessageKind(event.kind).value, "sev": Severity(event.severity).value,
                  "ch": event.channel, "st": DeliveryStatus(event.status).value, "rule": event.rule,
                  "text": event.text, "reason": event.reason}
        alert_id = self.db.counter("alert")
        if day not in self._days:
            self.db.update("meta", _META, "ADD #d :day", {":day": {"SS": [day]}}, names={"#d": "days"})
            self._days.add(day)
        self.db.put("alerts", {"day": S(day), "sk": S(f"{at}#{pad(alert_id)}"), "id": N(alert_id), "at": S(at),
                               **{name: S(value) for name, value in fields.items()}})
        return alert_id

    def events(self, *, since: datetime | None = None, limit: int | None = None, status: DeliveryStatus | None = None,
               rule: str | None = None, source: str | None = None) -> list[AlertEvent]:
        check_query(since, limit)
        if limit == 0:
            return []
        low = iso(since) if since is not None else None
        filters, names, values = [], {}, {}  # type: list[str], dict[str, str], dict[str, Any]
        wanted = {"st": status.value if status is not None else None, "rule": rule, "src": source}
        for i, (name, value) in enumerate((n, v) for n, v in wanted.items() if v is not None):
            filters.append(f"#f{i} = :f{i}")
            names[f"#f{i}"], values[f":f{i}"] = name, S(value)
        extra: dict[str, Any] = dict(filter_expression=" AND ".join(filters), names=names, values=values) \
            if filters else {}
        newest_first = limit is not None
        days = sorted((d for d in strings(self.db.get("meta", _META), "days") if low is None or d >= low[:10]),
                      reverse=newest_first)
        found: list[AlertEvent] = []
        for day in days:
            for item in self.db.query("alerts", "day", day, low=low, forward=not newest_first, **extra):
                found.append(_event(item))
                if limit is not None and len(found) >= limit:
                    return found[::-1]
        return found[::-1] if newest_first else found

    def close(self) -> None:
        pass  # the client belongs to the store
