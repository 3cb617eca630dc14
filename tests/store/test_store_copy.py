"""`kalshi store copy` (`trading/store_copy.py`) between every pair of storage adapters: everything arrives
exactly (times, decimals, owners, tags, carried state), a second copy copies nothing, the verification table
compares counts and P&L totals, and a target that differs is exit 3.

To run it for a new adapter, add one line to ADAPTERS: every (source, target) pair of them is tried.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from typing import Callable

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.errors import StorageError
from kalshi_trading.models import BookSide
from kalshi_trading.store import open_store
from kalshi_trading.store.alerts import AlertEvent, DeliveryStatus, MessageKind, Severity
from kalshi_trading.store.botstate import (
    BotFill, CarriedLot, CarriedState, CarriedStats, CostMethod, FillSource, StoredOrder,
)
from kalshi_trading.store.journal import IntentOwner, SyncCursor
from kalshi_trading.store.signals import AttemptOutcome, AttemptRecord, CycleStatus, HealthRecord, SignalRecord
from kalshi_trading.trading.store_copy import ReplayClock, copy_store
from tests.store.records import fill, settlement
from tests.store import pg_server
from tests.store.dynamo_server import dynamo_url

ADAPTERS: dict[str, Callable[[object, str], str]] = {
    "sqlite": lambda tmp, name: f"sqlite://{tmp}/{name}/",
    "dynamodb": lambda tmp, name: dynamo_url(tmp),
    "postgresql": lambda tmp, name: pg_server.fresh_url(),
}
PAIRS = [(a, b) for a, b in itertools.product(sorted(ADAPTERS), repeat=2)]
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
OWNER = IntentOwner("host-1", "boot-1", 4026531836, 4242, 987654321)


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self):
        return self.t


@pytest.fixture(params=PAIRS, ids=["->".join(p) for p in PAIRS])
def urls(request, tmp_path) -> tuple[str, str]:
    source, target = request.param
    return ADAPTERS[source](tmp_path, "source"), ADAPTERS[target](tmp_path, "target")


def populate(url: str) -> None:
    clock = Clock()
    store = open_store(url, env="sim", clock=clock)
    try:
        _journal(store, clock)
        _bots(store)
        _signals(store)
        runtime = store.runtime_config()
        runtime.put_market("KXA", {"min_spread": "0.0300", "enabled": "false"}, updated_by="ops", now=T0)
        runtime.put_global({"max_daily_loss": "12.50"}, updated_by="lead", now=T0 + timedelta(hours=1))
        alerts = store.alerts()
        for status, reason in ((DeliveryStatus.SENT, ""), (DeliveryStatus.FAILED, "401 Unauthorized"),
                               (DeliveryStatus.SENT, "")):  # two equal events stay two
            alerts.record(AlertEvent(at=T0, source="default", kind=MessageKind.ALERT, severity=Severity.CRITICAL,
                                     channel="telegram", status=status, text="HALTED: daily loss", rule="halted",
                                     reason=reason))
    finally:
        store.close()


def _journal(store, clock) -> None:
    j = store.journal()
    j.bind_exchange("sim-account:abc")
    for i in range(3):
        clock.t = T0 + timedelta(minutes=i, microseconds=i)
        j.record_intent(f"kbot-e-{i}", "KXA", "bid", D("0.5200"), D("10.00"), "good_till_canceled", "sim",
                        {"strategy": "mm"}, owner=OWNER, deadline=clock.t + timedelta(seconds=30))
        clock.t += timedelta(seconds=1)
        j.record_outcome(f"kbot-e-{i}", "accepted", order_id=f"ord-{i}", status="resting")
    clock.t += timedelta(minutes=1)
    j.record_outcome("kbot-e-0", "cancelled", order_id="ord-0", status="canceled", count=D("3"))
    j.mark_reconciled("kbot-e-2", None, "not_placed")
    j.record_fills([fill(1), fill(2, "ask", "4", "0.61")], advance_cursor=True)
    j.record_fills([fill(3, "bid", "2.5", "0.4400", minutes=90)])  # a fill the bot wrote: no cursor move
    j.record_settlements([settlement(minutes=120)], advance_cursor=True)
    clock.t = T0 + timedelta(hours=3)
    j.record_error("sync", "exchange said no", {"attempt": 2})


def _bots(store) -> None:
    for bot, n in (("default", 2), ("east", 3)):
        state = store.bot_state(bot=bot)
        state.put("bot_id", f"id{bot}")
        state.put("risk", {"state": "halted", "reason": "loss", "since": T0.isoformat()})
        state.put("markets", ["KXA", "KXB"])
        for i in range(n):
            state.write_fill(BotFill(f"t{i}/ord-{i}", f"ord-{i}", "KXA", BookSide.BID if i % 2 else BookSide.ASK,
                                     D("0.4321"), D("1.50"), D("0.0123"), T0 + timedelta(minutes=i),
                                     FillSource.FEED if i else FillSource.ADJUSTMENT))
        state.save_order(StoredOrder("ord-9", "KXA", BookSide.BID, D("0.41"), D("5"), D("1.25"), "mm", "kbot-x"))
        state.prune(0, 0, [CarriedState(CostMethod.AVG, "KXZ", 150, (CarriedLot(150, 61000, T0, 12),), 700, 30)],
                    [CarriedStats("KXZ", 4, D("6.5"), D("3"))])
        state.log_event(T0, "risk_state", "active -> halted", {"old": "active"})
        state.log_event(T0, "risk_state", "active -> halted", {"old": "active"})  # two equal events stay two
        state.log_decision(T0, "KXA", {"bid": "0.40"}, [{"side": "bid"}], [])
        state.flush()


def _signals(store) -> None:
    s = store.signals()
    cycle = s.begin_cycle(T0, mode="simulate", profile="btc")
    health = [HealthRecord(cycle, "coinbase", "ok", T0, 120), HealthRecord(cycle, "kraken", "failed", T0, None, "503")]
    sig = SignalRecord("KXA", "btcd", T0, "bs", D("0.6123"), D("0.545"), D("0.5500"), 412, D("0.8"), "buy_yes",
                       (("spot", "97512.25"),), cycle)
    [sid] = s.record_cycle(health, [sig])
    s.record_signal(SignalRecord("KXB", "btcd", T0, "bs", D("0.1"), None, None, None, D("0.5"), "none"))
    s.record_attempt(AttemptRecord(T0, "KXA", "buy_yes", "simulate", AttemptOutcome.FILLED, D("2"), D("0.56"), sid,
                                   cycle, "paper:1", None, D("1.50"), D("0.5533"), D("0.0175")))
    s.finish_cycle(cycle, finished=T0 + timedelta(seconds=5), status=CycleStatus.DEGRADED, markets=2, signals=2,
                   attempts=1)
    s.begin_cycle(T0 + timedelta(minutes=1), mode="simulate", profile="btc")  # still running


def copy(source: str, target: str):
    clock = ReplayClock()
    src, dst = open_store(source, env="sim"), open_store(target, env="sim", clock=clock)
    try:
        return copy_store(src, dst, clock)
    finally:
        src.close()
        dst.close()


def contents(url: str) -> dict:
    """Everything a store holds, without the ids that mean nothing across stores."""
    store = open_store(url, env="sim")
    try:
        j = store.journal()
        out: dict = {
            "identity": j.exchange_identity(),
            "events": [(e.time, e.kind, e.client_order_id, e.order_id, e.env, e.ticker, e.book_side, e.yes_price,
                        e.count, e.time_in_force, e.status, e.code, e.message, e.extra, e.owner, e.deadline)
                       for e in j.order_events()],
            "fills": j.fills(), "settlements": j.settlements(), "errors": [(e.time, e.kind, e.message, e.context)
                                                                          for e in j.errors()],
            "cursors": [j.sync_cursor(c) for c in SyncCursor],
            "csv": [line for chunk in j.trade_csv() for line in chunk],
            "bots": store.bots(),
        }
        for bot in store.bots():
            st = store.bot_state(bot=bot)
            out[bot] = ({k: st.get(k) for k in st.keys()}, [(s.fill, s.folded) for s in st.fills()], st.orders(),
                        st.carried(), st.carried_stats(), [(e.ts, e.kind, e.message, e.data) for e in st.events()],
                        [(d.ts, d.ticker, d.inputs, d.targets, d.actions) for d in st.decisions()])
        sig = store.signals()
        by_id = {s.id: s for s in sig.signals()}
        out["signals"] = [(s.ticker, s.at, s.model_prob, s.market_mid, s.trade_price, s.inputs, s.direction,
                           s.cycle_id is not None) for s in sig.signals()]
        out["attempts"] = [(a.at, a.outcome, a.count, a.fill_price, a.fee,
                            by_id[a.signal_id].ticker if a.signal_id is not None else None) for a in sig.attempts()]
        out["cycles"] = [(c.started, c.finished, c.status, c.mode, c.profile, c.markets, c.signals, c.attempts,
                          [(h.source, h.status, h.at, h.latency_ms, h.reason) for h in sig.health(c.id)])
                         for c in sig.cycles()]
        snap = store.runtime_config().snapshot()
        out["runtime"] = ({t: (dict(r.values), r.updated_at, r.updated_by) for t, r in snap.markets.items()},
                          (dict(snap.global_record.values), snap.global_record.updated_at)
                          if snap.global_record else None)
        out["alerts"] = [replace(e, id=None) for e in store.alerts().events()]
        return out
    finally:
        store.close()


def test_everything_arrives_exactly(urls):
    source, target = urls
    populate(source)
    report = copy(source, target)
    assert report.ok, report.rows
    assert report.skipped == []
    assert contents(target) == contents(source)
    rows = {r.what: r for r in report.rows}
    assert rows["journal order events"].source == "8" and rows["journal order events"].copied == 8
    assert rows["journal fills"].target == "3" and rows["bot east fills"].target == "3"
    assert rows["bot default events"].target == "2" and rows["signal health"].target == "2"
    assert rows["realized P&L"].source == rows["realized P&L"].target
    assert D(rows["fees"].target) == D("0.0525")  # three fills' fees, exactly
    assert rows["alert events"].target == "3" and rows["alert events"].copied == 3


def test_a_second_copy_copies_nothing(urls):
    source, target = urls
    populate(source)
    copy(source, target)
    again = copy(source, target)
    assert again.ok and sum(again.copied.values()) == 0
    assert all(not r.copied for r in again.rows)
    assert contents(target) == contents(source)


def test_new_records_in_the_source_are_copied_by_the_next_run(urls):
    source, target = urls
    populate(source)
    copy(source, target)
    store = open_store(source, env="sim")
    try:
        store.journal().record_fills([fill(7, minutes=200)])
        store.bot_state(bot="east").log_event(T0, "kill", "stopped")
        store.journal().record_outcome("kbot-e-1", "cancelled", order_id="ord-1", status="canceled")
    finally:
        store.close()
    report = copy(source, target)
    assert report.ok
    assert report.copied == {"journal fills": 1, "bot east events": 1, "journal order events": 1}
    assert contents(target) == contents(source)


def test_a_target_holding_more_than_the_source_fails_the_check(urls):
    source, target = urls
    populate(source)
    store = open_store(target, env="sim")
    try:
        store.journal().record_fills([fill(99, minutes=300)])
    finally:
        store.close()
    report = copy(source, target)
    assert not report.ok
    bad = {r.what for r in report.rows if not r.ok}
    assert "journal fills" in bad and "fees" in bad


def test_a_target_with_other_events_for_an_order_is_refused(urls):
    source, target = urls
    populate(source)
    store = open_store(target, env="sim")
    try:
        store.journal().record_intent("kbot-e-0", "KXA", "ask", D("0.3"), D("1"), "good_till_canceled", "sim")
    finally:
        store.close()
    with pytest.raises(StorageError, match="kbot-e-0"):
        copy(source, target)


def _env(tmp_path) -> dict:
    return {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
            "NO_COLOR": "1", "COLUMNS": "200", "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "",
            "KALSHI_PRIVATE_KEY_PATH": "", "KALSHI_STORE": ""}


def test_the_command_prints_the_check_and_is_idempotent(tmp_path):
    source, target = f"sqlite://{tmp_path}/a/", f"sqlite://{tmp_path}/b/"
    populate(source)
    runner = CliRunner()
    first = runner.invoke(app, ["store", "copy", "--from", source, "--to", target], env=_env(tmp_path))
    assert first.exit_code == 0, first.output
    assert "journal fills" in first.output and "realized P&L" in first.output and "DIFFERS" not in first.output
    second = runner.invoke(app, ["store", "copy", "--from", source, "--to", target, "--json"], env=_env(tmp_path))
    assert second.exit_code == 0, second.output
    doc = json.loads(second.stdout)
    assert doc["ok"] and all(r["ok"] for r in doc["rows"])
    assert all(r["copied"] in (0, None) for r in doc["rows"])


def test_the_command_exits_3_when_the_stores_differ(tmp_path):
    source, target = f"sqlite://{tmp_path}/a/", f"sqlite://{tmp_path}/b/"
    populate(source)
    store = open_store(target, env="sim")
    try:
        store.bot_state(bot="west").put("bot_id", "w")
    finally:
        store.close()
    r = CliRunner().invoke(app, ["store", "copy", "--from", source, "--to", target], env=_env(tmp_path))
    assert r.exit_code == 3, r.output
    assert "DIFFERS" in r.output and "bot west keys" in r.output and "does not match" in r.output


@pytest.mark.parametrize("args, words", [
    (["--from", "ftp://x", "--to", "sqlite:///tmp/b/"], "--from: unknown storage backend"),
    (["--from", "{a}", "--to", "not a url"], "--to:"),
    (["--from", "{a}", "--to", "{a}"], "same store"),
    (["--from", "{a}", "--to", "{b}", "--env", "staging"], "--env must be"),
    (["--from", "{missing}", "--to", "{b}"], "no store at"),
    (["--from", "{a}"], "Missing option '--to'"),
])
def test_bad_arguments_are_usage_errors(tmp_path, args, words):
    populate(f"sqlite://{tmp_path}/a/")
    names = {"a": f"sqlite://{tmp_path}/a/", "b": f"sqlite://{tmp_path}/b/", "missing": f"sqlite://{tmp_path}/none/"}
    r = CliRunner().invoke(app, ["store", "copy", *[a.format(**names) for a in args]], env=_env(tmp_path))
    assert r.exit_code == 2, r.output
    assert words in r.output and "Traceback" not in r.output
    assert not (tmp_path / "b").exists() and not (tmp_path / "none").exists()


def test_another_environments_store_is_refused(tmp_path):
    populate(f"sqlite://{tmp_path}/a/")
    r = CliRunner().invoke(app, ["store", "copy", "--from", f"sqlite://{tmp_path}/a/", "--to",
                                 f"sqlite://{tmp_path}/b/", "--env", "prod"], env=_env(tmp_path))
    assert r.exit_code == 3 and "Traceback" not in r.output
