"""Bot state persistence: a round trip through SQLite, and HALTED surviving restarts until resume."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from kalshi_trading.auto.botconfig import BotConfig
from kalshi_trading.auto.ledger import BotFill, Ledger, OrderRecord
from kalshi_trading.auto.runner import resume, restore_risk, status
from kalshi_trading.auto.state import BotState
from kalshi_trading.auto.types import RiskState
from kalshi_trading.auto.underlying import WallClock
from kalshi_trading.models import BookSide

D = Decimal
T = "KXTEST-26JAN01-T50"
T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def test_round_trip(tmp_path):
    path = tmp_path / "bot.sqlite"
    with BotState.open(path) as state:
        ledger = Ledger()
        ledger.roll_day(T0)
        ledger.orders["o1"] = OrderRecord("o1", T, BookSide.BID, D("0.41"), D(3), D(0), "mm:bid", "c1")
        ledger.orders["o2"] = OrderRecord("o2", T, BookSide.ASK, D("0.55"), D(1), D(0), "mm:ask", "c2")
        state.save_order(ledger.orders["o1"])
        state.save_order(ledger.orders["o2"])
        for fill in (BotFill("t1/o1", "o1", T, BookSide.BID, D("0.41"), D(2), D("0.01"), T0),
                     BotFill("t2/o2", "o2", T, BookSide.ASK, D("0.55"), D(1), D("0.0175"), T0 + timedelta(seconds=5))):
            assert ledger.apply_fill(fill)
            state.record_fill(fill, ledger)
        state.log_decision(T0, T, {"bid": D("0.40")}, [{"side": "bid"}], [{"kind": "place"}])
        state.log_event(T0, "denied", "[inventory_cap] too much")
    with BotState.open(path) as state:
        again = state.load_ledger()
        assert again.position(T) == D(1) == ledger.position(T)
        assert again.book(T).realized == ledger.book(T).realized == D("0.14")
        assert again.book(T).fees == D("0.0275")
        assert again.realized_today == ledger.realized_today
        assert again.day == T0.date()
        assert again.last_fill_ts == T0 + timedelta(seconds=5)
        assert set(again.orders) == {"o1"}  # o2 filled completely
        assert again.orders["o1"].remaining == D(1) and again.orders["o1"].filled == D(2)
        assert again.seen == {"t1/o1", "t2/o2"}
        assert [f.key for f in state.fills()] == ["t1/o1", "t2/o2"]
        assert state.decisions()[0]["inputs"] == {"bid": "0.40"}
        assert state.events()[0]["kind"] == "denied"


def test_logs_are_bounded(tmp_path):
    with BotState.open(tmp_path / "bot.sqlite", max_decisions=10, max_events=5) as state:
        for i in range(50):
            state.log_decision(T0, T, {"i": i}, [], [])
            state.log_event(T0, "x", str(i))
        state.flush()
        assert len(state.decisions(100)) == 10
        assert [e["message"] for e in state.events(100)] == [str(i) for i in range(45, 50)]


def test_halted_survives_restart_until_resume(tmp_path):
    path = tmp_path / "bot.sqlite"
    clock = WallClock()
    with BotState.open(path) as state:
        risk = restore_risk(state, BotConfig(), clock)
        assert risk.state is RiskState.ACTIVE
        risk.halt("daily loss limit: P&L today -11 <= -10")
        state.save_risk(risk.to_state())
    for _ in range(2):  # restarts
        with BotState.open(path) as state:
            risk = restore_risk(state, BotConfig(), clock)
            assert risk.state is RiskState.HALTED
            assert "daily loss" in risk.reason
            assert status(tmp_path, state)["risk_state"] == "halted"
    with BotState.open(path) as state:
        assert resume(state, BotConfig(), clock) == ("halted", "active")
    with BotState.open(path) as state:
        assert restore_risk(state, BotConfig(), clock).state is RiskState.ACTIVE
        assert any("resumed" in e["message"] for e in state.events())


def test_fills_older_than_the_daily_window_are_pruned_and_totals_stay(tmp_path):
    with BotState.open(tmp_path / "bot.sqlite") as state:
        ledger = Ledger()
        old = [BotFill(f"t{i}/o", "o", T, BookSide.BID, D("0.40"), D(1), D("0.01"), T0 - timedelta(days=3, hours=i))
               for i in range(5)]
        recent = [BotFill(f"r{i}/o", "o", T, BookSide.BID, D("0.40"), D(1), D("0.01"), T0 - timedelta(hours=i))
                  for i in range(3)]
        for f in old + recent:
            ledger.apply_fill(f)
            state.record_fill(f, ledger)
        assert state.prune_fills(T0, ledger.last_fill_ts) == 5
        assert state.fill_keys() == {f.key for f in recent}
        again = state.load_ledger()
        assert again.position(T) == D(8) and again.book(T).fees == D("0.08")  # totals are kept
        # nothing within an hour of the newest processed fill goes, whatever its age
        assert state.prune_fills(T0 + timedelta(days=30), T0) == 1  # r2, two hours before the newest
        assert state.fill_keys() == {"r0/o", "r1/o"}
