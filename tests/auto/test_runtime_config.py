"""The bot's configuration from the store (`auto/runtime_config.py`): the precedence over the file, reloads on a new
version and every `store_reload_passes` passes, a bad value written around the rules rejected with the last good
configuration kept, the loop trading on what was reloaded.  A real SQLite store; the loop against the in-test
exchange of test_loop.py."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.auto.botconfig import BotConfig, ConfigWatcher
from kalshi_trading.auto.runtime_config import StoreConfigWatcher, apply_snapshot, set_global, set_market
from kalshi_trading.auto.types import TimerEvent
from kalshi_trading.errors import ConfigError, UsageError
from kalshi_trading.store import open_store
from kalshi_trading.store.runtime import RuntimeSnapshot
from tests.auto.test_loop import T, ManualClock, make_loop
from tests.auto.states import open_state

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
FILE = """max_daily_loss = 30
max_orders_per_minute = 40
[defaults]
quote_size = 2
min_spread = 0.04
[markets."KXOTHER-1"]
quote_size = 7
"""


@pytest.fixture
def state(tmp_path):
    s = open_state(tmp_path / "bot")
    yield s
    s.close()


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite://{tmp_path}/store/", env="sim")
    yield s
    s.close()


@pytest.fixture
def runtime(store):
    return store.runtime_config()


@pytest.fixture
def file_watcher(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(FILE)
    return ConfigWatcher(path, ManualClock().now)


def hand_edit(store, sql: str, args=()) -> None:
    """A write around the program (the sqlite3 shell): no rule checks it."""
    conn = sqlite3.connect(store.directory / "runtime.sqlite")
    with conn:
        conn.execute(sql, args)
    conn.close()


def test_the_store_wins_over_the_file_and_the_command_line_over_both(runtime, file_watcher):
    set_market(runtime, T, {"quote_size": "3", "enabled": "false"}, who="ops", now=NOW)
    set_market(runtime, "KXOTHER-1", {"min_spread": "0.05"}, who="ops", now=NOW)
    set_global(runtime, {"max_daily_loss": "12.5", "loop_interval_ms": "250"}, who="ops", now=NOW)
    watcher = StoreConfigWatcher(runtime, ManualClock().now, base=BotConfig(), file=file_watcher,
                                 pinned={"loop_interval_ms": 900})
    cfg = watcher.config
    assert cfg.market(T).quote_size == D(3) and cfg.market(T).enabled is False  # store over [defaults]
    assert cfg.market(T).min_spread == D("0.04")  # the file's [defaults] where the store says nothing
    other = cfg.market("KXOTHER-1")
    assert (other.quote_size, other.min_spread) == (D(7), D("0.05"))  # store over the file's market table
    assert cfg.market("KXNONE-1").quote_size == D(2)  # no record anywhere: the file's [defaults]
    assert cfg.max_daily_loss == D("12.5") and cfg.max_orders_per_minute == 40  # store over file, file over default
    assert cfg.loop_interval_ms == 900  # the command line over the store
    assert "runtime configuration" in watcher.path and "bot.toml" in watcher.path


def test_an_empty_store_changes_nothing(runtime, file_watcher):
    assert apply_snapshot(file_watcher.config, RuntimeSnapshot()) is file_watcher.config
    assert StoreConfigWatcher(runtime, ManualClock().now, base=BotConfig(), file=file_watcher).config == \
        file_watcher.config


def test_a_bad_value_in_the_store_stops_the_start(store, runtime):
    set_market(runtime, T, {"quote_size": "3"}, who="ops", now=NOW)
    hand_edit(store, "UPDATE record_values SET value = '-1' WHERE key = 'quote_size'")
    with pytest.raises(ConfigError) as caught:
        StoreConfigWatcher(runtime, ManualClock().now, base=BotConfig())
    text = str(caught.value)
    assert "the store's runtime configuration (version" in text and T in text and "quote_size" in text


@pytest.mark.parametrize("key, value", [("strategy", "edge"), ("defaults", "x"), ("no_such_key", "1")])
def test_a_global_key_the_store_may_not_hold_stops_the_start(store, runtime, key, value):
    set_global(runtime, {"max_daily_loss": "5"}, who="ops", now=NOW)
    hand_edit(store, "INSERT INTO record_values (kind, name, key, value) VALUES ('global', '', ?, ?)", (key, value))
    with pytest.raises(ConfigError, match=key):
        StoreConfigWatcher(runtime, ManualClock().now, base=BotConfig())


def test_edits_check_every_value_before_writing(runtime):
    set_market(runtime, T, {"quote_size": "3"}, who="ops", now=NOW)
    version = runtime.version()
    for changes in ({"quote_size": "4", "min_spread": "2"}, {"quote_size": "1.001"}, {"enabled": "maybe"},
                    {"min_sprea": "0.02"}, {"toxicity": "1.5"}, {"max_inventory_yes": "-1"}):
        with pytest.raises(UsageError):
            set_market(runtime, T, changes, who="ops", now=NOW)
    for changes in ({"strategy": "edge"}, {"loop_interval_ms": "5"}, {"max_daily_loss": "0"},
                    {"lease_ttl_seconds": "1.5"}):
        with pytest.raises(UsageError):
            set_global(runtime, changes, who="ops", now=NOW)
    assert runtime.version() == version  # nothing was written


def test_the_loop_trades_on_what_the_store_says_after_a_reload(store, runtime, state):
    clock = ManualClock()
    watcher = StoreConfigWatcher(runtime, clock.now, base=BotConfig())
    loop, ex, feed, _ = make_loop(state, watcher.config, watcher, clock=clock)
    loop.tick(T, TimerEvent(clock.now()))
    assert {c[3] for c in ex.calls if c[0] == "place"} == {D(1)}
    set_market(runtime, T, {"quote_size": "3"}, who="ops", now=NOW)
    loop.reload_config()  # a new version: reloaded at once
    assert loop.config.market(T).quote_size == D(3)
    assert state.events(kinds=["config_reloaded"])
    ex.calls.clear()
    loop.watch.saw(T)  # the book moved on (shows the quotes placed)
    loop.tick(T, TimerEvent(clock.now()))
    assert {c[3] for c in ex.calls if c[0] in ("place", "amend")} == {D(3)}
    set_market(runtime, T, {"quote_size": "3", "enabled": "false"}, who="ops", now=NOW)  # switched off
    loop.reload_config()
    loop.watch.saw(T)
    loop.tick(T, TimerEvent(clock.now()))
    assert ex.orders == {} and loop.ledger.orders == {}  # its quotes came off


def test_a_bad_value_written_around_the_rules_keeps_the_last_good_configuration(store, runtime, state, caplog):
    clock = ManualClock()
    set_market(runtime, T, {"quote_size": "3"}, who="ops", now=NOW)
    watcher = StoreConfigWatcher(runtime, clock.now, base=BotConfig())
    loop, ex, feed, _ = make_loop(state, watcher.config, watcher, clock=clock)
    for bad in ("abc", "0", "1e400", "0.005", "NaN"):
        hand_edit(store, "UPDATE record_values SET value = ? WHERE key = 'quote_size'", (bad,))
        with caplog.at_level(logging.WARNING, logger="kalshi_trading.auto.runtime_config"):
            loop.reload_config()
        assert loop.config.market(T).quote_size == D(3), bad
        assert "keeping the last good configuration" in caplog.text
        assert watcher.last_error is not None and "quote_size" in str(watcher.last_error)
        caplog.clear()
    rejected = state.events(kinds=["config_rejected"])
    assert len(rejected) == 5 and "quote_size" in rejected[-1]["message"]
    loop.reload_config()  # nothing new: not rejected again
    assert len(state.events(kinds=["config_rejected"])) == 5
    loop.tick(T, TimerEvent(clock.now()))
    assert {c[3] for c in ex.calls if c[0] == "place"} == {D(3)}  # it trades on the last good one
    set_market(runtime, T, {"quote_size": "4"}, who="ops", now=NOW)  # a good value again
    loop.reload_config()
    assert loop.config.market(T).quote_size == D(4) and watcher.last_error is None


def test_a_hand_edit_that_keeps_the_version_is_found_by_the_full_reload(store, runtime, tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text("store_reload_passes = 3\n")
    set_market(runtime, T, {"quote_size": "3"}, who="ops", now=NOW)
    passes = [0]
    watcher = StoreConfigWatcher(runtime, ManualClock().now, base=BotConfig(),
                                 file=ConfigWatcher(path, ManualClock().now), passes=lambda: passes[0])
    version = runtime.version()
    hand_edit(store, "UPDATE record_values SET value = '5' WHERE key = 'quote_size'")
    hand_edit(store, "UPDATE version SET version = ?", (version,))  # as a store without version triggers would
    for n in (1, 2):
        passes[0] = n
        assert watcher.poll().changed is False  # the version did not move: not read yet
    passes[0] = 3
    result = watcher.poll()
    assert result.changed and result.config.market(T).quote_size == D(5)


def test_a_store_that_does_not_answer_keeps_the_configuration(store, runtime, caplog):
    set_market(runtime, T, {"quote_size": "3"}, who="ops", now=NOW)
    watcher = StoreConfigWatcher(runtime, ManualClock().now, base=BotConfig())
    runtime.close()
    (store.directory / "runtime.sqlite").write_bytes(b"not a database at all" * 10)
    for suffix in ("-wal", "-shm"):
        (store.directory / f"runtime.sqlite{suffix}").unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING, logger="kalshi_trading.auto.runtime_config"):
        result = watcher.poll()
    assert result.error is None and not result.changed and result.config.market(T).quote_size == D(3)
    assert "configuration in force stays" in caplog.text


@pytest.mark.parametrize("key", ["quote_size", "max_inventory_yes", "min_size_change"])
def test_a_count_too_large_to_check_is_refused_in_a_file_too(key):
    from kalshi_trading.auto.botconfig import parse_config

    with pytest.raises(ConfigError, match="not a valid contract count"):
        parse_config(f"[defaults]\n{key} = 1e400\n", "toml")
