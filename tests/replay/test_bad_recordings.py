"""Issue 16, "Bad input", for recordings: each class and its variants, through the replay feed and through
`kalshi replay` (one line, the documented exit code, never a traceback).

Chosen behaviour (docs/recording.md): a sequence gap or duplicate is skipped as a resync (the books concerned are
stale, so they answer no prices, until their next snapshot rebuilds them) and listed with its file and line; a cut-off
tail (a truncated last line, a gzip stream without its end, an empty file) is reported and everything before it is
used; an unknown record kind or marker, a damaged gzip stream, a line that is not a JSON object and markets mixed up
stop the replay with the file and line (exit 3, or exit 2 when the question asked is ambiguous).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.errors import RecordingError, UsageError
from kalshi_trading.marketdata.events import BookStale, BookUpdated, Resynced
from kalshi_trading.replay.feed import ReplayFeed
from kalshi_trading.replay.reader import ProblemKind, Recording
from tests.replay.conftest import A, B, T0, at, book_file, c, close, n, read_lines, rewrite, session, standard


def replay(directory: Path, *tickers: str):
    feed = ReplayFeed(directory)
    feed.subscribe(tickers or (A, B))
    return feed, list(feed.events())


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "NO_COLOR": "1", "HOME": str(tmp_path)}
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["replay", *args], env=env)


def refused(result, code: int, *words: str) -> str:
    text = result.output
    assert result.exit_code == code, (result.exit_code, text)
    assert "Traceback" not in text and "unexpected error" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, text
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------------- sequence gaps
def test_a_lost_delta_is_a_gap_skipped_as_a_resync_from_the_next_snapshot(tmp_path, cli):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines[:6] + lines[7:])  # line 7 (seq 4: A's 0.51 level going away) is lost
    feed, events = replay(tmp_path)
    [gap] = feed.gaps
    assert gap.kind is ProblemKind.SEQ_GAP and gap.path == path and gap.line == 7
    assert f"seq 5 after 3 on subscription 1: {A}, {B} stale" in str(gap)
    stale = [e for e in events if isinstance(e, BookStale)]
    assert [(e.ticker, e.reason) for e in stale[:2]] == [(A, "seq gap"), (B, "seq gap")]
    # the delta that revealed the gap and the deltas after it are not applied to a broken book; no prices meanwhile
    assert Resynced(A, "seq gap", at(7)) in events  # A's next snapshot rebuilt it
    assert feed.books[A].levels_units() == ({c(50): n(10), c(49): n(1)}, {})
    assert feed.books[B].levels_units() == ({c(30): n(1)}, {})  # B never got a snapshot again: still without 0.60
    assert feed.checkpoints == 0  # a snapshot after a gap resyncs; it is no checkpoint
    result = cli(str(tmp_path), "--ticker", B, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["gaps"] == 1 and doc["books"][B]["stale"] == "seq gap" and doc["problems"][0].startswith(path.name)


def test_while_a_book_is_stale_after_a_gap_it_offers_no_price(tmp_path):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines[:5] + lines[6:])  # seq 3 lost: A has a gap before its checkpoint
    feed = ReplayFeed(tmp_path)
    feed.subscribe([A])
    seen = []
    for event in feed.events():
        book = feed.books[A]
        seen.append((type(event).__name__, book.best_bid, book.best_ask))
        if isinstance(event, BookStale):
            assert book.stale and book.best_bid is None and book.best_ask is None and book.top_units() is None
    names = [name for name, _, _ in seen]
    stale_at, back_at = names.index("BookStale"), names.index("Resynced")
    assert "TickerMsg" in names[stale_at:back_at]  # market data kept coming while the book was broken ...
    assert all(bid is None and ask is None for _, bid, ask in seen[stale_at:back_at])  # ... and it had no price
    assert seen[back_at][1] is not None  # usable again from the snapshot on


def test_a_duplicated_line_is_a_duplicate_skipped_the_same_way(tmp_path):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines[:6] + [lines[5]] + lines[6:])  # seq 3 twice
    feed, events = replay(tmp_path)
    [dup] = feed.gaps
    assert dup.kind is ProblemKind.SEQ_DUPLICATE and dup.line == 7 and "seq 3 after 3" in dup.message
    assert BookStale(A, "seq duplicate", at(3)) in events and BookStale(B, "seq duplicate", at(3)) in events


def test_a_gap_on_the_last_rows_leaves_the_books_stale_to_the_end(tmp_path):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines[:9] + lines[11:])  # the checkpoint (seq 7, lines 10-11) lost
    feed, events = replay(tmp_path)
    assert [g.line for g in feed.gaps] == [10]
    assert feed.books[A].stale and feed.books[A].best_bid is None
    assert not any(isinstance(e, Resynced) for e in events)
    assert not [e for e in events if isinstance(e, BookUpdated) and e.ticker == A and e.ts > at(6)]


# --------------------------------------------------------------------------------------------- cut-off tails
def test_a_truncated_last_line_is_reported_with_its_file_and_line_and_the_rest_used(tmp_path, cli):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines + [lines[-1][:40]])  # a 13th line cut off mid-row
    feed, events = replay(tmp_path)
    [problem] = feed.problems
    assert problem.kind is ProblemKind.TRUNCATED_LINE and problem.path == path and problem.line == 13
    assert feed.books[A].levels_units() == ({c(50): n(10), c(49): n(1)}, {})  # lines 1-12 all used
    result = cli(str(tmp_path), "--ticker", A)
    assert result.exit_code == 0 and f"problem: {path.name}:13: truncated line" in result.output


def test_a_gzip_stream_cut_short_keeps_every_flushed_line(tmp_path):
    """A recorder killed between flushes: the file has no gzip end; every line flushed before is used."""
    rec, writer = session(tmp_path, tickers=(A,))
    writer.flush_lines = 1  # a sync flush after every line, as the recorder's per-second flush would do
    rec.book_snapshot(A, 1, 1, [(c(50), n(1))], [], at(1))
    for i in range(2, 40):
        rec.book_delta(A, 1, i, True, c(50), n(1), at(i))
    path = book_file(tmp_path)
    data = path.read_bytes()  # the file as a kill -9 leaves it: flushed, never closed
    writer.close(at(100), rec.counts.as_dict())
    for cut in (len(data), len(data) - 3):
        path.write_bytes(data[:cut])
        feed, _ = replay(tmp_path, A)
        kinds = {p.kind for p in feed.problems}
        assert ProblemKind.TRUNCATED_FILE in kinds, feed.problems
        size = feed.books[A].levels_units()[0][c(50)]
        assert size >= n(38) and size <= n(39)  # at most the last (half-flushed) line lost


def test_an_empty_file_is_a_file_cut_off_before_its_first_flush(tmp_path):
    standard(tmp_path)
    (tmp_path / "trades.2026-12-01.EXTRA.jsonl.gz").write_bytes(b"")
    session_doc = json.loads(next(tmp_path.glob("session.*.json")).read_text())
    session_doc["session"] = "EXTRA"
    (tmp_path / "session.EXTRA.json").write_text(json.dumps(session_doc))
    feed, _ = replay(tmp_path)
    assert [(p.kind, p.path.name, p.line) for p in feed.problems] == [
        (ProblemKind.TRUNCATED_FILE, "trades.2026-12-01.EXTRA.jsonl.gz", 0)]


def test_a_file_cut_inside_a_snapshot_drops_that_snapshot_only(tmp_path):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines[:2])  # the header says 2 levels; only 1 follows
    feed, events = replay(tmp_path)
    assert [(p.kind, p.line) for p in feed.problems] == [(ProblemKind.TRUNCATED_FILE, 1)]
    assert not any(isinstance(e, BookUpdated) for e in events)  # an incomplete snapshot is never applied


# --------------------------------------------------------------------------------------------- unknown records
def test_an_unknown_marker_stops_with_its_file_and_line(tmp_path, cli):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    extra = {"marker": "halt", "ticker": A, "ts_recv": json.loads(lines[5])["ts_recv"], "sid": 1, "seq": None}
    rewrite(path, lines[:6] + [(json.dumps(extra) + "\n").encode()] + lines[6:])
    with pytest.raises(RecordingError, match="line 7: unknown marker 'halt'"):
        replay(tmp_path)
    refused(cli(str(tmp_path), "-t", A), 3, path.name, "line 7", "unknown marker 'halt'", "upgrade")


def test_an_unknown_kind_of_file_stops_before_anything_is_replayed(tmp_path, cli):
    standard(tmp_path)
    shutil.copy(book_file(tmp_path), tmp_path / "fills.2026-12-01.X.jsonl.gz")
    with pytest.raises(RecordingError, match="unknown record kind 'fills'"):
        Recording(tmp_path)
    refused(cli(str(tmp_path)), 3, "unknown record kind 'fills'", "fills.2026-12-01.X.jsonl.gz")


def test_a_newer_format_version_stops_with_the_version_it_needs(tmp_path, cli):
    standard(tmp_path)
    manifest = next(tmp_path.glob("session.*.json"))
    doc = json.loads(manifest.read_text())
    doc["version"] = 2
    manifest.write_text(json.dumps(doc))
    refused(cli(str(tmp_path)), 3, "format version 2", "reads version 1", manifest.name)


@pytest.mark.parametrize("bad", [b"[1, 2]\n", b"not json\n", b'{"ticker": "KXTEST-26DEC01-A"}\n',
                                 b'{"ticker":"KXTEST-26DEC01-A","ts_recv":"2026-12-01T12:00:00.005000Z","seq":4,'
                                 b'"side":"up","price":"0.5","size":"1.00","is_snapshot":false,"sid":1,"ts":'
                                 b'"2026-12-01T12:00:00.005000Z"}\n'])
def test_a_malformed_row_inside_a_file_stops_with_its_line(tmp_path, cli, bad):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines[:6] + [bad] + lines[6:])
    with pytest.raises(RecordingError, match=r"line 7"):
        replay(tmp_path)
    refused(cli(str(tmp_path), "-t", A), 3, path.name, "line 7")


def test_rows_out_of_time_order_stop(tmp_path):
    standard(tmp_path)
    path = book_file(tmp_path)
    lines = read_lines(path)
    rewrite(path, lines[:5] + [lines[6], lines[5]] + lines[7:])
    with pytest.raises(RecordingError, match="line 7 ts_recv .* before the line above"):
        replay(tmp_path)


# --------------------------------------------------------------------------------------------- mixed markets
def two_markets(tmp_path: Path) -> Path:
    for ticker, start in ((A, T0), (B, T0 + timedelta(minutes=5))):
        rec, writer = session(tmp_path, tickers=(ticker,), start=start)
        rec.book_snapshot(ticker, 1, 1, [(c(50), n(1))], [], start + timedelta(seconds=1))
        rec.book_delta(ticker, 1, 2, True, c(51), n(1), start + timedelta(seconds=2))
        close(rec, writer)
    return tmp_path


def test_two_markets_in_one_directory_when_one_is_asked_for(tmp_path, cli):
    recording = Recording(two_markets(tmp_path))
    with pytest.raises(UsageError, match=f"holds recordings of 2 markets [(]{A}, {B}[)]; name the one"):
        recording.pick_market()
    refused(cli(str(tmp_path)), 2, "2 markets", A, B, "name the one")
    assert recording.pick_market(A.lower()) == A
    feed, events = replay(tmp_path, A)
    assert {e.ticker for e in events} == {A}  # B's rows are not replayed into A's feed
    result = cli(str(tmp_path), "--ticker", B, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["events"] == {"book": 2, "stale": 1}
    refused(cli(str(tmp_path), "--ticker", "KXNONE-1"), 2, "no recording of KXNONE-1", A)


def test_rows_of_another_market_inside_a_session_file_stop(tmp_path, cli):
    two_markets(tmp_path)
    a_file, b_file = sorted(tmp_path.glob("book_l2.*.jsonl.gz"))
    rewrite(a_file, read_lines(a_file) + read_lines(b_file))  # B's session appended into A's file
    with pytest.raises(RecordingError, match=f"line 4: market '{B}' is not one of this session's [(]{A}[)]"):
        replay(tmp_path, A)
    refused(cli(str(tmp_path), "-t", A), 3, "line 4", "mixed")


def test_a_file_without_its_manifest_stops(tmp_path, cli):
    two_markets(tmp_path)
    os.remove(sorted(tmp_path.glob("session.*.json"))[1])
    refused(cli(str(tmp_path)), 3, "no manifest")


# --------------------------------------------------------------------------------------------- corrupt gzip
def test_a_file_that_is_not_gzip_stops(tmp_path, cli):
    standard(tmp_path)
    path = book_file(tmp_path)
    path.write_bytes(gzip.decompress(path.read_bytes()))  # plain text under a .gz name
    refused(cli(str(tmp_path), "-t", A), 3, path.name, "not a gzip file")


def test_damaged_compressed_data_stops_naming_the_line_it_reached(tmp_path, cli):
    rec, writer = session(tmp_path, tickers=(A,))
    rec.book_snapshot(A, 1, 1, [(c(50), n(1))], [], at(1))
    for i in range(2, 3000):
        rec.book_delta(A, 1, i, True, c(1 + i % 97), n(1 + i % 5), at(i))
    close(rec, writer)
    path = book_file(tmp_path)
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 40):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    # seen where it first shows: as garbage the decompressor let through (a line that is not JSON), or as damage
    with pytest.raises(RecordingError, match="damaged after line [0-9]+|line [0-9]+ is not JSON"):
        replay(tmp_path, A)
    line = refused(cli(str(tmp_path)), 3, path.name)
    assert "damaged after line" in line or "is not JSON" in line


def test_a_wrong_checksum_at_the_end_stops(tmp_path, cli):
    standard(tmp_path)
    path = book_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC32 of the gzip trailer
    path.write_bytes(bytes(data))
    # the damage shows at the very end: the lines before it were read (to within the last 64 compressed bytes)
    refused(cli(str(tmp_path), "-t", A), 3, "damaged after line 1", "incorrect data check")


def test_garbage_after_the_gzip_stream_stops_but_a_second_member_is_read(tmp_path, cli):
    standard(tmp_path)
    path = book_file(tmp_path)
    good = path.read_bytes()
    path.write_bytes(good + b"garbage")
    refused(cli(str(tmp_path), "-t", A), 3, "damaged after line 12")
    trades = next(tmp_path.glob("trades.*.jsonl.gz"))
    whole = gzip.decompress(trades.read_bytes())
    trades.write_bytes(gzip.compress(whole[:0]) + gzip.compress(whole))  # `cat a.gz b.gz` makes two members
    path.write_bytes(good)
    feed, events = replay(tmp_path)
    assert feed.problems == [] and sum(type(e).__name__ == "TradeMsg" for e in events) == 1


def test_a_missing_or_empty_directory(tmp_path, cli):
    refused(cli(str(tmp_path / "nope")), 3, "no such recording directory")
    (tmp_path / "empty").mkdir()
    refused(cli(str(tmp_path / "empty")), 3, "no recorded data")
    (tmp_path / "file").write_text("x")
    refused(cli(str(tmp_path / "file")), 3, "not a directory")


def test_a_time_window_out_of_order_or_unreadable_is_refused(tmp_path, cli):
    standard(tmp_path)
    refused(cli(str(tmp_path), "-t", A, "--from", "2026-12-02", "--to", "2026-12-01"), 2,
            "--from 2026-12-02 is after --to 2026-12-01")
    refused(cli(str(tmp_path), "-t", A, "--from", "yesterday"), 2, "'yesterday' not understood")
    window = cli(str(tmp_path), "-t", A, "--from", "2026-12-01T12:00:00.006Z", "--to", "2026-12-01T12:00:00.008Z",
                 "--json")
    assert window.exit_code == 0 and json.loads(window.stdout)["events"] == {"book": 1, "ticker": 1}
