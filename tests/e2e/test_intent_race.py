"""Issue 10 item 2: another process never closes a live order intent as "not placed".

Process A (a real `kalshi order limit` subprocess) sends its order through a loopback proxy that holds it in
flight; process B (`kalshi orders` / `kalshi sync` in this process, straight to the simulator) shares A's journal.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import Action, BookSide, OrderRequest, Side, TimeInForce
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.executor import Executor
from kalshi_trading.trading.intent_owner import IntentOwner, current_owner
from tests.e2e.conftest import cent_market, client_for
from tests.e2e.slowproxy import SlowProxy


@pytest.fixture
def proxy(sim):
    sim.app.verifier.window_ms = 120_000  # a request held in the proxy still carries a valid signature
    p = SlowProxy(sim.base_url)
    yield p
    p.close()


@pytest.fixture
def env(sim, tmp_path):
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}


@pytest.fixture
def run(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


@pytest.fixture
def journal_path(tmp_path):
    return tmp_path / "sim" / "journal.sqlite"


def start_a(env, proxy, *args: str) -> subprocess.Popen:
    """Process A: a real `kalshi` placing an order through the proxy (patient enough to be held)."""
    a_env = {**os.environ, **env, "KALSHI_API_BASE": proxy.base_url, "KALSHI_READ_TIMEOUT": "30"}
    return subprocess.Popen([sys.executable, "-m", "kalshi_trading", *args, "--yes", "--json"], env=a_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(event: threading.Event, proc: subprocess.Popen) -> None:
    """Until the proxy saw A's order (A ending first is a failure, with its output)."""
    for _ in range(600):
        if event.wait(0.1):
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"A ended ({proc.returncode}) before its order was held: {out} {err}")
    pytest.fail("A never sent its order")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaped: its pid names no live process any more


def events_of(journal_path, cid: str):
    with SqliteJournal.open(journal_path) as j:
        return j.order_events(client_order_id=cid)


def pending(journal_path):
    with SqliteJournal.open(journal_path) as j:
        return j.pending_intents()


def test_live_writer_keeps_its_intent_and_a_killed_one_is_settled_by_asking(sim, proxy, env, run, journal_path):
    t = cent_market(sim)
    proxy.hold = "after"  # the exchange takes the order; A never hears back
    a = start_a(env, proxy, "order", "limit", t, "yes", "2", "0.05")
    try:
        wait_for(proxy.forwarded, a)
        [intent] = pending(journal_path)
        result = run("orders", "--json")  # B builds the executor, which reconciles
        assert result.exit_code == 0, result.output
        listed = json.loads(result.stdout)["orders"]
        assert [o["client_order_id"] for o in listed] == [intent.client_order_id]
        assert pending(journal_path) == [intent], "B closed an intent whose writer is still sending it"
        assert a.poll() is None
    finally:
        kill(a)
    result = run("orders", "--json")
    assert result.exit_code == 0, result.output
    kinds = [(e.kind, e.order_id, e.status) for e in events_of(journal_path, intent.client_order_id)]
    assert kinds == [("intent", None, None), ("reconciled", listed[0]["order_id"], "resting")]
    assert pending(journal_path) == []


def test_order_landing_after_not_placed_is_relinked_by_the_order_list(sim, proxy, env, run, journal_path):
    t = cent_market(sim)
    proxy.hold = "before"  # the order is still on its way when A dies
    a = start_a(env, proxy, "order", "limit", t, "yes", "3", "0.06")
    try:
        wait_for(proxy.received, a)
        [intent] = pending(journal_path)
        assert run("orders").exit_code == 0
        assert pending(journal_path) == [intent]
    finally:
        kill(a)
    assert run("orders", "--json").exit_code == 0  # A is gone: asked, and the exchange has nothing yet
    assert [(e.kind, e.status) for e in events_of(journal_path, intent.client_order_id)][-1] == \
        ("reconciled", "not_placed")
    proxy.release()
    assert proxy.forwarded.wait(60)  # ... and now it lands
    listed = json.loads(run("orders", "--json").stdout)["orders"]
    assert [o["client_order_id"] for o in listed] == [intent.client_order_id]
    last = events_of(journal_path, intent.client_order_id)[-1]
    assert (last.kind, last.order_id, last.status) == ("reconciled", listed[0]["order_id"], "resting")
    assert "placed after all" in last.message
    history = json.loads(run("history", "--json").stdout)["entries"]
    assert any(e["kind"] == "order" and e["record"]["order_id"] == listed[0]["order_id"] for e in history)


def test_late_order_that_filled_is_relinked_by_sync(sim, proxy, env, run, journal_path, bob):
    t = cent_market(sim)
    bob.create_order(OrderRequest(ticker=t, book_side=BookSide.ASK, count=D(2), yes_price=D("0.40"),
                                  time_in_force=TimeInForce.GTC, client_order_id="bob-ask"))
    proxy.hold = "before"
    a = start_a(env, proxy, "order", "limit", t, "yes", "2", "0.40")
    try:
        wait_for(proxy.received, a)
    finally:
        kill(a)
    [intent] = pending(journal_path)
    assert run("orders").exit_code == 0
    assert events_of(journal_path, intent.client_order_id)[-1].status == "not_placed"
    proxy.release()
    assert proxy.forwarded.wait(60)  # lands, crosses bob's ask, fills completely: never listed as resting
    result = run("sync", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new_fills"] == 1
    last = events_of(journal_path, intent.client_order_id)[-1]
    assert (last.kind, last.status) == ("reconciled", "executed") and last.order_id


def test_executor_start_rechecks_recent_not_placed_intents(sim, client, tmp_path):
    t = cent_market(sim)
    with SqliteJournal.open(tmp_path / "j.sqlite") as journal:
        journal.record_intent("late-1", t, "bid", D("0.07"), D(1), "good_till_canceled", "sim")
        assert Executor(client, journal, "sim").reconcile() == [("late-1", None, "not_placed")]
        ack = client.create_order(OrderRequest(ticker=t, book_side=BookSide.BID, count=D(1), yes_price=D("0.07"),
                                               time_in_force=TimeInForce.GTC, client_order_id="late-1"))
        client.cancel_order(ack.order_id)  # gone from the resting list: only asking by client id finds it
        assert Executor(client, journal, "sim").reconcile() == [("late-1", ack.order_id, "canceled")]
        assert journal.pending_intents() == [] and Executor(client, journal, "sim").reconcile() == []


def test_in_process_reconcile_leaves_a_sending_executor_alone(sim, client, proxy, tmp_path):
    """Executor A (slow link, its own thread) and executor B share a journal file; B reconciles meanwhile."""
    t = cent_market(sim)
    path = tmp_path / "shared.sqlite"
    slow = client_for(proxy.base_url, sim.demo_account)
    slow.transport.timeout = (3.05, 30.0)
    results: list = []

    def send() -> None:  # A: its own thread, its own connection to the journal file
        with SqliteJournal.open(path) as ja:
            results.append(Executor(slow, ja, "sim").place_limit_order(t, Side.YES, Action.BUY, D(1), D("0.08")))

    with SqliteJournal.open(path) as jb:
        proxy.hold = "after"
        thread = threading.Thread(target=send)
        thread.start()
        try:
            assert proxy.forwarded.wait(60)
            b = Executor(client, jb, "sim")
            assert b.reconcile() == []
            [intent] = jb.pending_intents()
            assert intent.owner == current_owner() and intent.deadline > datetime.now(timezone.utc)
        finally:
            proxy.release()
            thread.join(60)
        assert results and results[0].status == "resting"
        assert [e.kind for e in jb.order_events(client_order_id=intent.client_order_id)] == ["intent", "accepted"]
    slow.close()


@pytest.mark.parametrize("owner, deadline_in, settled", [
    ("other-host", timedelta(minutes=5), False),  # cannot tell if it runs: wait for the deadline
    ("other-host", -timedelta(seconds=1), True),  # past every timeout: nobody can be sending it
    ("this", timedelta(minutes=5), False),  # this very process: alive
    ("reused-pid", timedelta(minutes=5), True),  # our pid, another start time: the writer is gone
    ("other-boot", timedelta(minutes=5), True),  # the machine restarted since
])
def test_who_may_settle_an_intent(sim, client, tmp_path, owner, deadline_in, settled):
    me = current_owner()
    owners = {
        "other-host": IntentOwner(socket.gethostname() + "-elsewhere", me.boot_id, me.pid_ns, me.pid, me.start_ticks),
        "this": me,
        "reused-pid": IntentOwner(me.host, me.boot_id, me.pid_ns, me.pid, (me.start_ticks or 0) + 1),
        "other-boot": IntentOwner(me.host, "another-boot", me.pid_ns, me.pid, me.start_ticks),
    }
    t = cent_market(sim)
    with SqliteJournal.open(tmp_path / "j.sqlite") as journal:
        journal.record_intent("cid-1", t, "bid", D("0.09"), D(1), "good_till_canceled", "sim", owner=owners[owner],
                              deadline=datetime.now(timezone.utc) + deadline_in)
        done = Executor(client, journal, "sim").reconcile()
    assert done == ([("cid-1", None, "not_placed")] if settled else [])
