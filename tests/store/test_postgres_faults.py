"""A PostgreSQL store that cannot be reached, refuses us, or goes away mid-run: one clear line naming the store with
its URL masked (a password never in any message or log), and when the server comes back the store goes on, with
nothing written twice and nothing that was acknowledged lost."""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg
import pytest

from kalshi_trading.errors import ConfigError, JournalError, StorageError
from kalshi_trading.models import BookSide
from kalshi_trading.store import open_store
from kalshi_trading.store.botstate import BotFill, FillSource
from kalshi_trading.store.signals import HealthRecord
from tests.store import pg_server
from tests.store.records import D, T0, fill

SECRET = pg_server.PASSWORD


def intent(journal, cid: str):
    return journal.record_intent(cid, "KXA", "bid", D("0.52"), D("10"), "good_till_canceled", "sim")


def bot_fill(i: int) -> BotFill:
    return BotFill(f"t{i}/o1", "o1", "KXA", BookSide.BID, D("0.41"), D("2"), D("0.01"), T0 + timedelta(minutes=i),
                   FillSource.FEED)


def assert_one_clear_line(error: BaseException, masked: str) -> None:
    message = str(error)
    assert isinstance(error, StorageError) and "\n" not in message and masked in message
    assert SECRET not in message and "Traceback" not in message


@pytest.fixture
def secret_logs(caplog):
    """Everything logged during the test, at every level; checked for the password at the end."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    assert SECRET not in caplog.text


def unreachable_urls():
    cluster = pg_server.session_cluster()
    name = cluster.create_database()
    return {
        "refused": (f"postgresql://{pg_server.PASSWORD_USER}:{SECRET}@127.0.0.1:{pg_server.refusing_port()}/{name}",
                    "Connection refused"),
        "wrong password": (cluster.url(name, pg_server.PASSWORD_USER, SECRET + "x"), "password authentication failed"),
        "no such database": (cluster.url("no_such_db", pg_server.PASSWORD_USER, SECRET), "does not exist"),
    }


@pytest.mark.parametrize("case", ["refused", "wrong password", "no such database"])
@pytest.mark.parametrize("use", ["journal", "bot_state", "signals"])
def test_a_server_that_cannot_be_used_is_one_clear_line(secret_logs, case, use):
    url, words = unreachable_urls()[case]
    store = open_store(url, env="sim")  # builds; connects only when used
    try:
        with pytest.raises(StorageError) as refused:
            getattr(store, use)()
        assert_one_clear_line(refused.value, store.url.masked)
        assert words in str(refused.value) and "kalshi_sim" in str(refused.value)
        status = store.check()  # `kalshi config check`: the same reason, nothing raised
        assert not status.ok and words in str(status.problem)
        assert_one_clear_line(status.problem, store.url.masked)
    finally:
        store.close()
    assert SECRET not in secret_logs.text


def test_the_right_password_works_and_is_never_shown(secret_logs):
    cluster = pg_server.session_cluster()
    name = cluster.create_database(owner=pg_server.PASSWORD_USER)
    store = open_store(cluster.url(name, pg_server.PASSWORD_USER, SECRET), env="sim")
    try:
        status = store.check()
        assert status.ok and "answers" in status.detail and SECRET not in status.detail
        assert intent(store.journal(), "c1").client_order_id == "c1"
        assert SECRET not in store.journal().location and "***" in store.journal().location
    finally:
        store.close()


def test_the_server_killed_mid_run_then_back(secret_logs):
    with pg_server.throwaway_cluster() as cluster:
        cluster.execute(f"CREATE ROLE {pg_server.PASSWORD_USER} LOGIN PASSWORD '{SECRET}' CREATEDB")
        url = cluster.url(cluster.create_database(owner=pg_server.PASSWORD_USER), pg_server.PASSWORD_USER, SECRET)
        store = open_store(url, env="sim")
        journal, state, signals = store.journal(), store.bot_state(), store.signals()
        intent(journal, "c1")
        assert journal.record_fills([fill(1), fill(2)], advance_cursor=True) == 2
        assert state.write_fill(bot_fill(1))
        cycle = signals.begin_cycle(T0, mode="simulate", profile="balanced")

        cluster.kill()  # every backend dies at once (pg_ctl stop -m immediate)
        with pytest.raises(StorageError) as failed:
            intent(journal, "c2")
        assert_one_clear_line(failed.value, store.url.masked)
        for call in (lambda: journal.record_fills([fill(3)]), lambda: journal.fills(),
                     lambda: state.write_fill(bot_fill(2)), lambda: state.get("x"),
                     lambda: signals.record_health(HealthRecord(cycle, "coinbase", "ok", T0))):
            with pytest.raises(StorageError) as failed:
                call()
            assert_one_clear_line(failed.value, store.url.masked)
        assert isinstance(failed.value, StorageError) and not isinstance(failed.value, JournalError)
        assert journal.record_outcome("c1", "accepted", order_id="o1") is None  # logged: the exchange acted
        state.log_decision(T0, "KXA", {}, [], [])
        with pytest.raises(JournalError):
            state.flush()  # buffered decisions are kept for the next flush
        assert not store.check().ok

        cluster.start()  # the pool reconnects: the next call just works
        intent(journal, "c2")
        assert journal.record_fills([fill(2), fill(3)], advance_cursor=True) == 1
        assert not state.write_fill(bot_fill(1)) and state.write_fill(bot_fill(2))
        state.flush()
        signals.record_health(HealthRecord(cycle, "coinbase", "ok", T0))
        # what was acknowledged is there, once; what failed is not there at all
        assert [(e.client_order_id, e.kind) for e in journal.order_events()] == [("c1", "intent"), ("c2", "intent")]
        assert [f.fill_id for f in journal.fills()] == ["fill-1", "fill-2", "fill-3"]
        assert [s.fill.key for s in state.fills()] == ["t1/o1", "t2/o1"]
        assert len(state.decisions()) == 1 and len(signals.health(cycle)) == 1
        store.close()
        again = open_store(url, env="sim")  # another process sees the same
        assert [e.client_order_id for e in again.journal().pending_intents()] == ["c1", "c2"]
        again.close()


@pytest.mark.parametrize("text", [f"postgresql://bob:{SECRET}@[::1/db", f"postgresql://bob:{SECRET}%zz@db/k",
                                  f"postgresql://bob:{SECRET}@db/k?bogus=1", f"postgres://bob:{SECRET}@db/k?x"])
def test_a_url_libpq_refuses_is_a_config_error_naming_the_variable(text):
    with pytest.raises(ConfigError) as refused:
        open_store(text, env="sim")
    message = str(refused.value)
    assert "KALSHI_STORE" in message and "libpq" in message and SECRET not in message and "\n" not in message


def test_a_role_that_may_not_create_the_schema_is_one_clear_line(secret_logs):
    cluster = pg_server.session_cluster()
    name = cluster.create_database()  # owned by the superuser: the password role may connect, not create
    cluster.execute(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC')
    store = open_store(cluster.url(name, pg_server.PASSWORD_USER, SECRET), env="sim")
    try:
        with pytest.raises(JournalError) as refused:
            store.journal()
        assert_one_clear_line(refused.value, store.url.masked)
        assert "permission denied" in str(refused.value) and "preparing the schema" in str(refused.value)
        assert store.check().ok  # it answers; the schema is to be made on first use (by someone who may)
    finally:
        store.close()


def test_a_writer_stuck_holding_the_lock_is_a_clear_error_not_a_hang():
    cluster = pg_server.session_cluster()
    name = cluster.create_database()
    store = open_store(cluster.url(name) + "?options=-c%20lock_timeout%3D1000", env="sim")  # 1 s, not 60
    journal = store.journal()
    try:
        with psycopg.connect(cluster.url(name)) as other:  # another process, its transaction open, holding the lock
            other.execute("SELECT pg_advisory_xact_lock(hashtext('kalshi-journal:kalshi_sim'))")
            with pytest.raises(JournalError) as failed:
                journal.record_fills([fill(1)])
            assert_one_clear_line(failed.value, store.url.masked)
            assert "lock timeout" in str(failed.value)
        assert journal.record_fills([fill(1)]) == 1  # once it is gone
    finally:
        store.close()
