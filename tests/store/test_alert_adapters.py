"""What only the PostgreSQL and DynamoDB alert stores have (the shared behaviour is `test_alert_contract.py`): a
PostgreSQL schema of version 3 gains `alert_events` in place (version 4), and its constraints refuse a kind or a
status that is not one; DynamoDB tables made before the alert events gain theirs on first use, with no Scan:
events are items by UTC date, read back by Queries of the dates the day set names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest

from kalshi_trading.store import open_store
from kalshi_trading.store.alerts import AlertEvent, DeliveryStatus, MessageKind, Severity
from kalshi_trading.store.postgres import schema
from tests.store import pg_server
from tests.store.dynamo_server import dynamo_url, shared_server

T0 = datetime(2026, 11, 30, 23, 59, 58, 5, tzinfo=timezone.utc)


def event(i: int, **over) -> AlertEvent:
    values = dict(at=T0 + timedelta(seconds=i), source="default", kind=MessageKind.DIGEST, severity=Severity.INFO,
                  channel="webhook", status=DeliveryStatus.DROPPED, text=f"digest {i}", reason="queue full")
    values.update(over)
    return AlertEvent(**values)  # type: ignore[arg-type]


# -- PostgreSQL -----------------------------------------------------------------------------------------------------

@pytest.fixture
def pg():
    cluster = pg_server.session_cluster()
    name = cluster.create_database()
    opened = []

    def open_():
        store = open_store(cluster.url(name), env="sim")
        opened.append(store)
        return store

    yield cluster, name, open_
    for store in opened:
        store.close()


def test_a_version_3_schema_gains_the_alert_events_in_place(pg, caplog):
    cluster, name, open_ = pg
    open_().journal()  # a schema of the current version, taken back to version 3 as the previous program left it
    cluster.execute("DROP TABLE kalshi_sim.alert_events; "
                    "UPDATE kalshi_sim.kalshi_meta SET value = '3' WHERE key = 'schema.version'", name)
    store = open_()
    assert store.alerts().record(event(0)) == 1
    assert store.journal().schema_version() == schema.SCHEMA_VERSION == 4
    assert "upgraded from schema version 3 to 4" in caplog.text
    assert [e.text for e in store.alerts().events()] == ["digest 0"]


def test_the_database_refuses_a_kind_or_status_that_is_not_one(pg):
    cluster, name, open_ = pg
    open_().alerts().record(event(0))
    for statement in ("UPDATE kalshi_sim.alert_events SET kind = 'gossip'",
                      "UPDATE kalshi_sim.alert_events SET status = 'lost'"):
        with pytest.raises(Exception, match="violates"):
            cluster.execute(statement, name)


# -- DynamoDB -------------------------------------------------------------------------------------------------------

@pytest.fixture
def dynamo():
    url = dynamo_url()
    import boto3

    prefix = parse_qs(urlparse(url).query)["prefix"][0]
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=shared_server().endpoint)
    opened = []

    def open_():
        store = open_store(url, env="sim")
        opened.append(store)
        return store

    yield client, (lambda table: f"{prefix}sim_{table}"), open_
    for store in opened:
        store.close()
    client.close()


def test_tables_made_before_the_alert_events_gain_them_on_first_use(dynamo):
    client, table, open_ = dynamo
    open_().journal()  # every table, as this program makes them; then back to what an older program left
    client.delete_table(TableName=table("alerts"))
    client.update_item(TableName=table("meta"), Key={"name": {"S": "schema"}}, UpdateExpression="REMOVE alerts")
    older = open_()
    assert older.check().problem is None  # an older store is not refused for want of the new part
    older.alerts().record(event(0))
    assert [e.text for e in open_().alerts().events()] == ["digest 0"]
    schema_item = client.get_item(TableName=table("meta"), Key={"name": {"S": "schema"}})["Item"]
    assert schema_item["alerts"] == {"N": "1"}


def test_events_are_items_by_utc_date_read_without_a_scan(dynamo):
    client, table, open_ = dynamo
    alerts = open_().alerts()
    for i in range(4):  # across midnight: two dates
        alerts.record(event(i))
    days = client.get_item(TableName=table("meta"), Key={"name": {"S": "alerts"}})["Item"]["days"]["SS"]
    assert sorted(days) == ["2026-11-30", "2026-12-01"]
    items = client.query(TableName=table("alerts"), KeyConditionExpression="#d = :d",
                         ExpressionAttributeNames={"#d": "day"},
                         ExpressionAttributeValues={":d": {"S": "2026-12-01"}})["Items"]
    assert [i["text"]["S"] for i in items] == ["digest 2", "digest 3"]
    assert items[0]["sk"]["S"].startswith("2026-12-01T00:00:00.000005Z#")
    assert [e.text for e in alerts.events(limit=3)] == ["digest 1", "digest 2", "digest 3"]
    assert [e.text for e in alerts.events(since=T0 + timedelta(seconds=2))] == ["digest 2", "digest 3"]
