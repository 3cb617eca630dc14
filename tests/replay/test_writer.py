"""The session writer: flushes on time and on count (so a killed recorder loses at most that), never overwrites, and
rolls over at UTC midnight; the replay carries a session across its days, and across a day file cut short only by a
resync."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from kalshi_trading.replay import schema
from kalshi_trading.replay.feed import ReplayFeed
from kalshi_trading.replay.reader import ProblemKind, Recording
from kalshi_trading.replay.writer import SessionWriter
from tests.replay.conftest import A, T0, c, close, n, session


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def readable_lines(directory) -> int:
    """Rows a reader gets from the files as they are now (open files included: their tails are cut)."""
    feed = ReplayFeed(directory)
    feed.subscribe([A])
    list(feed.events())
    return feed.stats.deltas + feed.stats.snapshots


def test_lines_become_readable_at_the_next_flush_by_time_or_by_count(tmp_path):
    clock = FakeClock()
    writer = SessionWriter(tmp_path, [A], T0, flush_lines=5, flush_seconds=1.0, clock=clock)

    def row(seq: int) -> str:
        return schema.dumps(schema.level_row(A, schema.fmt_ts(T0 + timedelta(milliseconds=seq)), 1, seq, True,
                                             c(50), n(1), False, schema.fmt_ts(T0)))

    writer.write("book_l2", T0.date(), schema.dumps(schema.marker_row(
        "snapshot", A, schema.fmt_ts(T0), 1, 1, levels=0, ts=schema.fmt_ts(T0))))
    writer.maybe_flush()
    assert readable_lines(tmp_path) == 0  # not a second yet: still in zlib's buffer
    clock.now = 1.0
    writer.maybe_flush()
    assert readable_lines(tmp_path) == 1  # flushed by time
    for seq in range(2, 6):
        writer.write("book_l2", T0.date(), row(seq))
    assert readable_lines(tmp_path) == 1
    writer.write("book_l2", T0.date(), row(6))  # the fifth line since the flush: flushed by count
    assert readable_lines(tmp_path) == 6
    writer.close(T0, {})


def test_sessions_never_share_or_overwrite_files(tmp_path):
    one = SessionWriter(tmp_path, [A], T0)
    two = SessionWriter(tmp_path, [A], T0)  # the same second
    assert (one.session, two.session) == ("20261201T120000Z", "20261201T120000Z-2")
    one.close(T0, {})
    two.close(T0, {})
    docs = sorted(json.loads(p.read_text())["session"] for p in tmp_path.glob("session.*.json"))
    assert docs == ["20261201T120000Z", "20261201T120000Z-2"]


def test_a_session_rolls_over_at_utc_midnight_and_replays_across_it(tmp_path):
    start = datetime(2026, 12, 1, 23, 59, 59, 995_000, tzinfo=timezone.utc)
    rec, writer = session(tmp_path, tickers=(A,), start=start)
    rec.book_snapshot(A, 1, 1, [(c(50), n(1))], [], start)
    for seq in range(2, 12):  # receive times run 1 ms apart: into the next UTC day
        rec.book_delta(A, 1, seq, True, c(50), n(1), start)
    close(rec, writer)
    recording = Recording(tmp_path)
    assert [d.isoformat() for d in recording.days] == ["2026-12-01", "2026-12-02"]
    assert len(list(tmp_path.glob("book_l2.*.jsonl.gz"))) == 2
    feed = ReplayFeed(recording)
    feed.subscribe([A])
    list(feed.events())
    assert feed.problems == [] and feed.books[A].levels_units() == ({c(50): n(11)}, {})


def test_a_day_file_cut_short_inside_a_session_is_a_resync_not_a_silent_join(tmp_path):
    start = datetime(2026, 12, 1, 23, 59, 59, 995_000, tzinfo=timezone.utc)
    rec, writer = session(tmp_path, tickers=(A,), start=start)
    rec.book_snapshot(A, 1, 1, [(c(50), n(1))], [], start)
    for seq in range(2, 12):
        rec.book_delta(A, 1, seq, True, c(50), n(1), start)
    rec.book_snapshot(A, 1, 12, [(c(40), n(3))], [], start)
    close(rec, writer)
    first = sorted(tmp_path.glob("book_l2.*.jsonl.gz"))[0]
    data = first.read_bytes()
    first.write_bytes(data[: len(data) - 12])  # the end of the first day's stream lost (a damaged copy)
    feed = ReplayFeed(tmp_path)
    feed.subscribe([A])
    events = list(feed.events())
    kinds = [p.kind for p in feed.problems]
    assert kinds.count(ProblemKind.TRUNCATED_FILE) == 2  # the cut file, and the hole it leaves in the session
    stale = [e for e in events if type(e).__name__ == "BookStale"]
    assert stale and stale[0].reason.startswith("data lost at the end of book_l2.2026-12-01")
    assert feed.books[A].levels_units() == ({c(40): n(3)}, {})  # rebuilt by the next snapshot only
