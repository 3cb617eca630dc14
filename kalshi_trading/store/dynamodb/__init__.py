"""The DynamoDB adapter: `KALSHI_STORE=dynamodb://REGION?endpoint=http://127.0.0.1:PORT&prefix=kalshi_`.

boto3's usual credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, an instance
role); `endpoint` only for a local server (moto, dynalite), otherwise AWS's own endpoint for the region.  Tables
are `{prefix}{env}_{name}`, so sim, demo and prod never mix; they are created on first use (`layout.py`).

Which query uses which key (no Scan on a hot path; every read is a GetItem, a BatchGetItem or a Query of one
partition, read consistently, but for the two Scans named below; the details are in each module's docstring):

    what                                      table       key
    ----------------------------------------  ----------  ----------------------------------------------------
    default bot key/value (`risk`, the bot    state       name = the key (GetItem / PutItem; its `keys()`, for a
      id, `markets`, ...)                                 copy only: a Scan of the names)
    runtime configuration: version (polled),  state       name = config_version (GetItem), global_config
      global record
    per-market configuration                  markets     ticker (a write: one TransactWriteItems with the
                                                          version; a reload: a Scan of this table, which holds
                                                          nothing else, only when the version moved or every N
                                                          loops)
    leases (`market/...`, `bot/...`)          bot         pk = lease, sk = the lease's name (acquire: BatchGet +
                                                          one conditional TransactWriteItems; holders: Query)
    bot names (`Store.bots()`)                meta        name = bots (a string set, added to at each open)
    a named bot's state                       bot, ...    as the default bot's below, every pk, decision day and
                                                          counter prefixed `b#{name}#`; its key/value in
                                                          bot pk = b#{name}#kv, sk = the key (Query)
    journal fills by time (`fills`, exports,  trades      day = g{n}#UTC date (one Query a date, the dates from
      `history`)                                          a day set in meta), sk = time#order_id#fill_id
    is this fill known? (`record_fills`)      fill_ids    fill_id (BatchGetItem, 100 a call)
    one order's events, its intent            journal     pk = g{n}#c#{client_order_id}
    order events by time                      journal     pk = g{n}#ev#{date}, sk = time#id
    pending / not-placed intents              journal     pk = g{n}#pending, g{n}#np (one Query each)
    order id known? its strategy?             journal     pk = g{n}#o#{order_id} (BatchGetItem)
    settlements / errors by time              journal     pk = g{n}#s#{date} / g{n}#e#{date}, sk = time#...
    bot fills in the order applied            bot         pk = fill, sk = seq (Query from the prune floor)
    is this bot fill known?                   bot         pk = key#{key} (conditional put in the fill's
                                                          transaction)
    working orders / carried state / events   bot         pk = order / carry#{v}, stats#{v} / event
    decision log                              decisions   day = UTC date, sk = timestamp#id
    signals / attempts by time                signals     pk = sig#{date} / att#{date}, sk = at#id
    signal cycles, health, pipeline leases    signals     pk = cyc / h#{cycle} / lease#{name}
    alert events by time                      alerts      day = UTC date (one Query a date, the dates from a day
                                                          set in meta), sk = time#id
    schema version, counters, day sets        meta        name = schema / counters / journal, g{n}, bot, signals

Money and counts are DynamoDB numbers read back as exact `Decimal` (never float); the signal store keeps its
Decimals as text, every digit.  Writes are idempotent where the contract needs it (a repeated fill is a
conditional-write no-op); batches go 25 items a call with unprocessed items retried with backoff.  Any failure of
the service (an endpoint that does not answer, throttling that outlasts botocore's retries, missing or refused
credentials) is a one-line StorageError (JournalError for the journal and the bot state: exit 3) naming the store
by its masked URL.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError

from kalshi_trading.errors import JournalError, StorageError
from kalshi_trading.store.alerts import AlertStore
from kalshi_trading.store.base import DEFAULT_BOT, StoreStatus, check_bot_name
from kalshi_trading.store.botstate import BotStore, LogBounds
from kalshi_trading.store.dynamodb.alerts import DynamoAlerts
from kalshi_trading.store.dynamodb.botstate import DynamoBotState
from kalshi_trading.store.dynamodb.journal import DynamoJournal
from kalshi_trading.store.dynamodb.layout import VERSIONS, ensure, read_layout, refusal, table_names
from kalshi_trading.store.dynamodb.lease import DynamoLeases
from kalshi_trading.store.dynamodb.runtime import DynamoRuntimeConfig
from kalshi_trading.store.dynamodb.signals import DynamoSignalStore
from kalshi_trading.store.dynamodb.wire import Dynamo, S, explain, make_client, strings
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.store.lease import LeaseStore
from kalshi_trading.store.runtime import RuntimeConfigStore
from kalshi_trading.store.signals import SignalStore
from kalshi_trading.store.url import Backend, StoreURL

log = logging.getLogger(__name__)


BOTS_KEY = {"name": S("bots")}  # in `meta`: the names of the bot states this store holds


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class DynamoStore:
    """One environment's tables in one region (or at one local endpoint); nothing is contacted until a part is
    first used."""

    def __init__(self, url: StoreURL, *, env: str, clock: Callable[[], datetime] | None = None):
        assert url.backend is Backend.DYNAMODB and url.region
        self._url = url
        self.env = env
        self._clock = clock or _utc_now
        self.names = table_names(url.prefix, env)
        self._client: Any = None
        self._journal: DynamoJournal | None = None
        self._signals: DynamoSignalStore | None = None
        self._bot_states: dict[str, DynamoBotState] = {}
        self._runtime: DynamoRuntimeConfig | None = None
        self._leases: DynamoLeases | None = None
        self._alerts: DynamoAlerts | None = None

    @property
    def url(self) -> StoreURL:
        return self._url

    @property
    def journal_location(self) -> str:
        return f"{self._url.masked} (tables {self._url.prefix}{self.env}_*)"

    @property
    def where(self) -> str:
        return self._url.endpoint or f"AWS {self._url.region}"

    def _db(self, error: type[StorageError]) -> Dynamo:
        if self._client is None:
            self._client = self._make_client(error)
        return Dynamo(self._client, self._url, self.names, error)

    def _make_client(self, error: type[StorageError], **options: Any) -> Any:
        try:
            return make_client(self._url, **options)
        except (BotoCoreError, ValueError) as exc:
            raise error(f"DynamoDB store {self._url.masked}: {explain(exc)}") from None

    def journal(self) -> TradeJournal:
        if self._journal is None:
            db = self._db(JournalError)
            ensure(db, "journal")
            self._journal = DynamoJournal.open(db, self.journal_location, self._clock)
        return self._journal

    def signals(self) -> SignalStore:
        if self._signals is None:
            db = self._db(StorageError)
            ensure(db, "signals")
            self._signals = DynamoSignalStore(db, self.journal_location)
        return self._signals

    def bot_state(self, bounds: LogBounds | None = None, *, bot: str = DEFAULT_BOT) -> BotStore:
        check_bot_name(bot)
        state = self._bot_states.get(bot)
        if state is None or state.closed:
            db = self._db(JournalError)
            ensure(db, "bot")
            state = DynamoBotState(db, self.journal_location, bounds, bot=bot)
            db.update("meta", BOTS_KEY, "ADD #n :bot", {":bot": {"SS": [bot]}}, names={"#n": "names"})
            self._bot_states[bot] = state
        return state

    def bots(self) -> list[str]:
        """The bot names in `meta` (name=bots: each bot state adds its own when opened), and the default bot when
        a store written before that list existed holds its state; creates nothing."""
        db = self._db(JournalError)
        if read_layout(db).versions is None:
            return []
        names = strings(db.get("meta", BOTS_KEY), "names")
        if DEFAULT_BOT not in names and self._holds_default_bot(db):
            names.add(DEFAULT_BOT)
        return sorted(names)

    def _holds_default_bot(self, db: Dynamo) -> bool:
        counters = db.get("meta", {"name": S("counters")}) or {}
        if any(name in counters for name in ("bot_fill", "bot_event", "decision")):
            return True
        return bool(DynamoBotState(db, self.journal_location).keys())

    def runtime_config(self) -> RuntimeConfigStore:
        """The runtime configuration (the `markets` table and two items of `state`; see runtime.py)."""
        if self._runtime is None:
            db = self._db(StorageError)
            ensure(db, "bot")  # the bot's tables: `state` is the bot's key/value table
            self._runtime = DynamoRuntimeConfig(db)
        return self._runtime

    def leases(self) -> LeaseStore:
        """The leases (the `lease` partition of the `bot` table; see lease.py)."""
        if self._leases is None:
            db = self._db(StorageError)
            ensure(db, "bot")
            self._leases = DynamoLeases(db)
        return self._leases

    def alerts(self) -> AlertStore:
        """The alert events (the `alerts` table, by UTC date; see alerts.py)."""
        if self._alerts is None:
            db = self._db(StorageError)
            ensure(db, "alerts")
            self._alerts = DynamoAlerts(db)
        return self._alerts

    def check(self) -> StoreStatus:
        """Whether the endpoint answers and the tables (when there) are of versions this program reads; creates
        nothing.  Few retries and short timeouts, so a dead endpoint is reported in seconds."""
        tables = f"tables {self._url.prefix}{self.env}_*"
        try:
            db = Dynamo(self._make_client(StorageError, attempts=2, timeout=5.0), self._url, self.names,
                        StorageError)
            layout = read_layout(db)
        except StorageError as exc:
            return StoreStatus(f"DynamoDB at {self.where}, {tables}", exc)
        detail = f"DynamoDB answers at {self.where}: {tables}, {layout.detail()}"
        if layout.versions is None:
            return StoreStatus(detail)
        problems = [refusal(db, layout, part) for part in VERSIONS]
        return StoreStatus(detail, next((p for p in problems if p is not None), None))

    def close(self) -> None:
        states, self._bot_states = list(self._bot_states.values()), {}
        self._signals, self._journal, self._runtime, self._leases = None, None, None, None
        self._alerts = None
        try:
            _close_all([state.close for state in states])  # flushes buffered decisions
        finally:
            client, self._client = self._client, None
            if client is not None:
                client.close()


def _close_all(closers: list[Callable[[], None]]) -> None:
    """Call every closer in turn, each even when one before it failed (that failure propagates)."""
    if closers:
        try:
            closers[0]()
        finally:
            _close_all(closers[1:])
