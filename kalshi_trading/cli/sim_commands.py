"""`kalshi sim ...`: run and control the simulated exchange (state in <data dir>/sim).

Heavy modules are imported inside the commands: `kalshi --help` must stay fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.errors import UsageError

app = typer.Typer(
    help="Run and control the simulated exchange (state lives in <data dir>/sim).\n\n"
    "Example:  kalshi sim serve --port 8080",
    no_args_is_help=True,
)

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
    """`90s`, `15m`, `2h`, `1d`, `1h30m` or plain seconds -> seconds, up to MAX_ADVANCE_S (ASCII digits only)."""
    from kalshi_trading.sim.exchange import MAX_ADVANCE_S

    raw = str(text).strip().lower()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw):
        seconds = float(raw)
    else:
        parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)([smhd])", raw)
        if not parts or "".join(n + u for n, u in parts) != raw:
            raise UsageError(f"bad duration {raw[:40]!r}: use e.g. 90s, 15m, 2h, 1d")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError("the duration must be positive")
    if seconds > MAX_ADVANCE_S:
        raise UsageError(f"duration {raw[:40]} is too long: at most {MAX_ADVANCE_S // 86400} days (10 years)")
    return seconds


def _balance(text: str) -> Decimal:
    """Dollars in the one typed-number grammar (money.py), 0 to money.MAX_DOLLARS."""
    from kalshi_trading.money import MoneyError, parse_dollars_text

    try:
        return parse_dollars_text(text, "balance")
    except MoneyError as exc:
        raise UsageError(str(exc)) from None


def _confirm(question: str) -> bool:
    """y/yes goes ahead; blank, n or no declines (exit 0).  Ctrl-C propagates (exit 130); end of input
    is a refusal (exit 2), since nobody answered."""
    while True:
        typer.echo(f"{question} [y/N]: ", nl=False)
        try:
            answer = input().strip().lower()
        except EOFError:
            typer.echo()
            raise UsageError("no answer to confirm with: nothing was changed; rerun with --yes") from None
        if answer in ("", "n", "no"):
            return False
        if answer in ("y", "yes"):
            return True
        typer.echo("please answer y or n", err=True)


def _masked(text: object, key_id: str | None) -> str:
    """The key id never appears whole, not even inside the key file's name."""
    from kalshi_trading.config import mask

    return str(text).replace(key_id, mask(key_id)) if key_id else str(text)


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(8080, parser=ranges.whole(*ranges.PORT), help="TCP port, 0 to 65535; 0 picks a free one."),
    seed: Optional[int] = typer.Option(None, parser=ranges.whole(*ranges.SEED),
                                       help="Random seed of a new exchange, 0 to 4294967295 (ignored if one exists)."),
    speed: float = typer.Option(1.0, parser=ranges.number(*ranges.SPEED),
                                help="Simulated seconds per wall second (0.01 to 1000)."),
    balance: str = typer.Option("1000", help="Starting balance in dollars of a new demo account (0 to 1000000000)."),
    faults: Optional[str] = typer.Option(None, help="Fault injection, e.g. latency=0.05,error_after=0.1,seed=1; the "
                                                    "outside sources under /ext have their own: ext.<source>.latency|"
                                                    "status|rate|garbage|drop (ext.* for every source), e.g. "
                                                    "ext.*.latency=0.1,ext.kraken.status=503."),
    show_key: bool = typer.Option(False, "--show-key",
                                  help="Print the demo key id and key file in full, to configure another client "
                                       "(they are masked otherwise)."),
) -> None:
    """Serve the simulated exchange over HTTP until Ctrl-C.

    Example:  kalshi sim serve --port 0 --speed 10
    """
    import signal
    import threading

    from kalshi_trading.sim.faults import FaultSpec
    from kalshi_trading.sim.runtime import start_embedded

    amount = _balance(balance)
    try:
        FaultSpec.parse(faults)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    directory = _sim_dir(ctx)
    try:
        server = start_embedded(directory, host=host, port=port, seed=seed, speed=speed, faults=faults,
                                balance=amount)
        account = server.demo_account
    except OSError as exc:
        raise UsageError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    done = threading.Event()
    # Ctrl-C and SIGTERM only set a flag: the server then stops (and saves) cleanly, exit 0
    previous = {sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        typer.echo(f"base url:         {server.base_url}")
        shown = (lambda text: str(text)) if show_key else (lambda text: _masked(text, account.key_id))
        hint = "" if show_key else "  (masked; --show-key prints it in full for another client)"
        typer.echo(f"key id:           {shown(account.key_id)}{hint}")
        typer.echo(f"private key path: {shown(account.private_key_path)}")
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
    key_id = info.get("demo_key_id")
    for key in ("demo_key_id", "demo_private_key_path"):
        if info.get(key):
            info[key] = _masked(info[key], key_id)
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
    balance: str = typer.Option("1000", help="Starting balance in dollars of the new demo account "
                                             "(0 to 1000000000)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Wipe the simulated exchange and start over with a fresh demo account and key.

    Example:  kalshi sim reset --balance 5000 --yes
    """
    from kalshi_trading.cli.sim_control import sim_reset  # on the running server, else in-process

    amount = _balance(balance)
    directory = _sim_dir(ctx)
    if not yes and not _confirm(f"Erase every order, position and account in {directory}?"):
        typer.echo("not reset")
        return
    account = sim_reset(directory, amount)
    typer.echo(f"reset; demo key id {_masked(account.key_id, account.key_id)}, "
               f"key {_masked(account.private_key_path, account.key_id)}, balance ${amount}")


@app.command()
def advance(ctx: typer.Context,
            duration: str = typer.Argument(..., help="How far: 90s, 15m, 2h, 1d (at most 3650 days).")) -> None:
    """Move simulated time forward; expiring markets settle on the simulated underlying.

    Example:  kalshi sim advance 2h
    """
    from kalshi_trading.sim.errors import SimError
    from kalshi_trading.cli.sim_control import sim_advance  # on the running server, else in-process

    seconds = parse_duration(duration)
    try:
        out = sim_advance(_sim_dir(ctx), seconds)
    except SimError as exc:  # the exchange's own horizon check
        raise UsageError(exc.message + (f": {exc.details}" if exc.details else "")) from None
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

    Example:  kalshi sim settle TICKER yes --yes
    """
    from kalshi_trading.errors import NotFoundError, RejectedError
    from kalshi_trading.sim.errors import SimError
    from kalshi_trading.cli.sim_control import sim_settle  # on the running server, else in-process

    from kalshi_trading import ids

    ticker = ids.market_ticker(ticker)  # the documented form, upper case (exit 2 otherwise), like every command
    result = result.lower()
    if result not in ("yes", "no", "void"):
        raise UsageError(f"result must be yes, no or void, not {result!r}")
    if not yes and not _confirm(f"Settle {ticker} as {result}?"):
        typer.echo("not settled")
        return
    try:
        out = sim_settle(_sim_dir(ctx), ticker, result)
    except SimError as exc:
        kind = NotFoundError if exc.status == 404 else RejectedError
        raise kind(exc.message, status=exc.status, code=exc.code, details=exc.details or None) from None
    typer.echo(f"{out['ticker']} settled {out['result']} ({out['status']})")
