"""The `kalshi` root: global options, sub-apps, and the one place exceptions become exit codes.

Exit codes (also in the README):
  0 ok, 1 unexpected error, 2 usage (bad input), 3 configuration (incl. authentication),
  4 rejected by the exchange (incl. unknown ticker or order), 5 denied by a risk rule,
  6 network or exchange unavailable, 130 interrupted.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

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
    """Maps every exception to a message and an exit code; tracebacks only with --debug."""

    # typer declares the base (its vendored click Context) under a private name; ours is the Context it passes
    def invoke(self, ctx: typer.Context):  # type: ignore[override]
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


def _debug(ctx: typer.Context) -> bool:
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


def _register() -> None:
    from kalshi_trading.cli import commands_basic, commands_market, commands_orders, commands_portfolio

    commands_basic.register(app)
    commands_market.register(app)
    commands_orders.register(app)
    commands_portfolio.register(app)
    from kalshi_trading.cli import commands_demo

    commands_demo.register(app)
    from kalshi_trading.cli import commands_auto

    commands_auto.register(app)
    from kalshi_trading.cli import menu

    menu.register(app)
    from kalshi_trading.cli import commands_watch

    commands_watch.register(app)
    try:
        from kalshi_trading.cli import sim_commands
    except ImportError:  # the simulator's commands are optional while it is being built
        return
    app.add_typer(sim_commands.app, name="sim", help="Run and control the simulated exchange.")


_register()


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="kalshi")
    except KeyboardInterrupt:  # raised outside a command (e.g. while parsing)
        typer.echo("\ninterrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
