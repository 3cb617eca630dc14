"""The DynamoDB adapter when DynamoDB misbehaves: a server stopped mid-run (and started again on its port), an
endpoint that refuses, missing credentials, throttling and other error answers, batches left unprocessed, a write
interrupted between its steps, tables of a newer schema.  Every failure is one line naming the store by its masked
URL (JournalError for the journal and the bot state, StorageError for the signals: exit 3), never a traceback;
after recovery nothing is written twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from kalshi_trading.errors import JournalError, StorageError
from kalshi_trading.models import BookSide
from kalshi_trading.store import open_store
from kalshi_trading.store.botstate import BotFill
from kalshi_trading.store.journal import SyncCursor
from kalshi_trading.store.signals import SignalRecord
from tests.store.dynamo_faults import FaultyEndpoint, error
from tests.store.dynamo_server import DUMMY_CREDENTIALS, MotoServer, free_port, shared_server
from tests.store.records import D, T0, fill

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def server():
    shared_server()  # skips (or fails in CI) where moto cannot run; dummy credentials
    own = MotoServer().start()
    yield own
    own.stop()


@pytest.fixture
def stores():
    opened = []

    def open_(url: str, env: str = "sim"):
        store = open_store(url, env=env)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        try:
            store.close()
        except StorageError:
            pass  # a test's server is gone: nothing left to flush that matters


def bot_fill(i: int) -> BotFill:
    return BotFill(f"t{i}/o1", "o1", "KXA", BookSide.BID, D("0.41"), D("2.5"), D("0.0175"), T0 + timedelta(minutes=i))


def signal(i: int) -> SignalRecord:
    return SignalRecord("KXA", "btcd", T0 + timedelta(minutes=i), "m", D("0.61"), None, None, None, D("0.8"), "none")


def assert_one_line(exc: BaseException, url: str, *words: str) -> None:
    message = str(exc)
    assert "\n" not in message and "Traceback" not in message, message
    assert open_store(url, env="sim").url.masked in message, message
    for word in words:
        assert word in message, message
    assert DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in message


def test_a_server_stopped_mid_run_fails_clearly_and_recovers_with_nothing_twice(server, stores):
    url = server.url()
    store = stores(url)
    journal, state, signals = store.journal(), store.bot_state(), store.signals()
    assert journal.record_fills([fill(1), fill(2)], advance_cursor=True) == 2
    journal.record_intent("c1", "KXA", "bid", D("0.52"), D("10"), "good_till_canceled", "sim")
    assert state.write_fill(bot_fill(1))
    signals.record_signal(signal(1))
    server.stop()
    for call in (lambda: journal.record_fills([fill(2), fill(3)], advance_cursor=True),
                 lambda: journal.record_intent("c2", "KXA", "bid", D("0.5"), D("1"), "good_till_canceled", "sim"),
                 lambda: journal.fills(), lambda: state.write_fill(bot_fill(2)), lambda: state.get("risk"),
                 lambda: open_store(url, env="sim").journal()):
        with pytest.raises(JournalError) as failed:
            call()
        assert_one_line(failed.value, url, "does not answer")
    with pytest.raises(StorageError) as failed:
        signals.record_signal(signal(2))
    assert_one_line(failed.value, url, "does not answer")
    assert journal.record_outcome("c1", "accepted", order_id="o1") is None  # logged: the exchange acted already
    assert not store.check().ok and "does not answer" in str(store.check().problem)

    server.start()  # again on the same port, with the same data (moto keeps it in this process)
    assert journal.record_fills([fill(2), fill(3)], advance_cursor=True) == 1
    assert [f.fill_id for f in journal.fills()] == ["fill-1", "fill-2", "fill-3"]
    assert journal.sync_cursor(SyncCursor.FILLS) == fill(3).created_time
    assert [e.client_order_id for e in journal.pending_intents()] == ["c1"]  # nothing of c2 was recorded
    assert not state.write_fill(bot_fill(1)) and state.write_fill(bot_fill(2))
    assert [s.fill for s in state.fills()] == [bot_fill(1), bot_fill(2)]
    assert [s.at for s in signals.signals()] == [signal(1).at]
    assert store.check().ok


def test_an_endpoint_that_refuses_fails_every_part_clearly(stores):
    shared_server()
    url = f"dynamodb://us-east-1?endpoint=http://127.0.0.1:{free_port()}&prefix=refused_"
    store = stores(url)
    for part, kind in ((store.journal, JournalError), (store.bot_state, JournalError), (store.signals, StorageError)):
        with pytest.raises(kind) as failed:
            part()
        assert_one_line(failed.value, url, "does not answer", "is the server running")
    status = store.check()
    assert not status.ok and "127.0.0.1" in status.detail


def test_missing_credentials_are_named(stores, monkeypatch, tmp_path, server):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url = server.url()
    with pytest.raises(JournalError) as failed:
        stores(url).journal()
    assert_one_line(failed.value, url, "no AWS credentials found", "AWS_ACCESS_KEY_ID")
    assert "no AWS credentials" in str(stores(url).check().problem)


@pytest.mark.parametrize("answer,words", [
    (error("ProvisionedThroughputExceededException"), "throttling"),
    (error("ThrottlingException", "Rate exceeded"), "throttling"),
    (error("RequestLimitExceeded"), "throttling"),
    (error("UnrecognizedClientException", "The security token included in the request is invalid."),
     "refused the credentials"),
    (error("AccessDeniedException", "not authorized to perform: dynamodb:GetItem"), "refused the credentials"),
    (error("InternalServerError", "oops", status=500), "InternalServerError (HTTP 500)"),
    ((200, b"<html>a captive portal</html>"), "not DynamoDB (content type 'text/html')"),
    ((503, b""), "503"),
])
def test_error_answers_are_one_line(stores, monkeypatch, answer, words):
    shared_server()
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # boto3's setting: one retry (the default backs off for seconds)
    endpoint = FaultyEndpoint(lambda operation, body: answer).start()
    try:
        url = endpoint.url("faulty_")
        with pytest.raises(JournalError) as failed:
            stores(url).journal()
        assert_one_line(failed.value, url, words)
        if "throttling" in words or answer[0] >= 500:
            assert endpoint.calls["GetItem"] == 2  # botocore retried before giving up
        assert not stores(url).check().ok
    finally:
        endpoint.stop()


def test_unprocessed_batch_items_are_retried(server, stores):
    left = {"BatchWriteItem": 3, "BatchGetItem": 2}

    def rule(operation, body):
        if left.get(operation, 0) > 0:
            left[operation] -= 1
            key = "UnprocessedItems" if operation == "BatchWriteItem" else "UnprocessedKeys"
            return 200, {key: body["RequestItems"], **({"Responses": {}} if operation == "BatchGetItem" else {})}
        return None

    proxy = FaultyEndpoint(rule, server.endpoint).start()
    try:
        journal = stores(proxy.url("unprocessed_")).journal()
        fills = [fill(i, ticker=f"KX{i % 3}") for i in range(60)]
        assert journal.record_fills(fills, advance_cursor=True) == 60
        assert journal.fills() == sorted(fills, key=lambda f: (f.created_time, f.fill_id))
        assert journal.record_fills(fills) == 0 and left == {"BatchWriteItem": 0, "BatchGetItem": 0}
    finally:
        proxy.stop()


def test_a_batch_never_processed_fails_and_a_retry_writes_each_fill_once(server, stores):
    fills = [fill(i) for i in range(40)]
    stuck = FaultyEndpoint(lambda op, body: (200, {"UnprocessedItems": body["RequestItems"]})
                           if op == "BatchWriteItem" else None, server.endpoint).start()
    try:
        url = stuck.url("stuck_")
        journal = stores(url).journal()
        with pytest.raises(JournalError) as failed:
            journal.record_fills(fills, advance_cursor=True)
        assert_one_line(failed.value, url, "unprocessed after retries")
        stuck.rule = lambda op, body: None  # DynamoDB takes writes again
        assert journal.sync_cursor(SyncCursor.FILLS) is None and journal.fills() == []
        assert journal.record_fills(fills, advance_cursor=True) == 40
        assert [f.fill_id for f in journal.fills()] == [f.fill_id for f in fills]
    finally:
        stuck.stop()


def test_a_write_interrupted_between_the_trade_log_and_the_fill_ids_is_completed_once(server, stores):
    def rule(operation, body):
        if operation == "BatchWriteItem" and any(t.endswith("_fill_ids") for t in body["RequestItems"]):
            return error("InternalServerError", "the disk is full", status=500)
        return None

    proxy = FaultyEndpoint(rule, server.endpoint).start()
    try:
        journal = stores(proxy.url("halfway_")).journal()
        synced = [fill(i) for i in range(30)]  # a sync's batch: BatchWriteItem, the trade log first
        with pytest.raises(JournalError):
            journal.record_fills(synced, advance_cursor=True)
        assert journal.sync_cursor(SyncCursor.FILLS) is None  # not acknowledged: the sync starts again
        proxy.rule = lambda op, body: None
        assert journal.record_fills(synced + [fill(30)], advance_cursor=True) == 31
        assert [f.fill_id for f in journal.fills()] == [f"fill-{i}" for i in range(31)]  # each once
        assert len(list(journal.trade_rows())) == 31
    finally:
        proxy.stop()


def test_an_intent_is_one_request_so_a_failure_leaves_no_part_of_it(server, stores):
    proxy = FaultyEndpoint(lambda op, body: error("InternalServerError", status=500)
                           if op == "TransactWriteItems" else None, server.endpoint).start()
    try:
        journal = stores(proxy.url("intent_")).journal()
        with pytest.raises(JournalError):
            journal.record_intent("c1", "KXA", "bid", D("0.52"), D("10"), "good_till_canceled", "sim")
        assert journal.pending_intents() == [] and journal.order_events() == []
        assert journal.order_events(client_order_id="c1") == []
    finally:
        proxy.stop()


def test_tables_of_a_newer_schema_are_refused_and_left_untouched(server, stores):
    url = server.url()
    stores(url).journal()  # creates the tables
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=server.endpoint)
    table = f"{open_store(url, env='sim').url.prefix}sim_meta"
    client.update_item(TableName=table, Key={"name": {"S": "schema"}}, UpdateExpression="SET journal = :v",
                       ExpressionAttributeValues={":v": {"N": "99"}})
    before = client.get_item(TableName=table, Key={"name": {"S": "schema"}}, ConsistentRead=True)["Item"]
    with pytest.raises(JournalError) as failed:
        stores(url).journal()
    assert_one_line(failed.value, url, "schema version 99, newer than this program", "upgrade kalshi-trading")
    status = stores(url).check()
    assert not status.ok and "newer than this program" in str(status.problem)
    assert stores(url).signals().schema_version() == 1  # the other parts are as they were
    assert client.get_item(TableName=table, Key={"name": {"S": "schema"}}, ConsistentRead=True)["Item"] == before


@pytest.mark.parametrize("size", [3, 40])  # one conditional transaction; a sync's batches
def test_a_repeated_fill_is_a_no_op_from_another_process(server, stores, size):
    url = server.url()
    first, second = stores(url).journal(), stores(url).journal()
    fills = [fill(i) for i in range(size)]
    assert first.record_fills(fills[1::2]) == len(fills[1::2])
    assert second.record_fills(fills) == len(fills[::2])  # another process: only the ones it lacked
    with pytest.raises(JournalError, match="fill-1"):
        second.record_fills([fill(size + 1), replace(fill(1), count=D(3))])
    assert first.fills() == fills and second.record_fills(fills) == 0
