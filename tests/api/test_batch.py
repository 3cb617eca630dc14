"""The read pool and batch-read merging: nested waits never deadlock, failures land in futures (the workers
carry on), order is the order of submission, and a failed chunk fails only its own tickers."""

from __future__ import annotations

import threading

import pytest

from kalshi_trading.api.batch import BatchRead, ReadPool, read_chunks, read_each, unique_tickers
from kalshi_trading.errors import (
    AuthenticationError,
    ExchangeUnavailable,
    NotFoundError,
    RejectedError,
)


def test_nested_waits_finish_even_with_one_worker():
    with ReadPool(1) as pool:
        def parent(n: int) -> list[int]:
            children = [pool.submit(lambda i=i: i * n) for i in range(5)]
            return pool.results(children)  # waits inside a worker for tasks queued behind it

        parents = [pool.submit(parent, n) for n in (1, 2, 3)]
        assert pool.results(parents) == [[0, 1, 2, 3, 4], [0, 2, 4, 6, 8], [0, 3, 6, 9, 12]]


def test_failures_land_in_futures_in_order_and_workers_carry_on():
    crashed: list = []
    hook, threading.excepthook = threading.excepthook, crashed.append
    try:
        with ReadPool(2) as pool:
            def boom(kind):
                raise kind("no")

            futures = [pool.submit(boom, KeyError), pool.submit(lambda: 7), pool.submit(boom, ExchangeUnavailable)]
            pool.wait(futures)
            assert isinstance(futures[0].exception(), KeyError) and futures[1].result() == 7
            with pytest.raises(KeyError):  # the first failure in submission order, raised in the caller
                pool.results(futures)
            assert pool.results([pool.submit(lambda: "still working")]) == ["still working"]
    finally:
        threading.excepthook = hook
    assert not crashed


def test_close_cancels_what_has_not_started():
    gate, started = threading.Event(), threading.Event()
    pool = ReadPool(1)

    def hold() -> bool:
        started.set()
        return gate.wait(5)

    running = pool.submit(hold)
    assert started.wait(5)
    queued = [pool.submit(lambda: 1) for _ in range(3)]
    pool.close()
    gate.set()
    assert running.result() is True and all(f.cancelled() for f in queued)
    with pytest.raises(RuntimeError):
        pool.submit(lambda: 1)
    with pytest.raises(ValueError):
        ReadPool(0)


@pytest.mark.parametrize("pool", [None, "pool"])
def test_a_failed_chunk_fails_only_its_tickers(pool):
    tickers = [f"T{i}" for i in range(7)]
    down = ExchangeUnavailable("down", status=503)

    def read(chunk):
        if "T4" in chunk:
            raise down
        return BatchRead({t: t.lower() for t in chunk if t != "T1"}, tuple(t for t in chunk if t == "T1"))

    with ReadPool(3) as p:
        got = read_chunks(tickers, 3, read, p if pool else None)
    assert dict(got.found) == {"T0": "t0", "T2": "t2", "T6": "t6"}
    assert got.unknown == ("T1",) and list(got.failed) == ["T3", "T4", "T5"] and got.failed["T4"] is down
    assert got.unavailable == ("T3", "T4", "T5") and not got.complete


def test_authentication_failures_and_bugs_are_not_partial():
    def refuse(chunk):
        raise AuthenticationError("bad key", status=401)

    with pytest.raises(AuthenticationError):
        read_chunks(["A", "B", "C"], 1, refuse, ReadPool(2))
    with pytest.raises(ZeroDivisionError):
        read_chunks(["A", "B"], 1, lambda chunk: 1 / 0)


def test_read_each_sorts_answers_into_found_unknown_and_failed():
    def one(ticker):
        if ticker == "GONE":
            raise NotFoundError("market not found", status=404)
        if ticker == "BAD":
            raise RejectedError("bad ticker", status=400)
        return ticker.lower()

    with ReadPool(4) as pool:
        got = read_each(["A", "GONE", " ", "A", "BAD", "B"], one, pool)
    assert dict(got.found) == {"A": "a", "B": "b"} and got.unknown == ("GONE",)
    assert list(got.failed) == ["BAD"] and got.unavailable == ()
    assert unique_tickers(["b", " a ", "", "b"]) == ["b", "a"]
