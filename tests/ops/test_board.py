"""The board: sections read on its one thread, the last good read kept while reads fail (with the source and
since when), sources judged down only when no section reads them well, jobs before reads, a reader's bug
confined to its section."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from kalshi_trading.errors import ExchangeUnavailable, StorageError
from kalshi_trading.ops.web.board import Board, BoardStopped, Section
from kalshi_trading.ops.web.sections import Fields, SectionDoc, Source, snapshot_json

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


class Reader:
    """A section's reader whose next outcome the test sets: a value, or an error to raise."""

    def __init__(self, value="1"):
        self.outcome: object = value
        self.threads: set[str] = set()
        self.calls = 0

    def __call__(self) -> SectionDoc:
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return SectionDoc("sub", (Fields("f", "F", (("value", str(self.outcome)),)),))


def wait_for(predicate, what: str, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, what
        time.sleep(0.01)


@pytest.fixture
def parts():
    clock = Clock()
    readers = {"portfolio": Reader(), "orders": Reader(), "alerts": Reader()}
    sources = {"portfolio": (Source.STORE, Source.EXCHANGE), "orders": (Source.EXCHANGE,), "alerts": (Source.STORE,)}
    closed = []
    board = Board([Section(n, n.title(), r, sources[n]) for n, r in readers.items()], refresh=0.02, clock=clock,
                  on_stop=lambda: closed.append(threading.current_thread().name))
    board.start()
    yield board, readers, closed
    board.stop()


def read_again(board, name):
    version = board.snapshot(name).version
    wait_for(lambda: board.snapshot(name).version > version, f"{name} read again")
    return board.snapshot(name)


def test_a_failed_read_keeps_the_last_good_one_marked_stale_since_the_first_failure(parts):
    board, readers, _ = parts
    good = read_again(board, "portfolio")
    assert not good.stale and good.doc.blocks[0].rows == (("value", "1"),)
    readers["portfolio"].outcome = StorageError("database gone")
    first = read_again(board, "portfolio")
    later = read_again(board, "portfolio")
    assert later.doc == good.doc and later.fresh_at == good.fresh_at  # never replaced by nothing
    assert later.failure.source is Source.STORE and later.failure.error == "database gone"
    assert later.failure.since == first.failure.since < later.failure.last
    doc = snapshot_json(later, later.failure.last)
    assert doc["stale"] and doc["blocks"] and doc["failure"]["since"] == later.failure.since.isoformat()[:19] + "Z"
    readers["portfolio"].outcome = "2"
    back = read_again(board, "portfolio")
    assert not back.stale and back.doc.blocks[0].rows == (("value", "2"),) and back.fresh_at > later.failure.last


def test_a_section_never_read_well_has_no_figures(parts):
    board, readers, _ = parts
    readers["orders"].outcome = ExchangeUnavailable("503")
    board2 = Board([Section("orders", "Orders", readers["orders"], (Source.EXCHANGE,))], refresh=0.02)
    board2.start()
    try:
        wait_for(lambda: board2.snapshot("orders").failure is not None, "read")
        snap = board2.snapshot("orders")
        assert snap.doc is None and snap.fresh_at is None and snapshot_json(snap, T0)["blocks"] == []
        assert snap.failure.source is Source.EXCHANGE
    finally:
        board2.stop()


def test_a_source_is_down_only_while_no_section_reads_it_well(parts):
    board, readers, _ = parts
    for name in readers:
        read_again(board, name)
    readers["alerts"].outcome = StorageError("alert events are not stored here yet")  # one section cannot work
    read_again(board, "alerts")
    read_again(board, "portfolio")
    health = {h.source: h for h in board.health()}
    assert health[Source.STORE].failure is None  # the portfolio reads the store well
    readers["portfolio"].outcome = StorageError("connection refused")
    failed = read_again(board, "portfolio")
    health = {h.source: h for h in board.health()}
    assert health[Source.STORE].failure.since == failed.failure.since  # down since the store stopped answering
    assert health[Source.EXCHANGE].failure is None and health[Source.EXCHANGE].ok_at is not None


def test_reads_and_jobs_run_on_the_boards_one_thread_which_closes_the_services(parts):
    board, readers, closed = parts
    for name in readers:
        read_again(board, name)
    assert board.run(lambda: threading.current_thread().name, timeout=10) == "kalshi-dashboard-board"
    with pytest.raises(ValueError, match="inside"):
        board.run(lambda: (_ for _ in ()).throw(ValueError("inside")), timeout=10)
    board.stop()
    assert {t for r in readers.values() for t in r.threads} == {"kalshi-dashboard-board"}
    assert closed == ["kalshi-dashboard-board"]
    with pytest.raises(BoardStopped):
        board.run(lambda: 1, timeout=1)


def test_a_readers_bug_fails_its_section_only(parts):
    board, readers, _ = parts
    readers["orders"].outcome = KeyError("oops")
    snap = read_again(board, "orders")
    assert snap.failure.source is Source.DASHBOARD and "KeyError" in snap.failure.error
    assert not read_again(board, "portfolio").stale


def test_only_watched_sections_are_read_again(parts):
    board, readers, _ = parts
    wait_for(lambda: all(r.calls for r in readers.values()), "first reads")
    for _ in range(5):  # a page watches the orders; nobody asks for the others: each was read once, at the start
        read_again(board, "orders")
    assert readers["alerts"].calls == readers["portfolio"].calls == 1 and readers["orders"].calls >= 6
