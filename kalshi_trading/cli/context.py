"""Services built once per process by the root callback and handed down on the Typer context.

Everything is lazy: `kalshi --help` builds nothing, `kalshi config check` loads settings but starts
no exchange, and only commands that talk to the exchange build the client (and, in the sim
environment, start the embedded exchange on a loopback port).

The store is built once from KALSHI_STORE (default: SQLite files in `<data dir>/<env>/`) and hands the journal
down; the journal is opened only by what needs it.  Reading the exchange and cancelling never need it: the executor
gets the journal when it can be used and, when it cannot (damaged, foreign, newer, read-only, not a file...), a
stand-in that refuses only what needs the write-ahead record (placing orders, amending), after one warning on
stderr.  Commands made of the journal (sync, history, pnl, portfolio, export) still fail with exit 3.  The bot's
state comes from the same store (`bot_state()`).
Local storage that cannot be used (a data directory that is a file, read-only, an impossible path) is a
StorageError naming the path and the reason, never an unexpected error.

The services' types are imported for the type checker only, so `kalshi --help` imports none of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from kalshi_trading.config import Settings, load_settings
from kalshi_trading.errors import JournalError, StorageError

if TYPE_CHECKING:
    from kalshi_trading.api.client import KalshiClient
    from kalshi_trading.auto.state import BotState
    from kalshi_trading.sim.runtime import SimServer
    from kalshi_trading.store import Store, TradeJournal
    from kalshi_trading.trading.executor import Executor
    from kalshi_trading.trading.portfolio import Portfolio

log = logging.getLogger(__name__)


@contextmanager
def storage(path: Path, what: str) -> Iterator[None]:
    """OS failures on local storage inside this block become a StorageError naming `path` (the simulator reports
    failures of its own database as StorageError itself)."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot use {what} {path}: {exc.strerror or exc}", path=path) from None


def _warn(text: str) -> None:
    from kalshi_trading.cli.render import echo, style

    log.warning(text)
    echo(style(f"warning: {text}", fg="yellow", err=True), err=True)


@dataclass
class AppContext:
    env_file: Path | None = None
    debug: bool = False
    json_output: bool = False
    _settings: Settings | None = None
    _client: KalshiClient | None = None
    _store: Store | None = None
    _journal: TradeJournal | None = None
    _journal_error: JournalError | None = None  # what made the journal unusable, once seen
    _journal_warned: bool = False
    _executor: Executor | None = None
    _portfolio: Portfolio | None = None
    _sim_server: SimServer | None = None
    _closers: list[Callable[[], object]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(env_file=self.env_file)
            from kalshi_trading.cli.logsetup import configure_logging

            configure_logging(self._settings, debug=self.debug)
            for warning in self._settings.warnings:
                log.warning(warning)
                from kalshi_trading.cli.render import echo, style

                echo(style(f"warning: {warning}", fg="yellow", err=True), err=True)
        return self._settings

    def credentials(self) -> tuple[str, Path, str | None]:
        """(key id, key path, password) for this environment; sim falls back to the local demo account."""
        s = self.settings
        if s.api_key_id and s.private_key_path:
            return s.api_key_id, s.private_key_path, s.private_key_password
        if s.env != "sim":  # load_settings already refused this; kept as a guard
            from kalshi_trading.errors import ConfigError

            raise ConfigError(f"{s.env} needs KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH")
        if self._sim_server is not None:
            account = self._sim_server.demo_account
        else:
            from kalshi_trading.sim.runtime import demo_account

            with storage(s.data_dir / "sim", "the simulator's directory"):
                account = demo_account(s.data_dir / "sim")
        return account.key_id, account.private_key_path, None

    def base_url(self) -> str:
        s = self.settings
        if s.api_base:
            return s.api_base
        self._start_sim()
        if self.settings.api_base:  # another process serves it
            return self.settings.api_base
        assert self._sim_server is not None
        return self._sim_server.base_url

    def _start_sim(self) -> None:
        """sim with no KALSHI_API_BASE: the embedded exchange, in-process on an ephemeral loopback port."""
        if self._sim_server is None:
            from kalshi_trading.sim.runtime import SimBusy, running_server, start_embedded

            directory = self.settings.data_dir / "sim"
            try:
                with storage(directory, "the simulator's directory"):
                    self._sim_server = start_embedded(directory)
            except SimBusy:
                # `kalshi sim serve` (or another command) is serving this exchange: talk to it instead.
                url = running_server(directory)
                if url is None:
                    raise
                log.info("using the simulated exchange already served at %s", url)
                self._settings = dataclasses.replace(self.settings, api_base=url)
                return
            self._closers.append(self._sim_server.stop)

    @property
    def client(self) -> KalshiClient:
        """The exchange client (in sim, starting the embedded exchange when nothing serves it yet)."""
        if self._client is None:
            from kalshi_trading.api.client import KalshiClient
            from kalshi_trading.config import load_private_key

            s = self.settings
            base = self.base_url()  # in sim this starts the exchange, which knows the demo account
            key_id, key_path, password = self.credentials()
            key = load_private_key(key_path, password, key_id)
            self._client = KalshiClient.build(
                base, key_id, key, env=s.env, rate_tier=s.rate_tier,
                timeout=(s.connect_timeout, s.read_timeout),
            )
            self._closers.insert(0, self._client.close)
            self._probe_journal()
        return self._client

    @property
    def store(self) -> Store:
        """This environment's storage, built once from KALSHI_STORE (a ConfigError names it); nothing is opened
        until the journal is used."""
        if self._store is None:
            from kalshi_trading.store import open_store

            self._store = open_store(self.settings.store_url_text, env=self.settings.env)
            self._closers.append(self._store.close)
        return self._store

    def _probe_journal(self) -> None:
        """Say at once (without opening or creating it) when an existing journal cannot be used."""
        if self._journal is not None or self._journal_error is not None:
            return
        problem = self.store.check().problem
        if isinstance(problem, JournalError):  # the journal is there but unusable (not: it is yet to be made)
            self._warn_unusable(problem)

    def _warn_unusable(self, problem: Exception) -> None:
        if not self._journal_warned:
            self._journal_warned = True
            path = self.journal_path
            _warn(f"{problem}. Exchange reads and cancels work without it; placing orders is refused until it is "
                  f"fixed or moved aside (e.g. mv {path} {path}.bad)")

    def require_journal(self, what: str) -> None:
        """Refuse `what` (exit 3) now, before any preview or question, when the journal cannot be used."""
        try:
            _ = self.journal  # opening it is the check
        except StorageError as exc:
            raise JournalError(f"{what} needs the journal, which is unusable: {exc}", path=self.journal_path) \
                from None

    @property
    def journal_path(self) -> str:
        """Where the journal lives, for messages (a file path with the SQLite store)."""
        return self.store.journal_location

    @property
    def journal(self) -> TradeJournal:
        """The trade journal of this environment, from the store (never shared between sim, demo and prod).

        Raises JournalError/StorageError (exit 3) when it cannot be used; see `usable_journal` for commands that
        can go on without it."""
        if self._journal_error is not None:
            raise self._journal_error
        if self._journal is None:
            try:
                journal = self.store.journal()
                self._bind_exchange(journal)
            except StorageError as exc:
                self._journal_error = exc if isinstance(exc, JournalError) else \
                    JournalError(str(exc), path=self.journal_path)
                raise self._journal_error from None
            self._journal = journal
        return self._journal

    def _bind_exchange(self, journal: TradeJournal) -> None:
        """In sim, tie the journal to the account it records: a reset simulator has a new demo account (and new
        ids), and the old journal is archived rather than mixed with the new exchange's fills."""
        if self.settings.env != "sim":
            return
        key_id = self.credentials()[0]
        identity = "sim-account:" + hashlib.sha256(key_id.encode()).hexdigest()[:16]
        archive = journal.bind_exchange(identity)
        if archive is not None:
            _warn(f"the simulated exchange was reset (or another account is in use): the old journal was archived "
                  f"to {archive}; a new journal starts now")

    def usable_journal(self) -> TradeJournal:
        """The journal, or (when it cannot be used) a stand-in that refuses only what needs it, after a warning."""
        from kalshi_trading.store.unusable import UnusableJournal

        try:
            return self.journal
        except StorageError as exc:
            if not isinstance(self._journal, UnusableJournal):
                self._warn_unusable(exc)
                error = self._journal_error or JournalError(str(exc), path=self.journal_path)
                self._journal = UnusableJournal(self.journal_path, error)
            return self._journal

    @property
    def executor(self) -> Executor:
        """The order executor (journal optional, see `usable_journal`); on first use it reconciles intents a
        crashed run left pending and re-checks recent ones recorded as never placed."""
        if self._executor is None:
            from kalshi_trading.store.unusable import UnusableJournal
            from kalshi_trading.trading.executor import Executor

            self._executor = Executor(self.client, self.usable_journal(), self.settings.env)
            try:
                settled = self._executor.reconcile()
            except JournalError as exc:  # damage found only now, reading the intents: go on without the journal
                self._journal_error = exc
                self._warn_unusable(exc)
                self._journal = self._executor.journal = UnusableJournal(self.journal_path, exc)
                settled = []
            for cid, order_id, status in settled:
                log.warning("reconciled order intent %s: %s", cid, status if order_id else "never placed")
        return self._executor

    @property
    def portfolio(self) -> Portfolio:
        """Positions, marks and P&L over the client and the journal."""
        if self._portfolio is None:
            from kalshi_trading.trading.portfolio import Portfolio

            from kalshi_trading.cli.ops_wiring import trade_notice_hook  # KALSHI_TRADE_NOTICES

            self._portfolio = Portfolio(self.client, self.journal, self.settings.env,
                                        on_sync=trade_notice_hook(self))
        return self._portfolio

    def positions_portfolio(self) -> tuple[Portfolio, bool]:
        """(portfolio, has_journal) for showing positions: over the journal, or, when it is unusable, over an
        empty one so positions come from the exchange alone (its cost basis and realized P&L)."""
        from kalshi_trading.store import memory_journal
        from kalshi_trading.store.unusable import UnusableJournal
        from kalshi_trading.trading.portfolio import Portfolio

        journal = self.usable_journal()
        if not isinstance(journal, UnusableJournal):
            return self.portfolio, True
        empty = memory_journal()
        self._closers.append(empty.close)
        return Portfolio(self.client, empty, self.settings.env), False

    def bot_state(self, bot: str = "default") -> BotState:
        """The state of the bot named `bot` in this environment's store (opened, created or upgraded now; closed
        with the store).

        Raises JournalError/StorageError (exit 3) naming the location when it cannot be used."""
        from kalshi_trading.auto.state import BotState

        return BotState(self.store.bot_state(bot=bot))

    def use_sim_environment(self, data_dir: Path, *, rate_tier: str | None = None) -> None:
        """Settings become the sim environment with `data_dir` as data directory; nothing is started.

        Its records (journal, bot state, signals) go to `<data_dir>/sim` beside the simulated exchange, unless
        KALSHI_STORE names a server store (PostgreSQL, DynamoDB): that keeps each environment apart by itself (a
        `kalshi_sim` schema, `<prefix>sim_*` tables), and a simulated exchange's ids are random per exchange, so a
        reset one never reuses an id the store holds.  A SQLite KALSHI_STORE names one environment's directory, so
        the simulator keeps its own beside it."""
        s = self.settings
        self._settings = dataclasses.replace(
            s, env="sim", api_base=None, api_base_overridden=False, ws_base=None, api_key_id=None,
            private_key_path=None, private_key_password=None, data_dir=data_dir, rate_tier=rate_tier or s.rate_tier,
            store_url=s.store_url if _server_store(s.store_url) else None)
        if self._store is not None:  # built for the settings before: this simulator's records go beside it
            self._store.close()
            self._store, self._journal, self._journal_error = None, None, None

    def use_simulator(self, data_dir: Path, *, speed: float = 1.0, seed: int | None = None,
                      rate_tier: str | None = None) -> SimServer | None:
        """Point this context at the simulated exchange under `data_dir` (`<data_dir>/sim`: the sim environment's
        own exchange and journal when it is the data directory), run at `speed` x real time while this process
        serves it: settings become sim with that data directory (`use_sim_environment`).  When another process
        (`kalshi sim serve`) serves that exchange, it is used as it runs, at its own speed (returns None)."""
        from kalshi_trading.sim.runtime import SimBusy, running_server, start_embedded

        self.use_sim_environment(data_dir, rate_tier=rate_tier)
        try:
            with storage(data_dir, "the simulator's directory"):
                self._sim_server = start_embedded(data_dir, seed=seed, speed=speed)
        except SimBusy:
            url = running_server(data_dir)
            if url is None:
                raise
            log.info("using the simulated exchange already served at %s", url)
            self._settings = dataclasses.replace(self.settings, api_base=url)
            return None
        self._closers.append(self._sim_server.stop)
        return self._sim_server

    def on_close(self, closer: Callable[[], object]) -> None:
        """Run `closer` when the command ends (before the client and the simulator stop)."""
        self._closers.insert(0, closer)

    def close(self) -> None:
        """Run every closer.  A store that cannot take its last writes (it went away) is logged, not raised: the
        command has ended and said what failed; the traceback of a closing error would only hide that."""
        while self._closers:
            closer = self._closers.pop(0)
            try:
                closer()
            except StorageError as exc:
                log.error("closing: %s", exc)


def _server_store(url_text: str | None) -> bool:
    """Whether KALSHI_STORE names a server store (one that keeps environments apart by itself)."""
    if not url_text:
        return False
    from kalshi_trading.store.url import Backend, parse_store_url

    return parse_store_url(url_text).backend is not Backend.SQLITE  # a malformed one: ConfigError (exit 3)
