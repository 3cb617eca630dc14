"""Read commands cost a constant number of round trips (batch reads, concurrent), and a batch read that fails in
part shows everything else, marks what is missing and exits non-zero naming it.

The real CLI (in-process) against the real simulator; partial failures come from a small misbehaving proxy in
front of it (tests/e2e/proxy.py) or from the simulator's own fault injection; requests are counted server-side.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.marketdata.events import BookStale, Disconnected, FeedError
from kalshi_trading.marketdata.feed_poll import PollingFeed
from kalshi_trading.cli.main import app
from kalshi_trading.errors import ExchangeUnavailable, ResponseFormatError, TransientError
from kalshi_trading.sim.clock import ManualClock
from kalshi_trading.sim.runtime import start_embedded
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.portfolio import Portfolio, incomplete_error
from tests.e2e.conftest import T0, client_for
from tests.e2e.positions import open_positions
from tests.e2e.proxy import Action, Proxy, tickers_of

BOOKS = "/trade-api/v2/markets/orderbooks"
MARKETS = "/trade-api/v2/markets"


def cli_env(base_url: str, data_dir) -> dict:
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": base_url, "KALSHI_DATA_DIR": str(data_dir),
            "KALSHI_LOG_DIR": str(data_dir / "logs"), "NO_COLOR": "1", "HOME": str(data_dir)}


def run(env: dict, *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def doc_of(result) -> dict:
    return json.loads(result.stdout)


def positions_by_ticker(doc: dict) -> dict:
    return {p["ticker"]: p for p in doc["positions"]}


@pytest.fixture
def env(sim, tmp_path):
    return cli_env(sim.base_url, tmp_path)


@pytest.fixture
def proxied(sim, tmp_path):
    """(start(rule) -> env through a proxy with that rule, the proxies started)."""
    upstream = sim.base_url.split("/trade-api")[0]
    started: list[Proxy] = []

    def start(rule) -> dict:
        proxy = Proxy(upstream, rule).start()
        started.append(proxy)
        return cli_env(proxy.base_url, tmp_path)

    yield start, started
    for proxy in started:
        proxy.stop()


# ----------------------------------------------------------------------------------- round trips
def test_portfolio_requests_do_not_grow_with_positions(sim, env, monkeypatch):
    open_positions(sim, 3)
    assert run(env, "portfolio", "--json").exit_code == 0  # the journal's first sync

    def requests_of(*args: str) -> tuple[int, dict]:
        before = sim.app.requests
        result = run(env, *args)
        assert result.exit_code == 0, result.output
        return sim.app.requests - before, doc_of(result)

    few, few_doc = requests_of("portfolio", "--json")
    open_positions(sim, 60)  # the same 3 markets and 57 more
    many, many_doc = requests_of("portfolio", "--json")
    assert len(few_doc["positions"]) == 3 and len(many_doc["positions"]) == 60
    # fills, settlements, balance, positions, one markets read, one order books read
    assert few == many == 6
    tickers = [p["ticker"] for p in many_doc["positions"]]
    assert tickers == sorted(tickers)
    assert {p["mark"] for p in many_doc["positions"]} == {"0.5000"} and many_doc["missing"] == []
    positions_count, _ = requests_of("positions", "--json")
    pnl_count, _ = requests_of("pnl", "--json")
    assert positions_count == pnl_count == 6

    # today's sequential path, kept for the benchmark: a market and a book per position, same answer
    monkeypatch.setattr(Portfolio, "sequential_reads", True)
    sequential, sequential_doc = requests_of("portfolio", "--json")
    assert sequential == 4 + 2 * 60
    drop = ("as_of",)
    assert {k: v for k, v in sequential_doc.items() if k not in drop} == \
        {k: v for k, v in many_doc.items() if k not in drop}


def test_more_positions_than_one_batch_are_chunked_and_keep_their_order(sim, proxied):
    tickers = open_positions(sim, 130)
    first = tickers[0]

    def slow_first_chunk(method, path, query):  # the first chunk answers last
        if path in (BOOKS, MARKETS) and first in tickers_of(query):
            return Action(delay=0.4)
        return None

    start, started = proxied
    env = start(slow_first_chunk)
    result = run(env, "portfolio", "--json")
    assert result.exit_code == 0, result.output
    doc = doc_of(result)
    assert [p["ticker"] for p in doc["positions"]] == tickers
    assert all(p["mark"] == "0.5000" and p["mark_source"] == "mid" for p in doc["positions"])
    proxy = started[0]
    books = [tickers_of(q) for m, p, q in proxy.seen if p == BOOKS]
    markets = [tickers_of(q) for m, p, q in proxy.seen if p == MARKETS and "tickers" in q]
    assert sorted(len(b) for b in books) == [30, 100] and sorted(len(m) for m in markets) == [30, 100]
    # order books: the repeated-key form; markets: the comma form
    assert all(len(q["tickers"]) == len(tickers_of(q)) for m, p, q in proxy.seen if p == BOOKS)
    assert all(len(q["tickers"]) == 1 for m, p, q in proxy.seen if p == MARKETS and "tickers" in q)
    table = run(env, "positions").stdout
    rows = [line.split()[0] for line in table.splitlines() if line.startswith(("KX", "KXBATCH"))]
    assert rows == tickers


# ----------------------------------------------------------------------------------- partial failures
@pytest.mark.parametrize("failing", [BOOKS, MARKETS])
@pytest.mark.parametrize("command", [["portfolio", "--json"], ["positions", "--json"], ["pnl", "--json"]])
def test_a_chunk_failing_after_retries_shows_the_rest_and_exits_6(sim, proxied, failing, command):
    tickers = open_positions(sim, 104)
    lost = tickers[100:]  # the second chunk of each batch read

    def second_chunk_down(method, path, query):
        if path == failing and lost[0] in tickers_of(query):
            return Action(status=503, body={"error": {"code": "service_unavailable", "message": "down"}})
        return None

    start, _ = proxied
    result = run(start(second_chunk_down), *command)
    assert result.exit_code == 6, result.output
    assert "Traceback" not in result.output and "unexpected" not in result.stderr
    assert all(t in result.stderr for t in lost) and "incomplete" in result.stderr
    doc = doc_of(result)
    assert [m["ticker"] for m in doc["missing"]] == lost and {m["reason"] for m in doc["missing"]} == {"missing"}
    if "positions" in doc:
        shown = positions_by_ticker(doc)
        assert list(shown) == tickers  # everything else is shown, in order
        for t in lost:  # no stale or zero mark as if it were current
            assert shown[t]["mark"] is None and shown[t]["market_value"] is None
            assert shown[t]["mark_source"] == "missing" and shown[t]["unrealized_pnl"] is None
        assert all(shown[t]["mark"] == "0.5000" for t in tickers[:100])
    if "unrealized_pnl" in doc:
        assert doc["unrealized_pnl"] is None and doc["net_pnl"] is None
        assert doc["realized_pnl"] is not None and doc["fees_paid"] is not None


def test_partial_failure_in_the_table_view(sim, proxied):
    tickers = open_positions(sim, 103)
    lost = tickers[100:]

    def down(method, path, query):
        if path == BOOKS and lost[0] in tickers_of(query):
            return Action(status=500, body={"error": {"code": "internal", "message": "boom"}})
        return None

    start, _ = proxied
    result = run(start(down), "portfolio")
    assert result.exit_code == 6, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("KX")}
    assert list(lines) == tickers
    for t in lost:
        assert "missing" in lines[t] and "50¢" not in lines[t]
    assert all("50¢" in lines[t] and "mid" in lines[t] for t in tickers[:100])
    assert "net P&L" in result.stdout and all(t in result.stderr for t in lost)


@pytest.mark.parametrize("how", ["left out of /markets", "404 from /markets/orderbooks"])
def test_an_unknown_ticker_is_named_and_exits_4(sim, proxied, how):
    tickers = open_positions(sim, 6)
    gone = tickers[2]

    def unknown(method, path, query):
        if how.endswith("/markets") and path == MARKETS and gone in tickers_of(query):
            return Action(edit=lambda body: {**body, "markets": [m for m in body["markets"] if m["ticker"] != gone]})
        if how.endswith("orderbooks") and path == BOOKS and gone in tickers_of(query):
            return Action(status=404, body={"error": {"code": "not_found", "message": "market not found"}})
        return None

    start, _ = proxied
    result = run(start(unknown), "portfolio", "--json")
    assert result.exit_code == 4, result.output
    assert gone in result.stderr and "does not know" in result.stderr
    doc = doc_of(result)
    shown = positions_by_ticker(doc)
    assert list(shown) == tickers and shown[gone]["mark"] is None and shown[gone]["mark_source"] == "unknown"
    assert all(shown[t]["mark"] == "0.5000" for t in tickers if t != gone)
    assert doc["missing"] == [{"ticker": gone, "reason": "unknown", "error": None}]


def test_unknown_and_unavailable_together_exit_6_naming_both(sim, proxied):
    tickers = open_positions(sim, 102)
    gone, lost = tickers[0], tickers[101]

    def rule(method, path, query):
        asked = tickers_of(query)
        if path == MARKETS and gone in asked:
            return Action(edit=lambda body: {**body, "markets": [m for m in body["markets"] if m["ticker"] != gone]})
        if path == BOOKS and lost in asked:
            return Action(status=502, body={})
        return None

    start, _ = proxied
    result = run(start(rule), "positions", "--json")
    assert result.exit_code == 6, result.output
    assert gone in result.stderr and lost in result.stderr
    # the failed order book chunk holds tickers[100] and tickers[101]
    assert {m["ticker"]: m["reason"] for m in doc_of(result)["missing"]} == \
        {gone: "unknown", tickers[100]: "missing", lost: "missing"}


HALF_FAULTY = "error_before=0.15,error_after=0.15,drop_after=0.1,throttle=0.1,seed=3"


@pytest.fixture
def faulty(tmp_path, monkeypatch):
    """A simulator with 12 positions whose HTTP front then fails half the requests (5xx before and after
    processing, dropped connections, 429s): (server, tickers, fault-free CLI document, data dir, thread crashes)."""
    crashed: list = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(args))
    data = tmp_path / "data"
    server = start_embedded(data / "sim", seed=11, participants=False, clock=ManualClock(T0))
    try:
        tickers = open_positions(server, 12)
        baseline = run(cli_env(server.base_url, data), "portfolio", "--json")
        assert baseline.exit_code == 0, baseline.output
    finally:
        server.stop()
    server = start_embedded(data / "sim", participants=False, clock=ManualClock(T0), faults=HALF_FAULTY)
    try:
        yield server, tickers, doc_of(baseline), data, crashed
    finally:
        server.stop()
    assert not crashed, crashed  # no exception ever escaped a worker thread


def test_half_the_requests_failing_never_crashes_or_misleads(faulty):
    """Each run either matches the fault-free answer, or exits 6 naming what is missing, the rest intact."""
    server, tickers, baseline, data, _ = faulty
    expected = positions_by_ticker(baseline)
    env = cli_env(server.base_url, data)
    for i in range(6):
        command = ["portfolio", "--json"] if i % 2 == 0 else ["positions", "--json"]
        result = run(env, *command)
        assert result.exit_code in (0, 6), result.output
        assert "Traceback" not in result.output and "unexpected" not in result.stderr
        if not result.stdout.strip():  # a whole-command read failed (balance, positions, journal): one message
            assert result.exit_code == 6 and "error: " in result.stderr
            continue
        doc = doc_of(result)
        shown = positions_by_ticker(doc)
        assert list(shown) == tickers
        missing = {m["ticker"] for m in doc["missing"]}
        assert (result.exit_code == 0) == (not missing)
        for t in tickers:
            if t in missing:
                assert shown[t]["mark"] is None and shown[t]["market_value"] is None and t in result.stderr
            else:
                assert shown[t] == expected[t]


def test_half_the_requests_failing_with_few_retries(faulty, tmp_path):
    """The same faults through the service with two attempts a request, so batch chunks do fail after their
    retries: every summary is complete, or marks exactly the unread positions and keeps the others exact."""
    server, tickers, baseline, _, _ = faulty
    expected = {p["ticker"]: (D(p["mark"]), D(p["market_value"]), D(p["unrealized_pnl"]))
                for p in baseline["positions"]}
    client = client_for(server.base_url, server.demo_account,
                        RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002))
    outcomes = []
    with SqliteJournal.open(tmp_path / "journal.sqlite") as journal:
        portfolio = Portfolio(client, journal, "sim")
        for _ in range(20):
            try:
                summary = portfolio.summary()
            except (TransientError, ResponseFormatError) as exc:  # balance, positions or the journal sync
                outcomes.append(type(exc).__name__)
                continue
            views = {v.ticker: v for v in summary.positions}
            assert list(views) == tickers
            missing = {m.ticker for m in summary.missing}
            outcomes.append(len(missing))
            error = incomplete_error(summary)
            assert (error is None) == (not missing)
            if missing:
                assert isinstance(error, ExchangeUnavailable) and all(t in str(error) for t in missing)
                assert summary.unrealized_pnl is None and summary.net_pnl is None
            for t, v in views.items():
                if t in missing:
                    assert v.mark is None and v.market_value is None and v.mark_source == "missing"
                else:
                    assert (v.mark, v.market_value, v.unrealized_pnl) == expected[t]
    client.close()
    # two attempts at 50% faults: a chunk fails after its retries in about every other summary
    assert any(isinstance(o, int) and o > 0 for o in outcomes), outcomes


# ----------------------------------------------------------------------------------- the other read commands
def test_book_and_watch_read_in_one_round_trip(sim, env):
    tickers = open_positions(sim, 3)
    before = sim.app.requests
    result = run(env, "book", tickers[0], "--json")
    assert result.exit_code == 0 and sim.app.requests - before == 2  # market and book, concurrently
    assert json.loads(result.stdout)["yes_bids"] == [{"price": "0.4000", "count": "5.00"}]
    missing = run(env, "book", "NO-SUCH-1")
    assert missing.exit_code == 4 and "no market NO-SUCH-1" in missing.stderr
    missing = run(env, "watch", tickers[0], "NO-SUCH-1", "NO-SUCH-2", "--poll", "--duration", "0.2")
    assert missing.exit_code == 4 and "NO-SUCH-1, NO-SUCH-2" in missing.stderr


def test_sim_batch_answers_match_the_single_reads(sim, client):
    tickers = open_positions(sim, 5)
    books = client.get_orderbooks_by_tickers([*tickers, tickers[0], " "])
    markets = client.get_markets_by_tickers(tickers + ["NO-SUCH-1"])
    assert books.complete and list(books.found) == tickers
    assert markets.unknown == ("NO-SUCH-1",) and not markets.failed
    for t in tickers:
        assert books.found[t] == client.get_orderbook(t)
        assert markets.found[t] == client.get_market(t)
    assert client.get_orderbooks_by_tickers(["NO-SUCH-1", *tickers]).unknown == ("NO-SUCH-1",)
    assert D(str(books.found[tickers[0]].mid)) == D("0.5")


def test_polling_feed_reads_books_in_batches_and_marks_only_unread_ones_stale(sim, proxied):
    """`watch --poll` / the bot's REST fallback: one batch read per 100 books; an unknown ticker is reported and
    the rest polled; a chunk that fails leaves its books stale (never current-looking) and the others live."""
    from tests.e2e.positions import ensure_markets
    from tests.e2e.test_feed_e2e import until

    tickers = ensure_markets(sim, 103)
    down = threading.Event()

    def rule(method, path, query):
        asked = tickers_of(query)
        if path == BOOKS and down.is_set() and tickers[101] in asked:
            return Action(status=503, body={"error": {"code": "service_unavailable", "message": "down"}})
        if path == BOOKS and "NO-SUCH-1" in asked:
            return Action(status=404, body={"error": {"code": "not_found", "message": "market not found"}})
        return None

    start, started = proxied
    start(rule)
    client = client_for(started[0].base_url, sim.demo_account,
                        RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002))
    feed = PollingFeed(client, interval=0.05, trades=False)
    try:
        feed.subscribe([*tickers, "NO-SUCH-1"])
        feed.start()
        until(feed, lambda ev: any(isinstance(e, FeedError) and "NO-SUCH-1" in e.message for e in ev)
              and not any(feed.books[t].stale for t in tickers), "every known book live")
        assert all(len(tickers_of(q)) <= 100 for m, p, q in started[0].seen if p == BOOKS)
        down.set()
        lost = set(tickers[100:])
        events = until(feed, lambda ev: {e.ticker for e in ev if isinstance(e, BookStale)} >= lost, "stale books")
        assert not any(isinstance(e, Disconnected) for e in events)
        assert all(feed.books[t].stale for t in lost)
        assert not any(feed.books[t].stale for t in tickers[:100])
        down.clear()
        until(feed, lambda ev: not any(feed.books[t].stale for t in tickers), "the books back")
    finally:
        feed.stop()
        client.close()


@pytest.mark.parametrize("command", [["portfolio"], ["positions", "--json"]])
def test_ctrl_c_during_concurrent_reads_exits_130_at_once(tmp_path, command):
    """Worker threads never hold the command up: Ctrl-C while every read waits ends it with 130, no traceback."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never answers
    port = silent.getsockname()[1]
    env = {**os.environ, **cli_env(f"http://127.0.0.1:{port}/trade-api/v2", tmp_path), "KALSHI_READ_TIMEOUT": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_trading", *command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    conns = []
    try:
        for _ in range(3):  # the journal sync, the balance and the positions are all waiting now
            conns.append(silent.accept()[0])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        for conn in conns:
            conn.close()
        silent.close()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
