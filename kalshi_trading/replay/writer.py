"""Writing a recording session: its manifest and its daily gzip JSON-lines files.

Durability: every file is flushed (a zlib sync flush, then the OS write) at least every `flush_lines` lines and
every `flush_seconds` seconds, so a recorder that is killed loses at most that much; what was flushed stays
readable, because a gzip stream cut after a sync flush decompresses up to the cut (the reader reports the cut).
A clean stop (`close`, Ctrl-C) finishes every gzip stream and rewrites the manifest with the stop time and counts.
Files are created exclusively: a session never overwrites anything, and a second session gets its own files.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Sequence

from kalshi_trading.errors import StorageError
from kalshi_trading.replay.schema import FORMAT, VERSION, ClockFit, data_name, fmt_ts, manifest_name, session_id

log = logging.getLogger(__name__)

FLUSH_LINES = 1000
FLUSH_SECONDS = 1.0


class _Open:
    __slots__ = ("day", "raw", "gz", "path")

    def __init__(self, day: date, raw: IO[bytes], gz: gzip.GzipFile, path: Path):
        self.day, self.raw, self.gz, self.path = day, raw, gz, path


class SessionWriter:
    """One recorder session in `directory`: `write(kind, day, line)`, `maybe_flush()`, `close(counts)`."""

    def __init__(self, directory: Path, tickers: Sequence[str], started: datetime, *, environment: str = "",
                 source: str = "", flush_lines: int = FLUSH_LINES, flush_seconds: float = FLUSH_SECONDS,
                 clock: Callable[[], float] = time.monotonic, compresslevel: int = 6):
        self.directory = Path(directory)
        self.flush_lines, self.flush_seconds = flush_lines, flush_seconds
        self._clock = clock
        self.compresslevel = compresslevel
        self._open: dict[str, _Open] = {}
        self._pending = 0
        self._last_flush = clock()
        self.files: list[Path] = []
        self.closed = False
        self.manifest: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "session": "", "tickers": list(tickers),
            "environment": environment, "source": source, "started": fmt_ts(started), "stopped": None, "counts": {}}
        self._ensure_directory()
        self.session = self._claim(started)

    # ---------------------------------------------------------------- files
    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the recording directory: {exc.strerror or exc}", self.directory) \
                from None
        if not self.directory.is_dir():
            raise StorageError("the recording target is not a directory", self.directory)

    def _claim(self, started: datetime) -> str:
        """A session id whose manifest did not exist yet (created exclusively, so two recorders never share one)."""
        for n in range(1, 1000):
            ident = session_id(started, n)
            path = self.directory / manifest_name(ident)
            self.manifest["session"] = ident
            try:
                with path.open("x", encoding="utf-8") as fh:
                    json.dump(self.manifest, fh, indent=1)
            except FileExistsError:
                continue
            except OSError as exc:
                raise StorageError(f"cannot write the session manifest: {exc.strerror or exc}", path) from None
            return ident
        raise StorageError("too many sessions started in the same second", self.directory)

    def _file(self, kind: str, day: date) -> gzip.GzipFile:
        current = self._open.get(kind)
        if current is not None:
            if current.day == day:
                return current.gz
            self._finish(current)  # a new UTC day: the old day's file is complete
        path = self.directory / data_name(kind, day, self.session)
        try:
            raw = path.open("xb")
        except OSError as exc:
            raise StorageError(f"cannot create a recording file: {exc.strerror or exc}", path) from None
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=self.compresslevel, mtime=0)
        self._open[kind] = _Open(day, raw, gz, path)
        self.files.append(path)
        return gz

    def _finish(self, item: _Open) -> None:
        try:
            item.gz.close()
            item.raw.close()
        except OSError as exc:
            raise StorageError(f"cannot finish a recording file: {exc.strerror or exc}", item.path) from None

    # ---------------------------------------------------------------- writing
    def write(self, kind: str, day: date, line: str) -> None:
        """Append one JSON line (without its newline) to the `kind` file of UTC `day`."""
        gz = self._file(kind, day)
        try:
            gz.write(line.encode() + b"\n")
        except OSError as exc:
            raise StorageError(f"cannot write the recording: {exc.strerror or exc}", self._open[kind].path) from None
        self._pending += 1
        if self._pending >= self.flush_lines:
            self.flush()

    def maybe_flush(self) -> None:
        """Flush when `flush_seconds` have passed since the last flush (call it while idle, too)."""
        if self._pending and self._clock() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        for item in self._open.values():
            try:
                item.gz.flush()  # zlib sync flush + the file's own flush
            except OSError as exc:
                raise StorageError(f"cannot write the recording: {exc.strerror or exc}", item.path) from None
        self._pending = 0
        self._last_flush = self._clock()

    def bytes_written(self) -> int:
        total = 0
        for path in self.files:
            try:
                total += path.stat().st_size
            except OSError:
                pass  # a file removed under us: reported by the writes that follow
        return total

    def close(self, stopped: datetime, counts: Mapping[str, int], clock: ClockFit | None = None) -> None:
        """Finish every file and record the stop (and `clock`, how the exchange's time ran against the receive
        time, when known) in the manifest (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        items, self._open = list(self._open.values()), {}
        for item in items:
            self._finish(item)
        self.manifest["stopped"] = fmt_ts(stopped)
        self.manifest["counts"] = dict(counts)
        if clock is not None:
            self.manifest["clock"] = clock.as_manifest()
        path = self.directory / manifest_name(self.session)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.manifest, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"cannot update the session manifest: {exc.strerror or exc}", path) from None
