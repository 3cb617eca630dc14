"""The SQLite journal: durability, refusal of foreign files, queries and the CSV exports written from it.

What every adapter must do is in test_journal_contract.py; this file holds what is SQLite's own (the file, WAL)."""

from __future__ import annotations

import csv
import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_trading.errors import JournalError, UsageError
from kalshi_trading.models import Fill
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.csv_export import LOT_COLUMNS, TRADE_COLUMNS, export_lots_csv, export_trades
from kalshi_trading.trading.pnl import compute_pnl
from tests.store.records import D, T0, fill, settlement

@pytest.fixture
def clock():
    now = [T0]

    def tick() -> datetime:
        now[0] += timedelta(seconds=1)
        return now[0]

    return tick


@pytest.fixture
def journal(tmp_path, clock):
    with SqliteJournal.open(tmp_path / "journal.db", clock=clock) as j:
        yield j


def test_reopen_sees_data(tmp_path, clock):
    path = tmp_path / "journal.db"
    with SqliteJournal.open(path, clock=clock) as j:
        assert j.record_fills([fill(1), fill(2)]) == 2
        j.record_intent("c1", "KXA", "bid", D("0.52"), D("10"), "good_till_canceled", "demo")
        j.record_error("network", "timeout", {"path": "/portfolio/fills"})
    with SqliteJournal.open(path, clock=clock) as j:
        assert [f.fill_id for f in j.fills()] == ["fill-1", "fill-2"]
        assert j.fills()[0] == fill(1)  # round trip is exact
        assert [e.client_order_id for e in j.pending_intents()] == ["c1"]
        assert j.errors()[0].context == {"path": "/portfolio/fills"}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_fills_are_unique(journal):
    assert journal.record_fills([fill(1), fill(2)]) == 2
    assert journal.record_fills([fill(2), fill(3), fill(3)]) == 1
    assert len(journal.fills()) == 3
    assert journal.record_settlements([settlement(), settlement()]) == 1
    assert journal.record_settlements([settlement(), settlement(ticker="KXB")]) == 1


@pytest.mark.parametrize("content", [os.urandom(4096), b"", b"hello, not a database\n" * 10])
def test_corrupt_or_foreign_file_is_refused_and_untouched(tmp_path, content):
    path = tmp_path / "journal.db"
    path.write_bytes(content)
    with pytest.raises(JournalError):
        SqliteJournal.open(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.db"]


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="another program"):
        SqliteJournal.open(path)
    assert path.read_bytes() == before


def test_journal_with_damaged_body_is_refused(tmp_path):
    path = tmp_path / "journal.db"
    SqliteJournal.open(path).close()
    data = bytearray(path.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # keep our header, wreck the pages
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError):
        SqliteJournal.open(path)
    assert path.read_bytes() == bytes(data)


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(JournalError):
        SqliteJournal.open(tmp_path / "nope" / "journal.db")


def test_pending_intents_and_outcomes(journal):
    journal.record_intent("c1", "KXA", "bid", D("0.52"), D("10"), "good_till_canceled", "demo", {"note": "mm"})
    journal.record_intent("c2", "KXB", "ask", D("0.4"), D("2.5"), "immediate_or_cancel", "demo")
    journal.record_intent("c3", "KXC", "bid", D("0.10"), D("1"), "good_till_canceled", "demo")
    journal.record_outcome("c1", "accepted", order_id="o1", status="resting")
    journal.record_outcome("c2", "rejected", code="insufficient_balance", message="not enough cash")
    pending = journal.pending_intents()
    assert [(p.client_order_id, p.yes_price, p.count) for p in pending] == [("c3", D("0.1000"), D("1.00"))]
    journal.mark_reconciled("c3", None, "not_found")
    assert journal.pending_intents() == []
    events = journal.order_events(client_order_id="c2")
    assert [(e.kind, e.code, e.ticker, e.env) for e in events] == [
        ("intent", None, "KXB", "demo"), ("rejected", "insufficient_balance", "KXB", "demo")]
    assert events[0].extra == {} and journal.order_events(client_order_id="c1")[0].extra == {"note": "mm"}
    with pytest.raises(UsageError):
        journal.record_intent("c1", "KXA", "bid", D("0.52"), D("10"), "good_till_canceled", "demo")
    with pytest.raises(UsageError):
        journal.record_outcome("c1", "exploded")


def test_credentials_in_extra_are_dropped(journal):
    event = journal.record_intent("c1", "KXA", "bid", D("0.5"), D("1"), "good_till_canceled", "prod",
                                  {"KALSHI-ACCESS-SIGNATURE": "abc", "headers": {"x": 1}, "strategy": "edge"})
    assert event.extra == {"strategy": "edge"}


def test_filters_and_history(journal):
    journal.record_fills([fill(i, ticker="KXA" if i % 2 else "KXB") for i in range(10)])
    journal.record_settlements([settlement("KXA", minutes=30)])
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=6)
    assert [f.fill_id for f in journal.fills(since, until)] == [f"fill-{i}" for i in (2, 3, 4, 5)]
    assert [f.fill_id for f in journal.fills(ticker="KXA", limit=2)] == ["fill-1", "fill-3"]
    assert [f.fill_id for f in journal.fills(ticker="KXA", limit=1, newest_first=True)] == ["fill-9"]
    assert journal.settlements(until=T0 + timedelta(minutes=30)) == []
    assert len(journal.settlements(ticker="KXA")) == 1
    history = journal.history(limit=3)
    assert [h.kind for h in history] == ["settlement", "fill", "fill"]
    assert history[1].record.fill_id == "fill-9"


def test_export_trades_csv(journal, tmp_path):
    journal.record_fills([
        fill(1, "bid", "10", "0.52", "0.0175"),  # buy YES 10 @ 0.52
        fill(2, "ask", "4", "0.60", "0.0168"),  # long YES: sells 4 YES @ 0.60
        fill(3, "ask", "8.5", "0.55", "0.0001"),  # 6 left: sells 6 YES and flips to 2.5 NO (labelled a YES sale)
        fill(4, "ask", "1", "0.70", "0"),  # long NO now: buys NO @ 0.30
        fill(5, "bid", "2", "0.65", "0"),  # long NO: sells NO @ 0.35
        fill(6, "bid", "1", "0.01", "0", ticker="KXB"),
    ])
    out = tmp_path / "trades.csv"
    assert export_trades(journal, out, ticker="KXA") == 5
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert rows[1] == ["2026-03-01T12:01:00.000000Z", "fill-1", "ord-1", "KXA", "yes", "buy", "10.00", "0.5200",
                       "0.4800", "0.5200", "5.200000", "0.017500", "false", ""]
    assert [(r[4], r[5], r[9], r[10]) for r in rows[2:]] == [
        ("yes", "sell", "0.6000", "2.400000"),
        ("yes", "sell", "0.5500", "4.675000"),
        ("no", "buy", "0.3000", "0.300000"),
        ("no", "sell", "0.3500", "0.700000"),
    ]
    # a date range still sees the position built before it (fill 4 is a NO buy, fill 5 a NO sale)
    ranged = tmp_path / "ranged.csv"
    assert export_trades(journal, ranged, since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=6)) == 2
    with open(ranged, newline="") as fh:
        ranged_rows = list(csv.reader(fh))[1:]
    assert [(r[1], r[4], r[5]) for r in ranged_rows] == [("fill-4", "no", "buy"), ("fill-5", "no", "sell")]


def test_export_refuses_overwrite_and_missing_directory(journal, tmp_path):
    journal.record_fills([fill(1)])
    out = tmp_path / "trades.csv"
    out.write_text("keep me")
    with pytest.raises(UsageError, match="exists"):
        export_trades(journal, out)
    assert out.read_text() == "keep me"
    assert export_trades(journal, out, force=True) == 1
    assert out.read_text().startswith("created_time,")
    with pytest.raises(UsageError, match="does not exist"):
        export_trades(journal, tmp_path / "missing" / "trades.csv")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_export_lots_csv(journal, tmp_path):
    journal.record_fills([fill(1, "bid", "10", "0.40", "0.0100"), fill(2, "ask", "4", "0.55", "0.0030")])
    report = compute_pnl(journal.fills(), journal.settlements())
    out = tmp_path / "lots.csv"
    assert export_lots_csv(out, report.closed_lots) == 1
    with open(out, newline="") as fh:
        header, row = list(csv.reader(fh))
    assert tuple(header) == LOT_COLUMNS
    # cost 4 x 0.40 = 1.60; proceeds 4 x 0.55 = 2.20; fees 0.0100 x 4/10 + 0.0030 = 0.0070; gain 0.5930
    assert row == ["KXA", "yes", "4.00", "2026-03-01T12:01:00.000000Z", "2026-03-01T12:02:00.000000Z",
                   "1.600000", "2.200000", "0.007000", "0.593000"]
    with pytest.raises(UsageError):
        export_lots_csv(out, report.closed_lots)


def test_naive_datetimes_refused(journal):
    with pytest.raises(UsageError):
        journal.fills(since=datetime(2026, 1, 1))


def test_new_journal_file_is_ours(tmp_path):
    path = tmp_path / "j.db"
    SqliteJournal.open(path).close()
    header = Path(path).read_bytes()[:100]
    assert header[68:72] == (0x4B4A524E).to_bytes(4, "big")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.db"]


def test_late_fill_relabels_later_trades(journal, tmp_path):
    # Recorded out of order: the NO buy at minute 1 arrives after the later YES buy was journaled.
    # In time order: minute 1 buy 5 NO (ask @ 0.60, position -5), minute 2 bid 3 @ 0.45 is then a NO *sale*.
    assert journal.record_fills([fill(2, "bid", "3", "0.45", "0")]) == 1
    assert journal.record_fills([fill(1, "ask", "5", "0.60", "0"), fill(2, "bid", "3", "0.45", "0")]) == 1
    out = tmp_path / "late.csv"
    export_trades(journal, out)
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    assert [(r[1], r[4], r[5], r[9]) for r in rows] == [("fill-1", "no", "buy", "0.4000"),
                                                        ("fill-2", "no", "sell", "0.5500")]


def test_csv_quotes_awkward_ids(journal, tmp_path):
    odd = Fill(fill_id='f,1"x', order_id="o\n1", ticker="KXA", outcome_side="yes", book_side="bid", count=D("1"),
               yes_price=D("0.5"), is_taker=False, fee=D("0"), created_time=T0)
    journal.record_fills([odd])
    out = tmp_path / "odd.csv"
    export_trades(journal, out)
    with open(out, newline="") as fh:
        (row,) = list(csv.reader(fh))[1:]
    assert row[1:4] == ['f,1"x', "o\n1", "KXA"]
    assert journal.fills() == [odd]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["bid", "ask"]), st.integers(1, 5), st.integers(0, 2)),
                min_size=1, max_size=25),
       st.randoms(use_true_random=False))
def test_labels_do_not_depend_on_arrival_order(tmp_path_factory, trades, rnd):
    # The same fills journaled in time order and in a shuffled order, in several batches, export identically.
    fills = [fill(i, side, str(count), "0.50", "0", ticker=f"K{t}") for i, (side, count, t) in enumerate(trades)]
    shuffled = fills[:]
    rnd.shuffle(shuffled)
    outputs = []
    for order in (fills, shuffled):
        directory = tmp_path_factory.mktemp("j")
        with SqliteJournal.open(directory / "j.db") as j:
            cut = rnd.randint(0, len(order))
            j.record_fills(order[:cut])
            j.record_fills(order[cut:])
            export_trades(j, directory / "t.csv")
        outputs.append((directory / "t.csv").read_text())
    assert outputs[0] == outputs[1]
    # and in time order the labels follow the running position
    pos: dict[str, int] = {}
    for f, line in zip(fills, outputs[0].splitlines()[1:], strict=True):
        before = pos.get(f.ticker, 0)
        d = int(f.signed_count)
        side, action = line.split(",")[4:6]
        assert action == ("sell" if before * d < 0 else "buy")
        assert side == ("yes" if (d > 0) == (action == "buy") else "no")
        pos[f.ticker] = before + d
