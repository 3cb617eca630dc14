"""The board: one worker thread that reads the dashboard's sections and keeps the last good read of each.

Why one thread: the services (the store's connections, the client) are built and used on it alone, since a store
may tie a connection to the thread that opened it (SQLite's journal does), and however many browsers watch, the
exchange and the store see one reader.  Pages ask for snapshots (`snapshot`), which never wait for a read.

Scheduling: every section is read once at the start (in the order given); after that, only sections a page asked
for within `watch_for` seconds are read again, each at most every `refresh` seconds, the one waiting longest
first.  Jobs (`run`: the kill switch) go before the next read; a read already running finishes first (it is
bounded by the client's and the store's own timeouts).

A failed read keeps the section's last good read and records the failure (the source by the error's type: a
`StorageError` is the store, an `ApiError` the exchange) and since when; the next good read clears it.  A source
(`health`) is down when sections fail because of it and none that uses it has read well since those failures
began (so one section that cannot work, e.g. a backend without alert events yet, does not make the store look
down while the others read it well); it is down since the first of those failures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Sequence, TypeVar

from kalshi_trading.errors import ApiError, KalshiError, StorageError
from kalshi_trading.ops.web.sections import Failure, SectionDoc, Snapshot, Source

log = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_WAIT = 1.0  # seconds the worker sleeps when nothing is due (a job or a page's request wakes it)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Section:
    """One page's data: `read` builds its document (on the board's thread); `sources` are what it always reads (a
    good read of it says they answer; a failure is put down to the source its error names, whatever the section)."""

    name: str
    title: str
    read: Callable[[], SectionDoc]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class SourceHealth:
    source: Source
    ok_at: datetime | None  # the last read that used it and succeeded
    failure: Failure | None  # failing since (None: the latest read that used it succeeded)


def source_of(exc: BaseException) -> Source:
    """Which source an error came from."""
    if isinstance(exc, StorageError):
        return Source.STORE
    if isinstance(exc, ApiError):
        return Source.EXCHANGE
    return Source.DASHBOARD


class BoardStopped(RuntimeError):
    """The board stopped before a job could run."""


class Board:
    def __init__(self, sections: Sequence[Section], *, refresh: float, watch_for: float = 30.0,
                 clock: Callable[[], datetime] = utc_now, on_stop: Callable[[], object] | None = None):
        self.sections = {s.name: s for s in sections}
        self.refresh = refresh
        self.watch_for = watch_for
        self._clock = clock
        self._on_stop = on_stop
        self._cond = threading.Condition()
        self._snaps = {s.name: Snapshot(s.name, s.title, 0) for s in sections}
        self._asked: dict[str, float] = {}  # monotonic time a page last asked for the section
        self._tried: dict[str, float] = {}  # monotonic time of the last read
        self._jobs: deque[tuple[Callable[[], object], Future]] = deque()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="kalshi-dashboard-board", daemon=True)

    # --- the pages' side ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the read or job under way, then close the services (on the worker thread) and end it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def snapshot(self, name: str) -> Snapshot:
        """The section's latest snapshot (KeyError: no such section); marks it watched."""
        with self._cond:
            snap = self._snaps[name]
            first = name not in self._asked
            self._asked[name] = time.monotonic()
            if first:
                self._cond.notify_all()
            return snap

    def now(self) -> datetime:
        """The board's clock (the pages' ages are measured against it)."""
        return self._clock()

    def snapshots(self) -> list[Snapshot]:
        """Every section's latest snapshot (not marking any watched)."""
        with self._cond:
            return list(self._snaps.values())

    def health(self) -> list[SourceHealth]:
        """Each source the sections read: its last good read, and whether (and since when) it is down."""
        with self._cond:
            snaps = dict(self._snaps)
        out = []
        for src in dict.fromkeys(src for s in self.sections.values() for src in s.sources):
            using = [snaps[s.name] for s in self.sections.values() if src in s.sources]
            ok_at = max((x.fresh_at for x in using if x.fresh_at is not None), default=None)
            failing = [x.failure for x in snaps.values() if x.failure is not None and x.failure.source is src
                       and (ok_at is None or x.failure.since > ok_at)]
            down = None
            if failing:
                latest = max(failing, key=lambda f: f.last)
                down = Failure(src, latest.error, min(f.since for f in failing), latest.last)
            out.append(SourceHealth(src, ok_at, down))
        return out

    def run(self, job: Callable[[], T], timeout: float) -> T:
        """Run `job` on the board's thread, before the next read; its result, or what it raised.
        TimeoutError when it has not finished in `timeout` seconds (it still runs to its end)."""
        future: Future = Future()
        with self._cond:
            if self._stopping:
                raise BoardStopped("the dashboard is stopping")
            self._jobs.append((job, future))
            self._cond.notify_all()
        return future.result(timeout)

    def refresh_all(self) -> None:
        """Read every watched section again as soon as possible (after a write, e.g. the kill switch)."""
        with self._cond:
            self._tried.clear()
            self._cond.notify_all()

    # --- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while True:
                with self._cond:
                    task = self._next()
                if task is None:
                    return
                job, name = task
                if job is not None:
                    self._run_job(*job)
                elif name is not None:
                    self._read(self.sections[name])
        finally:
            self._close()

    def _next(self) -> tuple[tuple[Callable[[], object], Future] | None, str | None] | None:
        """Under the lock: the next job or section to read, waiting until one is due; None once stopping."""
        while True:
            if self._jobs:
                return self._jobs.popleft(), None
            if self._stopping:
                return None
            name, wait = self._due(time.monotonic())
            if name is not None:
                return None, name
            self._cond.wait(wait)

    def _due(self, now: float) -> tuple[str | None, float]:
        """The section to read now (never read yet, or watched and older than `refresh`), else how long to wait."""
        best: tuple[float, str] | None = None
        wait = IDLE_WAIT
        for name in self.sections:
            tried = self._tried.get(name)
            if tried is None:
                return name, 0.0
            asked = self._asked.get(name)
            if asked is None or now - asked > self.watch_for:
                continue
            due_in = tried + self.refresh - now
            if due_in <= 0:
                if best is None or tried < best[0]:
                    best = (tried, name)
            else:
                wait = min(wait, due_in)
        if best is not None:
            return best[1], 0.0
        return None, max(wait, 0.01)

    def _run_job(self, job: Callable[[], object], future: Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(job())
        except BaseException as exc:  # handed to the waiting caller, who decides
            future.set_exception(exc)

    def _read(self, section: Section) -> None:
        started = time.monotonic()
        with self._cond:
            self._tried[section.name] = started
        try:
            doc = section.read()
        except KalshiError as exc:
            self._failed(section, source_of(exc), str(exc))
        except Exception as exc:  # noqa: BLE001 - the worker's top level: a reader's bug fails its section only
            log.exception("dashboard section %s failed", section.name)
            self._failed(section, Source.DASHBOARD, f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            self._succeeded(section, doc, int((time.monotonic() - started) * 1000))

    def _succeeded(self, section: Section, doc: SectionDoc, read_ms: int) -> None:
        now = self._clock()
        with self._cond:
            old = self._snaps[section.name]
            if old.failure is not None:
                log.info("dashboard section %s read again (failing since %s)", section.name,
                         old.failure.since.isoformat())
            self._snaps[section.name] = Snapshot(section.name, section.title, old.version + 1, doc, now, None,
                                                 read_ms)

    def _failed(self, section: Section, source: Source, error: str) -> None:
        now = self._clock()
        with self._cond:
            old = self._snaps[section.name]
            if old.failure is None:  # logged when it starts failing, not on every read while it does
                log.warning("dashboard section %s: %s unavailable: %s", section.name, source.value, error)
            since = old.failure.since if old.failure is not None else now
            self._snaps[section.name] = replace(old, version=old.version + 1,
                                                failure=Failure(source, error, since, now))

    def _close(self) -> None:
        with self._cond:
            jobs, self._jobs = list(self._jobs), deque()
            self._stopping = True
        for _, future in jobs:
            future.set_exception(BoardStopped("the dashboard stopped"))
        if self._on_stop is not None:
            try:
                self._on_stop()
            except KalshiError as exc:
                log.warning("closing the dashboard's services: %s", exc)
