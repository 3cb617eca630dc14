"""`kalshi config market set|unset|show` and `kalshi config global set|show`: the runtime configuration in the
store (`auto.runtime_config`), which every bot sharing the store reads over its --config file and reloads while it
runs.  Every value is checked by the bot's own rules before anything is written; a write is a compare-and-set
against the version read (or --expect-version), so two people editing at once never overwrite each other unseen.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import typer

from kalshi_trading.cli.render import echo, emit_json, env_badge, iso, table
from kalshi_trading.errors import UsageError

MARKET_HELP = """Per-market settings in the store, read by every bot over its --config file (the store's value wins)
and reloaded while it runs.

Keys: enabled, max_inventory_yes, max_inventory_no, min_spread, quote_size, inventory_skew_factor, min_edge,
reprice_tolerance, min_size_change, hold_in_narrow_spread, toxicity (see `kalshi auto --help-config`).

Example:  kalshi config market set TICKER min_spread=0.03 quote_size=2
Example:  kalshi config market show --json
"""
GLOBAL_HELP = """Global settings in the store (all bots sharing it), over each bot's --config file.

Keys: trading_enabled, max_total_exposure, max_daily_loss, loop_interval_ms, max_orders_per_minute,
lease_ttl_seconds, store_reload_passes (the strategy is chosen when a bot starts, not here).

Example:  kalshi config global set max_daily_loss=25
Example:  kalshi config global show
"""

market_app = typer.Typer(help=MARKET_HELP, no_args_is_help=True)
global_app = typer.Typer(help=GLOBAL_HELP, no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
EXPECT = typer.Option(None, "--expect-version", min=0,
                      help="Write only if the store is still at this version (see `show`); default: the version "
                           "read just before the write.")
BY = typer.Option(None, "--by", help="Who is writing (default: user@host), kept with the record.")
CONFIG = typer.Option(None, "--config", help="A bot configuration file: show what is in force with it under the "
                                             "store's values.")


def _ctx(ctx: typer.Context):
    return ctx.find_root().obj


def _who(by: Optional[str]) -> str:
    if by is not None:
        if not by.strip() or not by.isprintable():
            raise UsageError(f"--by {by!r}: give a name")
        return by.strip()
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _ticker(text: str) -> str:
    from kalshi_trading.store.runtime import check_name

    return check_name(text.strip().upper(), "market ticker")


def _now():
    from kalshi_trading.auto.leases import utc_now

    return utc_now()


def _runtime(ctx: typer.Context):
    return _ctx(ctx).store.runtime_config()


def _render_edit(app_ctx, edit, json_output: bool) -> None:
    what = edit.ticker or "global"
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "record": what, "version": edit.version,
                   "before": dict(edit.before), "after": dict(edit.after)})
        return
    keys = sorted(set(edit.before) | set(edit.after))
    rows = [(k, edit.before.get(k, "-"), edit.after.get(k, "-")) for k in keys
            if edit.before.get(k) != edit.after.get(k)]
    echo(f"{env_badge(app_ctx.settings.env_label)} {what}: written at version {edit.version}")
    echo(table(rows, ["setting", "before", "after"]))


def _record_doc(record) -> Optional[dict[str, Any]]:
    if record is None:
        return None
    return {"values": dict(record.values), "updated_at": iso(record.updated_at), "updated_by": record.updated_by,
            "version": record.version}


def _settings(values: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items()) or "(none)"


@market_app.command("set")
def market_set(ctx: typer.Context,
               ticker: str = typer.Argument(..., help="The market's ticker."),
               assignments: list[str] = typer.Argument(..., help="key=value, one or more."),
               expect_version: Optional[int] = EXPECT, by: Optional[str] = BY, json_output: bool = JSON) -> None:
    """Set some of a market's settings (the others are kept), all checked before any is written.

    A bad key or value is refused (exit 2) and nothing is written; a write that finds the store changed since it
    was read (or since --expect-version) is refused (exit 3).

    Example:  kalshi config market set TICKER min_spread=0.03 quote_size=2
    Example:  kalshi config market set TICKER enabled=false --expect-version 7
    """
    from kalshi_trading.auto.runtime_config import parse_assignments, set_market

    changes = parse_assignments(assignments)
    name, who = _ticker(ticker), _who(by)
    edit = set_market(_runtime(ctx), name, changes, who=who, now=_now(), expected_version=expect_version)
    _render_edit(_ctx(ctx), edit, json_output)


@market_app.command("unset")
def market_unset(ctx: typer.Context,
                 ticker: str = typer.Argument(..., help="The market's ticker."),
                 keys: Optional[list[str]] = typer.Argument(None, help="Settings to remove (none: the whole "
                                                                      "record)."),
                 expect_version: Optional[int] = EXPECT, by: Optional[str] = BY, json_output: bool = JSON) -> None:
    """Remove some of a market's settings, or its whole record, from the store.

    The file's values (or the defaults) apply again.

    Example:  kalshi config market unset TICKER min_spread
    Example:  kalshi config market unset TICKER
    """
    from kalshi_trading.auto.runtime_config import unset_market

    edit = unset_market(_runtime(ctx), _ticker(ticker), [k.strip() for k in keys or []], who=_who(by), now=_now(),
                        expected_version=expect_version)
    _render_edit(_ctx(ctx), edit, json_output)


@market_app.command("show")
def market_show(ctx: typer.Context,
                ticker: Optional[str] = typer.Argument(None, help="One market (default: every record)."),
                config: Optional[str] = CONFIG, json_output: bool = JSON) -> None:
    """Show the markets' records in the store; with TICKER, each setting and the value in force.

    The value in force is the store's over the defaults, or over --config's file.

    Example:  kalshi config market show
    Example:  kalshi config market show TICKER --config bot.toml --json
    """
    app_ctx = _ctx(ctx)
    snap = _runtime(ctx).snapshot()
    if ticker is not None:
        _show_one(app_ctx, snap, _ticker(ticker), config, json_output)
        return
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "version": snap.version,
                   "markets": {t: _record_doc(r) for t, r in snap.markets.items()}})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} runtime configuration, version {snap.version} "
         f"({app_ctx.store.url.masked})")
    echo(table([(t, _settings(r.values), iso(r.updated_at), r.updated_by, r.version) for t, r in snap.markets.items()],
               ["ticker", "settings", "updated", "by", "version"]))


def _show_one(app_ctx, snap, ticker: str, config: Optional[str], json_output: bool) -> None:
    from kalshi_trading.auto.botconfig import BotConfig, load_config
    from kalshi_trading.auto.runtime_config import RUNTIME_MARKET_KEYS, apply_snapshot
    from kalshi_trading.errors import ConfigError

    record = snap.markets.get(ticker)
    base = load_config(config) if config is not None else BotConfig.default()
    problem = None
    try:
        in_force = apply_snapshot(base, snap).market(ticker)
    except ConfigError as exc:  # a value written around the rules: the bots keep their last good configuration
        problem, in_force = str(exc), base.market(ticker)
    stored = dict(record.values) if record is not None else {}
    force = {k: getattr(in_force, k) for k in RUNTIME_MARKET_KEYS}
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "ticker": ticker, "version": snap.version,
                   "record": _record_doc(record), "in_force": force, "problem": problem})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} {ticker}: version {snap.version}"
         + (f", written {iso(record.updated_at)} by {record.updated_by}" if record is not None else
            ", no record in the store"))
    echo(table([(k, stored.get(k, "-"), "-" if force[k] is None else str(force[k]).lower()
                 if isinstance(force[k], bool) else str(force[k])) for k in RUNTIME_MARKET_KEYS],
               ["setting", "store", "in force"]))
    if problem is not None:
        echo(f"warning: {problem}; the bots keep their last good configuration", err=True)


@global_app.command("set")
def global_set(ctx: typer.Context,
               assignments: list[str] = typer.Argument(..., help="key=value, one or more."),
               expect_version: Optional[int] = EXPECT, by: Optional[str] = BY, json_output: bool = JSON) -> None:
    """Set some global settings (the others are kept); every value is checked first.

    Example:  kalshi config global set max_daily_loss=25 trading_enabled=true
    """
    from kalshi_trading.auto.runtime_config import parse_assignments, set_global

    changes = parse_assignments(assignments)
    edit = set_global(_runtime(ctx), changes, who=_who(by), now=_now(), expected_version=expect_version)
    _render_edit(_ctx(ctx), edit, json_output)


@global_app.command("show")
def global_show(ctx: typer.Context, json_output: bool = JSON) -> None:
    """Show the global record in the store.

    Example:  kalshi config global show --json
    """
    app_ctx = _ctx(ctx)
    snap = _runtime(ctx).snapshot()
    record = snap.global_record
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "version": snap.version, "global": _record_doc(record)})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} global settings, version {snap.version}"
         + (f", written {iso(record.updated_at)} by {record.updated_by}" if record is not None else
            ": none in the store"))
    echo(table(sorted(record.values.items()) if record is not None else [], ["setting", "value"]))


def register_config(config_app: typer.Typer) -> None:
    """Add `market` and `global` under `kalshi config`."""
    config_app.add_typer(market_app, name="market", help=MARKET_HELP)
    config_app.add_typer(global_app, name="global", help=GLOBAL_HELP)
