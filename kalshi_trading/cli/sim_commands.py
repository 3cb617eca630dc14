"""`kalshi sim ...`: run and control the simulated exchange (state in <data dir>/sim).

Heavy modules are imported inside the commands: `kalshi --help` must stay fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="Run and control the simulated exchange (state lives in <data dir>/sim).\n\n"
    "Example:  kalshi sim serve --port 8080",
    no_args_is_help=True,
)

EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_NOT_FOUND = 4
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def data_dir(ctx: typer.Context) -> Path:
    """The root data directory: ctx.obj["data_dir"] (or .data_dir), else $KALSHI_DATA_DIR, else the XDG default."""
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, dict) and obj.get("data_dir"):
        return Path(obj["data_dir"]).expanduser()
    if obj is not None and not isinstance(obj, dict):
        value = getattr(obj, "data_dir", None)
        if value:
            return Path(value).expanduser()
    env = os.environ.get("KALSHI_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path("~/.local/share/kalshi-trading").expanduser()


def _sim_dir(ctx: typer.Context) -> Path:
    return data_dir(ctx) / "sim"


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `1d`, `1h30m` or plain seconds -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"bad duration {text!r}: use e.g. 90s, 15m, 2h, 1d")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("the duration must be positive")
    return seconds


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _balance(text: str):
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        _fail(f"bad balance {text!r}: use dollars, e.g. 1000 or 250.50", EXIT_USAGE)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.0001")):
        _fail(f"bad balance {text!r}: a non-negative dollar amount", EXIT_USAGE)
    return value


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(8080, help="TCP port; 0 picks a free one."),
    seed: Optional[int] = typer.Option(None, help="Random seed of a new exchange (ignored if one exists)."),
    speed: float = typer.Option(1.0, help="Simulated seconds per wall second."),
    balance: str = typer.Option("1000", help="Starting balance in dollars of a new demo account."),
    faults: Optional[str] = typer.Option(None, help="Fault injection, e.g. latency=0.05,error_after=0.1,seed=1."),
) -> None:
    """Serve the simulated exchange over HTTP until Ctrl-C.

    Example:  kalshi sim serve --port 0 --speed 10
    """
    import signal
    import threading

    from kalshi_trading.sim.faults import FaultSpec
    from kalshi_trading.sim.runtime import SimBusy, start_embedded

    if speed <= 0:
        _fail("--speed must be positive", EXIT_USAGE)
    if not 0 <= port <= 65535:
        _fail("--port must be 0..65535", EXIT_USAGE)
    try:
        FaultSpec.parse(faults)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    directory = _sim_dir(ctx)
    try:
        server = start_embedded(directory, host=host, port=port, seed=seed, speed=speed, faults=faults,
                                balance=_balance(balance))
        account = server.demo_account
    except SimBusy as exc:
        _fail(str(exc), EXIT_BUSY)
    except OSError as exc:
        _fail(f"cannot bind {host}:{port}: {exc}", EXIT_USAGE)
    done = threading.Event()
    # Ctrl-C and SIGTERM only set a flag: the server then stops (and saves) cleanly, exit 0
    previous = {sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        typer.echo(f"base url:         {server.base_url}")
        typer.echo(f"key id:           {account.key_id}")
        typer.echo(f"private key path: {account.private_key_path}")
        typer.echo("serving; press Ctrl-C to stop")
        sys.stdout.flush()
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("stopped")


@app.command()
def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the simulator's state: simulated time, markets by status, accounts.

    Example:  kalshi sim status --json
    """
    from kalshi_trading.cli.sim_control import sim_status  # the running server's, else in-process

    info = sim_status(_sim_dir(ctx))
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    if not info["exists"]:
        typer.echo(f"no simulated exchange yet in {info['data_dir']} (any command in sim mode creates one)")
        return
    for key in ("data_dir", "sim_time", "saved_at", "seed", "events", "accounts", "demo_key_id",
                "demo_private_key_path", "demo_cash_dollars"):
        typer.echo(f"{key:22} {info[key]}")
    typer.echo(f"{'markets':22} " + ", ".join(f"{k} {v}" for k, v in sorted(info["markets"].items())))


@app.command()
def reset(
    ctx: typer.Context,
    balance: str = typer.Option("1000", help="Starting balance in dollars of the new demo account."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Wipe the simulated exchange and start over with a fresh demo account and key.

    Example:  kalshi sim reset --balance 5000 --yes
    """
    from kalshi_trading.cli.sim_control import sim_reset  # on the running server, else in-process
    from kalshi_trading.sim.runtime import SimBusy

    amount = _balance(balance)
    directory = _sim_dir(ctx)
    if not yes and not typer.confirm(f"Erase every order, position and account in {directory}?"):
        _fail("aborted", EXIT_USAGE)
    try:
        account = sim_reset(directory, amount)
    except SimBusy as exc:
        _fail(str(exc), EXIT_BUSY)
    typer.echo(f"reset; demo key id {account.key_id}, key {account.private_key_path}, balance ${amount}")


@app.command()
def advance(ctx: typer.Context, duration: str = typer.Argument(..., help="How far: 90s, 15m, 2h, 1d.")) -> None:
    """Move simulated time forward; expiring markets settle on the simulated underlying.

    Example:  kalshi sim advance 2h
    """
    from kalshi_trading.cli.sim_control import sim_advance  # on the running server, else in-process
    from kalshi_trading.sim.runtime import SimBusy

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    try:
        out = sim_advance(_sim_dir(ctx), seconds)
    except SimBusy as exc:
        _fail(str(exc), EXIT_BUSY)
    typer.echo(f"simulated time now {out['sim_time']}; settled {len(out['settled'])} markets, "
               f"listed {len(out['listed'])}")


@app.command()
def settle(
    ctx: typer.Context,
    ticker: str = typer.Argument(..., help="Market ticker."),
    result: str = typer.Argument(..., help="yes, no or void."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Close and settle one market now with the given result.

    Example:  kalshi sim settle KXRAINNYC-26NOV21-T0 yes --yes
    """
    from kalshi_trading.sim.errors import SimError
    from kalshi_trading.cli.sim_control import sim_settle  # on the running server, else in-process
    from kalshi_trading.sim.runtime import SimBusy

    result = result.lower()
    if result not in ("yes", "no", "void"):
        _fail(f"result must be yes, no or void, not {result!r}", EXIT_USAGE)
    if not yes and not typer.confirm(f"Settle {ticker} as {result}?"):
        _fail("aborted", EXIT_USAGE)
    try:
        out = sim_settle(_sim_dir(ctx), ticker, result)
    except SimBusy as exc:
        _fail(str(exc), EXIT_BUSY)
    except SimError as exc:
        _fail(f"{exc.message}: {exc.details}", EXIT_NOT_FOUND if exc.status == 404 else EXIT_USAGE)
    typer.echo(f"{out['ticker']} settled {out['result']} ({out['status']})")
