"""What every store is: built once per process from its URL (`store.open_store`), it hands out the journal, the
bot states (one per bot name: several bots may share a store), the signal records, the runtime configuration and
the leases and the alert events.

A store holds one environment's records (sim, demo or prod); opening it for another environment is refused, so
simulated fills never mix with real ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store.alerts import AlertStore
from kalshi_trading.store.botstate import BotStore, LogBounds
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.store.lease import LeaseStore
from kalshi_trading.store.runtime import RuntimeConfigStore
from kalshi_trading.store.signals import SignalStore
from kalshi_trading.store.url import StoreURL

DEFAULT_BOT = "default"  # the bot state of `kalshi auto` without --bot
_BOT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def check_bot_name(name: str) -> str:
    """A bot's name as `--bot` takes it: 1-32 of a-z, 0-9, _ and - (it names files and keys in every store)."""
    if not isinstance(name, str) or not _BOT_NAME.fullmatch(name):
        raise UsageError(f"{name!r} is not a bot name (1 to 32 characters: a-z, 0-9, _ and -, starting with a "
                         "letter or digit)")
    return name


@dataclass(frozen=True)
class StoreStatus:
    """Whether a store answers, found without creating or changing anything: `problem` is None when it does."""

    detail: str
    problem: StorageError | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class Store(Protocol):
    """Storage for one environment, as its URL names it."""

    @property
    def url(self) -> StoreURL:
        """Where the store is (show `url.masked`, never the text as written)."""
        ...

    @property
    def journal_location(self) -> str:
        """Where the journal lives, for messages (a file path with SQLite; never a password)."""
        ...

    def journal(self) -> TradeJournal:
        """The trade journal, opened (or created) on first use and then the same object.

        Raises JournalError/StorageError (exit 3) when it cannot be used; the store is left unchanged."""
        ...

    def signals(self) -> SignalStore:
        """The signal pipeline's records (store/signals.py), opened (or created) on first use."""
        ...

    def bot_state(self, bounds: LogBounds | None = None, *, bot: str = DEFAULT_BOT) -> BotStore:
        """The state of the bot named `bot` (`check_bot_name`), opened (or created, or upgraded) on first use and
        then the same object until it is closed (`bounds`, default `LogBounds()`, apply from the call that opens
        it).  Each name has its own state, sharing nothing with another's.

        Raises JournalError/StorageError (exit 3) when it cannot be used; a newer one is left untouched."""
        ...

    def bots(self) -> list[str]:
        """The names of the bot states this store holds, sorted (without creating anything)."""
        ...

    def runtime_config(self) -> RuntimeConfigStore:
        """The runtime configuration (store/runtime.py), opened on first use and then the same object."""
        ...

    def leases(self) -> LeaseStore:
        """The leases (store/lease.py), opened on first use and then the same object."""
        ...

    def alerts(self) -> AlertStore:
        """The alert events (store/alerts.py): every message the notifiers sent or failed to send."""
        ...

    def check(self) -> StoreStatus:
        """Whether the store answers and its journal could be used, without creating or changing anything."""
        ...

    def close(self) -> None:
        """Close whatever is open (buffered bot decisions are flushed); the next use opens it again."""
        ...
