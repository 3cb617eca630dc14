"""The bot state of a backtest: a fresh store in a temporary directory, deleted afterwards (never the user's).

The bot's facts (fills, working orders, risk state, events) go to the same SQLite adapter the live bot uses, in its
own temporary directory.  Only the decision log (one row per pass of the loop: tens of thousands per recorded
minute in a busy book) is kept in memory instead, the newest `LogBounds.decisions` rows, without serialising them:
writing it is the loop's largest cost per event and nobody reads it back after a backtest but the report.
"""

from __future__ import annotations

import tempfile
from collections import deque
from datetime import datetime
from types import TracebackType
from typing import Any, Iterable, Sequence

from kalshi_trading.auto.state import BotState
from kalshi_trading.store import open_store
from kalshi_trading.store.base import Store
from kalshi_trading.store.botstate import (
    BotEvent, BotFill, BotStore, CarriedState, CarriedStats, Decision, Json, LogBounds, StoredFill, StoredOrder,
)


class ScratchBotStore:
    """A `BotStore` that keeps its decision log in memory and hands everything else to `inner`."""

    def __init__(self, inner: BotStore, keep: int = LogBounds().decisions):
        self.inner = inner
        self._decisions: deque[Decision] = deque(maxlen=keep)
        self._next = 0

    @property
    def location(self) -> str:
        return f"{self.inner.location} (a backtest's scratch state)"

    def schema_version(self) -> int:
        return self.inner.schema_version()

    def close(self) -> None:
        self.inner.close()

    def get(self, key: str) -> Json:
        return self.inner.get(key)

    def put(self, key: str, value: Json) -> None:
        self.inner.put(key, value)

    def write_fill(self, fill: BotFill, ends_order: str | None = None) -> bool:
        return self.inner.write_fill(fill, ends_order)

    def fills(self) -> list[StoredFill]:
        return self.inner.fills()

    def last_fill(self) -> BotFill | None:
        return self.inner.last_fill()

    def save_order(self, order: StoredOrder) -> None:
        self.inner.save_order(order)

    def remove_order(self, order_id: str) -> None:
        self.inner.remove_order(order_id)

    def replace_orders(self, orders: Iterable[StoredOrder]) -> None:
        self.inner.replace_orders(orders)

    def orders(self) -> list[StoredOrder]:
        return self.inner.orders()

    def carried(self) -> list[CarriedState]:
        return self.inner.carried()

    def carried_stats(self) -> list[CarriedStats]:
        return self.inner.carried_stats()

    def prune(self, through_seq: int, count: int, carried: Iterable[CarriedState],
              stats: Iterable[CarriedStats]) -> bool:
        return self.inner.prune(through_seq, count, carried, stats)

    def log_event(self, ts: datetime, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        self.inner.log_event(ts, kind, message, data)

    def events(self, limit: int = 100, kinds: Sequence[str] | None = None) -> list[BotEvent]:
        return self.inner.events(limit, kinds)

    def log_decision(self, ts: datetime, ticker: str, inputs: dict[str, Any], targets: list[Any],
                     actions: list[Any]) -> None:
        self._next += 1
        self._decisions.append(Decision(self._next, ts, ticker, inputs, targets, actions))

    def decisions(self, limit: int = 100) -> list[Decision]:
        return list(self._decisions)[-limit:] if limit > 0 else []

    def flush(self) -> None:
        self.inner.flush()


class ScratchState:
    """`with ScratchState() as state:` a `BotState` over a new store in a temporary directory, removed at the end."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="kalshi-backtest-")
        self._store: Store | None = None

    def __enter__(self) -> BotState:
        self._store = open_store(f"sqlite://{self._dir.name}/", env="backtest")
        return BotState(ScratchBotStore(self._store.bot_state()))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._store is not None:
                self._store.close()
        finally:
            self._dir.cleanup()
