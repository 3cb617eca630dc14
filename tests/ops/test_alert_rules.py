"""The alert rules over snapshots: each fires, respects its cooldown (the held-back message recorded with its reason),
can be switched off, and re-arms when its condition clears.  Real rule objects and the real engine; time is the
snapshots' (no clock is read)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from kalshi_trading.ops.alerts import AlertEngine, CycleSnapshot, StoreProbe, money, span
from kalshi_trading.ops.settings import AlertSettings, build_settings
from kalshi_trading.signals.types import SourceHealth, SourceStatus
from kalshi_trading.store.alerts import MessageKind, Severity
from tests.ops.helpers import T0, RecordingSink, snap


def engine(table: dict | None = None) -> tuple[AlertEngine, RecordingSink]:
    sink = RecordingSink()
    settings = build_settings(table or {}) if table is not None else AlertSettings()
    return AlertEngine(settings, sink, "east"), sink


# --- each rule fires ---------------------------------------------------------------------------------------
def test_halted_fires_critical_naming_the_rule_that_halted():
    eng, sink = engine()
    eng.observe_bot(snap(risk_state="active"))
    assert sink.sent == []
    eng.observe_bot(snap(1, risk_state="halted", risk_rule="daily_loss",
                         risk_reason="daily loss limit: P&L today -10.20 <= -10"))
    [m] = sink.sent
    assert (m.kind, m.severity, m.rule, m.source) == (MessageKind.ALERT, Severity.CRITICAL, "halted", "east")
    assert "HALTED by rule daily_loss" in m.text and "-10.20 <= -10" in m.text and "daily_loss" in m.title


def test_daily_pnl_at_or_below_the_threshold_and_the_default_threshold():
    eng, sink = engine({"daily_pnl": {"below": -5}})
    eng.observe_bot(snap(pnl_today=D("-4.99")))
    assert sink.sent == []
    eng.observe_bot(snap(1, pnl_today=D("-5.00")))  # at the threshold counts
    assert sink.rules() == ["daily_pnl"] and "-$5.00" in sink.sent[0].text
    default, out = engine()  # no threshold: half of max_daily_loss (10) below zero
    default.observe_bot(snap(pnl_today=D("-4.99")))
    default.observe_bot(snap(1, pnl_today=D("-5.0001")))
    assert out.rules() == ["daily_pnl"] and "threshold -$5.00" in out.sent[0].text


def test_api_errors_sustained_within_the_window_by_kind():
    eng, sink = engine({"api_errors": {"count": 3, "window": "5m"}})
    eng.observe_bot(snap(0, api_errors=0))
    eng.observe_bot(snap(1, api_errors=1, api_error_kinds={("place", "TransientError"): 1}))
    eng.observe_bot(snap(7, api_errors=3, api_error_kinds={("place", "TransientError"): 3}))
    assert sink.sent == []  # 3 errors, but over 7 minutes: only 2 within the last 5
    eng.observe_bot(snap(8, api_errors=5, api_error_kinds={("place", "TransientError"): 4,
                                                           ("cancel", "RejectedError"): 1}))
    [m] = sink.sent
    assert m.rule == "api_errors" and "4 API errors within 5 min" in m.text
    assert "place TransientError x3" in m.text and "cancel RejectedError x1" in m.text


def test_no_fills_while_quoting_counts_from_the_last_fill_or_the_start():
    eng, sink = engine({"no_fills": {"after": "2h"}})
    eng.observe_bot(snap(119, working=2))
    assert sink.sent == []
    eng.observe_bot(snap(121, working=0))  # not quoting: nothing to say
    assert sink.sent == []
    eng.observe_bot(snap(122, working=2))
    assert sink.rules() == ["no_fills"] and "none since the start" in sink.sent[0].text
    late, out = engine({"no_fills": {"after": "2h"}})
    late.observe_bot(snap(200, working=2, last_fill=T0 + timedelta(minutes=100)))
    assert out.sent == []  # 100 minutes since the last fill
    late.observe_bot(snap(221, working=2, last_fill=T0 + timedelta(minutes=100)))
    assert out.rules() == ["no_fills"]


def health(source: str, status: SourceStatus, reason: str | None = None) -> SourceHealth:
    return SourceHealth(source, status, T0, 10, reason)


def cycle(n: int, *health_rows: SourceHealth, status: str = "degraded", error: str | None = None) -> CycleSnapshot:
    return CycleSnapshot(T0 + timedelta(minutes=n), n, status, tuple(health_rows), error)


def test_source_down_for_n_cycles_each_source_its_own_episode():
    eng, sink = engine({"source_down": {"cycles": 3}})
    bad = health("coinbase", SourceStatus.FAILED, "HTTP 500")
    eng.observe_cycle(cycle(1, bad, health("kraken", SourceStatus.OK)))
    eng.observe_cycle(cycle(2, bad, health("kraken", SourceStatus.GARBAGE, "not JSON")))
    assert sink.sent == []
    eng.observe_cycle(cycle(3, bad, health("kraken", SourceStatus.GARBAGE, "not JSON")))
    assert [m.text.split(":")[1].strip() for m in sink.sent] == ["source coinbase down for 3 cycles in a row (cycle 3)"]
    eng.observe_cycle(cycle(4, bad, health("kraken", SourceStatus.GARBAGE, "not JSON")))
    assert len(sink.sent) == 2 and "kraken" in sink.sent[1].text and "garbage: not JSON" in sink.sent[1].text


def test_a_failed_cycle_counts_as_the_cycle_source_down():
    eng, sink = engine({"source_down": {"cycles": 2}})
    eng.observe_cycle(cycle(1, status="failed", error="exchange unavailable: HTTP 503"))
    eng.observe_cycle(cycle(2, status="failed", error="exchange unavailable: HTTP 503"))
    [m] = sink.sent
    assert "source cycle down for 2 cycles" in m.text and "HTTP 503" in m.text


def test_store_unreachable_is_critical():
    eng, sink = engine()
    eng.observe_store(StoreProbe(T0, "sqlite:///data/sim/", None))
    eng.observe_store(StoreProbe(T0, "sqlite:///data/sim/", "directory /data is not writable"))
    [m] = sink.sent
    assert m.severity is Severity.CRITICAL and m.rule == "store" and "not writable" in m.text


# --- cooldown, switched off, re-armed ----------------------------------------------------------------------
@pytest.mark.parametrize("rule, bad, good", [
    ("halted", dict(risk_state="halted", risk_rule="manual", risk_reason="operator"), dict(risk_state="active")),
    ("daily_pnl", dict(pnl_today=D(-6)), dict(pnl_today=D(0))),
    ("no_fills", dict(working=2, last_fill=None), dict(working=0)),
])
def test_a_flapping_condition_is_held_back_within_the_cooldown_then_sent(rule, bad, good):
    eng, sink = engine({"cooldown": "10m", "no_fills": {"after": "1m", "enabled": rule == "no_fills"}})
    minute = 2 if rule == "no_fills" else 0  # no_fills needs its minute since the start
    eng.observe_bot(snap(minute, **bad))
    eng.observe_bot(snap(minute + 1, **bad))  # still holding: one message per episode
    eng.observe_bot(snap(minute + 2, **good))  # cleared: re-armed
    eng.observe_bot(snap(minute + 3, **bad))  # a new episode within the cooldown
    eng.observe_bot(snap(minute + 4, **bad))
    assert sink.rules() == [rule]
    [(held, reason)] = sink.held  # recorded once, with why
    assert held.rule == rule and "within the 10 min cooldown" in reason and "if it still holds" in reason
    eng.observe_bot(snap(minute + 10, **bad))  # the cooldown is over and it still holds: sent now
    assert sink.rules() == [rule, rule]
    eng.observe_bot(snap(minute + 11, **good))
    eng.observe_bot(snap(minute + 25, **bad))  # re-armed, past the cooldown: sent at once
    assert sink.rules() == [rule, rule, rule] and len(sink.held) == 1


def test_an_episode_that_clears_within_the_cooldown_is_never_sent():
    eng, sink = engine({"daily_pnl": {"below": -5, "cooldown": "30m"}})
    eng.observe_bot(snap(0, pnl_today=D(-6)))
    eng.observe_bot(snap(1, pnl_today=D(0)))
    eng.observe_bot(snap(2, pnl_today=D(-6)))
    eng.observe_bot(snap(3, pnl_today=D(0)))
    eng.observe_bot(snap(40, pnl_today=D(0)))
    assert sink.rules() == ["daily_pnl"] and len(sink.held) == 1


def test_cooldown_zero_sends_every_episode():
    eng, sink = engine({"halted": {"cooldown": 0}})
    for minute in range(0, 6, 2):
        eng.observe_bot(snap(minute, risk_state="halted", risk_rule="manual"))
        eng.observe_bot(snap(minute + 1, risk_state="active"))
    assert sink.rules() == ["halted"] * 3 and sink.held == []


@pytest.mark.parametrize("rule, bad", [
    ("halted", dict(risk_state="halted")), ("daily_pnl", dict(pnl_today=D(-9))),
    ("api_errors", dict(api_errors=50)), ("no_fills", dict(working=2)),
])
def test_a_rule_switched_off_says_nothing(rule, bad):
    eng, sink = engine({rule: {"enabled": False}, "no_fills": {"after": "1m", "enabled": rule != "no_fills"},
                        "api_errors": {"count": 1, "enabled": rule != "api_errors"}})
    eng.observe_bot(snap(0))
    eng.observe_bot(snap(5, **bad))
    assert rule not in sink.rules() and sink.held == []


def test_switched_off_source_and_store_rules():
    eng, sink = engine({"source_down": {"enabled": False, "cycles": 1}, "store": {"enabled": False}})
    eng.observe_cycle(cycle(1, health("coinbase", SourceStatus.FAILED, "x")))
    eng.observe_store(StoreProbe(T0, "x", "gone"))
    assert sink.sent == [] and sink.held == []


def test_a_source_reruns_its_episode_after_it_recovers():
    eng, sink = engine({"source_down": {"cycles": 1, "cooldown": 0}})
    bad, good = health("kraken", SourceStatus.STALE, "old"), health("kraken", SourceStatus.OK)
    for n, row in enumerate((bad, bad, good, bad), start=1):
        eng.observe_cycle(cycle(n, row))
    assert sink.rules() == ["source_down", "source_down"]
    skipped = health("kraken", SourceStatus.SKIPPED)
    eng.observe_cycle(cycle(5, skipped))  # not asked: healthy, re-armed
    eng.observe_cycle(cycle(6, bad))
    assert len(sink.sent) == 3


def test_money_and_spans_for_people():
    assert [money(D(x)) for x in ("-0.004", "0.005", "-1.235", "12", "-0.0088")] == \
        ["$0.00", "$0.00", "-$1.24", "$12.00", "-$0.01"]
    assert [span(timedelta(seconds=s)) for s in (59, 900, 7200, 9000, 90_000, 200_000)] == \
        ["59 s", "15 min", "2 h", "2 h 30 min", "25 h", "2 d 7 h"]


def test_api_errors_cooldown_and_rearm():
    eng, sink = engine({"api_errors": {"count": 2, "window": "5m", "cooldown": "30m"}, "no_fills": {"enabled": False}})
    errors = [0, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
              4, 6]
    for minute, n in enumerate(errors):  # bursts at minutes 1, 8 and 36; each clears 5 minutes later
        eng.observe_bot(snap(minute, api_errors=n, api_error_kinds={("cancel", "TransientError"): n}))
    assert sink.rules() == ["api_errors", "api_errors"]  # minute 1, then minute 36 (past the cooldown)
    [(held, reason)] = sink.held  # the burst at minute 8, within the cooldown, cleared before it ended
    assert held.rule == "api_errors" and "30 min cooldown" in reason


def test_source_down_and_store_cooldowns_are_per_episode_and_recorded():
    eng, sink = engine({"source_down": {"cycles": 1, "cooldown": "10m"}, "store": {"cooldown": "10m"}})
    bad, good = health("kraken", SourceStatus.FAILED, "timeout"), health("kraken", SourceStatus.OK)
    for n, row in enumerate((bad, good, bad, good), start=1):
        eng.observe_cycle(cycle(n, row))
    eng.observe_cycle(cycle(5, health("coinbase", SourceStatus.FAILED, "HTTP 500")))  # another source: its own
    assert [m.title for m in sink.sent] == ["source down: kraken", "source down: coinbase"]
    assert [m.title for m, _ in sink.held] == ["source down: kraken"]
    for minute, problem in ((0, "gone"), (1, None), (2, "gone"), (12, "gone")):
        eng.observe_store(StoreProbe(T0 + timedelta(minutes=minute), "x", problem))
    assert [m.rule for m in sink.sent].count("store") == 2 and [m.rule for m, _ in sink.held].count("store") == 1
