"""Bot state persistence through the store (SQLite): a round trip, pruning with exact totals, HALTED surviving
restarts until resume, and the upgrade of a schema-1 file made by the previous release (a newer file is refused,
untouched).  What every adapter must do is in tests/store/test_botstate_contract.py."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.auto.botconfig import BotConfig
from kalshi_trading.auto.ledger import BotFill, FillSource, OrderRecord
from kalshi_trading.auto.runner import restore_risk, resume, status
from kalshi_trading.auto.types import RiskState
from kalshi_trading.auto.underlying import WallClock
from kalshi_trading.cli.main import app
from kalshi_trading.errors import JournalError
from kalshi_trading.models import BookSide
from kalshi_trading.store.botstate import LogBounds
from tests.auto.states import open_state

D = Decimal
T = "KXTEST-26JAN01-T50"
T2 = "KXTEST-26JAN01-T60"
T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
V1_DUMP = Path(__file__).parent / "fixtures" / "bot_v1.sql"
V1_DAY = datetime(2026, 1, 3, 12, tzinfo=timezone.utc)  # when the schema-1 file was last written


def test_round_trip(tmp_path):
    with open_state(tmp_path) as state:
        ledger = state.load_ledger()
        ledger.roll_day(T0)
        ledger.add_order(OrderRecord("o1", T, BookSide.BID, D("0.41"), D(5), D(0), "mm:bid", "c1"))
        ledger.add_order(OrderRecord("o2", T, BookSide.ASK, D("0.55"), D(1), D(0), "mm:ask", "c2"))
        for fill in (BotFill("t1/o1", "o1", T, BookSide.BID, D("0.41"), D(2), D("0.01"), T0),
                     BotFill("t2/o2", "o2", T, BookSide.ASK, D("0.55"), D(1), D("0.0175"), T0 + timedelta(seconds=5))):
            assert ledger.apply_fill(fill)  # the ledger persists it (and the order it completes) at once
        state.log_decision(T0, T, {"bid": D("0.40")}, [{"side": "bid"}], [{"kind": "place"}])
        state.log_event(T0, "denied", "[inventory_cap] too much")
    with open_state(tmp_path) as state:
        again = state.load_ledger()
        again.roll_day(T0)
        assert again.position(T) == D(1) == ledger.position(T)
        assert again.realized() == ledger.realized() == D("0.14")
        assert again.fees() == D("0.0275")
        assert again.realized_today == ledger.realized_today == D("0.1125")
        assert again.last_fill_ts == T0 + timedelta(seconds=5)
        assert set(again.orders) == {"o1"}  # o2 filled completely
        assert again.orders["o1"].remaining == D(3) and again.orders["o1"].filled == D(2)
        assert again.seen == {"t1/o1", "t2/o2"}
        assert [f.key for f in state.fills()] == ["t1/o1", "t2/o2"]
        assert state.decisions()[0]["inputs"] == {"bid": "0.40"}
        assert state.events()[0]["kind"] == "denied"


def test_adjustments_are_facts_of_their_own_and_come_back(tmp_path):
    with open_state(tmp_path) as state:
        ledger = state.load_ledger()
        ledger.apply_fill(BotFill("t1/o", "o", T, BookSide.BID, D("0.40"), D(2), D("0.01"), T0))
        ledger.adjust(T, D(5), D("0.50"), T0 + timedelta(seconds=1))
        assert [f.order_id for f in state.fills()] == ["o"]
        assert [(a.source, a.count, a.yes_price) for a in state.adjustments()] == [(FillSource.ADJUSTMENT, D(3),
                                                                                    D("0.50"))]
    with open_state(tmp_path) as state:
        again = state.load_ledger()
        assert again.position(T) == D(5) and again.pnl(T).cost_basis == D("2.30")
        assert again.stats_of(T).fills == 1


def test_logs_are_bounded(tmp_path):
    with open_state(tmp_path, LogBounds(decisions=10, events=5)) as state:
        for i in range(50):
            state.log_decision(T0, T, {"i": i}, [], [])
            state.log_event(T0, "x", str(i))
        state.flush()
        assert len(state.decisions(100)) == 10
        assert [e["message"] for e in state.events(100)] == [str(i) for i in range(45, 50)]


def test_halted_survives_restart_until_resume(tmp_path):
    clock = WallClock()
    with open_state(tmp_path) as state:
        risk = restore_risk(state, BotConfig(), clock)
        assert risk.state is RiskState.ACTIVE
        risk.halt("daily loss limit: P&L today -11 <= -10")
        state.save_risk(risk.to_state())
    for _ in range(2):  # restarts
        with open_state(tmp_path) as state:
            risk = restore_risk(state, BotConfig(), clock)
            assert risk.state is RiskState.HALTED
            assert "daily loss" in risk.reason
            assert status(tmp_path, state)["risk_state"] == "halted"
    with open_state(tmp_path) as state:
        assert resume(state, BotConfig(), clock) == ("halted", "active")
    with open_state(tmp_path) as state:
        assert restore_risk(state, BotConfig(), clock).state is RiskState.ACTIVE
        assert any("resumed" in e["message"] for e in state.events())


def test_fills_older_than_the_daily_window_are_pruned_and_totals_stay(tmp_path):
    with open_state(tmp_path) as state:
        ledger = state.load_ledger()
        old = [BotFill(f"t{i}/o", "o", T, BookSide.BID, D("0.40"), D(1), D("0.01"), T0 - timedelta(days=3, hours=i))
               for i in range(5)]
        closing = BotFill("c/o", "o", T, BookSide.ASK, D("0.47"), D(2), D("0.01"), T0 - timedelta(days=2))
        recent = [BotFill(f"r{i}/o", "o", T, BookSide.BID, D("0.40"), D(1), D("0.01"), T0 - timedelta(hours=i))
                  for i in reversed(range(3))]  # oldest first
        for f in old + [closing] + recent:
            ledger.apply_fill(f)
        before = (ledger.position(T), ledger.realized(), ledger.fees(), ledger.pnl(T).cost_basis)
        assert ledger.prune(T0) == 6
        assert state.fill_keys() == {f.key for f in recent}
        assert ledger.seen == {f.key for f in recent}
        for method in ("avg", "fifo"):
            again = state.load_ledger(method)
            assert again.stats_of(T).fills == 9 and again.stats_of(T).volume == D(10)  # totals are kept
            if method == "avg":
                assert (again.position(T), again.realized(), again.fees(), again.pnl(T).cost_basis) == before
        assert state.load_ledger("fifo").realized() == D("0.14")  # the two oldest lots closed at 0.47
        # nothing within an hour of the newest processed fill goes, whatever its age
        assert state.prune_fills(T0 + timedelta(days=30), T0) == ["r2/o"]  # two hours before the newest
        assert state.fill_keys() == {"r0/o", "r1/o"}
        assert state.load_ledger().position(T) == D(6)


def test_fills_of_a_working_order_are_kept(tmp_path):
    with open_state(tmp_path) as state:
        ledger = state.load_ledger()
        ledger.add_order(OrderRecord("w", T, BookSide.BID, D("0.40"), D(5)))
        ledger.apply_fill(BotFill("t1/w", "w", T, BookSide.BID, D("0.40"), D(2), D(0), T0 - timedelta(days=5)))
        assert ledger.prune(T0) == 0  # its filled count derives from it
        assert state.load_orders()["w"].remaining == D(3)


# --- the upgrade of a file made by the previous release ------------------------------------------------------
def v1_file(tmp_path: Path) -> Path:
    path = tmp_path / "bot.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(V1_DUMP.read_text())
    conn.close()
    return path


def test_a_schema_1_file_is_upgraded_on_first_open_with_every_figure_kept(tmp_path):
    v1_file(tmp_path)
    with open_state(tmp_path) as state:
        assert state.schema_version() == 2
        ledger = state.load_ledger()
        ledger.roll_day(V1_DAY)
        assert ledger.positions() == {T: D(2), T2: D(-2)}
        assert (ledger.pnl(T).realized_pnl, ledger.pnl(T).fees_paid, ledger.pnl(T).cost_basis) == (
            D("0.216667"), D("0.0325"), D("0.666667"))
        assert (ledger.pnl(T2).realized_pnl, ledger.pnl(T2).fees_paid, ledger.pnl(T2).cost_basis) == (
            D("0.1"), D("0.0214"), D("0.8"))  # short 2 YES at 0.60 = long 2 NO at 0.40
        assert ledger.realized_today == D("0.184167")  # the day's P&L as the old file had it
        assert ledger.last_fill_ts == V1_DAY + timedelta(seconds=9)
        assert ledger.seen == {"a1/o1", "a2/z", "a3/o2"}
        assert ledger.stats_of(T).fills == 3 and ledger.stats_of(T2).max_abs_position == D(3)
        o1 = ledger.orders["o1"]
        assert (o1.remaining, o1.filled, o1.client_order_id) == (D(3), D(2), "kbot-ab12cd34-1")
        assert state.bot_id() == "ab12cd34" and state.risk_state()["state"] == "halted"
        assert state.get("markets") == [T] and state.events()[0]["kind"] == "risk_state"
        assert state.decisions()[0]["inputs"] == {"bid": "0.40"}
        # trading goes on from there, exactly: sell the 2 YES at 0.60, buy the 2 NO back at YES 0.30
        assert not ledger.apply_fill(BotFill("a3/o2", "o2", T, BookSide.ASK, D("0.55"), D(1), D("0.0175"),
                                             V1_DAY))  # known: not counted again
        ledger.apply_fill(BotFill("a4/o3", "o3", T, BookSide.ASK, D("0.60"), D(2), D("0.01"), V1_DAY + timedelta(1)))
        ledger.apply_fill(BotFill("b3/o4", "o4", T2, BookSide.BID, D("0.30"), D(2), D("0.01"), V1_DAY + timedelta(1)))
        assert ledger.realized() == D("0.216667") + D("0.533333") + D("0.1") + D("0.6")
        assert ledger.positions() == {T: 0, T2: 0}
    with open_state(tmp_path) as state:  # and it stays so across restarts and prunes
        ledger = state.load_ledger()
        ledger.roll_day(V1_DAY + timedelta(days=3))
        assert ledger.prune(V1_DAY + timedelta(days=3)) == 0  # o1 still works: its fill (the first) is needed
        ledger.drop("o1")
        assert ledger.prune(V1_DAY + timedelta(days=3)) == 3  # the upgraded fills go; the newest two are kept
        assert state.load_ledger().realized() == D("1.45") and state.load_ledger("fifo").realized() == D("1.45")
        assert state.load_ledger().fees() == D("0.0325") + D("0.0214") + D("0.02")


def test_the_upgrade_is_one_transaction(tmp_path):
    path = v1_file(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE positions SET cost = 'not a number' WHERE ticker = ?", (T2,))
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="cannot upgrade the bot state from schema 1"):
        open_state(tmp_path)
    conn = sqlite3.connect(path)  # left exactly as it was: schema 1 tables, schema 1 mark
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"positions", "fills", "orders"} <= tables and not {"carry", "fills_v1"} & tables
    assert conn.execute("SELECT value FROM kv WHERE key = 'schema'").fetchone() == ("1",)
    conn.close()


def test_a_newer_file_is_refused_untouched(tmp_path):
    path = tmp_path / "bot.sqlite"
    with open_state(tmp_path) as state:
        with pytest.raises(ValueError, match="belongs to the store"):
            state.put("schema", 3)  # the adapter's own key
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE kv SET value = '3' WHERE key = 'schema'")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="schema 3 is newer than this program.*upgrade kalshi-trading"):
        open_state(tmp_path)
    assert path.read_bytes() == before
    env = {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": ""}
    (tmp_path / "data" / "sim").mkdir(parents=True)
    (tmp_path / "data" / "sim" / "bot.sqlite").write_bytes(before)
    result = CliRunner().invoke(app, ["auto", "status"], env=env)
    assert result.exit_code == 3, result.output
    assert "newer than this program" in result.output and "Traceback" not in result.output


def test_kalshi_auto_status_upgrades_an_old_file_and_shows_it(tmp_path):
    data = tmp_path / "data"
    (data / "sim").mkdir(parents=True)
    v1_file(data / "sim")
    env = {"KALSHI_DATA_DIR": str(data), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
           "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": ""}
    result = CliRunner().invoke(app, ["auto", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout[result.stdout.index("{"):])
    assert doc["positions"] == {T2: "-2.00", T: "2.00"} and doc["risk_state"] == "halted"
    assert doc["realized_pnl"] == "0.316667" and doc["fees"] == "0.053900"
    assert [(o["order_id"], o["remaining"]) for o in doc["working_orders"]] == [("o1", "3")]
    fifo = CliRunner().invoke(app, ["auto", "status", "--method", "fifo"], env=env)
    assert fifo.exit_code == 0 and "realized 0.316667 (fifo)" in fifo.output
    bad = CliRunner().invoke(app, ["auto", "status", "--method", "lifo"], env=env)
    assert bad.exit_code == 2 and "--method must be avg or fifo" in bad.output
