"""The bot state of a backtest: a fresh store in a temporary directory, deleted afterwards (never the user's).

The bot's facts (fills, working orders, risk state, events) go to the same SQLite adapter the live bot uses, in its
own temporary directory.  The loop runs without its per-pass decision log (`BotLoop(decision_log=False)`): one row
per pass is tens of thousands of rows per recorded minute of a busy book, its largest cost per event, and nobody
would read a thrown-away state's log.
"""

from __future__ import annotations

import tempfile
from types import TracebackType

from kalshi_trading.auto.state import BotState
from kalshi_trading.store import open_store
from kalshi_trading.store.base import Store


class ScratchState:
    """`with ScratchState() as state:` a `BotState` over a new store in a temporary directory, removed at the end."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kalshi-backtest-")
        self._store: Store | None = None

    def __enter__(self) -> BotState:
        self._store = open_store(f"sqlite://{self._dir.name}/", env="backtest")
        return BotState(self._store.bot_state())

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._store is not None:
                self._store.close()
        finally:
            self._dir.cleanup()
