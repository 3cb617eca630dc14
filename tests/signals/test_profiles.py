"""Profiles, the pipeline configuration file and the modes: every mistake is a ConfigError naming its key."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest

from kalshi_trading.errors import ConfigError, UsageError
from kalshi_trading.signals.discovery import KeywordGroup
from kalshi_trading.signals.modes import (
    CONFIRM_VARIABLE, BotMode, EngineMode, confirm_live_auto, parse_bot_mode, parse_engine_mode, resolve_modes,
)
from kalshi_trading.signals.outside import parse_sources as load_sources
from kalshi_trading.signals.outside import sim_root_of
from kalshi_trading.signals.profiles import PRESETS, load_pipeline_config
from kalshi_trading.signals.types import Family

GOOD = """
profile = "conservative"
mode = "sim"
bot_mode = "demo_safe"
interval_s = 15

[overrides]
min_edge_bps = 250
min_price = 0.07
max_price = "0.93"
order_size = 3
signal_types = ["btcd", "weather-ensemble-kde"]

[discovery]
series = ["KXBTCD", "kxhighny"]
tickers = ["KXBTCD-26NOV2117-T97249.99"]
btc15m_next_margin_s = 90
[[discovery.keywords]]
words = ["rain", "snow"]
[[discovery.keywords]]
words = ["bitcoin"]
series = "KXBTCD"

[models]
weather = "weather-ensemble-kde"

[sources]
kraken = "http://127.0.0.1:8080/ext/kraken/"
cryptocom-ws = "ws://127.0.0.1:8080/ext/cryptocom"
weather_models = ["gfs_seamless"]
bitcoin = ["coinbase", "kraken", "cryptocom"]
quorum = 1
timeout_s = 2.5
cryptocom_stream = true
"""


def write(tmp_path, text: str, name: str = "p.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_full_file_reads_exactly(tmp_path):
    cfg = load_pipeline_config(write(tmp_path, GOOD))
    p = cfg.profile
    assert p.name == "conservative" and p.min_edge_bps == 250 and p.min_price == D("0.07")
    assert p.max_price == D("0.93") and p.order_size == D(3) and p.min_confidence == D("0.7")  # the rest: preset
    assert p.signal_types == ("btcd", "weather-ensemble-kde")
    assert (cfg.mode, cfg.bot_mode, cfg.interval_s) == (EngineMode.SIM, BotMode.DEMO_SAFE, 15.0)
    assert cfg.discovery.series == ("KXBTCD", "KXHIGHNY") and cfg.discovery.btc15m_next_margin_s == 90
    assert cfg.discovery.keywords == (KeywordGroup(("rain", "snow")), KeywordGroup(("bitcoin",), "KXBTCD"))
    assert cfg.models[Family.WEATHER] == "weather-ensemble-kde"
    src = cfg.sources
    assert src.urls == {"kraken": "http://127.0.0.1:8080/ext/kraken", "cryptocom-ws": "ws://127.0.0.1:8080/ext/cryptocom"}
    assert (src.weather_models, src.bitcoin, src.quorum, src.timeout_s, src.cryptocom_stream) == (
        ("gfs_seamless",), ("coinbase", "kraken", "cryptocom"), 1, 2.5, True)


def test_source_urls_production_simulator_or_as_written():
    src = load_sources({"kraken": "https://kraken.example/proxy"})
    sim = "http://127.0.0.1:5000"
    assert src.base("kraken") == src.base("kraken", sim) == "https://kraken.example/proxy"  # written: always
    assert src.base("coinbase") == "https://api.exchange.coinbase.com"  # the production default
    assert src.base("coinbase", sim) == "http://127.0.0.1:5000/ext/coinbase"  # the simulator's copy
    assert src.base("cryptocom-ws", sim) == "ws://127.0.0.1:5000/ext/cryptocom"
    assert sim_root_of("http://127.0.0.1:5000/trade-api/v2") == sim
    collectors = src.collector_config(sim)
    assert collectors.weather is not None and collectors.weather.ensemble_base == f"{sim}/ext/open-meteo-ensemble"
    assert [(t.name, t.core) for t in collectors.spot.sources] == [
        ("coinbase", True), ("kraken", True), ("bitstamp", True), ("cryptocom", False)]
    assert collectors.history is not None and collectors.history.base_url == f"{sim}/ext/cryptocom"


def test_json_works_too_and_an_empty_file_is_the_defaults(tmp_path):
    cfg = load_pipeline_config(write(tmp_path, '{"profile": "aggressive", "overrides": {"min_edge_bps": 0}}',
                                     "p.json"))
    assert cfg.profile.name == "aggressive" and cfg.profile.min_edge_bps == 0
    assert load_pipeline_config(write(tmp_path, "")).profile == PRESETS["balanced"]


def test_presets_are_ordered_by_appetite():
    c, b, a = PRESETS["conservative"], PRESETS["balanced"], PRESETS["aggressive"]
    assert c.min_edge_bps > b.min_edge_bps > a.min_edge_bps
    assert c.max_orders_per_day < b.max_orders_per_day < a.max_orders_per_day


@pytest.mark.parametrize("text, key", [
    # unknown keys, anywhere
    ('colour = "red"', "colour"),
    ("[overrides]\nmin_edge = 3", "overrides.min_edge"),
    ('[discovery]\nseries_list = ["KXBTCD"]', "discovery.series_list"),
    ('[[discovery.keywords]]\nwords = ["a"]\nregion = "x"', "discovery.keywords[0].region"),
    ('[models]\nrain = "x"', "models.rain"),
    # a negative minimum edge, however written
    ("[overrides]\nmin_edge_bps = -1", "overrides.min_edge_bps"),
    ('[overrides]\nmin_edge_bps = "-50"', "overrides.min_edge_bps"),
    ("[overrides]\nmin_edge_bps = -0.5", "overrides.min_edge_bps"),
    # a clamp whose min is above its max (both given, or one against the preset)
    ("[overrides]\nmin_price = 0.6\nmax_price = 0.4", "overrides.min_price"),
    ("[overrides]\nmin_price = 0.97", "overrides.min_price"),
    ("[overrides]\nmax_price = 1.2", "overrides.max_price"),
    # an unknown series, in the list or in a keyword group
    ('[discovery]\nseries = ["KXNOPE"]', "discovery.series"),
    ('[discovery]\nseries = ["KXBTCD", ""]', "discovery.series"),
    ('[[discovery.keywords]]\nwords = ["a"]\nseries = "KXRAIN"', "discovery.keywords[0].series"),
    # an empty keyword group
    ("[[discovery.keywords]]\nwords = []", "discovery.keywords[0].words"),
    ('[[discovery.keywords]]\nseries = "KXBTCD"', "discovery.keywords[0].words"),
    ('[[discovery.keywords]]\nwords = [""]', "discovery.keywords[0].words"),
    # an unknown model, or one of another family
    ('[models]\nweather = "gpt"', "models.weather"),
    ('[models]\nbtcd = "weather-ensemble-kde"', "models.btcd"),
    ('[overrides]\nsignal_types = ["astrology"]', "overrides.signal_types"),
    # the outside sources
    ('[sources]\nkrakken = "https://x"', "sources.krakken"),
    ('[sources]\nkraken = "ftp://kraken.example"', "sources.kraken"),
    ('[sources]\nkraken = "kraken.example"', "sources.kraken"),
    ('[sources]\nkraken = "https://x/y?pair=1"', "sources.kraken"),
    ('[sources]\ncryptocom-ws = "https://stream.example"', "sources.cryptocom-ws"),
    ("[sources]\ncoinbase = 5", "sources.coinbase"),
    ('[sources]\nweather_models = ["crystal_ball"]', "sources.weather_models"),
    ("[sources]\nweather_models = []", "sources.weather_models"),
    ('[sources]\nweather_models = ["gfs_seamless", "gfs_seamless"]', "sources.weather_models"),
    ('[sources]\nbitcoin = ["binance"]', "sources.bitcoin"),
    ('[sources]\nbitcoin = ["cryptocom"]', "sources.quorum"),  # no core venue left for the quorum
    ("[sources]\nquorum = 0", "sources.quorum"),
    ("[sources]\nquorum = 1.5", "sources.quorum"),
    ("[sources]\nquorum = 4", "sources.quorum"),
    ("[sources]\ntimeout_s = 0", "sources.timeout_s"),
    ('[sources]\ntimeout_s = "fast"', "sources.timeout_s"),
    ('[sources]\ncryptocom_stream = "yes"', "sources.cryptocom_stream"),
    ("sources = 3", "sources"),
    # other values
    ('profile = "yolo"', "profile"),
    ('mode = "paper"', "mode"),
    ('bot_mode = "live"', "bot_mode"),
    ("interval_s = 0", "interval_s"),
    ("[overrides]\norder_size = 0.005", "overrides.order_size"),
    ("[overrides]\nmin_confidence = 1.5", "overrides.min_confidence"),
    ("[overrides]\nmax_orders_per_day = 2.5", "overrides.max_orders_per_day"),
    ('overrides = "x"', "overrides"),
])
def test_every_mistake_names_its_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(write(tmp_path, text))
    assert key in str(caught.value), str(caught.value)
    assert str(tmp_path) in str(caught.value)  # and the file


@pytest.mark.parametrize("name, text, says", [
    ("p.yaml", "a: 1", "*.toml or *.json"),
    ("p.toml", "profile = ", "not valid TOML"),
    ("p.json", "{", "not valid JSON"),
])
def test_unreadable_files_are_config_errors(tmp_path, name, text, says):
    with pytest.raises(ConfigError, match=says.replace("*", r"\*")):
        load_pipeline_config(write(tmp_path, text, name))


def test_a_missing_or_binary_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_pipeline_config(tmp_path / "absent.toml")
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_pipeline_config(path)


# -- modes ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bot, engine, env, expected", [
    (BotMode.DEMO_SAFE, None, "sim", EngineMode.SIMULATE),
    (BotMode.DEMO_SAFE, EngineMode.SIM, "sim", EngineMode.SIM),
    (BotMode.DEMO_SAFE, EngineMode.DEMO, "demo", EngineMode.DEMO),
    (BotMode.LIVE_SAFE, None, "prod", EngineMode.SIMULATE),
    (BotMode.LIVE_AUTO, None, "prod", EngineMode.LIVE),
])
def test_allowed_modes(bot, engine, env, expected):
    assert resolve_modes(bot, engine, env).engine is expected


@pytest.mark.parametrize("bot, engine, env, key", [
    (BotMode.DEMO_SAFE, None, "prod", "KALSHI_ENV"),           # paper never signs with production keys
    (BotMode.DEMO_SAFE, EngineMode.LIVE, "sim", "--mode"),
    (BotMode.DEMO_SAFE, EngineMode.DEMO, "sim", "--mode"),     # demo orders need demo settings (and keys)
    (BotMode.DEMO_SAFE, EngineMode.SIM, "demo", "--mode"),
    (BotMode.LIVE_SAFE, EngineMode.LIVE, "prod", "--mode"),    # live_safe places no orders
    (BotMode.LIVE_SAFE, None, "demo", "KALSHI_ENV"),
    (BotMode.LIVE_AUTO, None, "demo", "KALSHI_ENV"),           # live never signs with demo keys
    (BotMode.LIVE_AUTO, EngineMode.SIM, "prod", "--mode"),
])
def test_refused_modes_name_what_to_change(bot, engine, env, key):
    with pytest.raises(ConfigError, match=key):
        resolve_modes(bot, engine, env)


def test_mode_names_are_checked():
    assert parse_engine_mode(" SIM ") is EngineMode.SIM and parse_bot_mode("live_safe") is BotMode.LIVE_SAFE
    with pytest.raises(UsageError, match="--mode"):
        parse_engine_mode("paper")
    with pytest.raises(UsageError, match="--bot-mode"):
        parse_bot_mode("live")


LIVE = resolve_modes(BotMode.LIVE_AUTO, None, "prod")


def gate(flag=False, environ=None, ask=None, keys=True):
    return confirm_live_auto(LIVE, has_prod_keys=keys, limits="profile balanced: 1 contract", flag=flag,
                             environ=environ or {}, ask=ask)


def test_live_auto_with_the_flag_and_the_variable_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="kalshi_trading.signals.modes"):
        assert "--confirm-live-auto" in gate(True, {CONFIRM_VARIABLE: "yes"})
    assert "entering live_auto on PROD" in caplog.text and "profile balanced" in caplog.text


@pytest.mark.parametrize("flag, environ", [(True, {}), (False, {CONFIRM_VARIABLE: "yes"}),
                                           (True, {CONFIRM_VARIABLE: "no"}), (True, {CONFIRM_VARIABLE: ""})])
def test_live_auto_needs_both_the_flag_and_the_variable(flag, environ):
    with pytest.raises(UsageError, match="needs both"):
        gate(flag, environ, ask=lambda _: "live")  # half a confirmation is not topped up by the prompt


def test_live_auto_interactive_prompt_names_env_and_limits():
    asked: list[str] = []
    assert gate(ask=lambda text: asked.append(text) or "live") == "interactive confirmation"
    assert "PROD" in asked[0] and "profile balanced" in asked[0]
    with pytest.raises(UsageError, match="not confirmed"):
        gate(ask=lambda text: "yes please")


def test_live_auto_without_a_terminal_or_keys_is_refused():
    with pytest.raises(UsageError, match="needs a confirmation"):
        gate()
    with pytest.raises(ConfigError, match="production keys"):
        gate(True, {CONFIRM_VARIABLE: "yes"}, keys=False)


def test_other_modes_need_no_confirmation():
    safe = resolve_modes(BotMode.LIVE_SAFE, None, "prod")
    assert confirm_live_auto(safe, has_prod_keys=False, limits="", flag=False, environ={}, ask=None) == "not needed"
