"""`kalshi config market set|unset|show` and `kalshi config global set|show` through the real CLI on a real SQLite
store: every bad key or value refused with one line and exit 2, nothing written; a lost compare-and-set and an
unusable store exit 3; what was written shows as a table and as JSON."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.store import open_store


@pytest.fixture
def env(tmp_path):
    return {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
            "KALSHI_STORE": f"sqlite://{tmp_path}/store/", "NO_COLOR": "1", "COLUMNS": "200",
            "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": ""}


def kalshi(env, *args):
    return CliRunner().invoke(app, list(args), env=env)


def snapshot(tmp_path):
    store = open_store(f"sqlite://{tmp_path}/store/", env="sim")
    try:
        return store.runtime_config().snapshot()
    finally:
        store.close()


def test_set_then_show(env, tmp_path):
    r = kalshi(env, "config", "market", "set", "kxa-1", "min_spread=0.0300", "quote_size=2.5", "--by", "ops")
    assert r.exit_code == 0, r.output
    assert "KXA-1: written at version" in r.output and "min_spread" in r.output and "0.0300" in r.output
    snap = snapshot(tmp_path)
    record = snap.markets["KXA-1"]  # upper-cased, as tickers are
    assert dict(record.values) == {"min_spread": "0.0300", "quote_size": "2.5"} and record.updated_by == "ops"
    shown = kalshi(env, "config", "market", "show")
    assert shown.exit_code == 0 and "KXA-1" in shown.output and "min_spread=0.0300 quote_size=2.5" in shown.output
    doc = json.loads(kalshi(env, "config", "market", "show", "--json").stdout)
    assert doc["version"] == snap.version
    assert doc["markets"]["KXA-1"]["values"] == {"min_spread": "0.0300", "quote_size": "2.5"}
    one = json.loads(kalshi(env, "config", "market", "show", "KXA-1", "--json").stdout)
    assert one["in_force"]["min_spread"] == "0.0300" and one["in_force"]["max_inventory_yes"] == "10"
    assert one["problem"] is None


def test_set_keeps_the_other_values(env, tmp_path):
    kalshi(env, "config", "market", "set", "KXA-1", "min_spread=0.03", "quote_size=2")
    r = kalshi(env, "config", "market", "set", "KXA-1", "quote_size=3")
    assert r.exit_code == 0, r.output
    assert dict(snapshot(tmp_path).markets["KXA-1"].values) == {"min_spread": "0.03", "quote_size": "3"}


def test_show_one_market_over_a_file(env, tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text('[defaults]\nmax_inventory_yes = 4\n[markets."KXA-1"]\nquote_size = 9\nmin_spread = 0.05\n')
    kalshi(env, "config", "market", "set", "KXA-1", "min_spread=0.03")
    r = kalshi(env, "config", "market", "show", "KXA-1", "--config", str(path))
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line.split()[1:] for line in r.output.splitlines()[3:] if line.strip()}
    assert rows["min_spread"] == ["0.03", "0.03"]  # the store's value wins
    assert rows["quote_size"] == ["-", "9"] and rows["max_inventory_yes"] == ["-", "4"]  # the file's
    assert rows["toxicity"] == ["-", "-"]


@pytest.mark.parametrize("args, words", [
    (["min_spread=abc"], "not a number"),
    (["min_spread=1.5"], "outside 0 <= x < 1"),
    (["min_spread=0.02", "quote_size=0"], "not a valid contract count"),
    (["quote_size=0.001"], "not a valid contract count"),
    (["quote_size=1e400"], "not a valid contract count"),
    (["max_inventory_no=-3"], "not a valid contract count"),
    (["enabled=yes"], "not true or false"),
    (["toxicity=2"], "outside 0 <= x <= 1"),
    (["min_sprad=0.02"], "did you mean 'min_spread'"),
    (["strategy=edge"], "unknown key 'strategy'"),
    (["min_spread"], "is not key=value"),
    (["=0.02"], "is not key=value"),
    (["min_spread="], "is not key=value"),
    (["quote_size=1", "quote_size=2"], "given twice"),
])
def test_a_bad_key_or_value_is_refused_and_nothing_is_written(env, tmp_path, args, words):
    kalshi(env, "config", "market", "set", "KXA-1", "quote_size=5")
    before = snapshot(tmp_path)
    r = kalshi(env, "config", "market", "set", "KXA-1", *args)
    assert r.exit_code == 2, r.output
    assert words in r.output and "Traceback" not in r.output and "unexpected" not in r.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("ticker", ["KX A", "", " "])
def test_a_bad_ticker_is_refused(env, tmp_path, ticker):
    r = kalshi(env, "config", "market", "set", ticker, "quote_size=2")
    assert r.exit_code == 2 and "market ticker" in r.output
    assert snapshot(tmp_path).version == 0


def test_a_write_at_a_stale_version_is_refused(env, tmp_path):
    kalshi(env, "config", "market", "set", "KXA-1", "quote_size=2")
    version = snapshot(tmp_path).version
    kalshi(env, "config", "market", "set", "KXB-2", "quote_size=3")  # someone else, meanwhile
    r = kalshi(env, "config", "market", "set", "KXA-1", "quote_size=4", "--expect-version", str(version))
    assert r.exit_code == 3, r.output
    assert "changed meanwhile" in r.output and "nothing was written" in r.output
    assert dict(snapshot(tmp_path).markets["KXA-1"].values) == {"quote_size": "2"}
    ok = kalshi(env, "config", "market", "set", "KXA-1", "quote_size=4", "--expect-version",
                str(snapshot(tmp_path).version))
    assert ok.exit_code == 0, ok.output


def test_an_unusable_store_is_exit_3(env, tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "runtime.sqlite").write_bytes(b"garbage" * 50)
    for args in (["market", "set", "KXA-1", "quote_size=2"], ["market", "show"], ["global", "show"]):
        r = kalshi(env, "config", *args)
        assert r.exit_code == 3, r.output
        assert "runtime.sqlite" in r.output and "Traceback" not in r.output


def test_unset_returns_a_market_to_the_file(env, tmp_path):
    kalshi(env, "config", "market", "set", "KXA-1", "quote_size=2", "min_spread=0.03")
    r = kalshi(env, "config", "market", "unset", "KXA-1", "min_spread")
    assert r.exit_code == 0, r.output
    assert dict(snapshot(tmp_path).markets["KXA-1"].values) == {"quote_size": "2"}
    missing = kalshi(env, "config", "market", "unset", "KXA-1", "min_edge")
    assert missing.exit_code == 2 and "has no min_edge" in missing.output
    assert kalshi(env, "config", "market", "unset", "KXA-1").exit_code == 0
    assert "KXA-1" not in snapshot(tmp_path).markets
    assert kalshi(env, "config", "market", "unset", "KXA-1").exit_code == 2  # no record left


def test_global_set_and_show(env, tmp_path):
    r = kalshi(env, "config", "global", "set", "max_daily_loss=25.50", "trading_enabled=false", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["after"] == {"max_daily_loss": "25.50", "trading_enabled": "false"}
    shown = kalshi(env, "config", "global", "show")
    assert shown.exit_code == 0 and "25.50" in shown.output
    doc = json.loads(kalshi(env, "config", "global", "show", "--json").stdout)
    assert doc["global"]["values"]["max_daily_loss"] == "25.50"


@pytest.mark.parametrize("args, words", [
    (["strategy=edge"], "chosen when a bot starts"),
    (["loop_interval_ms=5"], "out of range"),
    (["max_daily_loss=0"], "must be more than 0"),
    (["lease_ttl_seconds=1"], "out of range"),
    (["store_reload_passes=2.5"], "not a whole number"),
    (["trading_enabled=1"], "not true or false"),
    (["markets=x"], "unknown key 'markets'"),
    (["max_daily_los=5"], "did you mean 'max_daily_loss'"),
])
def test_a_bad_global_value_is_refused_and_nothing_is_written(env, tmp_path, args, words):
    r = kalshi(env, "config", "global", "set", *args)
    assert r.exit_code == 2, r.output
    assert words in r.output
    assert snapshot(tmp_path).version == 0


def test_show_warns_of_a_value_written_around_the_rules(env, tmp_path):
    kalshi(env, "config", "market", "set", "KXA-1", "quote_size=2")
    conn = sqlite3.connect(tmp_path / "store" / "runtime.sqlite")
    with conn:
        conn.execute("UPDATE record_values SET value = 'lots' WHERE key = 'quote_size'")
    conn.close()
    r = kalshi(env, "config", "market", "show", "KXA-1")
    assert r.exit_code == 0
    assert "lots" in r.output and "keep their last good configuration" in r.output


def test_every_command_has_help_with_an_example(env):
    for args in (["config", "market"], ["config", "global"], ["config", "market", "set"],
                 ["config", "market", "unset"], ["config", "market", "show"], ["config", "global", "set"],
                 ["config", "global", "show"]):
        r = kalshi(env, *args, "--help")
        assert r.exit_code == 0 and "Example:" in r.output, args
