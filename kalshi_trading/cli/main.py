"""The `kalshi` root: global options, sub-apps, and the one place exceptions become exit codes.

Exit codes (also in the README):
  0 ok, 1 unexpected error, 2 usage (bad input), 3 configuration (incl. authentication),
  4 rejected by the exchange (incl. unknown ticker or order), 5 denied by a risk rule,
  6 network or exchange unavailable, 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Optional

import typer
import typer.main
from typer import _click  # Typer's own copy of click (click is not installed separately)
from typer.core import TyperCommand, TyperGroup

from kalshi_trading import __version__



class ExitStatus(IntEnum):
    """The documented exit codes (README's table): the only numbers a command exits with."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3  # configuration, authentication, unusable local storage
    REJECTED = 4
    RISK = 5
    NETWORK = 6
    INTERRUPTED = 130


EXIT_OK = ExitStatus.OK
EXIT_UNEXPECTED = ExitStatus.UNEXPECTED
EXIT_USAGE = ExitStatus.USAGE
EXIT_CONFIG = ExitStatus.CONFIG
EXIT_REJECTED = ExitStatus.REJECTED
EXIT_RISK = ExitStatus.RISK
EXIT_NETWORK = ExitStatus.NETWORK
EXIT_INTERRUPTED = ExitStatus.INTERRUPTED


def exit_code_for(exc: BaseException) -> ExitStatus:
    from kalshi_trading import errors

    if type(exc).__name__ == "SimBusy":  # another process runs the simulator here: a set-up matter
        return EXIT_CONFIG
    if isinstance(exc, (errors.ConfigError, errors.AuthenticationError, errors.StorageError)):
        return EXIT_CONFIG
    if isinstance(exc, errors.UsageError):
        return EXIT_USAGE
    if isinstance(exc, errors.RiskDenied):
        return EXIT_RISK
    if isinstance(exc, (errors.TransientError, errors.ResponseFormatError)):
        return EXIT_NETWORK
    if isinstance(exc, errors.RejectedError):
        return EXIT_REJECTED
    return EXIT_UNEXPECTED


class KalshiGroup(TyperGroup):
    """Maps every exception to a message and an exit code; tracebacks only with --debug.

    Commands are loaded lazily (see `COMMANDS`): the root's own help lists them from their summaries; any other
    look-up of a command (running it, its help, completion, `.commands`) imports its module and builds it.
    """

    _listing = False  # True while the root's help is written: listed commands are not loaded for it

    @property
    def commands(self) -> MutableMapping[str, _click.Command]:
        """Every command, all modules loaded (for tools and tests that walk the tree)."""
        for module in MODULES:
            self._load(module)
        return self._commands

    @commands.setter
    def commands(self, value: MutableMapping[str, _click.Command]) -> None:
        self._commands = value
        self._loaded: set[str] = set()

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            for name, command in _build_module(module).items():
                self._commands.setdefault(name, command)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        """The listed order, then anything loaded that the list does not name."""
        names = [entry.name for entry in COMMANDS]
        return names + [name for name in self._commands if name not in names]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        """The command, built from its module on first use (a summary stand-in while listing)."""
        if cmd_name in self._commands:
            return self._commands[cmd_name]
        entry = next((e for e in COMMANDS if e.name == cmd_name), None)
        if entry is not None and self._listing:
            return TyperCommand(cmd_name, help=entry.summary)
        if entry is not None:
            self._load(entry.module)
        if cmd_name in self._commands:
            return self._commands[cmd_name]
        return self.commands.get(cmd_name)  # not listed (or not where listed): load every module, then look

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: _click.Context) -> object:
        from kalshi_trading.errors import KalshiError

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            typer.echo("\ninterrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except KalshiError as exc:
            if _debug(ctx):
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exit_code_for(exc)) from None
        except Exception as exc:  # the top level: anything unforeseen is still a message, not a traceback
            if _debug(ctx):
                raise
            typer.echo(f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for details)", err=True)
            raise typer.Exit(EXIT_UNEXPECTED) from None


def _debug(ctx: _click.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False))


app = typer.Typer(
    cls=KalshiGroup,
    name="kalshi",
    help="Trade Kalshi event contracts: markets, orders, portfolio and P&L, journal, simulator, automation.\n\n"
    "With nothing configured every command runs against a local simulated exchange (SIM).\n\n"
    "Example:  kalshi balance --json",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kalshi-trading {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Optional[Path] = typer.Option(None, "--env-file", help="Read settings from this file instead of ./.env."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and log to stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Global options; services are built lazily, once, and shared by the command."""
    from kalshi_trading.cli.context import AppContext

    ctx.obj = AppContext(env_file=env_file, debug=debug)
    ctx.call_on_close(ctx.obj.close)


@dataclass(frozen=True)
class Entry:
    """A command of the root as `kalshi --help` lists it, registered without importing its module."""

    name: str
    module: str  # the module under kalshi_trading/cli/ whose `register(app)` adds the command
    summary: str  # the first paragraph of the command's help (a test checks it against the real one)


# `kalshi --help` lists these in this order from the summaries alone; a command's module is imported (and its
# click command built) only when the command runs, shows its own help or is completed. A new command is
# added to its module's `register` AND here (tests/cli/test_startup.py checks the two agree).
COMMANDS: tuple[Entry, ...] = (
    Entry("balance", "commands_basic", "Available cash and portfolio value."),
    Entry("markets", "commands_market", "Search markets."),
    Entry("market", "commands_market", "One market: prices, sizes, volume, tick size, times, rules."),
    Entry("book", "commands_market", "The order book: YES bids and asks side by side, with the NO prices they mean."),
    Entry("orders", "commands_orders", "Open (resting) orders."),
    Entry("cancel", "commands_orders", "Cancel one order, or all of them."),
    Entry("amend", "commands_orders",
          "Change a resting order's price and/or size (previewed and confirmed, like an order)."),
    Entry("portfolio", "commands_portfolio",
          "Balance, portfolio value, positions with marks and P&L, totals (syncs the journal first)."),
    Entry("positions", "commands_portfolio", "Open positions, each marked to market."),
    Entry("pnl", "commands_portfolio", "Realized, unrealized, fees and net P&L per market and in total."),
    Entry("sync", "commands_portfolio",
          "Pull fills and settlements from the exchange into the journal (safe to repeat)."),
    Entry("history", "commands_portfolio",
          "Recent fills, settlements and order events from the journal, newest first (with the bot's strategy)."),
    Entry("export-trades", "commands_portfolio",
          "Export trades (or closed lots) to CSV: exact decimals, ISO-8601 UTC times."),
    Entry("logs", "commands_portfolio", "The last lines of trades.log (or errors.log)."),
    Entry("demo", "commands_demo", "A two-minute tour on the simulator: markets, a book, an order previewed, placed, "
          "cancelled, the portfolio."),
    Entry("menu", "menu",
          "Interactive numbered menu: portfolio, markets, orders, history and export, until you choose Exit."),
    Entry("watch", "commands_watch", "Watch markets live: top of book, depth, spread and the last trades."),
    Entry("config", "commands_basic", "Inspect the configuration."),
    Entry("exchange", "commands_basic", "Exchange-wide information."),
    Entry("order", "commands_orders", "Place orders and check their status."),
    Entry("record", "commands_record",
          "Record markets' order books, trades, tickers and lifecycle events for replay."),
    Entry("replay", "commands_record",
          "Replay a recording through the replay feed: what it holds, its checkpoints, gaps and problems."),
    Entry("backtest", "commands_backtest",
          "Replay a recording through the bot's own loop against a queue-aware simulated exchange, and report."),
    Entry("auto", "commands_auto",
          "Run a trading bot (market maker or model edge taker) behind the risk engine."),
    Entry("discover", "commands_signals",
          "Find the markets the pipeline targets: by series (live auto-selection), keywords, tickers and events."),
    Entry("pipeline", "commands_signals", "Run the signal pipeline (discover, collect, model, signal, paper-trade)."),
    Entry("signals", "commands_signals",
          "Stored signals: model probability vs the market, edge net of the taker fee, direction."),
    Entry("paper", "commands_signals",
          "Paper (and real) attempts of the signal pipeline: the orders and the report."),
    Entry("notify", "commands_notify", "Notifications: send a test message to each configured channel."),
    Entry("alerts", "commands_notify",
          "The alert events: every message the notifiers sent, failed, dropped or held back."),
    Entry("dashboard", "commands_dashboard",
          "Serve the web dashboard: portfolio, open orders, bots, signals, logs and alerts, live."),
    Entry("store", "commands_store", "Storage: copy one store's records into another (e.g. SQLite into PostgreSQL)."),
    Entry("deploy", "commands_deploy",
          "Deployment files: systemd units that run the bot, the pipeline or the dashboard unattended."),
    Entry("sim", "sim_commands", "Run and control the simulated exchange."),
)
MODULES: tuple[str, ...] = tuple(dict.fromkeys(entry.module for entry in COMMANDS))


def _register_module(module: str, target: typer.Typer) -> None:
    """Run one command module's registration against `target` (imports the module)."""
    mod = importlib.import_module(f"kalshi_trading.cli.{module}")
    if module == "sim_commands":  # a sub-app of its own rather than a register function
        target.add_typer(mod.app, name="sim", help="Run and control the simulated exchange.")
    else:
        mod.register(target)


def _build_module(module: str) -> dict[str, _click.Command]:
    """The click commands one module registers, built as Typer builds the root's own."""
    holder = typer.Typer()
    _register_module(module, holder)
    return dict(typer.main.get_group(holder).commands)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="kalshi")
    except KeyboardInterrupt:  # raised outside a command (e.g. while parsing)
        typer.echo("\ninterrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
