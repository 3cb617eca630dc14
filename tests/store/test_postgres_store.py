"""What only the PostgreSQL store has (the shared behaviour is the contract suites'): a schema per environment with
exact column types, constraints and indexes; schema versions (an older schema upgraded in one transaction, a
newer one refused untouched); the same trades export as SQLite, byte for byte, whatever the arrival order; a
transaction that fails halfway stores nothing; concurrent writers keep positions right."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from datetime import timedelta, timezone
from decimal import Decimal

import pytest

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.models import Fill
from kalshi_trading.money import MoneyError
from kalshi_trading.store import open_store
from kalshi_trading.store.journal import SyncCursor
from kalshi_trading.store.postgres import schema
from tests.store import pg_server
from tests.store.records import D, T0, fill, settlement


@pytest.fixture
def db():
    """(cluster, database name) of a new database on this process's throwaway cluster."""
    cluster = pg_server.session_cluster()
    return cluster, cluster.create_database()


@pytest.fixture
def stores(db):
    cluster, name = db
    opened = []

    def open_(env: str = "sim", **kwargs):
        store = open_store(cluster.url(name, **kwargs), env=env)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def sql(db, statement: str) -> list[tuple]:
    cluster, name = db
    return cluster.execute(statement, name)


# -- the schema ---------------------------------------------------------------------------------------------------


def test_each_environment_has_a_schema_with_exact_types(db, stores):
    stores("sim").journal().record_fills([fill(1)])
    stores("prod").journal()
    assert {r[0] for r in sql(db, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kalshi%'")} == {
        "kalshi_sim", "kalshi_prod"}
    types = dict(sql(db, "SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema = 'kalshi_sim' AND table_name = 'fills'"))
    assert {types[c] for c in ("count", "yes_price", "fee", "before")} == {"numeric"}
    assert types["created_time"] == "timestamp with time zone" and types["is_taker"] == "boolean"
    for table in ("settlements", "bot_fills", "bot_orders", "signals", "signal_attempts"):
        money = sql(db, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'kalshi_sim' "
                        f"AND table_name = '{table}' AND data_type IN ('real', 'double precision')")
        assert money == [(0,)], table  # never a float
    indexes = {r[0] for r in sql(db, "SELECT indexname FROM pg_indexes WHERE schemaname = 'kalshi_sim'")}
    assert {"order_events_one_intent", "fills_time", "fills_ticker_time", "order_events_time"} <= indexes
    assert sql(db, "SELECT count(*) FROM kalshi_prod.fills") == [(0,)]  # the environments never mix
    assert stores("sim").journal().schema_version() == schema.SCHEMA_VERSION


def test_values_come_back_exact_decimal_and_utc(stores):
    journal = stores().journal()
    f = replace(fill(1, count="1.5", price="0.0001", fee="0.000001"),
                created_time=T0.astimezone(timezone(timedelta(hours=-5))))
    journal.record_fills([f])
    [back] = journal.fills()
    assert back == f and isinstance(back.count, Decimal) and str(back.count) == "1.50"
    assert back.created_time.tzinfo is timezone.utc and back.created_time == T0


@pytest.mark.parametrize("bad,error", [
    (dict(count=D("1.005")), MoneyError), (dict(yes_price=D("0.12345")), MoneyError),
    (dict(fee=D("0.0000001")), MoneyError), (dict(count=D("0")), MoneyError), (dict(yes_price=D("1.5")), MoneyError),
    (dict(created_time=T0.replace(tzinfo=None)), UsageError),
])
def test_a_value_a_column_would_round_or_misread_is_refused_and_nothing_stored(stores, bad, error):
    journal = stores().journal()
    with pytest.raises(error):
        journal.record_fills([fill(1), replace(fill(2), **bad)])
    assert journal.fills() == []


def test_the_database_enforces_the_invariants_too(db, stores):
    journal = stores().journal()
    journal.record_fills([fill(1)])
    for statement in (
        "INSERT INTO kalshi_sim.fills (fill_id, order_id, trade_id, ticker, outcome_side, book_side, count, "
        "yes_price, fee, is_taker, created_time, before) VALUES ('fill-1', 'o', 't', 'KXA', 'yes', 'bid', 1, 0.5, "
        "0, true, now(), 0)",  # a fill is unique by its id
        "UPDATE kalshi_sim.fills SET book_side = 'sideways'",
        "UPDATE kalshi_sim.fills SET count = -1",
        "INSERT INTO kalshi_sim.order_events (time, kind, client_order_id) VALUES (now(), 'intent', 'c1')",
    ):
        with pytest.raises(Exception) as refused:
            sql(db, statement)
        assert "violates" in str(refused.value)


# -- versions -----------------------------------------------------------------------------------------------------


def make_version_1(db, env: str = "sim") -> None:
    """A schema as version 1 of this program left it, with an intent tagged by its strategy and one fill."""
    sql(db, f"CREATE SCHEMA kalshi_{env}")
    for ddl in schema.TABLES:
        sql(db, f"SET search_path TO kalshi_{env}; {ddl}")
    sql(db, f"INSERT INTO kalshi_{env}.kalshi_meta VALUES ('schema.version', '1'), ('store.environment', '{env}')")
    sql(db, f"INSERT INTO kalshi_{env}.order_events (time, kind, client_order_id, order_id, env, ticker, book_side, "
            "yes_price, count, time_in_force, extra, strategy, deadline) VALUES "
            "(now(), 'intent', 'c1', NULL, 'sim', 'KXA', 'bid', 0.52, 10, 'good_till_canceled', "
            "'{\"strategy\": \"mm\"}', 'mm', now()), "
            "(now(), 'accepted', 'c1', 'ord-1', 'sim', 'KXA', 'bid', NULL, NULL, NULL, '{}', NULL, NULL)")
    sql(db, f"INSERT INTO kalshi_{env}.fills (fill_id, order_id, trade_id, ticker, outcome_side, book_side, count, "
            "yes_price, fee, is_taker, created_time, before) VALUES "
            "('fill-1', 'ord-1', 'fill-1', 'KXA', 'yes', 'bid', 10, 0.52, 0.0175, false, "
            "'2026-03-01T12:01:00Z', 0)")


def test_an_older_schema_is_upgraded_in_place(db, stores, caplog):
    make_version_1(db)
    sql(db, "INSERT INTO kalshi_sim.bot_kv VALUES ('bot_id', '\"b1\"')")  # the bot state, before bots had names
    journal = stores().journal()
    latest = schema.SCHEMA_VERSION
    assert journal.schema_version() == latest and f"upgraded from schema version 1 to {latest}" in caplog.text
    assert [(r.fill_id, r.strategy) for r in journal.trade_rows()] == [("fill-1", "mm")]  # tagged by the upgrade
    assert journal.fills() == [fill(1, fee="0.0175")] and [e.kind for e in journal.order_events()] == [
        "intent", "accepted"]
    assert stores().bot_state().schema_version() == latest and stores().signals().schema_version() == latest
    assert stores().bots() == ["default"] and stores().bot_state().get("bot_id") == "b1"  # the default bot's


def test_an_upgrade_that_fails_leaves_the_older_schema_as_it_was(db, stores):
    make_version_1(db)
    sql(db, "ALTER TABLE kalshi_sim.fills ADD COLUMN strategy integer")  # in the way of the upgrade's step
    with pytest.raises(JournalError, match="strategy"):
        stores().journal()
    assert sql(db, "SELECT value FROM kalshi_sim.kalshi_meta WHERE key = 'schema.version'") == [("1",)]
    assert sql(db, "SELECT fill_id, strategy FROM kalshi_sim.fills") == [("fill-1", None)]


@pytest.mark.parametrize("open_", [lambda s: s.journal(), lambda s: s.bot_state(), lambda s: s.signals()])
def test_a_newer_schema_is_refused_naming_both_versions_and_left_untouched(db, stores, open_):
    stores().journal().record_fills([fill(1)])
    newer = schema.SCHEMA_VERSION + 1
    sql(db, f"UPDATE kalshi_sim.kalshi_meta SET value = '{newer}' WHERE key = 'schema.version'; "
            "CREATE TABLE kalshi_sim.from_the_future (x int)")
    store = stores()
    with pytest.raises(JournalError) as refused:
        open_(store)
    message = str(refused.value)
    assert f"schema version {newer}" in message and f"up to version {newer - 1}" in message
    assert "upgrade kalshi-trading" in message
    assert "\n" not in message and store.url.masked in message
    assert not store.check().ok and f"schema version {newer}" in str(store.check().problem)
    assert sql(db, "SELECT value FROM kalshi_sim.kalshi_meta WHERE key = 'schema.version'") == [(str(newer),)]
    assert sql(db, "SELECT count(*) FROM kalshi_sim.fills") == [(1,)]
    assert sql(db, "SELECT to_regclass('kalshi_sim.from_the_future') IS NOT NULL") == [(True,)]


def test_a_schema_of_that_name_that_is_not_ours_is_refused(db, stores):
    sql(db, "CREATE SCHEMA kalshi_sim; CREATE TABLE kalshi_sim.fills (mine text)")
    with pytest.raises(JournalError, match="not a kalshi store"):
        stores().journal()
    assert not stores().check().ok
    assert sql(db, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'kalshi_sim'") == [
        ("mine",)]


def test_check_answers_without_creating_anything(db, stores):
    status = stores().check()
    assert status.ok and "answers" in status.detail and "created on first use" in status.detail
    assert sql(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'kalshi_sim'") == [(0,)]
    stores().journal()
    assert f"version {schema.SCHEMA_VERSION}" in stores().check().detail


# -- a transaction that fails halfway --------------------------------------------------------------------------


def test_an_intent_whose_transaction_fails_leaves_nothing(db, stores):
    journal = stores().journal()
    sql(db, "CREATE FUNCTION kalshi_sim.fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$; "
            "CREATE CONSTRAINT TRIGGER fail AFTER INSERT ON kalshi_sim.order_events DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW WHEN (NEW.client_order_id = 'doomed') EXECUTE FUNCTION kalshi_sim.fail()")
    with pytest.raises(JournalError, match="the disk is full") as failed:
        journal.record_intent("doomed", "KXA", "bid", D("0.5"), D("1"), "good_till_canceled", "sim")
    assert "\n" not in str(failed.value)
    assert journal.pending_intents() == [] and journal.order_events() == []  # the commit failed: nothing stored
    journal.record_intent("fine", "KXA", "bid", D("0.5"), D("1"), "good_till_canceled", "sim")
    assert [e.client_order_id for e in journal.pending_intents()] == ["fine"]


def test_a_fill_batch_that_fails_halfway_stores_nothing(db, stores):
    journal = stores().journal()
    journal.record_fills([fill(1)], advance_cursor=True)

    def broken():
        yield from (fill(i) for i in range(2, 50))
        raise RuntimeError("the exchange went away mid-page")

    with pytest.raises(RuntimeError):
        journal.record_fills(broken(), advance_cursor=True)
    sql(db, "CREATE FUNCTION kalshi_sim.fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no room for %', NEW.fill_id; END $$; "
            "CREATE TRIGGER fail BEFORE INSERT ON kalshi_sim.fills FOR EACH ROW WHEN (NEW.fill_id = 'fill-40') "
            "EXECUTE FUNCTION kalshi_sim.fail()")
    with pytest.raises(JournalError, match="no room for fill-40"):
        journal.record_fills([fill(i) for i in range(2, 50)], advance_cursor=True)
    assert [f.fill_id for f in journal.fills()] == ["fill-1"]
    assert journal.sync_cursor(SyncCursor.FILLS) == T0 + timedelta(minutes=1)


# -- the trades export, the same as SQLite's whatever the arrival order -----------------------------------------


ODD = ['f,1"x', "o\r\n1", "plain", 'q"', "a\nb", "", "  spaced  ", "é,ü", "a", "B", "-x", "_Y", "Éa"]


def random_fills(rng: random.Random, n: int) -> list[Fill]:
    fills = []
    for i in range(n):
        ticker = rng.choice(["KXA", "KXB", "K,X"])
        when = None if rng.random() < 0.03 else T0 + timedelta(seconds=rng.randrange(0, 500))
        fills.append(Fill(
            fill_id=f"f{i}{rng.choice(ODD)}", order_id=f"o{rng.randrange(20)}", ticker=ticker,
            outcome_side=rng.choice(["yes", "no"]), book_side=rng.choice(["bid", "ask"]),
            count=Decimal(rng.randrange(1, 2000)) / 100, yes_price=Decimal(rng.randrange(0, 10001)) / 10000,
            is_taker=rng.random() < 0.5, fee=Decimal(rng.randrange(0, 10**6)) / 10**6, created_time=when))
    return fills


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_export_is_sqlites_byte_for_byte_whatever_the_arrival_order(stores, tmp_path, seed):
    rng = random.Random(seed)
    fills = random_fills(rng, 400)
    intents = [(f"c{k}", f"o{k}", rng.choice(["mm", 'edge,"v2"', ""])) for k in range(0, 20, 3)]
    journals = [stores().journal(), open_store(f"sqlite://{tmp_path}/s/", env="sim").journal()]
    for journal in journals:
        for cid, oid, tag in intents:
            journal.record_intent(cid, "KXA", "bid", D("0.5"), D("1"), "good_till_canceled", "sim",
                                  {"strategy": tag} if tag else None)
            journal.record_outcome(cid, "accepted", order_id=oid, status="resting")
    batches = list(fills)
    rng.shuffle(batches)  # late arrivals: each ticker's positions are recomputed from the late fill on
    cuts = sorted(rng.sample(range(1, len(batches)), 12))
    for start, end in zip([0, *cuts], [*cuts, len(batches)], strict=True):
        chunk = batches[start:end] + rng.sample(fills, 5)  # and some fills seen before
        assert len({journal.record_fills(chunk) for journal in journals}) == 1  # the same number new
    ranges = [(), (T0 + timedelta(seconds=100), T0 + timedelta(seconds=300)), (None, None, "K,X")]
    for args in ranges:
        pg, lite = ([line for chunk in j.trade_csv(*args) for line in chunk] for j in journals)
        assert pg == lite and len(pg) > 0
        assert list(journals[0].trade_rows(*args)) == list(journals[1].trade_rows(*args))
    assert journals[0].fills() == journals[1].fills()


def test_concurrent_writers_keep_every_position_right(stores, tmp_path):
    """Two processes syncing overlapping pages at once (a lock keeps the running positions consistent)."""
    fills = random_fills(random.Random(7), 600)
    first, second = stores().journal(), stores().journal()
    failures: list[BaseException] = []

    def sync(journal, part):
        try:
            for k in range(0, len(part), 25):
                journal.record_fills(part[k:k + 25])
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    threads = [threading.Thread(target=sync, args=(first, fills[:400])),
               threading.Thread(target=sync, args=(second, fills[200:][::-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    reference = open_store(f"sqlite://{tmp_path}/ref/", env="sim").journal()
    reference.record_fills(fills)
    assert [line for c in first.trade_csv() for line in c] == [line for c in reference.trade_csv() for line in c]


def test_settlements_and_cursors_are_exact(stores):
    journal = stores().journal()
    odd = replace(settlement(), yes_total_cost=D("5.2000"), value=D("1.00"), settled_time=None)
    assert journal.record_settlements([settlement(), odd, odd], advance_cursor=True) == 2
    assert journal.settlements() == [odd, settlement()]  # an unknown time sorts first
    assert str(journal.settlements()[0].yes_total_cost) == "5.2000"  # every digit kept
    assert journal.sync_cursor(SyncCursor.SETTLEMENTS) == T0 + timedelta(minutes=60)


def test_an_export_read_only_in_part_gives_its_connection_back(stores):
    journal = stores().journal()
    journal.record_fills([fill(i, ticker=f"KX{i % 7}") for i in range(3000)])
    for _ in range(20):  # more than the pool holds: an abandoned export must not keep its connection
        rows = journal.trade_csv()
        assert len(next(rows)) == 3000
        rows.close()
        partial = journal.trade_rows()
        assert next(partial).fill_id == "fill-0"
        partial.close()
    assert len(journal.fills()) == 3000 and journal.record_fills([fill(3000)]) == 1
