"""Bot configuration: valid files, each invalid key named, and the watcher's last-good behaviour."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.auto.botconfig import SCHEMA_DOC, BotConfig, ConfigWatcher, MarketConfig, load_config, parse_config
from kalshi_trading.errors import ConfigError

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)

GOOD = """
strategy = "edge"
trading_enabled = false
max_total_exposure = 150.50
max_daily_loss = "30"
loop_interval_ms = 250
max_orders_per_minute = 40

[defaults]
min_spread = 0.03
quote_size = 2.5

[markets."KX-A"]
quote_size = 5
min_edge = 0.045

[markets."KX-B"]
enabled = false
"""


def test_valid_toml():
    cfg = parse_config(GOOD, "toml", "bot.toml")
    assert cfg.strategy == "edge" and cfg.trading_enabled is False
    assert cfg.max_total_exposure == D("150.50") and isinstance(cfg.max_total_exposure, D)
    assert cfg.max_daily_loss == D(30) and cfg.loop_interval_ms == 250 and cfg.max_orders_per_minute == 40
    a = cfg.market("KX-A")
    assert a.quote_size == D(5) and a.min_edge == D("0.045")
    assert a.min_spread == D("0.03")  # inherited from [defaults]
    assert a.max_inventory_yes == MarketConfig().max_inventory_yes  # built-in default under both
    assert cfg.market("KX-B").enabled is False and cfg.market("KX-B").quote_size == D("2.5")
    assert cfg.market("KX-UNLISTED") == cfg.defaults
    assert cfg.tickers == ("KX-A", "KX-B") and cfg.enabled_tickers == ("KX-A",)


def test_min_spread_is_exact_not_float():
    cfg = parse_config("[defaults]\nmin_spread = 0.1\ninventory_skew_factor = 0.0007\n", "toml")
    assert cfg.defaults.min_spread == D("0.1") and str(cfg.defaults.inventory_skew_factor) == "0.0007"


def test_json_by_extension(tmp_path):
    f = tmp_path / "bot.json"
    f.write_text(json.dumps({"strategy": "mm", "markets": {"KX-A": {"min_spread": "0.04"}}})
                 .replace('"0.04"', "0.04"))
    cfg = load_config(f)
    assert cfg.market("KX-A").min_spread == D("0.04") and cfg.source == str(f)


def test_default_and_schema_doc_example():
    assert BotConfig.default() == BotConfig()
    assert BotConfig.default().strategy == "mm"
    example = re.search(r"```toml\n(.*?)```", SCHEMA_DOC, re.S).group(1)
    cfg = parse_config(example, "toml")
    assert cfg.market("KXHIGHNY-26JAN01-B45.5").quote_size == D(5)
    for key in ("max_total_exposure", "max_daily_loss", "loop_interval_ms", "max_orders_per_minute",
                "trading_enabled", "strategy", "enabled", "max_inventory_yes", "max_inventory_no", "min_spread",
                "quote_size", "inventory_skew_factor", "min_edge", "[defaults]", '[markets."'):
        assert key in SCHEMA_DOC


@pytest.mark.parametrize("text, key", [
    ('strategy = "scalp"', "strategy"),
    ("trading_enabled = \"yes\"", "trading_enabled"),
    ("max_total_exposure = 0", "max_total_exposure"),
    ("max_total_exposure = -5", "max_total_exposure"),
    ("max_daily_loss = \"lots\"", "max_daily_loss"),
    ("max_daily_loss = true", "max_daily_loss"),
    ("loop_interval_ms = 1", "loop_interval_ms"),
    ("loop_interval_ms = 2.5", "loop_interval_ms"),
    ("max_orders_per_minute = 0", "max_orders_per_minute"),
    ("max_order_per_minute = 10", "max_order_per_minute"),
    ("[defaults]\nenabled = 1", "defaults.enabled"),
    ("[defaults]\nmax_inventory_yes = -1", "defaults.max_inventory_yes"),
    ("[defaults]\nmax_inventory_no = 1.001", "defaults.max_inventory_no"),
    ("[defaults]\nmin_spread = 1.5", "defaults.min_spread"),
    ("[defaults]\nquote_size = 0", "defaults.quote_size"),
    ("[defaults]\ninventory_skew_factor = -0.1", "defaults.inventory_skew_factor"),
    ("[defaults]\nmin_edge = \"nan\"", "defaults.min_edge"),
    ("[defaults]\nmin_spred = 0.02", "defaults.min_spred"),
    ('[markets."KX-A"]\nquote_size = "x"', 'markets."KX-A".quote_size'),
    ('[markets."KX-A"]\nmin_edge = 2', 'markets."KX-A".min_edge'),
    ("defaults = 3", "defaults"),
    ('markets = {"KX-A" = 1}', 'markets."KX-A"'),
])
def test_each_invalid_key_named(text, key):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "toml", "bot.toml")
    assert key in str(err.value) and "fix:" in str(err.value) and "bot.toml" in str(err.value)


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match="did you mean 'min_spread'"):
        parse_config("[defaults]\nmin_spred = 0.02", "toml")


def test_syntax_errors_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("strategy = ", "toml")
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_config("{", "json")
    with pytest.raises(ConfigError, match=r"\*\.toml or \*\.json"):
        load_config(tmp_path / "bot.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(f)


# --- watcher --------------------------------------------------------------------------------------

def _write(path, text, mtime_s):
    path.write_text(text)
    os.utime(path, ns=(mtime_s * 10**9, mtime_s * 10**9))


def test_watcher_reloads_keeps_last_good_and_recovers(tmp_path, caplog):
    f = tmp_path / "bot.toml"
    _write(f, "[defaults]\nquote_size = 2\n", 1000)
    w = ConfigWatcher(f, clock=lambda: NOW)
    assert w.config.defaults.quote_size == D(2)
    r = w.poll()
    assert (r.changed, r.error, r.at) == (False, None, NOW)

    _write(f, "[defaults]\nquote_size = 3\n", 1001)
    r = w.poll()
    assert r.changed and r.error is None and r.config.defaults.quote_size == D(3) and w.config is r.config

    _write(f, "[defaults]\nquote_size = -3\n", 1002)
    with caplog.at_level("WARNING"):
        r = w.poll()
    assert not r.changed and "defaults.quote_size" in str(r.error)
    assert r.config.defaults.quote_size == D(3) and w.config.defaults.quote_size == D(3)
    assert w.last_error is r.error and "keeping the last good" in caplog.text
    assert w.poll().error is None  # reported once per edit, not every poll

    _write(f, "strategy = \n", 1003)  # a syntax error is no different
    assert "not valid TOML" in str(w.poll().error)

    f.unlink()
    r = w.poll()
    assert "gone" in str(r.error) and r.config.defaults.quote_size == D(3)

    _write(f, "[defaults]\nquote_size = 4\n", 1004)
    r = w.poll()
    assert r.changed and r.error is None and w.config.defaults.quote_size == D(4) and w.last_error is None


def test_watcher_same_content_is_not_a_change(tmp_path):
    f = tmp_path / "bot.toml"
    _write(f, "max_daily_loss = 5\n", 1000)
    w = ConfigWatcher(f, clock=lambda: NOW)
    _write(f, "max_daily_loss = 5.0\n", 1001)  # same value, different text
    r = w.poll()
    assert (r.changed, r.error) == (False, None)


def test_watcher_bad_first_file_raises_at_startup(tmp_path):
    f = tmp_path / "bot.toml"
    f.write_text("strategy = 3\n")
    with pytest.raises(ConfigError, match="strategy"):
        ConfigWatcher(f, clock=lambda: NOW)
    w = ConfigWatcher(f, clock=lambda: NOW, initial=BotConfig.default())
    assert w.config == BotConfig.default()
