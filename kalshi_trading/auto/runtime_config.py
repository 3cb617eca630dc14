"""The bot's configuration from the store: per-market records and one global record (`store.runtime`), merged over
the file (or the defaults), edited with validation (`kalshi config market set`), reloaded while the bot runs.

Precedence, lowest first: the built-in defaults, the file's `[defaults]`, the file's `[markets."T"]`, the store's
record for T (per market); the defaults, the file's top level, the store's global record (global).  A command-line
option (`--interval-ms`) wins over all of them.  The strategy is chosen when a bot starts (the file or
`--strategy`), never from the store.

Every value passes the file's own rules (`auto.botconfig`) before it is written, and again at every reload: a value
written around them (by hand, by another tool) is rejected there, logged, and the last good configuration stays in
force, exactly as with a bad edit of the file.  A bot checks the store's version at every reload poll (one cheap
read) and reloads when it changed; it also reloads in full every `store_reload_passes` loop passes, for a store
whose version a hand edit may not move.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from kalshi_trading.auto.botconfig import (
    GLOBAL_KEYS, MARKET_KEYS, BotConfig, ConfigWatcher, ReloadResult, overlay, typed_value,
)
from kalshi_trading.errors import ConfigError, StorageError, UsageError
from kalshi_trading.store.runtime import RuntimeConfigStore, RuntimeRecord, RuntimeSnapshot

log = logging.getLogger(__name__)

NOT_FROM_STORE = {"strategy": "the strategy is chosen when a bot starts (--strategy or the file); it is not a "
                              "runtime setting"}
RUNTIME_GLOBAL_KEYS = tuple(k for k in GLOBAL_KEYS if k not in NOT_FROM_STORE)
RUNTIME_MARKET_KEYS = MARKET_KEYS
WHERE = "the store's runtime configuration"


# --- validation: the file's rules, over text -------------------------------------------------------
def _typed(values: Mapping[str, str]) -> dict[str, Any]:
    return {key: typed_value(key, text) for key, text in values.items()}


def _check_global_keys(keys: Sequence[str]) -> None:
    for key in keys:
        if key in NOT_FROM_STORE:
            raise ConfigError(f"{key}: {NOT_FROM_STORE[key]}", variable=key,
                              fix=f"use one of {', '.join(RUNTIME_GLOBAL_KEYS)}")


def apply_snapshot(base: BotConfig, snap: RuntimeSnapshot) -> BotConfig:
    """`base` with the store's records over it; a ConfigError names the record and the key of a bad value."""
    if snap.empty:
        return base
    global_values = dict(snap.global_record.values) if snap.global_record is not None else {}
    try:
        _check_global_keys(list(global_values))
        merged = overlay(base, _typed(global_values), {t: _typed(r.values) for t, r in snap.markets.items()},
                         f"{base.source} + {WHERE} (version {snap.version})")
    except ConfigError as exc:
        raise ConfigError(f"{WHERE} (version {snap.version}): {exc}") from None
    return merged


def check_market(ticker: str, values: Mapping[str, str]) -> None:
    """A market record's values as the bot would read them; a ConfigError names the first bad one."""
    overlay(BotConfig.default(), {}, {ticker: _typed(values)}, WHERE)


def check_global(values: Mapping[str, str]) -> None:
    _check_global_keys(list(values))
    overlay(BotConfig.default(), _typed(values), {}, WHERE)


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """`key=value` words from a command line; a malformed or repeated one is a UsageError."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise UsageError(f"{item!r} is not key=value (e.g. min_spread=0.03)")
        if key in out:
            raise UsageError(f"{key} is given twice; give each setting once")
        out[key] = value
    if not out:
        raise UsageError("give at least one key=value (e.g. quote_size=2)")
    return out


# --- edits -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """What an edit did: the record before and after (text by key) and the store's version after."""

    ticker: str | None  # None: the global record
    before: Mapping[str, str]
    after: Mapping[str, str]
    version: int


def _as_usage(check: Callable[[], None]) -> None:
    """A bad value given on a command line is bad input (exit 2), named by the file's rule."""
    try:
        check()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _values(record: RuntimeRecord | None) -> dict[str, str]:
    return dict(record.values) if record is not None else {}


def set_market(runtime: RuntimeConfigStore, ticker: str, changes: Mapping[str, str], *, who: str,
               now: datetime, expected_version: int | None = None) -> Edit:
    """Set some of a market's values (the others kept), after checking the whole record: nothing is written
    unless every value is good.  The write is a compare-and-set against the version read (or `expected_version`)."""
    snap = runtime.snapshot()
    before = _values(snap.markets.get(ticker))
    after = {**before, **changes}
    _as_usage(lambda: check_market(ticker, after))
    version = runtime.put_market(ticker, after, updated_by=who, now=now,
                                 expected_version=snap.version if expected_version is None else expected_version)
    return Edit(ticker, before, after, version)


def unset_market(runtime: RuntimeConfigStore, ticker: str, keys: Sequence[str], *, who: str, now: datetime,
                 expected_version: int | None = None) -> Edit:
    """Remove some of a market's values (none named: its whole record), so the file's (or default) apply again."""
    snap = runtime.snapshot()
    record = snap.markets.get(ticker)
    if record is None:
        raise UsageError(f"{ticker} has no record in {WHERE}")
    before = _values(record)
    missing = [k for k in keys if k not in before]
    if missing:
        raise UsageError(f"{ticker} has no {', '.join(missing)} in {WHERE} (it has: {', '.join(before) or 'none'})")
    expected = snap.version if expected_version is None else expected_version
    after = {k: v for k, v in before.items() if k not in keys} if keys else {}
    if after:
        version = runtime.put_market(ticker, after, updated_by=who, now=now, expected_version=expected)
    else:
        version = runtime.delete_market(ticker, expected_version=expected)
    return Edit(ticker, before, after, version)


def set_global(runtime: RuntimeConfigStore, changes: Mapping[str, str], *, who: str, now: datetime,
               expected_version: int | None = None) -> Edit:
    """Set some global values (the others kept), after checking the whole record."""
    snap = runtime.snapshot()
    before = _values(snap.global_record)
    after = {**before, **changes}
    _as_usage(lambda: check_global(after))
    version = runtime.put_global(after, updated_by=who, now=now,
                                 expected_version=snap.version if expected_version is None else expected_version)
    return Edit(None, before, after, version)


# --- the running bot -------------------------------------------------------------------------------
class StoreConfigWatcher:
    """The configuration in force: the file's (reloaded by its `ConfigWatcher`) or a fixed base, with the store's
    records over it and the command line's `pinned` values over both.  `poll()` checks the file and the store's
    version, reloads what changed (and the store in full every `store_reload_passes` loop passes, counted by
    `passes`), and keeps the last good configuration when a reload is bad.

    The first read happens in the constructor and raises ConfigError (a bot does not start on a bad value)."""

    def __init__(self, runtime: RuntimeConfigStore, clock: Callable[[], datetime], *, base: BotConfig,
                 file: ConfigWatcher | None = None, pinned: Mapping[str, Any] | None = None,
                 passes: Callable[[], int] = lambda: 0, location: str = "the store"):
        self.runtime = runtime
        self._clock = clock
        self._file = file
        self._base = file.config if file is not None else base
        self._pinned = dict(pinned or {})
        self.passes = passes  # loop passes so far (the run sets it once its loop counts them)
        self._location = location
        self._snapshot = runtime.snapshot()
        self._config = self._merge(self._base, self._snapshot)
        self._full_at = passes()
        self.last_error: ConfigError | None = None

    @property
    def path(self) -> str:
        """Where the configuration comes from, for messages."""
        store = f"{WHERE} ({self._location})"
        return f"{self._file.path} and {store}" if self._file is not None else store

    @property
    def config(self) -> BotConfig:
        """The configuration in force (the last good one)."""
        return self._config

    @property
    def version(self) -> int:
        """The store version the configuration in force was read at (or rejected at)."""
        return self._snapshot.version

    def _merge(self, base: BotConfig, snap: RuntimeSnapshot) -> BotConfig:
        merged = apply_snapshot(base, snap)
        return overlay(merged, self._pinned, {}, merged.source) if self._pinned else merged

    def poll(self) -> ReloadResult:
        """Check the file and the store once; reload what changed."""
        now = self._clock()
        base = self._base
        if self._file is not None:
            result = self._file.poll()
            if result.error is not None:
                return ReloadResult(self._config, False, result.error, now)
            base = result.config
        snap = self._read_store()
        if snap is None or (base == self._base and snap == self._snapshot):
            self._base = base
            return ReloadResult(self._config, False, None, now)
        self._base, self._snapshot = base, snap
        try:
            fresh = self._merge(base, snap)
        except ConfigError as exc:
            self.last_error = exc
            log.warning("configuration reload failed, keeping the last good configuration: %s", exc)
            return ReloadResult(self._config, False, exc, now)
        self.last_error = None
        changed = fresh != self._config
        self._config = fresh
        if changed:
            log.info("configuration reloaded from %s (version %d)", self.path, snap.version)
        return ReloadResult(fresh, changed, None, now)

    def _read_store(self) -> RuntimeSnapshot | None:
        """The store's records when its version moved or a full reload is due; else (or when the store does not
        answer: the configuration in force stays) None."""
        passes = self.passes()
        try:
            if self.runtime.version() == self._snapshot.version and \
                    passes - self._full_at < self._config.store_reload_passes:
                return None
            self._full_at = passes
            return self.runtime.snapshot()
        except StorageError as exc:
            log.warning("could not read %s (%s); the configuration in force stays", WHERE, exc)
            return None
