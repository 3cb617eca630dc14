"""The storage port: interfaces the services need, over domain types, and the adapters that implement them.

    store = open_store(settings.store_url, env=settings.env)   # once per process (cli/context.py)
    journal = store.journal()                                   # a TradeJournal (store/journal.py)
    state = store.bot_state()                                   # a BotStore (store/botstate.py)

`journal.py` is the trade journal's interface and contract, `botstate.py` the bot state's, `base.py` what a store
is, `url.py` the KALSHI_STORE URL.  Adapters live in subpackages (`sqlite/`, `postgres/`, `dynamodb/`);
`open_store` picks one by the URL's scheme and imports only that one (and its driver: psycopg, boto3).  No SQL
(or any database call) outside an adapter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from kalshi_trading.store.base import Store, StoreStatus
from kalshi_trading.store.botstate import BotStore
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.store.url import Backend, StoreURL, parse_store_url

__all__ = ["BotStore", "Store", "StoreStatus", "StoreURL", "TradeJournal", "memory_journal", "open_store"]


def open_store(url: str | StoreURL, *, env: str, clock: Callable[[], datetime] | None = None) -> Store:
    """The store `url` names (a KALSHI_STORE value, or a parsed one) for environment `env`.

    Nothing is opened yet: the journal is opened by `Store.journal()`, the bot state by `Store.bot_state()`.  A URL
    that names no supported backend is a ConfigError naming KALSHI_STORE."""
    parsed = parse_store_url(url) if isinstance(url, str) else url
    if parsed.backend is Backend.SQLITE:
        from kalshi_trading.store.sqlite import SqliteStore

        return SqliteStore(parsed, env=env, clock=clock)
    if parsed.backend is Backend.POSTGRESQL:
        _require("psycopg", "postgres", parsed)
        from kalshi_trading.store.postgres import PostgresStore

        return PostgresStore(parsed, env=env, clock=clock)
    if parsed.backend is Backend.DYNAMODB:
        _require("boto3", "dynamodb", parsed)
        from kalshi_trading.store.dynamodb import DynamoStore

        return DynamoStore(parsed, env=env, clock=clock)
    raise AssertionError(f"no adapter for {parsed.masked}")  # parse_store_url refuses every other backend


def _require(module: str, extra: str, url: StoreURL) -> None:
    """The backend's driver is installed, or a ConfigError saying which extra brings it."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        from kalshi_trading.errors import ConfigError

        raise ConfigError(f"{url.masked}: this backend needs the {module} package, which is not installed",
                          "KALSHI_STORE", f"pip install 'kalshi-trading[{extra}]'")


def memory_journal() -> TradeJournal:
    """An empty journal that lives only in memory (for views that must go on without the real one)."""
    from kalshi_trading.store.sqlite.journal import SqliteJournal

    return SqliteJournal.in_memory()
