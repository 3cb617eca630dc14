"""Independent reads, concurrently: a small bounded pool of threads sharing the one client, and the result of
a batch read that may fail in part.

Why several threads may share one `KalshiClient`: the transport prepares each attempt from scratch
(`requests.Request(...).prepare()`, so each attempt is signed once and no two share a signature) and sends
it through the HTTP adapter's urllib3 connection pool, which is thread-safe and hands each in-flight request
its own keep-alive connection (up to the adapter's `pool_maxsize`, 16, above `MAX_WORKERS`).  It never uses
the session's cookie jar or redirect handling, the parts that make `requests.Session` unsafe to share.  The
client-side token buckets take a lock, so N workers together still wait for the same tokens one would.

`ReadPool.wait` runs queued tasks itself while it waits, so a task may submit sub-tasks and wait for them
(a portfolio read waits for its chunks) without ever deadlocking the bounded pool.  Workers are daemon
threads: a Ctrl-C in the main thread ends the command at once, leaving any in-flight read to finish or
time out unobserved (reads change nothing).  Every exception of a task, whatever it is, lands in its
future and is raised in the thread that asks for the result; no worker ever dies of one.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar

from kalshi_trading.errors import ApiError, AuthenticationError, NotFoundError, ResponseFormatError, TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_WORKERS = 6
MAX_WORKERS = 8

_Task = tuple[Future, Callable[..., Any], tuple, dict]


class ReadPool:
    """At most `workers` threads running reads; threads start on demand and end with `close()`."""

    def __init__(self, workers: int = DEFAULT_WORKERS, name: str = "kalshi-read"):
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be 1..{MAX_WORKERS}")
        self.workers = workers
        self.name = name
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> "ReadPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> "Future[T]":
        """Queue `fn(*args, **kwargs)`; its result (or exception) arrives in the returned future."""
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the read pool is closed")
            self._queue.put((future, fn, args, kwargs))
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads) + 1}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def wait(self, futures: Iterable[Future]) -> None:
        """Return once every future is done, running queued tasks (anyone's) in this thread meanwhile.

        Never deadlocks on nested waits: the futures were submitted before this call, so each is queued (and
        then run here or by a worker), running, or done.
        """
        pending = [f for f in futures if not f.done()]
        while pending:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                wait_futures(pending, return_when=FIRST_COMPLETED)
            else:
                if task is None:  # a worker's stop signal: leave it for a worker
                    self._queue.put(None)
                    wait_futures(pending, return_when=FIRST_COMPLETED)
                else:
                    _run(task)
            pending = [f for f in pending if not f.done()]

    def results(self, futures: Sequence[Future]) -> list:
        """Every result in order once all are done; the first failure (in order) is raised instead."""
        self.wait(futures)
        return [f.result() for f in futures]

    def close(self) -> None:
        """Cancel what has not started and let the workers end (without waiting for running reads)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while True:
                try:
                    task = self._queue.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[0].cancel()
            for _ in self._threads:
                self._queue.put(None)

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            _run(task)


def _run(task: _Task) -> None:
    future, fn, args, kwargs = task
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:  # a task's top level: whatever it raised is the waiting caller's to handle
        future.set_exception(exc)
    else:
        future.set_result(result)


# ----------------------------------------------------------------------------------- batch read results
@dataclass(frozen=True)
class BatchRead(Generic[T]):
    """What a batch read by ticker found, and what it did not.

    `found` maps ticker -> item; `unknown` lists tickers the exchange answered for but does not have (404, or
    left out of its answer); `failed` maps each ticker it could not read to the error of its request (a chunk
    that failed after the transport's retries, or a refusal).  Every requested ticker is in exactly one.
    """

    found: Mapping[str, T] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    failed: Mapping[str, ApiError] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unknown and not self.failed

    @property
    def unavailable(self) -> tuple[str, ...]:
        """Tickers not read for network or exchange-side reasons (worth trying again), in request order."""
        return tuple(t for t, e in self.failed.items() if is_network(e))

    def merged(self, other: "BatchRead[T]") -> "BatchRead[T]":
        return BatchRead({**self.found, **other.found}, self.unknown + other.unknown,
                         {**self.failed, **other.failed})


def is_network(error: BaseException) -> bool:
    """A failure of the way to the exchange (exit 6) rather than a refusal by it."""
    return isinstance(error, (TransientError, ResponseFormatError))


def unique_tickers(tickers: Iterable[str]) -> list[str]:
    """Tickers in first-seen order, each once, blanks dropped."""
    return [t for t in dict.fromkeys(t.strip() for t in tickers) if t]


def chunked(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def read_chunks(tickers: Sequence[str], size: int, read: Callable[[Sequence[str]], BatchRead[T]],
                pool: ReadPool | None = None) -> BatchRead[T]:
    """`read` each chunk of at most `size` tickers (concurrently on `pool`) and merge the answers.

    A chunk whose read raises an `ApiError` puts all its tickers in `failed`; an authentication failure is
    not partial (every other read would fail alike) and is raised, as is anything that is not an `ApiError`.
    """
    chunks = chunked(list(tickers), size)
    if pool is None or len(chunks) < 2:
        outcomes = [_attempt(read, c) for c in chunks]
    else:
        futures = [pool.submit(_attempt, read, c) for c in chunks]
        outcomes = pool.results(futures)
    result: BatchRead[T] = BatchRead()
    for chunk, outcome in zip(chunks, outcomes, strict=True):
        if isinstance(outcome, ApiError):
            log.warning("batch read of %d ticker(s) failed: %s", len(chunk), outcome)
            outcome = BatchRead(failed={t: outcome for t in chunk})
        result = result.merged(outcome)
    return result


def read_each(tickers: Iterable[str], read_one: Callable[[str], T], pool: ReadPool | None = None) -> BatchRead[T]:
    """One request per ticker (concurrently on `pool`): 404 -> unknown, other API errors -> failed."""
    wanted = unique_tickers(tickers)

    def one(ticker: str) -> BatchRead[T]:
        try:
            return BatchRead(found={ticker: read_one(ticker)})
        except NotFoundError:
            return BatchRead(unknown=(ticker,))

    return read_chunks(wanted, 1, lambda chunk: one(chunk[0]), pool)


def _attempt(read: Callable[[Sequence[str]], BatchRead[T]], chunk: Sequence[str]) -> "BatchRead[T] | ApiError":
    try:
        return read(chunk)
    except AuthenticationError:
        raise
    except ApiError as exc:
        return exc
