"""The `[alerts]` table: every value checked, a mistake is a ConfigError naming the key (exit 3 from the CLI, before
anything trades); the bot's and the pipeline's own parsers accept the table."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.auto.botconfig import load_config
from kalshi_trading.cli.main import app
from kalshi_trading.errors import ConfigError
from kalshi_trading.ops.settings import AlertSettings, build_settings, load_settings, parse_duration
from kalshi_trading.signals.profiles import load_pipeline_config

GOOD = """\
max_daily_loss = 20
[defaults]
quote_size = 1

[alerts]
cooldown = "5m"
digest_every = "30m"
actionable_only = true
[alerts.daily_pnl]
below = -7.50
[alerts.api_errors]
count = 4
window = 120
[alerts.no_fills]
enabled = false
[alerts.halted]
cooldown = 0
"""


def test_a_full_table_in_the_bots_file(tmp_path: Path):
    path = tmp_path / "bot.toml"
    path.write_text(GOOD)
    assert load_config(path).max_daily_loss == D(20)  # the bot's own parser takes the file with [alerts]
    s = load_settings(path)
    assert s.rule("daily_pnl").cooldown == timedelta(minutes=5) and s.daily_pnl_below == D("-7.50")
    assert s.rule("halted").cooldown == timedelta(0) and not s.rule("no_fills").enabled
    assert (s.api_errors_count, s.api_errors_window) == (4, timedelta(seconds=120))
    assert s.digest_every == timedelta(minutes=30) and s.actionable_only and s.cycle_digests


def test_the_pipelines_file_takes_the_table_too(tmp_path: Path):
    path = tmp_path / "pipeline.json"
    path.write_text('{"profile": "balanced", "alerts": {"source_down": {"cycles": 5}, "cycle_digests": false}}')
    assert load_pipeline_config(path).profile.name == "balanced"
    s = load_settings(path)
    assert s.source_down_cycles == 5 and not s.cycle_digests


def test_defaults_without_a_file_or_a_table(tmp_path: Path):
    path = tmp_path / "bot.toml"
    path.write_text("max_daily_loss = 20\n")
    for s in (load_settings(None), load_settings(path)):
        assert all(s.rule(r).enabled for r in ("halted", "daily_pnl", "api_errors", "no_fills", "source_down",
                                               "store"))
        assert s.rule("halted").cooldown == timedelta(minutes=1) and s.rule("store").cooldown == timedelta(minutes=15)
        assert s.digest_every == timedelta(hours=1) and s.daily_pnl_below is None


@pytest.mark.parametrize("table, key", [
    ({"cooldwn": "5m"}, "alerts.cooldwn"),
    ({"daily_pnl": {"belo": -5}}, "alerts.daily_pnl.belo"),
    ({"halted": {"below": -5}}, "alerts.halted.below"),
    ({"halted": {"enabled": "yes"}}, "alerts.halted.enabled"),
    ({"halted": {"enabled": 1}}, "alerts.halted.enabled"),
    ({"store": {"cooldown": "-5m"}}, "alerts.store.cooldown"),
    ({"store": {"cooldown": "5 weeks"}}, "alerts.store.cooldown"),
    ({"store": {"cooldown": "31d"}}, "alerts.store.cooldown"),
    ({"store": {"check_every": 0}}, "alerts.store.check_every"),
    ({"store": {"check_every": True}}, "alerts.store.check_every"),
    ({"api_errors": {"count": 0}}, "alerts.api_errors.count"),
    ({"api_errors": {"count": D("1.5")}}, "alerts.api_errors.count"),
    ({"api_errors": {"count": "ten"}}, "alerts.api_errors.count"),
    ({"api_errors": {"window": "five minutes"}}, "alerts.api_errors.window"),
    ({"daily_pnl": {"below": "abc"}}, "alerts.daily_pnl.below"),
    ({"daily_pnl": {"below": D("-1.234")}}, "alerts.daily_pnl.below"),
    ({"daily_pnl": {"below": "NaN"}}, "alerts.daily_pnl.below"),
    ({"daily_pnl": {"below": True}}, "alerts.daily_pnl.below"),
    ({"source_down": {"cycles": True}}, "alerts.source_down.cycles"),
    ({"source_down": {"cycles": -1}}, "alerts.source_down.cycles"),
    ({"halted": "off"}, "alerts.halted"),
    ({"digest_every": "1y"}, "alerts.digest_every"),
    ({"cycle_digests": "true"}, "alerts.cycle_digests"),
])
def test_each_bad_value_names_its_key(table, key):
    with pytest.raises(ConfigError) as caught:
        build_settings(table)
    assert key in str(caught.value) and "fix:" in str(caught.value)


def test_a_table_that_is_not_a_table():
    with pytest.raises(ConfigError, match="alerts"):
        build_settings(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400),
                                           ("1.5h", 5400), (" 2H ", 7200), (D(30), 30), (45, 45)])
def test_durations(text, seconds):
    assert parse_duration(text, "k") == timedelta(seconds=seconds)


def test_zero_duration_only_where_it_means_off():
    assert parse_duration("0", "k", allow_zero=True) == timedelta(0)
    with pytest.raises(ConfigError):
        parse_duration("0", "k")
    assert build_settings({"digest_every": "0"}).digest_every is None
    assert AlertSettings().digest_every == timedelta(hours=1)


@pytest.fixture
def env(tmp_path):
    return {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
            "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "HOME": str(tmp_path),
            "NO_COLOR": "1"}


@pytest.mark.e2e
def test_a_bad_alerts_table_stops_kalshi_auto_before_it_trades(tmp_path, env):
    bad = tmp_path / "bot.toml"
    bad.write_text('max_daily_loss = 20\n[alerts.no_fills]\nafter = "two hours"\n')
    result = CliRunner().invoke(app, ["auto", "--sim", "--config", str(bad), "--duration", "2", "--seed", "3",
                                      "--feed", "poll"], env=env)
    assert result.exit_code == 3, result.output
    assert "alerts.no_fills.after" in result.output and "Traceback" not in result.output
    assert "unexpected" not in result.output
    journal = CliRunner().invoke(app, ["history", "--json"], env=env)  # nothing was placed
    assert '"entries": []' in journal.stdout


@pytest.mark.e2e
def test_a_bad_alerts_table_stops_the_pipeline(tmp_path, env):
    bad = tmp_path / "pipeline.toml"
    bad.write_text('profile = "balanced"\n[alerts]\nactionable_only = "yes"\n')
    result = CliRunner().invoke(app, ["pipeline", "run", "--sim", "--once", "--config", str(bad)], env=env)
    assert result.exit_code == 3, result.output
    assert "alerts.actionable_only" in result.output and "Traceback" not in result.output


def test_the_readme_alerts_example_is_valid():
    import tomllib

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```toml")[1:]]
    [example] = [b for b in blocks if b.lstrip().startswith("[alerts]")]
    s = build_settings(tomllib.loads(example, parse_float=D)["alerts"], "README")
    assert s.daily_pnl_below == D(-25) and not s.rule("no_fills").enabled and s.api_errors_count == 10
