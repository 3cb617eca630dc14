"""The parts around a run, on real objects: the store probe against a real store that becomes unusable, store
calls timed through a real bot state, samples folded into histograms across scrapes (a rotated deque included),
every message logged with its fields, and the digests' text (fills read the right way round, money to the cent)."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

from kalshi_trading.auto.state import BotState
from kalshi_trading.models import BookSide, Fill, Settlement, Side
from kalshi_trading.ops.alerts import AlertEngine
from kalshi_trading.ops.digest import bot_digest, fill_line, settlement_line, trade_notices
from kalshi_trading.ops.metrics import Buckets, NewSamples, StoreTimes
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.ops.runtime import LoggingSink, TimedCalls, probe_store
from kalshi_trading.ops.settings import AlertSettings
from kalshi_trading.store import open_store
from kalshi_trading.store.alerts import MessageKind, Severity
from tests.ops.helpers import T0, RecordingSink, snap


def test_the_store_probe_sees_a_store_become_unusable(tmp_path):
    store = open_store(f"sqlite://{tmp_path / 'data'}/", env="sim")
    sink = RecordingSink()
    eng = AlertEngine(AlertSettings(), sink, "east")
    store.journal()  # created and usable
    eng.observe_store(probe_store(store, T0))
    assert sink.sent == []
    store.close()
    (tmp_path / "data" / "journal.sqlite").write_bytes(b"not a database at all" * 10)
    eng.observe_store(probe_store(store, T0 + timedelta(minutes=1)))
    [m] = sink.sent
    assert m.rule == "store" and m.severity is Severity.CRITICAL and str(tmp_path) in m.text


def test_store_calls_are_timed_through_a_real_bot_state(tmp_path):
    store = open_store(f"sqlite://{tmp_path}/", env="sim")
    samples: deque = deque(maxlen=100)
    state = BotState(store.bot_state())
    state.store = TimedCalls(state.store, samples)
    state.put("markets", ["KX-1"])
    assert state.texts("markets") == ["KX-1"]  # the proxy behaves as the port
    state.log_event(T0, "note", "hello")
    times = StoreTimes("bot_state", samples)
    times.fold()
    assert {"put", "get", "log_event"} <= set(times.by_op) and times.by_op["put"].n == 1
    state.put("env", "SIM")
    times.fold()  # only what came since
    assert times.by_op["put"].n == 2 and times.by_op["get"].n == 1
    store.close()


def test_new_samples_across_scrapes_and_a_rotated_deque():
    samples: deque = deque(maxlen=5)
    new = NewSamples(samples)
    assert new.take() == []
    # samples are computed floats, each its own object (as the loop's `perf_counter()` differences are)
    samples.extend([float("0.1"), float("0.2")])
    assert new.take() == [0.1, 0.2] and new.take() == []
    samples.append(float("0.2"))  # an equal value is a new sample (told apart by identity)
    assert new.take() == [0.2]
    samples.extend(float(x) for x in ("0.4", "0.5", "0.6", "0.7", "0.8", "0.9"))  # more than it holds: oldest lost
    assert new.take() == [0.5, 0.6, 0.7, 0.8, 0.9]


def test_buckets_are_cumulative_with_the_sum_and_count():
    b = Buckets((0.001, 0.01, 0.1))
    b.add([0.0005, 0.001, 0.005, 0.05, 3.0])
    assert b.cumulative() == [("0.001", 2), ("0.01", 3), ("0.1", 4), ("+Inf", 5)]
    assert b.n == 5 and abs(b.total - 3.0565) < 1e-9


def test_every_message_is_logged_with_its_fields_then_passed_on(caplog):
    inner = RecordingSink()
    sink = LoggingSink(inner)
    alert = Message(MessageKind.ALERT, Severity.CRITICAL, "line one\nline two", "east", rule="halted", title="HALT")
    with caplog.at_level(logging.INFO, logger="kalshi_trading.ops.runtime"):
        sink.submit(alert)
        sink.suppressed(alert, "within the 1 min cooldown")
    first, second = caplog.records
    assert first.levelno == logging.CRITICAL and "line one | line two" in first.getMessage()
    assert (first.rule, first.kind, first.severity, first.source) == ("halted", "alert", "critical", "east")
    assert second.levelno == logging.INFO and second.reason == "within the 1 min cooldown"
    assert inner.sent == [alert] and inner.held == [(alert, "within the 1 min cooldown")]
    LoggingSink(None).submit(alert)  # no channel: the log only


def fill(outcome: Side, book: BookSide, price: str, count: str = "2") -> Fill:
    return Fill("f1", "o1", "KX-1", outcome, book, D(count), D(price), False, D("0.0175"), T0)


def test_fills_read_the_way_the_trader_placed_them():
    assert "bought 2 YES @ 40¢" in fill_line(fill(Side.YES, BookSide.BID, "0.40"))
    assert "sold 2 YES @ 40¢" in fill_line(fill(Side.YES, BookSide.ASK, "0.40"))
    assert "bought 2 NO @ 60¢" in fill_line(fill(Side.NO, BookSide.ASK, "0.40"))
    assert "sold 2 NO @ 60¢" in fill_line(fill(Side.NO, BookSide.BID, "0.40"))
    assert "@ 42.5¢" in fill_line(fill(Side.YES, BookSide.BID, "0.425", "1.5")) and "1.5 YES" in \
        fill_line(fill(Side.YES, BookSide.BID, "0.425", "1.5"))
    assert "maker, fee $0.02" in fill_line(fill(Side.YES, BookSide.BID, "0.40"))


def test_a_settlement_line_and_the_notices():
    s = Settlement("KX-1", "KX", "no", D(0), D(0), D(3), D("1.80"), D("3.00"), T0, D("0.004"))
    assert "KX-1 settled NO: held YES 0 / NO 3, paid out $3.00 against cost $1.80, fee $0.00; net $1.20" in \
        settlement_line(s)
    notices = trade_notices([fill(Side.YES, BookSide.BID, "0.40")] * 2, [s], env="DEMO")
    assert [(m.kind, m.title) for m in notices] == [(MessageKind.FILL, "[DEMO] 2 new fills"),
                                                    (MessageKind.SETTLEMENT, "[DEMO] 1 market settled")]
    assert trade_notices([], [], env="SIM") == []


def test_the_bot_digest_counts_since_the_previous_one():
    first = snap(60, fills=3, placed=10, amended=4, cancelled=2, pnl_today=D("-1.005"), realized=D("0.5"),
                 unrealized=D("-1.2"), fees=D("0.305"), positions={"KX-1": D(3), "KX-2": D(0)})
    text = bot_digest(first).text
    assert "3 fills; orders placed 10, amended 4, cancelled 2" in text and "positions: KX-1 3" in text
    assert "P&L today -$1.00" in text and "net -$1.00" in text and "KX-2" not in text
    later = replace(first, at=first.at + timedelta(hours=1), fills=5, placed=14)
    message = bot_digest(later, first, final=True)
    assert "2 fills; orders placed 4, amended 0" in message.text and "stopped" in message.text
    assert message.kind is MessageKind.DIGEST and message.title == "bot east final digest"
