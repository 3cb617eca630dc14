"""`kalshi portfolio|positions|pnl|sync|history|export-trades|logs`: thin over the portfolio and journal."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.parsing import parse_date, parse_range
from kalshi_trading.cli.render import cents, count, echo, emit_json, env_badge, iso, table, usd
from kalshi_trading.cli.views import (
    render_discrepancies,
    render_pnl,
    render_positions,
    render_totals,
    summary_json,
)
from kalshi_trading.errors import UsageError

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
METHODS = ("fifo", "avg")


def _method(value: str) -> str:
    if value not in METHODS:
        raise UsageError("--method must be fifo or avg")
    return value


def portfolio(ctx: typer.Context, method: str = typer.Option("fifo", "--method", help="fifo or avg lot accounting."),
              json_output: bool = JSON_OPTION) -> None:
    """Balance, portfolio value, positions with marks and P&L, totals (syncs the journal first).

    Example:  kalshi portfolio --json
    """
    app_ctx = ctx.obj
    summary = app_ctx.portfolio.summary(method=_method(method))
    if json_output:
        emit_json(summary_json(summary))
        _exit_if_incomplete(summary)
        return
    echo(f"{env_badge(summary.env)} portfolio ({summary.method.upper()} lots) as of {iso(summary.as_of)}")
    echo(render_positions(summary))
    echo()
    echo(render_totals(summary))
    if summary.discrepancies:
        echo(render_discrepancies(summary))
    _exit_if_incomplete(summary)


def _exit_if_incomplete(summary) -> None:
    """After showing everything that was read: exit 6 (network) or 4 (unknown market) naming what lacks a mark."""
    from kalshi_trading.trading.portfolio import incomplete_error

    error = incomplete_error(summary)
    if error is not None:
        raise error


def positions(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Open positions, each marked to market.

    Example:  kalshi positions
    """
    app_ctx = ctx.obj
    portfolio, has_journal = app_ctx.positions_portfolio()  # an unusable journal: the exchange's figures alone
    summary = portfolio.summary(sync=has_journal)
    if json_output:
        doc = summary_json(summary)
        emit_json({"environment": doc["environment"], "as_of": doc["as_of"], "positions": doc["positions"],
                   "missing": doc["missing"]})
        _exit_if_incomplete(summary)
        return
    echo(f"{env_badge(summary.env)} {len(summary.positions)} open position(s)")
    echo(render_positions(summary))
    _exit_if_incomplete(summary)


def pnl(ctx: typer.Context,
        since: Optional[str] = typer.Option(None, "--since", help="Count closes from this date (2026-11-01)."),
        method: str = typer.Option("fifo", "--method", help="fifo or avg."),
        json_output: bool = JSON_OPTION) -> None:
    """Realized, unrealized, fees and net P&L per market and in total.

    Example:  kalshi pnl --since 2026-11-01 --method avg --json
    """
    app_ctx = ctx.obj
    summary = app_ctx.portfolio.summary(method=_method(method), since=parse_date(since))
    if json_output:
        doc = summary_json(summary)
        emit_json({k: doc[k] for k in ("environment", "as_of", "method", "realized_pnl", "unrealized_pnl",
                                       "fees_paid", "net_pnl", "tickers", "positions", "discrepancies", "missing")})
        _exit_if_incomplete(summary)
        return
    echo(f"{env_badge(summary.env)} P&L ({summary.method.upper()}){' since ' + since if since else ''}")
    echo(render_pnl(summary))
    echo()
    echo(table([("realized", usd(summary.realized_pnl, True)), ("unrealized", usd(summary.unrealized_pnl, True)),
                ("fees", usd(summary.fees_paid)), ("net", usd(summary.net_pnl, True))], ["total", ""],
               colalign=("left", "right")))
    if summary.discrepancies:
        echo(render_discrepancies(summary))
    _exit_if_incomplete(summary)


def sync(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Pull fills and settlements from the exchange into the journal (safe to repeat).

    Example:  kalshi sync
    """
    app_ctx = ctx.obj
    result = app_ctx.portfolio.sync()
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "new_fills": result.new_fills,
                   "new_settlements": result.new_settlements})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} journal synced: {result.new_fills} new fill(s), "
         f"{result.new_settlements} new settlement(s)")


def history(ctx: typer.Context,
            since: Optional[str] = typer.Option(None, "--since", help="From this date (2026-11-01)."),
            until: Optional[str] = typer.Option(None, "--until", help="Up to this date, inclusive."),
            ticker: Optional[str] = typer.Option(None, "--ticker", "-t", help="Only this market."),
            limit: int = typer.Option(50, "-n", "--limit", parser=ranges.whole(*ranges.LINES),
                                      help="Newest N entries (1 to 100000)."),
            json_output: bool = JSON_OPTION) -> None:
    """Recent fills, settlements and order events from the journal, newest first (with the bot's strategy).

    `kalshi history download` fetches the exchange's own trades and candles instead (see its --help).

    Example:  kalshi history --since 2026-11-01 -n 20
    """
    if getattr(ctx, "invoked_subcommand", None):  # `kalshi history download ...`: the subcommand does the work
        return
    start, end = parse_range(since, until)
    if limit <= 0:
        raise UsageError("-n must be positive")
    app_ctx = ctx.obj
    app_ctx.portfolio.sync()
    entries = app_ctx.journal.history(start, end, ticker.upper() if ticker else None, limit)
    tags = app_ctx.journal.strategies(_order_key(e) for e in entries if _order_key(e))
    if json_output:
        emit_json({"environment": app_ctx.settings.env,
                   "entries": [{**_entry_json(e), "strategy": tags.get(_order_key(e) or "")} for e in entries]})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} history ({len(entries)} entries)")
    echo(table([(*_entry_row(e), tags.get(_order_key(e) or "", "")) for e in entries],
               ["time", "kind", "ticker", "what", "strategy"]))


def _order_key(e) -> str | None:
    """What ties an entry to the order that made it: a fill's order id, an order event's client order id."""
    if e.kind == "fill":
        return e.record.order_id
    if e.kind == "order":
        return e.record.client_order_id
    return None


def _entry_row(e) -> tuple:
    r = e.record
    if e.kind == "fill":
        verb = "bought" if r.book_side == "bid" else "sold"
        what = f"{verb} {count(r.count)} YES @ {cents(r.yes_price)}, fee {usd(r.fee)}{' (taker)' if r.is_taker else ''}"
    elif e.kind == "settlement":
        what = f"settled {r.market_result}: revenue {usd(r.revenue)}"
    else:
        what = r.kind + (f" {r.status}" if r.status else "") + (f" {r.code}" if r.code else "")
        if r.order_id:
            what += f" order {r.order_id}"
    return (iso(e.time) or "-", e.kind, e.ticker or "-", what)


def _entry_json(e) -> dict:
    from kalshi_trading.cli.render import to_jsonable

    return {"time": e.time, "kind": e.kind, "ticker": e.ticker, "record": to_jsonable(e.record)}


def export_trades(ctx: typer.Context,
                  out: Path = typer.Argument(..., help="CSV file to write."),
                  since: Optional[str] = typer.Option(None, "--since", help="From this date."),
                  until: Optional[str] = typer.Option(None, "--until", help="Up to this date, inclusive."),
                  ticker: Optional[str] = typer.Option(None, "--ticker", "-t", help="Only this market."),
                  lots: bool = typer.Option(False, "--lots", help="Export closed lots (for taxes) instead of fills."),
                  method: str = typer.Option("fifo", "--method", help="With --lots: fifo or avg."),
                  force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
                  json_output: bool = JSON_OPTION) -> None:
    """Export trades (or closed lots) to CSV: exact decimals, ISO-8601 UTC times.

    Example:  kalshi export-trades trades.csv --since 2026-01-01
    Example:  kalshi export-trades lots-2026.csv --lots --method fifo
    """
    from kalshi_trading.trading.csv_export import check_target

    start, end = parse_range(since, until)
    target = check_target(out, force=True)  # a device, fifo, directory or dangling link is refused, even with --force
    if target.exists() and not force:
        if not _ask_overwrite(out):
            raise UsageError(f"{out} exists; nothing written (use --force to overwrite)")
        force = True
    app_ctx = ctx.obj
    app_ctx.portfolio.sync()
    t = ticker.upper() if ticker else None
    if lots:
        from kalshi_trading.trading.csv_export import export_lots_csv

        report = app_ctx.portfolio.pnl(_method(method))
        chosen = [lot for lot in report.closed_lots if (t is None or lot.ticker == t)
                  and _within(lot.disposed_time, start, end)]
        rows = export_lots_csv(out, chosen, force=force)
    else:
        from kalshi_trading.trading.csv_export import export_trades as write_trades

        rows = write_trades(app_ctx.journal, out, start, end, t, force=force)
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "path": str(out), "rows": rows,
                   "kind": "lots" if lots else "trades"})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} wrote {rows} {'lot' if lots else 'trade'} row(s) to {out}")


def _within(moment, start, end) -> bool:
    if moment is None:
        return start is None
    return (start is None or moment >= start) and (end is None or moment <= end)


def _ask_overwrite(path: Path) -> bool:
    import sys

    if not sys.stdin.isatty():
        return False
    return typer.confirm(f"{path} exists. Overwrite?", default=False)


def logs(ctx: typer.Context, errors: bool = typer.Option(False, "--errors", help="Show errors.log instead."),
         lines: int = typer.Option(20, "-n", "--lines", parser=ranges.whole(*ranges.LINES),
                                   help="Last N lines (1 to 100000).")) -> None:
    """The last lines of trades.log (or errors.log).

    Example:  kalshi logs --errors -n 50
    """
    if lines <= 0:
        raise UsageError("-n must be positive")
    app_ctx = ctx.obj
    path = app_ctx.settings.log_dir / ("errors.log" if errors else "trades.log")
    if not path.exists():
        echo(f"(no {path.name} yet in {path.parent})")
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in deque(fh, maxlen=lines):
            echo(line.rstrip("\n"))


def register(app: typer.Typer) -> None:
    app.command("portfolio")(portfolio)
    app.command("positions")(positions)
    app.command("pnl")(pnl)
    app.command("sync")(sync)
    history_app = typer.Typer()  # a group, so that `kalshi history download` can live under it
    history_app.callback(invoke_without_command=True)(history)
    from kalshi_trading.cli.commands_record import register_history

    register_history(history_app)
    app.add_typer(history_app, name="history")
    app.command("export-trades")(export_trades)
    app.command("logs")(logs)
