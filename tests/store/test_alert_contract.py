"""The alert store's contract (`kalshi_trading/store/alerts.py`), run against every storage adapter.

A new adapter is one line in tests/store/adapters.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kalshi_trading.errors import UsageError
from kalshi_trading.store import open_store
from kalshi_trading.store.alerts import AlertEvent, AlertStore, DeliveryStatus, MessageKind, Severity
from tests.store.adapters import ADAPTERS

T0 = datetime(2026, 11, 30, 16, 0, 0, 123456, tzinfo=timezone.utc)


def event(i: int, **over) -> AlertEvent:
    values = dict(at=T0 + timedelta(seconds=i), source="default", kind=MessageKind.ALERT,
                  severity=Severity.CRITICAL, channel="telegram", status=DeliveryStatus.SENT,
                  text=f"<b>HALTED</b> rule #{i}: daily loss 12.34 > 10.00 & café ✓", rule="halted", reason="")
    values.update(over)
    return AlertEvent(**values)  # type: ignore[arg-type]


@pytest.fixture(params=sorted(ADAPTERS))
def url(request, tmp_path) -> str:
    return ADAPTERS[request.param](tmp_path)


@pytest.fixture
def alerts(url):
    store = open_store(url, env="sim")
    yield store.alerts()
    store.close()


def test_an_empty_store_has_no_events(alerts: AlertStore):
    assert alerts.events() == []


def test_an_event_comes_back_exactly_with_an_increasing_id(alerts: AlertStore):
    a = alerts.record(event(0))
    b = alerts.record(event(1, status=DeliveryStatus.FAILED, reason="401 Unauthorized", channel="webhook",
                            kind=MessageKind.DIGEST, severity=Severity.INFO, rule=""))
    assert b > a
    got = alerts.events()
    assert [e.id for e in got] == [a, b]
    assert got[0] == event(0, id=a)
    assert got[1].status is DeliveryStatus.FAILED and got[1].reason == "401 Unauthorized"
    assert got[1].at == T0 + timedelta(seconds=1) and got[1].at.tzinfo is not None


def test_filters_and_limit_keep_the_newest_oldest_first(alerts: AlertStore):
    for i in range(6):
        alerts.record(event(i, status=DeliveryStatus.SUPPRESSED if i % 2 else DeliveryStatus.SENT,
                            rule="daily_pnl" if i < 3 else "halted", source="pipeline" if i == 5 else "default"))
    assert [e.at for e in alerts.events(limit=2)] == [T0 + timedelta(seconds=4), T0 + timedelta(seconds=5)]
    assert alerts.events(limit=0) == []
    assert [e.at.second for e in alerts.events(since=T0 + timedelta(seconds=4))] == [4, 5]
    assert {e.status for e in alerts.events(status=DeliveryStatus.SUPPRESSED)} == {DeliveryStatus.SUPPRESSED}
    assert len(alerts.events(rule="daily_pnl")) == 3
    assert [e.source for e in alerts.events(source="pipeline")] == ["pipeline"]


def test_events_survive_reopening(url):
    store = open_store(url, env="sim")
    store.alerts().record(event(0))
    store.close()
    again = open_store(url, env="sim")
    try:
        assert [e.text for e in again.alerts().events()] == [event(0).text]
    finally:
        again.close()


def test_bad_queries_and_naive_times_are_refused(alerts: AlertStore):
    with pytest.raises(UsageError):
        alerts.events(since=datetime(2026, 11, 30))
    with pytest.raises(UsageError):
        alerts.events(limit=-1)
    with pytest.raises(UsageError):
        event(0, at=datetime(2026, 11, 30))
