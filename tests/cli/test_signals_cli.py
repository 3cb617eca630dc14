"""`kalshi discover | pipeline | signals | paper` end to end: the real CLI against the real simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest
from kalshi_trading.signals.discovery import Discoverer, DiscoveryConfig
from kalshi_trading.sim.faults import SourceFaults
from kalshi_trading.store.sqlite.signals import SqliteSignalStore
from tests.cli.test_commands import env  # noqa: F401  (fixture: a sim user whose exchange is the fixture's)
from tests.e2e.conftest import client_for


def invoke(env, *args):  # noqa: F811
    return CliRunner().invoke(app, list(args), env=env)


def js(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and "unexpected error" not in result.output
    return lines[0]


@pytest.fixture
def me(sim):
    c = client_for(sim.base_url, sim.demo_account)
    yield c
    c.close()


@pytest.fixture
def cheap(sim, me):
    """Bob offers YES at 0.10 on the strike discovery picks, which the model prices near 0.5: worth buying.
    Discovery runs on the exchange's clock, as the commands do (the fixture's simulator stands still at the
    session's start: the wall clock would pick another event once it passes ten minutes before the hour)."""
    found = Discoverer(me, spot=lambda: me.get_sim_underlying("KXBTCD").price).discover(
        DiscoveryConfig(series=("KXBTCD",)), me.get_user_data_timestamp())
    ticker = found.tickers[0]
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(10), D("0.10")))
    bob.close()
    return ticker


def test_discover_table_and_json(env, cheap):  # noqa: F811
    table = invoke(env, "discover")
    assert table.exit_code == 0 and "[SIM]" in table.stdout and cheap in table.stdout and "KXHIGHNY-" in table.stdout
    doc = js(invoke(env, "discover", "--series", "KXBTCD", "--ticker", f"{cheap},KXBTCD-26NOV2117-T1.00", "--json"))
    assert [m["ticker"] for m in doc["markets"]] == [cheap]
    assert doc["markets"][0]["family"] == "btcd" and doc["missing"] == ["KXBTCD-26NOV2117-T1.00"]
    assert "not found: KXBTCD-26NOV2117-T1.00" in invoke(env, "discover", "--series", "KXBTCD", "--ticker",
                                                         "KXBTCD-26NOV2117-T1.00").stderr
    words = js(invoke(env, "discover", "--series", "KXBTCD", "--keywords", "RAIN,umbrella", "--json"))
    assert all(m["ticker"].startswith(("KXRAINNYC", cheap)) for m in words["markets"])
    assert any(m["ticker"].startswith("KXRAINNYC") for m in words["markets"])


@pytest.mark.parametrize("args, code, says", [
    (["--series", "KXNOPE"], 2, "--series"),
    (["--series", "kxbtcd,KXWHAT"], 2, "--series"),
    (["--keywords", ","], 2, "--keywords[0].words"),
    (["--keywords", ""], 2, "--keywords[0].words"),
    (["--keywords", "rain", "--in", "KXRAIN"], 2, "--in"),
    (["--in", "KXBTCD"], 2, "--in"),
    (["--ticker", "not a ticker!"], 2, "ticker"),
    (["--event", "bad event"], 2, "event"),
    (["--config", "nope.toml"], 3, "cannot read"),
])
def test_discover_bad_input(env, args, code, says):  # noqa: F811
    assert says in one_line_error(invoke(env, "discover", *args), code)


def test_a_pipeline_run_trades_and_every_read_command_shows_it(env, me, cheap):  # noqa: F811
    run = invoke(env, "pipeline", "run", "--sim", "--once", "--json")
    summary = js(run)
    assert summary["cycles"] == 1 and summary["by_outcome"] == {"filled": 1} and summary["mode"] == "simulate"
    # the status line: every outside source is the simulator's loopback copy, asked through the real collectors
    assert "cycle 1 ok" in run.stderr and "coinbase:ok" in run.stderr and "open-meteo-ensemble:" in run.stderr
    assert list(me.iter_orders()) == []  # simulate sends nothing

    [sig] = [s for s in js(invoke(env, "signals", "--actionable", "--json"))["signals"]]
    assert sig["ticker"] == cheap and sig["direction"] == "buy_yes" and sig["trade_price"] == "0.1000"
    assert js(invoke(env, "signals", "--ticker", "KXNOPE-1", "--json"))["signals"] == []
    [attempt] = js(invoke(env, "paper", "orders", "--json"))["attempts"]
    assert (attempt["outcome"], attempt["fill_price"], attempt["signal_id"]) == ("filled", "0.100000", sig["id"])
    report = js(invoke(env, "paper", "report", "--calibration", "--json"))
    assert report["fills"] == 1 and report["by_outcome"]["filled"] == 1 and report["calibration"]["signals"] == 0
    status = js(invoke(env, "pipeline", "status", "--json"))
    assert status["running"] is False and status["last_cycle"]["status"] == "ok"
    assert {h["source"] for h in status["health"]} == {
        "open-meteo-ensemble:ncep_gefs_seamless", "open-meteo-ensemble:ecmwf_ifs025_ensemble", "coinbase", "kraken",
        "bitstamp", "cryptocom", "cryptocom-candles", "cryptocom-index"}
    assert all(h["status"] == "ok" and h["latency_ms"] is not None for h in status["health"])
    for command in (["signals"], ["paper", "orders"], ["paper", "report", "--calibration"], ["pipeline", "status"]):
        shown = invoke(env, *command)
        assert shown.exit_code == 0 and "[SIM]" in shown.stdout, command

    real = js(invoke(env, "pipeline", "run", "--once", "--mode", "sim", "--profile", "aggressive", "--json"))
    assert real["by_outcome"] == {"filled": 1} and real["mode"] == "sim"
    placed = js(invoke(env, "paper", "orders", "--json"))["attempts"][-1]
    assert placed["mode"] == "sim" and me.get_order(placed["order_id"]).ticker == cheap
    assert me.get_positions().markets[0].position == D(5)  # aggressive: 5 contracts


@pytest.mark.parametrize("text, key", [
    ("[overrides]\nmin_edge_bps = -5", "overrides.min_edge_bps"),
    ("[overrides]\nmin_price = 0.9\nmax_price = 0.2", "overrides.min_price"),
    ('[discovery]\nseries = ["KXWHAT"]', "discovery.series"),
    ("[[discovery.keywords]]\nwords = []", "discovery.keywords[0].words"),
    ('[models]\nweather = "crystal-ball"', "models.weather"),
    ("speed = 3", "speed"),
    ('[sources]\nkraken = "ftp://kraken.example"', "sources.kraken"),
    ("[sources]\nquorum = 9", "sources.quorum"),
    ('[sources]\nweather_models = ["crystal_ball"]', "sources.weather_models"),
    ('[sources]\nbitcoin = ["binance"]', "sources.bitcoin"),
    ('[sources]\ncoinbase_pro = "https://x"', "sources.coinbase_pro"),
])
def test_a_bad_config_is_exit_3_naming_the_key(env, tmp_path, text, key):  # noqa: F811
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    assert key in one_line_error(invoke(env, "pipeline", "run", "--once", "--config", str(path)), 3)


@pytest.mark.parametrize("args, code, says", [
    (["--profile", "yolo"], 2, "--profile"),
    (["--mode", "paper"], 2, "--mode"),
    (["--mode", "live"], 3, "--mode"),          # live orders need prod settings and keys
    (["--mode", "demo"], 3, "--mode"),
    (["--bot-mode", "live_auto"], 3, "KALSHI_ENV"),
    (["--bot-mode", "live_safe"], 3, "KALSHI_ENV"),
    (["--duration", "-1"], 2, "--duration"),
    (["--interval", "0"], 2, "--interval"),
    (["--config", "missing.toml"], 3, "cannot read"),
    (["--speed", "10"], 2, "--sim"),            # the simulator's speed and seed need --sim
    (["--seed", "4"], 2, "--sim"),
])
def test_pipeline_run_refusals(env, args, code, says):  # noqa: F811
    assert says in one_line_error(invoke(env, "pipeline", "run", "--once", *args), code)


@pytest.mark.parametrize("args, says", [(["--speed", "0"], "--speed"), (["--speed", "fast"], "--speed"),
                                        (["--speed", "1001"], "--speed"), (["--seed", "-1"], "--seed")])
def test_the_simulators_speed_and_seed_are_checked_while_parsing(env, args, says):  # noqa: F811
    result = invoke(env, "pipeline", "run", "--sim", "--once", *args)
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output


def test_pipeline_status_shows_each_sources_health_and_why_one_failed(env, sim):  # noqa: F811
    sim.app.source_faults.set("kraken", SourceFaults.build({"status": 503}))
    sim.app.source_faults.set("open-meteo-ensemble", SourceFaults.build({"garbage": 1}))
    run = js(invoke(env, "pipeline", "run", "--once", "--json"))
    assert run["cycles"] == 1 and run["failed_cycles"] == 0 and run["signals"] == 9  # the forecast API stood in
    status = js(invoke(env, "pipeline", "status", "--json"))
    assert status["last_cycle"]["status"] == "degraded"
    rows = {h["source"]: h for h in status["health"]}
    assert rows["kraken"]["status"] == "failed" and "HTTP 503" in rows["kraken"]["reason"]
    assert rows["open-meteo-ensemble:ncep_gefs_seamless"]["status"] == "garbage"
    assert rows["open-meteo:gfs_seamless"]["status"] == "ok" and rows["coinbase"]["status"] == "ok"
    shown = invoke(env, "pipeline", "status").stdout
    assert "degraded" in shown and "kraken" in shown and "HTTP 503" in shown


def test_the_report_scores_markets_settled_long_ago_from_the_historical_tier(env, me, cheap, sim):  # noqa: F811
    js(invoke(env, "pipeline", "run", "--once", "--json"))
    sim.exchange.advance(3 * 86_400)  # everything closed, settled and moved to the historical tier
    assert me.get_markets_by_tickers([cheap]).unknown == (cheap,)
    report = js(invoke(env, "paper", "report", "--calibration", "--json"))
    assert report["fills"] == 1 and report["pnl_marked"] == "0"  # settled, so nothing left to mark
    cal = report["calibration"]
    assert cal["markets"] == 9 and cal["signals"] == 9  # every market of the cycle, found and scored
    assert set(report["calibration_by_family"]) == {"weather", "btc15m", "btcd"}
    assert report["calibration_by_family"]["weather"]["markets"] == 7
    text = invoke(env, "paper", "report", "--calibration").stdout
    assert "calibration, all families" in text and "calibration, weather" in text and "0.9-1.0" in text


def test_sim_flag_outside_the_sim_environment_is_a_usage_error(env, sim):  # noqa: F811
    demo = {**env, "KALSHI_ENV": "demo", "KALSHI_API_KEY_ID": sim.demo_account.key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(sim.demo_account.private_key_path)}
    assert "--sim" in one_line_error(invoke(demo, "pipeline", "run", "--sim", "--once"), 2)


def test_live_auto_needs_its_confirmation(env, sim):  # noqa: F811
    prod = {**env, "KALSHI_ENV": "prod", "KALSHI_API_KEY_ID": sim.demo_account.key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(sim.demo_account.private_key_path)}
    base = ["pipeline", "run", "--once", "--bot-mode", "live_auto", "--mode", "simulate"]
    assert "needs a confirmation" in one_line_error(invoke(prod, *base), 2)
    assert "KALSHI_CONFIRM_LIVE_AUTO" in one_line_error(invoke(prod, *base, "--confirm-live-auto"), 2)
    assert "--confirm-live-auto" in one_line_error(invoke({**prod, "KALSHI_CONFIRM_LIVE_AUTO": "yes"}, *base), 2)
    ok = invoke({**prod, "KALSHI_CONFIRM_LIVE_AUTO": "yes"}, *base, "--confirm-live-auto", "--json")
    assert js(ok)["bot_mode"] == "live_auto"


def test_a_second_pipeline_on_the_same_store_is_refused(env, tmp_path):  # noqa: F811
    held = SqliteSignalStore.open(tmp_path / "sim" / "signals.sqlite")
    try:
        held.acquire_lease("pipeline", "other-host:42:abcd", now=datetime.now(timezone.utc), ttl_seconds=600)
        line = one_line_error(invoke(env, "pipeline", "run", "--once"), 3)
        assert "other-host:42:abcd" in line and "refusing to trade twice" in line
        assert held.cycles() == []
        status = js(invoke(env, "pipeline", "status", "--json"))
        assert status["running"] is True and status["lease"]["holder"] == "other-host:42:abcd"
    finally:
        held.close()


@pytest.mark.parametrize("args, says", [
    (["signals", "--since", "yesterday"], "not understood"),
    (["signals", "--limit", "-1"], "--limit"),
    (["paper", "orders", "--since", "2026-13-45"], "not understood"),
    (["paper", "report", "--since", "soon"], "not understood"),
])
def test_read_commands_bad_input(env, args, says):  # noqa: F811
    assert says in one_line_error(invoke(env, *args), 2)


def test_ctrl_c_stops_after_the_current_cycle(env, cheap, tmp_path):  # noqa: F811
    """A real process: the first SIGINT lets the cycle finish, the run ends cleanly with its summary."""
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "pipeline", "run", "--interval", "60", "--json"],
                            env={**os.environ, **env}, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        while line and " cycle 1 " not in line:
            line = proc.stderr.readline()
        assert " cycle 1 " in line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert json.loads(out)["cycles"] == 1 and "Traceback" not in err
    store = SqliteSignalStore.open(tmp_path / "sim" / "signals.sqlite")
    try:
        assert [c.status.value for c in store.cycles()] == ["ok"] and store.lease("pipeline") is None
    finally:
        store.close()


@pytest.mark.parametrize("command", [["signals"], ["paper", "orders"], ["pipeline", "status"],
                                     ["pipeline", "run", "--once"]])
def test_an_unusable_signal_store_is_exit_3_naming_it(env, tmp_path, command):  # noqa: F811
    damaged = tmp_path / "sim" / "signals.sqlite"
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"this is not a database, and it is long enough to have a header" * 3)
    before = damaged.read_bytes()
    line = one_line_error(invoke(env, *command), 3)
    assert str(damaged) in line and "not a SQLite database" in line
    assert damaged.read_bytes() == before


def test_a_store_directory_that_is_a_file_is_exit_3(env, tmp_path):  # noqa: F811
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    line = one_line_error(invoke({**env, "KALSHI_STORE": f"sqlite://{blocker}/"}, "signals"), 3)
    assert str(blocker) in line
