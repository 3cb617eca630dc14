"""The SQLite adapter: one directory per environment, the trade journal in `journal.sqlite` inside it, the bot
state in `bot.sqlite` (a named bot's in `bot-<name>.sqlite`), the signals in `signals.sqlite`, the runtime
configuration in `runtime.sqlite`, the leases in `leases.sqlite` and the alert events in `alerts.sqlite`."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kalshi_trading.errors import JournalError, StorageError, UsageError
from kalshi_trading.store.base import DEFAULT_BOT, StoreStatus, check_bot_name
from kalshi_trading.store.botstate import BotStore, LogBounds
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.store.alerts import AlertStore
from kalshi_trading.store.lease import LeaseStore
from kalshi_trading.store.runtime import RuntimeConfigStore
from kalshi_trading.store.signals import SignalStore
from kalshi_trading.store.sqlite.botstate import SqliteBotState
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.store.url import StoreURL

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.sqlite"
SIGNALS_FILE = "signals.sqlite"
BOT_STATE_FILE = "bot.sqlite"
RUNTIME_FILE = "runtime.sqlite"
LEASES_FILE = "leases.sqlite"
ALERTS_FILE = "alerts.sqlite"


def _is_bot_name(name: str) -> bool:
    try:
        check_bot_name(name)
    except UsageError:
        return False
    return True


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SqliteStore:
    """The files of one environment in one directory (created, with its parents, when a file is first used)."""

    def __init__(self, url: StoreURL, *, env: str, clock: Callable[[], datetime] | None = None):
        assert url.directory is not None
        self._url = url
        self.directory: Path = url.directory
        self.env = env
        self._clock = clock or _utc_now
        self._journal: SqliteJournal | None = None
        self._signals: SignalStore | None = None
        self._bot_states: dict[str, SqliteBotState] = {}
        self._runtime: RuntimeConfigStore | None = None
        self._leases: LeaseStore | None = None
        self._alerts: AlertStore | None = None

    @property
    def url(self) -> StoreURL:
        return self._url

    @property
    def journal_path(self) -> Path:
        return self.directory / JOURNAL_FILE

    @property
    def journal_location(self) -> str:
        return str(self.journal_path)

    def journal(self) -> TradeJournal:
        if self._journal is None:
            self._make_directory()
            journal = SqliteJournal.open(self.journal_path, clock=self._clock)
            try:
                journal.claim_environment(self.env)
            except BaseException:
                journal.close()
                raise
            self._journal = journal
        return self._journal

    def signals(self) -> SignalStore:
        """The signal pipeline's records (`signals.sqlite` beside the journal), opened on first use."""
        if self._signals is None:
            from kalshi_trading.store.sqlite.signals import SqliteSignalStore

            self._make_directory()
            self._signals = SqliteSignalStore.open(self.directory / SIGNALS_FILE)
        return self._signals

    @property
    def bot_state_path(self) -> Path:
        return self.directory / BOT_STATE_FILE

    def bot_state_file(self, bot: str) -> Path:
        """The file of the bot named `bot` (the default bot's is `bot.sqlite`)."""
        name = check_bot_name(bot)
        return self.bot_state_path if name == DEFAULT_BOT else self.directory / f"bot-{name}.sqlite"

    def bot_state(self, bounds: LogBounds | None = None, *, bot: str = DEFAULT_BOT) -> BotStore:
        state = self._bot_states.get(bot)
        if state is None or state.closed:
            path = self.bot_state_file(bot)
            self._make_directory()
            state = self._bot_states[bot] = SqliteBotState.open(path, bounds)
        return state

    def bots(self) -> list[str]:
        names = {DEFAULT_BOT} if self.bot_state_path.is_file() else set()
        if self.directory.is_dir():
            for path in self.directory.glob("bot-*.sqlite"):
                name = path.name[len("bot-"):-len(".sqlite")]
                if name != DEFAULT_BOT and path.is_file() and _is_bot_name(name):
                    names.add(name)
        return sorted(names)

    def runtime_config(self) -> RuntimeConfigStore:
        """The runtime configuration (`runtime.sqlite`; created by the first write)."""
        if self._runtime is None:
            from kalshi_trading.store.sqlite.runtime import SqliteRuntimeConfig

            self._make_directory()
            self._runtime = SqliteRuntimeConfig(self.directory / RUNTIME_FILE)
        return self._runtime

    def leases(self) -> LeaseStore:
        """The leases (`leases.sqlite`; created by the first lease taken)."""
        if self._leases is None:
            from kalshi_trading.store.sqlite.lease import SqliteLeases

            self._make_directory()
            self._leases = SqliteLeases(self.directory / LEASES_FILE)
        return self._leases

    def alerts(self) -> AlertStore:
        """The alert events (`alerts.sqlite`; created by the first event recorded)."""
        if self._alerts is None:
            from kalshi_trading.store.sqlite.alerts import SqliteAlerts

            self._make_directory()
            self._alerts = SqliteAlerts(self.directory / ALERTS_FILE)
        return self._alerts

    def _make_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise JournalError(f"store directory {self.directory} is a file, not a directory", path=self.directory) \
                from None
        except OSError as exc:
            raise JournalError(f"cannot use the store directory {self.directory}: {exc.strerror or exc}",
                               path=self.directory) from None

    def check(self) -> StoreStatus:
        """Plain file checks: the directory (or the nearest existing parent) and the journal file's header."""
        path = self.journal_path
        try:
            if os.path.lexists(path):
                problem: StorageError | None = SqliteJournal.check(path)
                detail = f"journal {path} (a kalshi journal of a version this program reads, writable)"
            else:
                problem, detail = self._check_creatable(), f"{self.directory} (journal created on first use)"
        except OSError as exc:
            problem, detail = StorageError(f"cannot use {self.directory}: {exc.strerror or exc}"), str(path)
        return StoreStatus(detail, problem)

    def _check_creatable(self) -> StorageError | None:
        directory = self.directory
        while not directory.exists():
            if directory.is_symlink():
                return StorageError(f"{directory} is a dangling symbolic link", path=directory)
            directory = directory.parent
        if not directory.is_dir():
            return StorageError(f"{directory} is a file, not a directory", path=directory)
        if not os.access(directory, os.W_OK | os.X_OK):
            return StorageError(f"directory {directory} is not writable (permissions, an immutable flag or a "
                                "read-only file system)", path=directory)
        return None

    def close(self) -> None:
        """Close everything open; every part is closed even when one fails."""
        closers = [state.close for state in self._bot_states.values()]
        parts = (self._runtime, self._leases, self._signals, self._alerts)
        closers += [part.close for part in parts if part is not None]
        if self._journal is not None:
            closers.append(self._journal.close)
        self._bot_states, self._runtime, self._leases, self._signals, self._journal = {}, None, None, None, None
        self._alerts = None
        _close_all(closers)


def _close_all(closers: list[Callable[[], None]]) -> None:
    """Call every closer in turn, each even when one before it failed (that failure propagates)."""
    if closers:
        try:
            closers[0]()
        finally:
            _close_all(closers[1:])
