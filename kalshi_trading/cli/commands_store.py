"""`kalshi store copy --from URL --to URL`: move one environment's records to another store (`trading.store_copy`)."""

from __future__ import annotations

from typing import Optional

import typer

from kalshi_trading.cli.render import echo, emit_json, style, table
from kalshi_trading.errors import ConfigError, StorageError, UsageError

STORE_HELP = """Storage: copy one store's records into another (e.g. SQLite into PostgreSQL).

Example:  kalshi store copy --from sqlite:///var/lib/kalshi/sim/ --to sqlite:///srv/kalshi/sim/
"""

store_app = typer.Typer(help=STORE_HELP, no_args_is_help=True)


def _open(text: str, option: str, env: str, clock=None):
    from kalshi_trading.store import open_store
    from kalshi_trading.store.url import VARIABLE, parse_store_url

    try:
        url = parse_store_url(text)
    except ConfigError as exc:  # a command-line value: bad input, named by its option
        raise UsageError(f"{option}: {str(exc).removeprefix(VARIABLE + ': ')}") from None
    return open_store(url, env=env, clock=clock)


@store_app.command("copy")
def copy(ctx: typer.Context,
         source: str = typer.Option(..., "--from", help="The store to copy from (a KALSHI_STORE URL)."),
         target: str = typer.Option(..., "--to", help="The store to copy into (a KALSHI_STORE URL)."),
         env: Optional[str] = typer.Option(None, "--env", help="Whose records: sim, demo or prod (default: the "
                                                               "settings' environment)."),
         json_output: bool = typer.Option(False, "--json", help="Print one JSON document instead of a table.")) -> None:
    """Copy the journal, every bot's state, the signals and the runtime configuration into another store.

    Safe to repeat: what the target holds already is not copied again.  Afterwards both stores are compared (the
    records of each kind, the journal's realized P&L and fees); any difference is exit 3.

    Example:  kalshi store copy --from sqlite:///var/lib/kalshi/sim/ --to sqlite:///srv/kalshi/sim/
    Example:  kalshi store copy --from sqlite://data/prod/ --to postgresql://kalshi@db/kalshi --env prod --json
    """
    from kalshi_trading.trading.store_copy import ReplayClock, copy_store

    environment = (env or ctx.find_root().obj.settings.env).strip().lower()
    if environment not in ("sim", "demo", "prod"):
        raise UsageError(f"--env must be sim, demo or prod, not {env!r}")
    clock = ReplayClock()
    src = _open(source, "--from", environment)
    if src.url.directory is not None and not src.url.directory.is_dir():
        src.close()
        raise UsageError(f"--from: there is no store at {src.url.masked} (no such directory)")
    try:
        dst = _open(target, "--to", environment, clock)
        try:
            report = copy_store(src, dst, clock)
        finally:
            dst.close()
    finally:
        src.close()
    if json_output:
        emit_json({"environment": environment, "from": src.url.masked, "to": dst.url.masked, "ok": report.ok,
                   "skipped": report.skipped,
                   "rows": [{"what": r.what, "source": r.source, "target": r.target, "copied": r.copied,
                             "ok": r.ok} for r in report.rows]})
    else:
        echo(f"{src.url.masked} -> {dst.url.masked} ({environment})")
        echo(table([(r.what, r.source, r.target, "" if r.copied is None else r.copied,
                     style("ok", fg="green") if r.ok else style("DIFFERS", fg="red")) for r in report.rows],
                   ["records", "source", "target", "copied now", "check"]))
        for note in report.skipped:
            echo(style(f"note: {note}", fg="yellow", err=True), err=True)
    if not report.ok:
        differ = ", ".join(r.what for r in report.rows if not r.ok)
        raise StorageError(f"the target does not match the source after the copy ({differ}); it may hold records "
                           "the source does not")


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store", help=STORE_HELP)
