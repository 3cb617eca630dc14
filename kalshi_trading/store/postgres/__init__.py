"""The PostgreSQL adapter: `KALSHI_STORE=postgresql://user@host:port/db` (libpq's URI and PG* variables).

Each environment has a schema of its own in the database (`kalshi_sim`, `kalshi_demo`, `kalshi_prod`): its
journal, bot states (every bot's in the same tables, by a `bot` column), signal records, runtime configuration,
leases and alert events, so environments never mix however the URL is shared.  The schema is
created on first use, upgraded in one transaction when an older program made it, and refused (left untouched)
when a newer one did (schema.py).  All of them share one connection pool (db.py): psycopg 3 and psycopg_pool.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Callable

import psycopg

from kalshi_trading.errors import ConfigError, StorageError
from kalshi_trading.store.alerts import AlertStore
from kalshi_trading.store.base import DEFAULT_BOT, StoreStatus, check_bot_name
from kalshi_trading.store.botstate import BotStore, LogBounds
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.store.lease import LeaseStore
from kalshi_trading.store.postgres import schema
from kalshi_trading.store.postgres.alerts import PostgresAlerts
from kalshi_trading.store.postgres.botstate import PostgresBotState
from kalshi_trading.store.postgres.db import Database, conninfo_params
from kalshi_trading.store.postgres.journal import PostgresJournal
from kalshi_trading.store.postgres.lease import PostgresLeases
from kalshi_trading.store.postgres.runtime import PostgresRuntimeConfig
from kalshi_trading.store.postgres.signals import PostgresSignalStore
from kalshi_trading.store.runtime import RuntimeConfigStore
from kalshi_trading.store.signals import SignalStore
from kalshi_trading.store.url import VARIABLE, StoreURL

log = logging.getLogger(__name__)

SCHEMA_PREFIX = "kalshi_"
_ENV = re.compile(r"[a-z][a-z0-9_]{0,40}")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def schema_name(env: str) -> str:
    """The schema that holds environment `env`'s records."""
    if not _ENV.fullmatch(env):
        raise ConfigError(f"environment {env!r} cannot name a PostgreSQL schema (lower-case letters, digits, _)",
                          VARIABLE)
    return SCHEMA_PREFIX + env


class PostgresStore:
    """One environment's schema in one PostgreSQL database; connects on first use."""

    def __init__(self, url: StoreURL, *, env: str, clock: Callable[[], datetime] | None = None):
        conninfo_params(url)  # a URL libpq refuses is a ConfigError now, as the store is built
        self._url = url
        self.env = env
        self.schema = schema_name(env)
        self._clock = clock or _utc_now
        self._db: Database | None = None
        self._journal: PostgresJournal | None = None
        self._signals: PostgresSignalStore | None = None
        self._bot_states: dict[str, PostgresBotState] = {}
        self._runtime: PostgresRuntimeConfig | None = None
        self._leases: PostgresLeases | None = None
        self._alerts: PostgresAlerts | None = None

    @property
    def url(self) -> StoreURL:
        return self._url

    @property
    def journal_location(self) -> str:
        return f"PostgreSQL store {self._url.masked} (schema {self.schema})"

    def _database(self) -> Database:
        """The pool, once the schema is known to be usable (created or upgraded now if need be)."""
        if self._db is None:
            db = Database(self._url, self.schema)
            conn = db.connect()
            try:
                found = schema.ensure(conn, self.schema, self.env, db.where)
            except psycopg.Error as exc:
                raise db.error(exc, doing="preparing the schema") from None
            finally:
                conn.close()
            if found is None:
                log.info("%s: schema created", db.where)
            self._db = db
        return self._db

    def journal(self) -> TradeJournal:
        if self._journal is None:
            self._journal = PostgresJournal(self._database(), clock=self._clock)
        return self._journal

    def signals(self) -> SignalStore:
        if self._signals is None:
            self._signals = PostgresSignalStore(self._database())
        return self._signals

    def bot_state(self, bounds: LogBounds | None = None, *, bot: str = DEFAULT_BOT) -> BotStore:
        state = self._bot_states.get(check_bot_name(bot))
        if state is None or state.closed:
            db = self._database()
            with db.transaction(doing="opening the bot state") as conn:
                conn.execute("INSERT INTO bots (name) VALUES (%s) ON CONFLICT DO NOTHING", (bot,))
            state = self._bot_states[bot] = PostgresBotState(db, bounds, bot=bot)
        return state

    def bots(self) -> list[str]:
        """The bot states opened in this schema, sorted; none when there is no schema yet (nothing is created)."""
        if self._db is None:
            db = Database(self._url, self.schema)
            conn = db.connect()
            try:
                found = schema.inspect(conn, self.schema, db.where)
            except psycopg.Error as exc:
                raise db.error(exc, doing="looking for the schema") from None
            finally:
                conn.close()
            if found is None:
                return []
        rows = self._database().rows("SELECT name FROM bots ORDER BY name", doing="listing the bots")
        return [name for (name,) in rows]

    def runtime_config(self) -> RuntimeConfigStore:
        if self._runtime is None:
            self._runtime = PostgresRuntimeConfig(self._database())
        return self._runtime

    def leases(self) -> LeaseStore:
        if self._leases is None:
            self._leases = PostgresLeases(self._database())
        return self._leases

    def alerts(self) -> AlertStore:
        """The alert events (`alert_events`, schema version 4; see alerts.py)."""
        if self._alerts is None:
            self._alerts = PostgresAlerts(self._database())
        return self._alerts

    def check(self) -> StoreStatus:
        """Whether the server answers and the schema could be used: one connection, nothing created or changed."""
        db = Database(self._url, self.schema)
        try:
            conn = db.connect(StorageError)
        except StorageError as exc:
            return StoreStatus(self.journal_location, exc)
        try:
            server = conn.info.parameter_status("server_version") or "?"
            version = schema.inspect(conn, self.schema, db.where)
            if version is not None:
                schema.refuse(version, db.where)
        except StorageError as exc:
            return StoreStatus(self.journal_location, exc)
        except psycopg.Error as exc:
            return StoreStatus(self.journal_location, db.error(exc, StorageError, "checking the schema"))
        finally:
            conn.close()
        state = (f"schema {self.schema} version {version}" if version is not None
                 else f"schema {self.schema} created on first use")
        return StoreStatus(f"PostgreSQL {server} at {self._url.masked} answers; {state}")

    def close(self) -> None:
        """Flush the bot state's buffered decisions and close the pool; the next use connects again."""
        states, self._bot_states = list(self._bot_states.values()), {}
        db, self._db = self._db, None
        self._journal = self._signals = None
        self._runtime = self._leases = None
        self._alerts = None
        try:
            _close_states(states)
        finally:
            if db is not None:
                db.close()


def _close_states(states: list[PostgresBotState]) -> None:
    """Close every state in turn, each even when one before it failed (that failure propagates)."""
    if states:
        try:
            states[0].close()
        finally:
            _close_states(states[1:])
