"""The SQLite adapter: one directory per environment, the trade journal in `journal.sqlite` inside it and the bot
state in `bot.sqlite`."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kalshi_trading.errors import JournalError, StorageError
from kalshi_trading.store.base import StoreStatus
from kalshi_trading.store.botstate import BotStore, LogBounds
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.store.signals import SignalStore
from kalshi_trading.store.sqlite.botstate import SqliteBotState
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.store.url import StoreURL

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.sqlite"
SIGNALS_FILE = "signals.sqlite"
BOT_STATE_FILE = "bot.sqlite"


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
        self._bot_state: SqliteBotState | None = None

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

    def bot_state(self, bounds: LogBounds | None = None) -> BotStore:
        if self._bot_state is None or self._bot_state.closed:
            self._make_directory()
            self._bot_state = SqliteBotState.open(self.bot_state_path, bounds)
        return self._bot_state

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
        bot_state, self._bot_state = self._bot_state, None
        signals, self._signals = self._signals, None
        try:
            if bot_state is not None:
                bot_state.close()
        finally:
            try:
                if signals is not None:
                    signals.close()
            finally:
                if self._journal is not None:
                    self._journal.close()
                    self._journal = None
