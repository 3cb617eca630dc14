"""Ops around real runs on the simulator: a halt becomes a critical alert naming its rule, a pipeline cycle's digests
carry its signals and failure reasons, /metrics is scraped from a running bot and pipeline, and the manual trader's
fill and settlement notices follow a journal sync.  Messages are read where every message also goes: the log
(KALSHI_LOG_FORMAT=json, one object per line).  No timing is asserted."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, TimeInForce
from tests.e2e.conftest import cent_market, order
from tests.ops.helpers import json_lines

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def sim_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The sim environment's own simulator (`--sim`), JSON logs, a data directory of its own."""
    return {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
            "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "HOME": str(tmp_path),
            "NO_COLOR": "1", "KALSHI_LOG_FORMAT": "json", **extra}


def messages(tmp_path: Path, kind: str | None = None, *, suppressed: bool = False) -> list[dict]:
    """The ops' messages in kalshi.log: those sent, or (`suppressed=True`) those a cooldown held back, which carry
    the reason they were not sent."""
    return [r for r in json_lines(tmp_path / "logs" / "kalshi.log")
            if r["logger"] == "kalshi_trading.ops.runtime" and "kind" in r and (kind is None or r["kind"] == kind)
            and bool(r.get("reason")) == suppressed]


# --- a halt in a real run --------------------------------------------------------------------------------------
def test_a_daily_loss_halt_in_kalshi_auto_sim_is_a_critical_alert_naming_the_rule(tmp_path):
    cfg = tmp_path / "bot.toml"
    cfg.write_text("max_daily_loss = 0.05\nmax_orders_per_minute = 120\nloop_interval_ms = 500\n"
                   "[alerts.daily_pnl]\nbelow = -0.02\n")
    result = CliRunner().invoke(app, ["auto", "--sim", "--duration", "4", "--seed", "3", "--config", str(cfg),
                                      "--strategy", "tests.ops.plugins:Taker", "--json"], env=sim_env(tmp_path))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["risk_state"] == "halted"
    [halt] = [m for m in messages(tmp_path, "alert") if m["rule"] == "halted"]
    assert halt["level"] == "CRITICAL" and halt["severity"] == "critical" and halt["source"] == "default"
    assert "HALTED by rule daily_loss" in halt["message"] and "daily loss limit" in halt["message"]
    errors = json_lines(tmp_path / "logs" / "errors.log")  # critical: in errors.log too
    assert any(r.get("rule") == "halted" and r.get("kind") == "alert" for r in errors)
    pnl = [m for m in messages(tmp_path, "alert") if m["rule"] == "daily_pnl"]
    assert len(pnl) == 1 and "-$0.02" in pnl[0]["message"]  # its threshold, from the [alerts] table
    # a deeper loss later in the run is held back by the rule's cooldown, not sent again
    assert all("cooldown" in m["reason"] for m in messages(tmp_path, "alert", suppressed=True))
    [final] = [m for m in messages(tmp_path, "digest")]
    assert "final digest" in final["message"] and "risk halted" in final["message"]


def test_a_strategy_that_raises_halts_and_the_alert_names_the_strategy_rule(tmp_path):
    result = CliRunner().invoke(app, ["auto", "--sim", "--duration", "20", "--seed", "3", "--feed", "poll",
                                      "--strategy", "tests.auto.plugin_strategies:RaisesOnNth"],
                                env=sim_env(tmp_path))
    assert result.exit_code == 5, result.output
    [halt] = [m for m in messages(tmp_path, "alert") if m["rule"] == "halted"]
    assert "HALTED by rule strategy" in halt["message"] and "ZeroDivisionError" in halt["message"]


# --- the digests of a real pipeline cycle ----------------------------------------------------------------------
def test_the_digests_of_a_pipeline_cycle_hold_its_signals_attempts_and_failure_reasons(tmp_path):
    env = sim_env(tmp_path, KALSHI_SIM_FAULTS="ext.coinbase.status=500")
    runner = CliRunner()
    result = runner.invoke(app, ["pipeline", "run", "--sim", "--once", "--seed", "7", "--profile", "aggressive",
                                 "--json"], env=env)
    assert result.exit_code == 0, result.output
    signals = json.loads(runner.invoke(app, ["signals", "--limit", "0", "--json"], env=env).stdout)["signals"]
    attempts = json.loads(runner.invoke(app, ["paper", "orders", "--json"], env=env).stdout)["attempts"]
    assert signals and attempts
    [signal_digest, execution] = messages(tmp_path, "digest")
    assert signal_digest["message"].count(" | ") >= len(signals)
    for s in signals:
        assert s["ticker"] in signal_digest["message"] and s["direction"].upper() in signal_digest["message"]
    assert "source coinbase failed: HTTP 500" in signal_digest["message"]
    assert "paper execution" in execution["message"]
    for a in attempts:
        assert f"{a['outcome'].upper()} {a['direction']}" in execution["message"]
        if a["outcome"] == "skipped":
            assert f"[{a['rule']}] {a['reason']}" in execution["message"]
    assert "source coinbase failed: HTTP 500" in execution["message"]
    assert signal_digest["severity"] == "warning"  # a degraded cycle


def test_actionable_only_digests_list_only_signals_with_a_direction(tmp_path):
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text('profile = "aggressive"\n[alerts]\nactionable_only = true\n')
    env = sim_env(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["pipeline", "run", "--sim", "--once", "--seed", "7", "--config", str(cfg)],
                         env=env).exit_code == 0
    signals = json.loads(runner.invoke(app, ["signals", "--limit", "0", "--json"], env=env).stdout)["signals"]
    quiet = [s for s in signals if s["direction"] == "none"]
    assert quiet, "the seeded cycle has signals without a direction"
    [digest] = [m for m in messages(tmp_path, "digest") if "signals, cycle" in m["message"]]
    assert "NONE" not in digest["message"]
    assert all(s["ticker"] in digest["message"] for s in signals if s["direction"] != "none")


# --- /metrics from running processes -------------------------------------------------------------------------
def _spawn(tmp_path: Path, *args: str, **extra: str) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, **sim_env(tmp_path, **extra), "PYTHONPATH": str(ROOT)}
    err = tmp_path / "stderr.txt"
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_trading", *args], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=err.open("w"))
    return proc, err


def _metrics_url(proc: subprocess.Popen, err: Path) -> str:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for line in err.read_text().splitlines():
            if line.startswith("metrics: http://"):
                return line.split(" ", 1)[1].strip()
        assert proc.poll() is None, err.read_text()
        time.sleep(0.1)
    raise AssertionError("no metrics URL printed")


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items -> value}, parsed by prometheus-client's own parser."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _until(predicate, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


@pytest.mark.timeout(180)
def test_metrics_scraped_from_a_running_bot(tmp_path):
    proc, err = _spawn(tmp_path, "auto", "--sim", "--duration", "12", "--seed", "3", "--metrics-port", "0")
    try:
        url = _metrics_url(proc, err)
        assert url.startswith("http://127.0.0.1:")
        first = _until(lambda: (m := scrape(url)) and m.get("kalshi_bot_loop_seconds_count", {}).get(
            (("bot", "default"),), 0) > 0 and m)
        second = _until(lambda: (m := scrape(url))["kalshi_bot_loop_seconds_count"][(("bot", "default"),)] >
                        first["kalshi_bot_loop_seconds_count"][(("bot", "default"),)]
                        and m["kalshi_bot_orders_total"][(("action", "placed"), ("bot", "default"))] >= 1 and m)
    finally:
        proc.wait(120)
    assert proc.returncode == 0, err.read_text()
    b = (("bot", "default"),)
    orders = second["kalshi_bot_orders_total"]
    assert orders[(("action", "placed"), ("bot", "default"))] >= 1
    assert set(dict(k)["action"] for k in orders) == {"placed", "amended", "decreased", "cancelled", "rejected"}
    for name in ("kalshi_bot_fills_total", "kalshi_bot_volume_contracts_total", "kalshi_bot_feed_resyncs_total",
                 "kalshi_bot_pnl_today_dollars", "kalshi_bot_exposure_dollars", "kalshi_bot_decision_seconds_count"):
        assert b in second[name], name
    assert second["kalshi_bot_risk_state"][(("bot", "default"), ("state", "active"))] == 1.0
    assert {dict(k)["kind"] for k in second["kalshi_bot_pnl_dollars"]} == {"realized", "unrealized", "fees", "net"}
    buckets = second["kalshi_bot_loop_seconds_bucket"]  # cumulative, and +Inf equals the count
    assert buckets[(("bot", "default"), ("le", "+Inf"))] == second["kalshi_bot_loop_seconds_count"][b]
    ordered = [v for k, v in sorted(buckets.items(), key=lambda kv: float(dict(kv[0])["le"]))]
    assert ordered == sorted(ordered)
    ops = {dict(k)["op"] for k in second["kalshi_store_seconds_count"]}
    assert {"put", "log_decision"} & ops, ops  # the bot state's own writes, timed
    assert all(dict(k)["part"] == "bot_state" for k in second["kalshi_store_seconds_count"])
    with pytest.raises(OSError):  # the endpoint went with the process
        urllib.request.urlopen(url, timeout=5)


@pytest.mark.timeout(180)
def test_metrics_of_a_pipeline_run_show_its_cycles_and_source_health(tmp_path):
    proc, err = _spawn(tmp_path, "pipeline", "run", "--sim", "--duration", "8", "--interval", "1", "--speed", "30",
                       "--seed", "7", "--metrics-port", "0", KALSHI_SIM_FAULTS="ext.coinbase.status=500")
    try:
        url = _metrics_url(proc, err)
        m = _until(lambda: (s := scrape(url)) and s.get("kalshi_pipeline_cycles_total") and s)
    finally:
        proc.wait(120)
    assert proc.returncode == 0, err.read_text()
    assert m["kalshi_pipeline_cycles_total"][(("status", "degraded"),)] >= 1
    up = m["kalshi_pipeline_source_up"]
    assert up[(("source", "coinbase"),)] == 0.0 and up[(("source", "kraken"),)] == 1.0
    assert m["kalshi_pipeline_source_down_cycles"][(("source", "coinbase"),)] >= 1
    assert sum(m["kalshi_pipeline_signals_total"].values()) > 0
    assert m["kalshi_pipeline_cycle_seconds_count"][()] >= 1
    assert {"record_cycle", "begin_cycle"} <= {dict(k)["op"] for k in m["kalshi_store_seconds_count"]}


@pytest.mark.parametrize("args, code, words", [
    (["--metrics-port", "8000", "--metrics-host", "0.0.0.0"], 2, ["0.0.0.0", "--metrics-allow-remote"]),
    (["--metrics-port", "8000", "--metrics-host", "10.1.2.3"], 2, ["not a loopback"]),
    (["--metrics-port", "8000", "--metrics-host", "metrics.example.com"], 2, ["not a loopback"]),
    (["--metrics-host", "127.0.0.2"], 2, ["--metrics-port"]),
    (["--metrics-allow-remote"], 2, ["--metrics-port"]),
    (["--metrics-port", "65536"], 2, ["out of range"]),
    (["--metrics-port", "-1"], 2, []),
    (["--metrics-port", "80a"], 2, ["whole number"]),
])
def test_metrics_options_refused_before_anything_runs(tmp_path, args, code, words):
    for command in (["auto", "--sim", "--duration", "1", "--seed", "3", "--feed", "poll"],
                    ["pipeline", "run", "--sim", "--once"]):
        result = CliRunner().invoke(app, command + args, env=sim_env(tmp_path))
        assert result.exit_code == code, (command, result.output)
        assert "Traceback" not in result.output and "unexpected" not in result.output
        for word in words:
            assert word in result.output, result.output
    journal = CliRunner().invoke(app, ["history", "--json"], env=sim_env(tmp_path))
    assert '"entries": []' in journal.stdout


def test_a_busy_metrics_port_is_a_configuration_error(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = str(holder.getsockname()[1])
    try:
        for command in (["auto", "--sim", "--duration", "1", "--seed", "3", "--feed", "poll"],
                        ["pipeline", "run", "--sim", "--once"]):
            result = CliRunner().invoke(app, command + ["--metrics-port", port], env=sim_env(tmp_path))
            assert result.exit_code == 3, result.output
            assert f"127.0.0.1:{port}" in result.output and "--metrics-port" in result.output
    finally:
        holder.close()


def test_a_remote_metrics_address_when_allowed(tmp_path):
    result = CliRunner().invoke(app, ["pipeline", "run", "--sim", "--once", "--metrics-port", "0", "--metrics-host",
                                      "0.0.0.0", "--metrics-allow-remote"], env=sim_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "metrics: http://0.0.0.0:" in result.output


# --- manual trading: fill and settlement notices after a journal sync --------------------------------------------
def manual_env(sim, tmp_path: Path, **extra: str) -> dict[str, str]:
    account = sim.demo_account
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_API_KEY_ID": account.key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path), "KALSHI_DATA_DIR": str(tmp_path / "data"),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_LOG_FORMAT": "json", "NO_COLOR": "1",
            "HOME": str(tmp_path), **extra}


def test_fill_and_settlement_notices_follow_each_journal_sync_once(sim, client, bob, tmp_path):
    t = cent_market(sim)
    env = manual_env(sim, tmp_path, KALSHI_TRADE_NOTICES="on")
    runner = CliRunner()
    client.create_order(order(t, BookSide.BID, "0.40", 2))
    bob.create_order(order(t, BookSide.ASK, "0.40", 2, TimeInForce.IOC))  # fills our bid
    assert runner.invoke(app, ["sync"], env=env).exit_code == 0
    [fill] = messages(tmp_path, "fill")
    assert f"bought 2 YES @ 40¢ on {t} (maker" in fill["message"] and "1 new fill" in fill["message"]
    assert runner.invoke(app, ["sync"], env=env).exit_code == 0
    assert len(messages(tmp_path, "fill")) == 1  # nothing new, nothing said
    sim.exchange.settle(t, "yes")
    assert runner.invoke(app, ["pnl"], env=env).exit_code == 0  # every command that syncs the journal
    [settled] = messages(tmp_path, "settlement")
    assert f"{t} settled YES" in settled["message"] and "paid out $2.00" in settled["message"]
    assert "cost $0.80" in settled["message"]


def test_no_notices_unless_switched_on_and_a_bad_switch_is_refused(sim, client, bob, tmp_path):
    t = cent_market(sim)
    client.create_order(order(t, BookSide.BID, "0.40", 1))
    bob.create_order(order(t, BookSide.ASK, "0.40", 1, TimeInForce.IOC))
    runner = CliRunner()
    assert runner.invoke(app, ["sync"], env=manual_env(sim, tmp_path)).exit_code == 0
    assert messages(tmp_path) == [] == messages(tmp_path, suppressed=True)
    for bad in ("maybe", "2", "onn"):
        result = runner.invoke(app, ["sync"], env=manual_env(sim, tmp_path, KALSHI_TRADE_NOTICES=bad))
        assert result.exit_code == 3 and "KALSHI_TRADE_NOTICES" in result.output, result.output
    for off in ("off", "no", "0", "false", "OFF"):
        assert runner.invoke(app, ["sync"], env=manual_env(sim, tmp_path, KALSHI_TRADE_NOTICES=off)).exit_code == 0
    assert messages(tmp_path) == [] == messages(tmp_path, suppressed=True)


def test_a_fill_notice_reaches_telegram_and_is_recorded(sim, client, bob, tmp_path):
    import requests

    from kalshi_trading.sim.routes_control import TOKEN_HEADER
    from kalshi_trading.store import open_store

    token, chat = "7770001:AAF-noticeTokenSecretPart", 4242

    def control(method: str, path: str, **kw) -> dict:
        answer = requests.request(method, sim.base_url + "/sim/control/telegram" + path, timeout=10,
                                  headers={TOKEN_HEADER: sim.control_token}, **kw)
        answer.raise_for_status()
        return answer.json()

    control("POST", "/bots", json={"token": token, "chats": [chat]})
    root = sim.base_url[: -len("/trade-api/v2")]
    env = manual_env(sim, tmp_path, KALSHI_TRADE_NOTICES="on", KALSHI_TELEGRAM_BOT_TOKEN=token,
                     KALSHI_TELEGRAM_CHAT_ID=str(chat), KALSHI_TELEGRAM_API_BASE=root + "/ext/telegram",
                     KALSHI_TELEGRAM_COMMANDS="off")
    t = cent_market(sim)
    client.create_order(order(t, BookSide.BID, "0.35", 3))
    bob.create_order(order(t, BookSide.ASK, "0.35", 3, TimeInForce.IOC))
    assert CliRunner().invoke(app, ["sync"], env=env).exit_code == 0
    [sent] = [m for m in control("GET", "/messages")["messages"] if "new fill" in m["text"]]
    assert f"bought 3 YES @ 35¢ on {t}" in sent["text"] and sent["chat_id"] == chat
    store = open_store(f"sqlite://{tmp_path / 'data' / 'sim'}/", env="sim")
    try:
        events = store.alerts().events()
    finally:
        store.close()
    assert [(e.kind.value, e.channel, e.status.value) for e in events] == [("fill", "telegram", "sent")]
    assert token.split(":")[1] not in (tmp_path / "logs" / "kalshi.log").read_text()
