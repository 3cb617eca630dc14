"""Reading a recording directory: its sessions, its files checked line by line, one stream in receive order.

What is damaged is told apart from what was merely cut short:

* a file that ends early (a recorder killed between flushes: the gzip stream has no end) or whose last line is
  cut off is a `Problem`: reported with the file and the line, and every complete line before it is used;
* anything else that is wrong stops the replay with a `RecordingError` naming the file and the line: a file that
  is not gzip or whose compressed data is corrupt, a line that is not a JSON object, a row of an unknown kind
  or marker (a newer recording: this reader does not guess what it means), rows out of time order, a market the
  session's manifest does not list (files of different recordings mixed), a manifest of a newer format.

`records()` yields `Record`s merged by receive time across all files (the recorder makes receive times strictly
increasing within a session, so the merge restores the order of receipt exactly); a session's book stream ends in
an `END` record, and a damaged file in the middle of one is followed by a `LOST` record, so the feed never carries
a book across a hole.
"""

from __future__ import annotations

import codecs
import heapq
import json
import logging
import zlib
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from kalshi_trading.errors import RecordingError, UsageError
from kalshi_trading.replay import schema as s

log = logging.getLogger(__name__)

CHUNK = 1 << 18
GZIP_MAGIC = b"\x1f\x8b"

# Record.code
LEVEL, SNAP, MARK, TRADE, TICKER, LIFE, END, LOST = range(8)
KIND_CODE = {s.TRADES: TRADE, s.TICKERS: TICKER, s.LIFECYCLE: LIFE}


class Record(NamedTuple):
    """One row (or one whole snapshot: its header with `levels` rows) with where it came from."""

    ts_recv: str
    code: int
    row: dict
    file: s.DataFile
    line: int


def _record(ts_recv: str, code: int, row: dict, file: s.DataFile, line: int) -> Record:
    return _new_tuple(Record, (ts_recv, code, row, file, line))  # NamedTuple's own __new__ is Python: slow


_new_tuple: Any = tuple.__new__
_DECODER = json.JSONDecoder()


class ProblemKind(str, Enum):
    TRUNCATED_FILE = "truncated file"
    TRUNCATED_LINE = "truncated line"
    SEQ_GAP = "sequence gap"
    SEQ_DUPLICATE = "sequence duplicate"
    BAD_BOOK = "book data"


@dataclass(frozen=True)
class Problem:
    """Something the replay worked around (and how), with the file and line it concerns."""

    kind: ProblemKind
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path.name}:{self.line}" if self.line is not None else self.path.name
        return f"{where}: {self.kind.value}: {self.message}"


@dataclass(frozen=True)
class Session:
    """One recorder run, from its manifest."""

    ident: str
    tickers: tuple[str, ...]
    started: str
    stopped: str | None
    environment: str = ""
    source: str = ""
    files: tuple[s.DataFile, ...] = field(default=())
    clock: s.ClockFit | None = None  # how the exchange's time ran against the receive time (newer manifests)


class Recording:
    """A recording directory (see `docs/recording.md`): sessions, their files and their markets."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise RecordingError("no such recording directory", self.path)
        if not self.path.is_dir():
            raise RecordingError("the recording is not a directory", self.path)
        manifests: dict[str, dict] = {}
        files: list[s.DataFile] = []
        try:
            entries = sorted(self.path.iterdir())
        except OSError as exc:
            raise RecordingError(f"cannot list the recording: {exc.strerror or exc}", self.path) from None
        for entry in entries:
            name = entry.name
            if m := s.MANIFEST_NAME.match(name):
                manifests[m["session"]] = _manifest(entry)
            elif name.endswith(s.SUFFIX):
                files.append(_data_file(entry))
        orphans = sorted({f.session for f in files} - set(manifests))
        if orphans:
            raise RecordingError(f"files of session {orphans[0]} have no manifest ({s.manifest_name(orphans[0])}); "
                                 "copy it along with them", self.path)
        if not files:
            raise RecordingError("no recorded data here (no *.jsonl.gz files)", self.path)
        self.sessions = {ident: Session(ident, tuple(doc["tickers"]), doc.get("started") or "", doc.get("stopped"),
                                        str(doc.get("environment") or ""), str(doc.get("source") or ""),
                                        tuple(sorted((f for f in files if f.session == ident),
                                                     key=lambda f: (f.day, f.kind))),
                                        s.ClockFit.from_manifest(doc.get("clock")))
                         for ident, doc in sorted(manifests.items())}
        self.files = tuple(files)

    @property
    def markets(self) -> tuple[str, ...]:
        """Every market some session recorded, sorted."""
        return tuple(sorted({t for session in self.sessions.values() if session.files for t in session.tickers}))

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(sorted({f.day for f in self.files}))

    def pick_market(self, ticker: str | None = None) -> str:
        """The one market to replay: `ticker` (which must be recorded here), or the only market recorded here."""
        markets = self.markets
        if ticker is not None:
            self.check_markets([ticker])
            return ticker.strip().upper()
        if len(markets) != 1:
            raise UsageError(f"{self.path} holds recordings of {len(markets)} markets ({_names(markets)}); "
                             "name the one to replay")
        return markets[0]

    def check_markets(self, tickers: Iterable[str]) -> list[str]:
        """`tickers` (upper case); UsageError naming what is recorded when one of them is not."""
        wanted = [t.strip().upper() for t in tickers]
        missing = [t for t in wanted if t not in self.markets]
        if missing:
            raise UsageError(f"no recording of {_names(missing)} in {self.path} (it holds {_names(self.markets)})")
        return wanted

    def records(self, problems: list[Problem], days: tuple[date | None, date | None] = (None, None),
                exchange_time: bool = False) -> Iterator[Record]:
        """Every row of every session in receive-time order (see the module docstring).  With `exchange_time`
        each session's receive times are mapped onto the exchange's clock by the session's `ClockFit` (a session
        without one is a UsageError), and `days` are ignored (they are receive days)."""
        first, last = days if not exchange_time else (None, None)
        streams = []
        for session in self.sessions.values():
            files = [f for f in session.files if (first is None or f.day >= first) and (last is None or f.day <= last)]
            if not files:
                continue
            stream = _session(files, frozenset(session.tickers), problems)
            if exchange_time:
                if session.clock is None:
                    raise UsageError(f"session {session.ident} of {self.path} has no exchange clock in its manifest "
                                     "(recorded by an older version, or too short to tell): replay it on receive time")
                stream = _mapped(stream, session.clock.mapper())
            streams.append(stream)
        return streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(0))


def _mapped(stream: Iterator[Record], to_exchange: Callable[[str], str]) -> Iterator[Record]:
    for rec in stream:
        yield _record(to_exchange(rec.ts_recv), rec.code, rec.row, rec.file, rec.line)


def _names(tickers: Sequence[str]) -> str:
    shown = ", ".join(tickers[:5])
    return shown + (f" and {len(tickers) - 5} more" if len(tickers) > 5 else "")


def _manifest(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordingError(f"unreadable session manifest: {exc}", path) from None
    if not isinstance(doc, dict) or doc.get("format") != s.FORMAT:
        raise RecordingError(f"not a session manifest (no \"format\": \"{s.FORMAT}\")", path)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RecordingError(f"session manifest has no valid version ({version!r})", path)
    if version > s.VERSION:
        raise RecordingError(f"recorded in format version {version} by a newer kalshi-trading; this one reads "
                             f"version {s.VERSION}: upgrade to replay it", path)
    tickers = doc.get("tickers")
    if not isinstance(tickers, list) or not all(isinstance(t, str) and t for t in tickers):
        raise RecordingError("session manifest has no list of tickers", path)
    return doc


def _data_file(path: Path) -> s.DataFile:
    m = s.DATA_NAME.match(path.name)
    if m is None:
        raise RecordingError("not a recording file name (<kind>.<YYYY-MM-DD>.<session>.jsonl.gz)", path)
    if m["kind"] not in s.KINDS:
        raise RecordingError(f"unknown record kind {m['kind']!r}: this version reads {', '.join(s.KINDS)} "
                             "(a newer recording? upgrade to replay it)", path)
    try:
        day = date.fromisoformat(m["day"])
    except ValueError:
        raise RecordingError(f"not a date: {m['day']!r}", path) from None
    return s.DataFile(path, m["kind"], day, m["session"])


# ----------------------------------------------------------------------------------- one file
class _Damaged(Exception):
    """The compressed data is corrupt (after everything before it was handed out)."""


def _inflate(fh: Any, path: Path) -> Iterator[bytes]:
    """Decompressed blocks of a gzip file (several members allowed); ends with b"" when the last member was not
    finished (a cut-off file).  Damage raises `_Damaged` after the data before it (to within 64 bytes)."""
    decomp = zlib.decompressobj(31)
    ended, first = False, True
    while True:
        try:
            chunk = fh.read(CHUNK)
        except OSError as exc:
            raise _Damaged(exc.strerror or exc) from None
        if not chunk:
            break
        if first and not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
            raise RecordingError("not a gzip file", path)
        first = False
        while chunk:
            if ended:  # another gzip member (files concatenated with cat), or trailing zeros
                if chunk.strip(b"\0") == b"":
                    break
                decomp, ended = zlib.decompressobj(31), False
            saved = decomp.copy()
            try:
                data = decomp.decompress(chunk)
            except zlib.error as exc:
                yield from _salvage(saved, chunk)
                raise _Damaged(exc) from None
            chunk = decomp.unused_data if decomp.eof else b""
            ended = decomp.eof
            if data:
                yield data
    if not ended:
        yield b""


def _salvage(decomp: Any, chunk: bytes) -> Iterator[bytes]:
    """What decompresses of `chunk` before the damage (fed 64 bytes at a time)."""
    for i in range(0, len(chunk), 64):
        try:
            data = decomp.decompress(chunk[i:i + 64])
        except zlib.error:
            return
        if data:
            yield data


def _blocks(df: s.DataFile, problems: list[Problem]) -> Iterator[tuple[list[str], bool]]:
    """The file's lines as text, a block per decompressed chunk: (complete lines, True), then at most one
    ([incomplete last line], False).  Truncation is reported here; corruption raises RecordingError."""
    n = 0
    tail = ""
    cut = False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        fh = df.path.open("rb")
    except OSError as exc:
        raise RecordingError(f"cannot open: {exc.strerror or exc}", df.path) from None
    with fh:
        try:
            for data in _inflate(fh, df.path):
                if not data:
                    cut = True
                    continue
                lines = (tail + decoder.decode(data)).split("\n")
                tail = lines.pop()
                n += len(lines)
                yield lines, True
        except _Damaged as exc:
            raise RecordingError(f"damaged after line {n} ({exc})", df.path) from None
        except UnicodeDecodeError:
            raise RecordingError(f"not UTF-8 text after line {n}", df.path) from None
    if cut:
        problems.append(Problem(ProblemKind.TRUNCATED_FILE, df.path, n + (1 if tail else 0),
                                f"the file ends early (not closed by its recorder?); {n} complete lines used"))
    if tail:
        yield [tail], False


def _records(df: s.DataFile, allowed: frozenset[str], problems: list[Problem]) -> Iterator[Record]:
    """The file's rows, checked (see the module docstring), as Records; a snapshot's levels ride on its header."""
    n = 0
    last_ts = ""
    decode = _DECODER.raw_decode
    book, lifecycle = df.kind == s.BOOK, df.kind == s.LIFECYCLE
    code = LEVEL if book else KIND_CODE[df.kind]
    snap: dict | None = None  # a snapshot header still collecting its levels
    for lines, complete in _blocks(df, problems):
        for text in lines:
            n += 1
            try:
                row, end = decode(text)
            except ValueError as exc:
                if not complete:
                    problems.append(Problem(ProblemKind.TRUNCATED_LINE, df.path, n, "the last line is cut off; "
                                            "it is left out, the lines before it are used"))
                    break
                raise RecordingError(f"line {n} is not JSON ({exc})", df.path) from None
            if end != len(text) and text[end:].strip():
                raise RecordingError(f"line {n} is not JSON (extra data after column {end})", df.path)
            if type(row) is not dict:
                raise RecordingError(f"line {n} is not a JSON object", df.path)
            ts = row.get("ts_recv")
            if type(ts) is not str or len(ts) != 27 or ts < last_ts:
                raise RecordingError(f"line {n} {_bad_time(ts)}", df.path)
            last_ts = ts
            ticker = row.get("ticker")
            if ticker is not None and ticker not in allowed and not lifecycle:
                raise RecordingError(f"line {n}: market {ticker!r} is not one of this session's "
                                     f"({_names(sorted(allowed))}): files of different recordings mixed in one "
                                     "file?", df.path)
            if not book:
                yield _record(ts, code, row, df, n)
            elif snap is not None:
                if row.get("is_snapshot") is not True or ticker != snap["ticker"] or row.get("seq") != snap["seq"]:
                    raise RecordingError(f"line {n}: the snapshot of line {snap['line']} has {snap['levels']} "
                                         "levels but this line is not one of them", df.path)
                snap["levels_rows"].append(row)
                if len(snap["levels_rows"]) == snap["levels"]:
                    yield _record(snap["ts_recv"], SNAP, snap, df, snap["line"])
                    snap = None
            elif "marker" not in row:
                if row.get("is_snapshot") is True:
                    raise RecordingError(f"line {n}: a snapshot level without its snapshot header", df.path)
                yield _record(ts, LEVEL, row, df, n)
            else:
                snap = _marker(df, n, row)
                if snap is not None and snap["levels"] == 0:
                    yield _record(ts, SNAP, snap, df, n)
                    snap = None
                elif snap is None:
                    yield _record(ts, MARK, row, df, n)
    if snap is not None:
        problems.append(Problem(ProblemKind.TRUNCATED_FILE, df.path, snap["line"], "the file ends inside this "
                                "snapshot; it is left out, the lines before it are used"))


def _bad_time(ts: object) -> str:
    if not isinstance(ts, str):
        return "has no ts_recv"
    return f"ts_recv {ts[:40]!r} is {'not a recording time' if len(ts) != 27 else 'before the line above'}"


def _marker(df: s.DataFile, n: int, row: dict) -> dict | None:
    """A snapshot header (made ready to collect its levels), or None for the other known markers."""
    marker = row["marker"]
    if marker == s.SNAPSHOT:
        count = row.get("levels")
        if type(count) is not int or count < 0:
            raise RecordingError(f"line {n}: snapshot header without a level count", df.path)
        row["levels_rows"] = []
        row["line"] = n
        return row
    if marker not in s.MARKERS:
        raise RecordingError(f"line {n}: unknown marker {str(marker)[:40]!r}; this version knows "
                             f"{', '.join(sorted(s.MARKERS))} (a newer recording? upgrade to replay it)", df.path)
    return None


def _session(files: list[s.DataFile], allowed: frozenset[str], problems: list[Problem]) -> Iterator[Record]:
    """One session's kinds merged, then `END` (at its last receive time: before any later session's rows)."""
    chains = [_chain([f for f in files if f.kind == kind], kind, allowed, problems)
              for kind in s.KINDS if any(f.kind == kind for f in files)]
    last: Record | None = None
    for rec in chains[0] if len(chains) == 1 else heapq.merge(*chains, key=itemgetter(0)):
        last = rec
        yield rec
    if last is not None:
        yield _record(last.ts_recv, END, {"reason": "recording ended"}, last.file, last.line)


def _chain(files: list[s.DataFile], kind: str, allowed: frozenset[str], problems: list[Problem]
           ) -> Iterator[Record]:
    """One session's stream of one kind over its days; for the book, `LOST` after a file that was cut short."""
    last: Record | None = None
    for i, df in enumerate(files):
        before = len(problems)
        for rec in _records(df, allowed, problems):
            last = rec
            yield rec
        cut = any(p.path == df.path for p in problems[before:])
        if kind == s.BOOK and cut and i + 1 < len(files) and last is not None:
            yield _record(last.ts_recv, LOST, {"reason": f"data lost at the end of {df.path.name}"}, df, last.line)
