"""`kalshi backtest` driven as a user drives it (Typer's runner, in-process) on recordings made by the real recorder:
the report, its models and options, refusals (exit 2 before anything runs), and the recordings' bad input."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.marketdata.events import TradeMsg
from kalshi_trading.models import BookSide, Side
from kalshi_trading.replay.recorder import Recorder
from kalshi_trading.replay.writer import SessionWriter
from tests.backtest.streams import T0, Clock, tickers_for, write_market


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A few minutes of one synthetic market, settled YES at the end."""
    directory = tmp_path_factory.mktemp("rec") / "rec"
    write_market(directory, 2500, settle="yes")
    return directory


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "NO_COLOR": "1", "HOME": str(tmp_path)}
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["backtest", *map(str, args)], env=env)


def refused(result, code: int, *words: str) -> str:
    text = result.output
    assert result.exit_code == code, (result.exit_code, text)
    assert "Traceback" not in text and "unexpected error" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and all(w in lines[0] for w in words), text
    return lines[0]


def report(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ------------------------------------------------------------------------------------------------ the report
def test_the_report_has_every_figure_and_names_the_model_and_latency(cli, recording, tmp_path):
    doc = report(cli("--data", recording, "--latency", "20ms", "--json"))
    b = doc["backtest"]
    assert (b["strategy"], b["queue_model"], b["optimistic"], b["latency_ms"]) == ("mm", "conservative", False, 20)
    assert set(doc["pnl"]) == {"realized", "unrealized", "fees", "net"}
    assert D(doc["pnl"]["net"]) == D(doc["pnl"]["realized"]) + D(doc["pnl"]["unrealized"]) - D(doc["pnl"]["fees"])
    assert D(doc["equity"]["final"]) == D(doc["pnl"]["net"]).quantize(D("0.0001"))  # the curve ends at the P&L
    assert doc["fills"]["count"] > 0 and 0 < doc["fills"]["fill_ratio"] <= 1
    assert doc["sharpe"]["per_day"] is None and doc["sharpe"]["days"] == 1  # one day: n/a, said so
    assert {"1s", "60s"} <= set(doc["adverse_selection"]) and doc["quote_uptime"]["share"] is not None
    assert doc["orders"]["actions_per_fill"] > 0
    market = doc["markets"][0]
    assert market["settled"] == "yes" and market["position"] == "0.00"  # settled from the lifecycle events
    assert set(market["inventory"]) == {"min", "max", "mean", "mean_abs"}
    assert doc["problems"] == []
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").rglob("bot.sqlite"))  # never yours


def test_the_text_report_and_the_chart(cli, recording, tmp_path):
    result = cli("--data", recording, "--plot", tmp_path / "bt.png")
    assert result.exit_code == 0, result.output
    assert "queue model" in result.stdout and "conservative" in result.stdout and "net P&L" in result.stdout
    assert (tmp_path / "bt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_touch_is_named_optimistic_and_fills_at_least_as_much(cli, recording):
    touch = report(cli("--data", recording, "--queue", "touch", "--json"))
    assert touch["backtest"]["optimistic"] is True and "OPTIMISTIC" in touch["backtest"]["queue_rule"]
    conservative = report(cli("--data", recording, "--json"))
    assert D(touch["fills"]["filled_size"]) >= D(conservative["fills"]["filled_size"])
    assert "OPTIMISTIC" in cli("--data", recording, "--queue", "touch").stdout


def test_a_time_window_and_a_market(cli, recording):
    start = (T0 + timedelta(seconds=30)).isoformat()
    doc = report(cli("--data", recording, "--from", start, "--ticker", tickers_for(1)[0], "--json"))
    assert doc["backtest"]["from"].startswith("2026-11-21T12:00:3")


def test_the_edge_taker_runs_with_what_a_recording_lacks(cli, recording, tmp_path):
    """The index far above the strike: the model values YES near 1 against asks near 0.5, so the taker buys; the
    recording settles YES, and its edge section (as `kalshi auto` prints it) values each contract at that result."""
    csv = tmp_path / "spot.csv"
    csv.write_text("timestamp,price\n" + "".join(f"{(T0 + timedelta(seconds=10 * i)).isoformat()},"
                                                 f"{50000 + (i % 7) * 3 + i}\n" for i in range(-360, 60)))
    info = tmp_path / "markets.json"
    info.write_text(json.dumps({"*": {"close_time": (T0 + timedelta(hours=1)).isoformat(), "strike_type": "greater",
                                      "floor_strike": "49000", "fee_type": "quadratic_with_maker_fees"}}))
    doc = report(cli("--data", recording, "--strategy", "edge", "--underlying", csv, "--market-info", info, "--json"))
    assert doc["backtest"]["strategy"] == "edge"
    assert all(f == "quadratic_with_maker_fees x1" for f in doc["backtest"]["fees"].values())
    edge = doc["edge"]
    assert edge["fills"] == doc["fills"]["count"] > 0 and edge["orders"] >= edge["orders_filled"] > 0
    assert edge["valued_by"] == ["settled"]
    for row in edge["rows"]:
        assert row["side"] == "bid" and row["value"] == "1"
        each = D(1) - D(row["price"]) - D(row["fee"]) / D(row["count"])
        assert D(row["realized_per_contract"]) == each.quantize(D("0.0001"))
    text = cli("--data", recording, "--strategy", "edge", "--underlying", csv, "--market-info", info).output
    assert "predicted" in text and "hit rate" in text


# ------------------------------------------------------------------------------------------------ refusals
def test_the_signals_strategy_is_refused_with_the_reason(cli, recording):
    refused(cli("--data", recording, "--strategy", "signals"), 2, "signals", "cannot be backtested")


@pytest.mark.parametrize("args, words", [
    (["--strategy", "edge"], ["--underlying"]),
    (["--strategy", "nope"], ["--strategy"]),
    (["--latency", "fast"], ["latency", "fast"]),
    (["--latency", "-5ms"], ["latency"]),
    (["--latency", "61s"], ["latency", "60 s"]),
    (["--latency", "1.5us"], ["latency"]),
    (["--queue", "optimistic"], ["queue model", "optimistic"]),
    (["--from", "2026-11-22", "--to", "2026-11-21"], ["--from"]),
    (["--from", "yesterday"], ["yesterday"]),
    (["--ticker", "KXNOPE-1"], ["KXNOPE-1"]),
    (["--plot", "x.png", "--sweep", "min_spread=0.02,0.03"], ["--plot"]),
])
def test_bad_options_are_refused_before_anything_runs(cli, recording, args, words):
    refused(cli("--data", recording, *args), 2, *words)


def test_an_edge_run_without_the_markets_close_and_strike_is_refused(cli, recording, tmp_path):
    csv = tmp_path / "spot.csv"
    csv.write_text(f"timestamp,price\n{T0.isoformat()},50000\n")
    refused(cli("--data", recording, "--strategy", "edge", "--underlying", csv), 2, "--market-info")


@pytest.mark.parametrize("text, words", [
    ('{"*": {"fee_type": "cheap"}}', ["fee_type", "cheap"]),
    ('{"*": {"grid": "fine"}}', ["grid"]),
    ('{"*": {"close_time": "tomorrow"}}', ["close_time"]),
    ('{"*": {"tick": 1}}', ["tick"]),
    ("[1, 2]", ["not an object"]),
    ("{", ["not valid JSON"]),
])
def test_a_bad_market_info_file_names_the_key(cli, recording, tmp_path, text, words):
    info = tmp_path / "markets.json"
    info.write_text(text)
    refused(cli("--data", recording, "--market-info", info), 3, *words)


@pytest.mark.parametrize("sweep, words", [
    (["min_spread=0.02,1.5"], ["min_spread=1.5"]),
    (["quote_size=1,0.001"], ["quote_size=0.001"]),
    (["loop_interval_ms=500,5"], ["loop_interval_ms=5"]),
    (["max_orders_per_minute=abc"], ["max_orders_per_minute=abc"]),
    (["trading_enabled=maybe"], ["trading_enabled=maybe"]),
    (["latency=10ms,soon"], ["latency=soon"]),
    (["queue=touch,lucky"], ["queue=lucky"]),
    (["strategy=mm,signals"], ["signals"]),
    (["speed=1,2"], ["speed"]),
    (["min_spread"], ["min_spread"]),
    (["min_spread=0.02,,0.03"], ["empty value"]),
    (["min_spread=0.02", "min_spread=0.03"], ["twice"]),
    (["min_spread=0.02,0.03", "quote_size=1,2,0"], ["quote_size=0"]),
])
def test_a_sweep_with_a_bad_value_fails_before_any_run(cli, recording, sweep, words):
    args = [a for s in sweep for a in ("--sweep", s)]
    refused(cli("--data", recording, *args), 2, *words)


@pytest.mark.e2e  # starts worker processes
def test_a_sweep_runs_the_grid_in_parallel_and_prints_a_row_per_combination(cli, recording):
    doc = report(cli("--data", recording, "--sweep", "min_spread=0.02,0.03", "--sweep", "queue=conservative,touch",
                     "--json"))
    combos = [(r["min_spread"], r["queue"]) for r in doc["runs"]]
    assert combos == [("0.02", "conservative"), ("0.02", "touch"), ("0.03", "conservative"), ("0.03", "touch")]
    assert all(r["problems"] == 0 and r["fills"] >= 0 for r in doc["runs"])
    text = cli("--data", recording, "--sweep", "latency=0,200ms").stdout
    assert "latency" in text and "200ms" in text and "net $" in text


# ------------------------------------------------------------------------------------------------ bad input
M = tickers_for(1)[0]


def gap_recording(directory: Path) -> Path:
    """Quotes can rest at 0.41/0.43; then a lost delta (seq 3), and while the book is stale big trades print at
    both quote prices; a snapshot resyncs it; more trades after."""
    clock = Clock(T0)
    writer = SessionWriter(directory, [M], T0, environment="test", source="test")
    rec = Recorder(SimpleNamespace(tap=None), writer, clock=clock)

    def at(ms: int):
        clock.now = T0 + timedelta(milliseconds=ms)
        return clock.now

    book = ([(4000, 1000)], [(5600, 1000)])  # 10 bid at 0.40, 10 offered at 0.44
    rec.book_snapshot(M, 1, 1, *book, at(0))
    rec.book_delta(M, 1, 2, True, 3900, 500, at(500))
    rec.book_delta(M, 1, 4, True, 3800, 100, at(1000))  # seq 3 never came
    for ms, price, taker in ((1100, "0.41", BookSide.ASK), (1200, "0.43", BookSide.BID)):
        rec.handle(TradeMsg(M, f"t{ms}", D(price), D(20), Side.NO, taker, at(ms)))
    rec.book_snapshot(M, 1, 5, *book, at(2000))
    for ms, price, taker in ((3000, "0.41", BookSide.ASK), (3100, "0.43", BookSide.BID)):
        rec.handle(TradeMsg(M, f"t{ms}", D(price), D(20), Side.NO, taker, at(ms)))
    writer.close(at(4000), rec.counts.as_dict())
    return directory


def test_a_gap_is_a_problem_and_nothing_fills_while_the_book_is_stale(cli, tmp_path):
    doc = report(cli("--data", gap_recording(tmp_path / "gap"), "--latency", "500ms", "--json"))
    assert any("sequence gap" in p and "book_l2." in p for p in doc["problems"]), doc["problems"]
    assert doc["replay"]["gaps"] == 1 and doc["replay"]["resyncs"] == 1
    # the quotes were still on the book (their cancels on the way) when the stale book's trades printed at their
    # prices: neither filled; after the resync the bot quotes again and the later trades fill both
    assert doc["exchange"]["trades_while_stale"] == 2
    assert doc["fills"]["count"] == 2 and doc["fills"]["filled_size"] == "2"


def test_a_truncated_last_line_is_a_problem_and_the_rest_is_used(cli, recording, tmp_path):
    import shutil

    copy = tmp_path / "cut"
    shutil.copytree(recording, copy)
    book = next(copy.glob("book_l2.*.jsonl.gz"))
    lines = gzip.decompress(book.read_bytes()).splitlines(keepends=True)
    book.write_bytes(gzip.compress(b"".join(lines[:-1]) + lines[-1][:20]))
    doc = report(cli("--data", copy, "--json"))
    assert any("truncated line" in p for p in doc["problems"]) and doc["backtest"]["events"] > 100


def test_an_unknown_record_stops_with_the_readers_message(cli, recording, tmp_path):
    import shutil

    copy = tmp_path / "unknown"
    shutil.copytree(recording, copy)
    book = next(copy.glob("book_l2.*.jsonl.gz"))
    lines = gzip.decompress(book.read_bytes()).splitlines(keepends=True)
    row = json.loads(lines[30])
    bad = {"ticker": row["ticker"], "ts_recv": row["ts_recv"], "marker": "auction"}
    lines[30] = (json.dumps(bad) + "\n").encode()
    book.write_bytes(gzip.compress(b"".join(lines)))
    refused(cli("--data", copy), 3, "unknown marker", "auction", "line 31")
    (copy / book.name.replace("book_l2", "quotes")).write_bytes(gzip.compress(b"{}\n"))
    refused(cli("--data", copy), 3, "unknown record kind", "quotes")


def test_files_of_two_recordings_mixed_stop_with_the_readers_message(cli, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_market(first, 300)
    write_market(second, 300, seed=5, markets=2)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for f in first.iterdir():  # the first's manifest, with the second's book file under its session name
        (mixed / f.name).write_bytes(f.read_bytes())
    book = next(second.glob("book_l2.*.jsonl.gz"))
    target = next(mixed.glob("book_l2.*.jsonl.gz"))
    target.write_bytes(book.read_bytes())
    refused(cli("--data", mixed), 3, "not one of this session's")


def test_a_missing_recording_directory(cli, tmp_path):
    refused(cli("--data", tmp_path / "nowhere"), 3, "no such recording directory")


def test_a_window_with_nothing_recorded(cli, recording):
    later = (datetime(2027, 1, 1, tzinfo=timezone.utc)).isoformat()
    refused(cli("--data", recording, "--from", later), 2, "nothing was recorded")


# ------------------------------------------------------------------------------------------------ your own strategy
def test_your_own_strategy_is_resolved_as_kalshi_auto_resolves_it(cli, recording):
    doc = report(cli("--data", recording, "--strategy", "tests.auto.plugin_strategies:JoinTouch", "--json"))
    assert doc["backtest"]["strategy"] == "tests.auto.plugin_strategies:JoinTouch"
    assert doc["orders"]["placed"] > 0 and doc["problems"] == []
    refused(cli("--data", recording, "--strategy", "tests.auto.plugin_strategies:Nope"), 2, "Nope")
    refused(cli("--data", recording, "--strategy", "tests.auto.plugin_strategies:WantsContext"), 2, "--underlying")


def test_a_strategy_that_raises_halts_the_replay_after_its_report(cli, recording, tmp_path):
    result = cli("--data", recording, "--strategy", "tests.auto.plugin_strategies:RaisesOnNth", "--json")
    assert result.exit_code == 5, result.output
    doc = json.loads(result.stdout)
    assert doc["orders"]["placed"] > 0  # it quoted before it raised
    [problem] = [p for p in doc["problems"] if "raised" in p]
    assert "ZeroDivisionError" in problem and "halted" in problem
    assert "ZeroDivisionError" in result.stderr and "Traceback" not in result.stderr
    assert "Traceback" in (tmp_path / "logs" / "errors.log").read_text()
