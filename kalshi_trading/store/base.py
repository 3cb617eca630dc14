"""What every store is: built once per process from its URL (`store.open_store`), it hands out the journal and the
bot state.

A store holds one environment's records (sim, demo or prod); opening it for another environment is refused, so
simulated fills never mix with real ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kalshi_trading.errors import StorageError
from kalshi_trading.store.botstate import BotStore, LogBounds
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.store.signals import SignalStore
from kalshi_trading.store.url import StoreURL


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

    def bot_state(self, bounds: LogBounds | None = None) -> BotStore:
        """The bot's state, opened (or created, or upgraded) on first use and then the same object until it is
        closed (`bounds`, default `LogBounds()`, apply from the call that opens it).

        Raises JournalError/StorageError (exit 3) when it cannot be used; a newer one is left untouched."""
        ...

    def check(self) -> StoreStatus:
        """Whether the store answers and its journal could be used, without creating or changing anything."""
        ...

    def close(self) -> None:
        """Close whatever is open (buffered bot decisions are flushed); the next use opens it again."""
        ...
