"""`kalshi record`, `kalshi replay` and `kalshi history download` driven as a user drives them, against the real
simulator: in-process (Typer's runner) and as processes stopped with Ctrl-C or killed outright."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, TimeInForce
from kalshi_trading.replay.feed import ReplayFeed
from kalshi_trading.replay.reader import ProblemKind, Recording
from tests.e2e.conftest import T0, cent_market, client_for, order

WAIT = 60.0


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}


@pytest.fixture
def run(env):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


@pytest.fixture
def bob(sim):
    c = client_for(sim.base_url, sim.create_account(D(100_000)))
    yield c
    c.close()


def one_line_error(result, code: int, *words: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output and "unexpected error" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(w in errors[0] for w in words), result.output


class Trader(threading.Thread):
    """Two other accounts trading on `ticker` until stopped (the simulator is otherwise still): one rests orders
    that move the book, the other now and then takes one of them (a trade)."""

    def __init__(self, sim, ticker: str):
        super().__init__(daemon=True)
        self.maker = client_for(sim.base_url, sim.create_account(D(100_000)))
        self.taker = client_for(sim.base_url, sim.create_account(D(100_000)))
        self.ticker, self.halt = ticker, threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            i += 1
            price = str(D(30 + i % 40) / 100)
            self.maker.create_order(order(self.ticker, BookSide.BID, price, "2"))
            if i % 3 == 0:
                self.taker.create_order(order(self.ticker, BookSide.ASK, price, "1", TimeInForce.IOC))
            time.sleep(0.02)

    def stop(self) -> None:
        self.halt.set()
        self.join(WAIT)
        self.maker.close()
        self.taker.close()


def test_record_then_replay_in_process(run, sim, bob, tmp_path):
    ticker = cent_market(sim)
    trader = Trader(sim, ticker)
    trader.start()
    try:
        result = run("record", ticker.lower(), "--duration", "1.5", "--out", "rec", "--snapshot-every", "0.3",
                     "--json")
    finally:
        trader.stop()
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["tickers"] == [ticker] and doc["counts"]["deltas"] > 5 and doc["counts"]["snapshots"] >= 2
    assert all(Path(f).exists() for f in doc["files"])
    replayed = run("replay", "rec", "--json")
    assert replayed.exit_code == 0, replayed.output
    summary = json.loads(replayed.stdout)
    assert summary["markets"] == [ticker] and summary["problems"] == [] and summary["gaps"] == 0
    assert summary["checkpoints"] == doc["counts"]["snapshots"] - 1  # each later snapshot matched the deltas
    assert summary["events"]["book"] == doc["counts"]["snapshots"] + doc["counts"]["deltas"]
    assert summary["events"]["trade"] == doc["counts"]["trades"]
    streamed = run("replay", "rec", "--events")
    lines = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert lines[0]["event"] == "book" and lines[-1]["event"] == "summary"
    text = run("record", ticker, "--duration", "0.5", "--out", "rec")  # a second session beside the first
    assert text.exit_code == 0 and "recorded 1 market(s)" in text.stdout and "session" in text.stdout
    assert len(Recording(tmp_path / "rec").sessions) == 2


def test_record_refuses_bad_input_with_one_line_and_its_exit_code(run, sim, tmp_path):
    ticker = cent_market(sim)
    one_line_error(run("record", "KXNOPE-26JAN01-T1", "--duration", "1", "--out", "rec"), 4, "KXNOPE-26JAN01-T1")
    one_line_error(run("record", "--duration", "1"), 2, "name at least one market")
    one_line_error(run("record", "--series", "KXNOSUCH", "--duration", "1"), 2, "no open markets in series KXNOSUCH")
    (tmp_path / "afile").write_text("x")
    one_line_error(run("record", ticker, "--duration", "1", "--out", "afile"), 3, "afile")
    for bad in ("0", "-1", "nan", "1e3"):
        result = run("record", ticker, "--duration", bad)
        assert result.exit_code == 2 and "Traceback" not in result.output, (bad, result.output)
    assert not (tmp_path / "rec").exists()


def cli_process(env: dict, *args: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    full.update(env, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.Popen([sys.executable, "-m", "kalshi_trading", *args], env=full, cwd=env["HOME"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_rows(directory: Path, ticker: str, rows: int) -> None:
    """Until the recording being written holds `rows` book updates (read while it grows: its tail is cut)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if any(directory.glob("book_l2.*")):
            feed = ReplayFeed(directory)
            feed.subscribe([ticker])
            if sum(type(e).__name__ == "BookUpdated" for e in feed.events()) >= rows:
                return
        time.sleep(0.2)
    raise AssertionError("the recorder wrote nothing")


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_a_recorder_stopped_by_ctrl_c_closes_cleanly_and_a_killed_one_loses_at_most_its_last_second(
        env, sim, bob, tmp_path, how):
    ticker = cent_market(sim)
    trader = Trader(sim, ticker)
    trader.start()
    proc = cli_process(env, "record", ticker, "--out", "rec")
    try:
        wait_for_rows(tmp_path / "rec", ticker, 20)
        proc.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
        out, err = proc.communicate(timeout=WAIT)
    finally:
        trader.stop()
        if proc.poll() is None:
            proc.kill()
    feed = ReplayFeed(tmp_path / "rec")
    feed.subscribe([ticker])
    updates = sum(type(e).__name__ == "BookUpdated" for e in feed.events())
    manifest = json.loads(next((tmp_path / "rec").glob("session.*.json")).read_text())
    if how == "ctrl-c":
        assert proc.returncode == 0 and "Traceback" not in err, err
        assert "recorded 1 market(s)" in out and manifest["stopped"] is not None
        assert feed.problems == []  # every gzip stream finished
        assert updates == manifest["counts"]["snapshots"] + manifest["counts"]["deltas"]
    else:
        assert proc.returncode == -signal.SIGKILL and manifest["stopped"] is None
        kinds = {p.kind for p in feed.problems}  # reported, not fatal (a line may be cut, too)
        assert ProblemKind.TRUNCATED_FILE in kinds and kinds <= {ProblemKind.TRUNCATED_FILE, ProblemKind.TRUNCATED_LINE}
        assert updates >= 20  # what was flushed before the kill is all there


def test_history_download_reads_both_tiers_and_history_still_lists_the_journal(run, sim, bob, tmp_path):
    client = client_for(sim.base_url, sim.demo_account)
    old = cent_market(sim)
    client.create_order(order(old, BookSide.BID, "0.50", "5"))
    bob.create_order(order(old, BookSide.ASK, "0.50", "2", TimeInForce.IOC))
    sim.exchange.advance(3 * 86_400)  # the trade (and, once settled, the market) pass the historical cutoff
    new = cent_market(sim)
    client.create_order(order(new, BookSide.BID, "0.40", "5"))
    bob.create_order(order(new, BookSide.ASK, "0.40", "3", TimeInForce.IOC))
    sim.save()
    start = datetime.fromtimestamp(T0 / 1000, timezone.utc) - timedelta(hours=1)
    result = run("history", "download", old, new, "--from", start.isoformat(),
                 "--to", (start + timedelta(days=4)).isoformat(), "--period", "1h", "--out", "hist", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    by = {m["ticker"]: m for m in doc["markets"]}
    assert (by[old]["tier"], by[old]["trades"], by[old]["historical_trades"]) == ("historical", 1, 1)
    assert (by[new]["tier"], by[new]["trades"], by[new]["historical_trades"]) == ("live", 1, 0)
    assert by[old]["candles"] >= 1 and by[new]["candles"] >= 1
    rows = [json.loads(line) for line in (tmp_path / "hist" / f"history-trades.{old}.jsonl").read_text().splitlines()]
    assert rows == [{"ticker": old, "trade_id": rows[0]["trade_id"], "created_time": rows[0]["created_time"],
                     "yes_price": "0.5000", "no_price": "0.5000", "count": "2.00", "taker_outcome_side": "no",
                     "taker_book_side": "ask", "is_block_trade": False, "tier": "historical"}]
    candles = (tmp_path / "hist" / f"history-candles.{new}.60m.jsonl").read_text().splitlines()
    assert any(json.loads(c)["price_close"] == "0.4000" and json.loads(c)["volume"] == "3.00" for c in candles)
    table = run("history", "download", new, "--out", "hist")
    assert table.exit_code == 0 and "live" in table.stdout
    journal = run("history", "-n", "5", "--json")  # `kalshi history` itself is the journal's, as before
    assert journal.exit_code == 0 and "entries" in json.loads(journal.stdout)
    one_line_error(run("history", "download", new, "--period", "5m"), 2, "--period")
    one_line_error(run("history", "download", new, "--from", "2026-11-02", "--to", "2026-11-01"), 2, "after")
    one_line_error(run("history", "download", "KXNOPE-26JAN01-T1"), 4, "KXNOPE-26JAN01-T1")
