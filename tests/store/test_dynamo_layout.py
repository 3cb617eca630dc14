"""What the DynamoDB adapter's tables hold for named bots, the runtime configuration and the leases, read with a
plain boto3 client as an operator (or the AWS console) would: the default bot's items stay where a store written
before named bots had them, a market edited by hand reads back as text, and the limits of the layout are refused
plainly.  (The behaviour every adapter shares is in the contract suites.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest

from kalshi_trading.errors import UsageError
from kalshi_trading.store import open_store
from kalshi_trading.store.lease import LeaseHeld, LeaseHolder
from tests.store.dynamo_server import dynamo_url, shared_server

T0 = datetime(2026, 11, 21, 16, 0, 0, 123456, tzinfo=timezone.utc)
ALICE = LeaseHolder("bot a", "host-1", 101, "boot-1", T0 - timedelta(hours=1), 4026531836, 987654321)
BOB = LeaseHolder("bot b", "host-2", 202, "boot-2", T0 - timedelta(hours=2))


@pytest.fixture
def url() -> str:
    return dynamo_url()


@pytest.fixture
def store(url):
    opened = open_store(url, env="sim")
    yield opened
    opened.close()


@pytest.fixture
def raw(url):
    """A plain boto3 client on the same server, and the store's table name for a short name."""
    import boto3

    prefix = parse_qs(urlparse(url).query)["prefix"][0]
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=shared_server().endpoint)
    yield client, (lambda name: f"{prefix}sim_{name}")
    client.close()


def test_the_default_bot_keeps_its_items_and_a_named_bot_has_its_own_partitions(store, raw):
    client, table = raw
    store.bot_state().put("bot_id", "d1")
    store.bot_state(bot="east").put("bot_id", "e1")
    default = client.get_item(TableName=table("state"), Key={"name": {"S": "bot_id"}})["Item"]
    assert default["value"] == {"S": '"d1"'}  # where a store of before named bots keeps it
    east = client.get_item(TableName=table("bot"), Key={"pk": {"S": "b#east#kv"}, "sk": {"S": "bot_id"}})["Item"]
    assert east["value"] == {"S": '"e1"'}


def test_a_store_written_before_the_bot_list_still_lists_its_default_bot(store, raw, url):
    client, table = raw
    store.bot_state().put("risk", {"state": "active"})
    client.delete_item(TableName=table("meta"), Key={"name": {"S": "bots"}})  # as an older program left it
    other = open_store(url, env="sim")
    try:
        assert other.bots() == ["default"]
        assert other.bot_state().get("risk") == {"state": "active"} and other.bot_state().keys() == ["risk"]
    finally:
        other.close()


def test_the_runtime_configurations_items_are_not_bot_keys(store):
    state = store.bot_state()
    for name in ("global_config", "config_version"):
        with pytest.raises(ValueError, match="belongs to the store"):
            state.put(name, 1)
    store.runtime_config().put_global({"max_daily_loss": "5"}, updated_by="ops", now=T0)
    state.put("bot_id", "d1")
    assert state.keys() == ["bot_id"]


@pytest.mark.parametrize("key", ["ticker", "name", "updated_at", "updated_by", "version"])
def test_a_setting_named_like_a_records_own_attribute_is_refused(store, key):
    runtime = store.runtime_config()
    with pytest.raises(UsageError, match="cannot name a setting"):
        runtime.put_market("KXA-1", {key: "1"}, updated_by="me", now=T0)
    assert runtime.version() == 0 and runtime.snapshot().empty


def test_a_market_edited_by_hand_reads_back_as_text(store, raw):
    client, table = raw
    runtime = store.runtime_config()
    version = runtime.put_market("KXA-1", {"min_spread": "0.0200"}, updated_by="ops", now=T0)
    item = client.get_item(TableName=table("markets"), Key={"ticker": {"S": "KXA-1"}})["Item"]
    assert item["min_spread"] == {"S": "0.0200"} and item["version"] == {"N": str(version)}
    client.put_item(TableName=table("markets"), Item={"ticker": {"S": "KXB-2"}, "quote_size": {"N": "2.5"},
                                                       "enabled": {"BOOL": False}})  # the console, no metadata
    record = runtime.snapshot().markets["KXB-2"]
    assert dict(record.values) == {"enabled": "false", "quote_size": "2.5"}
    assert record.updated_by == "" and record.version == 0 and record.updated_at.tzinfo is not None


def test_more_leases_than_one_transaction_holds_are_all_or_none(store):
    leases = store.leases()
    names = [f"market/KX{i:02d}" for i in range(40)]  # 40 > 25: two transactions
    taken = leases.acquire(names, ALICE, now=T0, ttl_seconds=30)
    assert [lease.name for lease in taken] == names == [lease.name for lease in leases.holders("market/")]
    leases.release(names[30:], ALICE)
    with pytest.raises(LeaseHeld) as caught:
        leases.acquire(names[20:], BOB, now=T0, ttl_seconds=30)
    assert caught.value.lease.name == "market/KX20" and caught.value.lease.holder == ALICE
    assert [lease.name for lease in leases.holders("market/")] == names[:30]  # none of the free ones taken
    renewed = leases.acquire(names, ALICE, now=T0 + timedelta(seconds=10), ttl_seconds=30)
    assert all(lease.acquired == T0 for lease in renewed[:30]) and renewed[35].acquired == T0 + timedelta(seconds=10)
