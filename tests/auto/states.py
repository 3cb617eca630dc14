"""The bot state as the application opens it (through the store), for tests that drive the bot's services."""

from __future__ import annotations

from pathlib import Path

from kalshi_trading.auto.state import BotState
from kalshi_trading.store import open_store
from kalshi_trading.store.botstate import LogBounds


def open_state(directory: Path, bounds: LogBounds | None = None) -> BotState:
    """The bot state in `directory` (its `bot.sqlite`), opened through a SQLite store at that directory; closing
    it closes the file."""
    return BotState(open_store(f"sqlite://{directory}/", env="sim").bot_state(bounds))
