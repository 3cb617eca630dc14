"""`kalshi backtest`: a recording replayed through the bot's own loop against a queue-aware simulated exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from kalshi_trading.cli.render import echo, emit_json, table
from kalshi_trading.errors import StrategyHalted, UsageError


def _require(module: str, extra: str, what: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise UsageError(f"{what} needs {module}: pip install 'kalshi-trading[{extra}]'") from None


def backtest(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="A recording directory (from kalshi record)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="mm (market maker), edge (model edge taker), "
                                           "an installed strategy's name or package.module:Class, resolved as "
                                           "kalshi auto does; signals is refused (it cannot be replayed); "
                                           "default: the config's, else mm."),
    config: Optional[Path] = typer.Option(None, "--config", help="Bot configuration (TOML/JSON), as for kalshi "
                                                                 "auto."),
    latency: str = typer.Option("50ms", "--latency", help="Time an order (amend, cancel) takes to reach the "
                                                          "book: 50ms, 0.2s, 500us (0 to 60 s)."),
    queue: str = typer.Option("conservative", "--queue", help="conservative (fills only from recorded trades, "
                              "at or through the price, once they consumed the queue ahead), probabilistic "
                              "(also cancels ahead pro rata, a crossing book), or touch (OPTIMISTIC: fills when the "
                              "price is touched)."),
    clock: str = typer.Option("receive", "--clock", help="receive (the recorded receive times, default) or "
                              "exchange (the exchange's own clock, fitted while recording: for a simulator served "
                              "faster than life, whose receive times compress its hours into minutes)."),
    since: Optional[str] = typer.Option(None, "--from", help="From this time (2026-11-21 or ISO-8601)."),
    until: Optional[str] = typer.Option(None, "--to", help="Up to this time, inclusive."),
    tickers: Optional[List[str]] = typer.Option(None, "--ticker", "-t", help="Only these markets (repeatable); "
                                                "default: every market recorded there."),
    market_info: Optional[Path] = typer.Option(None, "--market-info", help="JSON of each market's grid, fee "
                                               "schedule, close time and strike (a recording has none; "
                                               "default: one-cent grid, quadratic fees)."),
    underlying: Optional[Path] = typer.Option(None, "--underlying", help="CSV (timestamp,price) of the "
                                                                         "underlying for --strategy edge."),
    sweep: Optional[List[str]] = typer.Option(None, "--sweep", help="key=a,b,c: run the grid of these values in "
                                              "parallel processes (repeatable; configuration keys, latency, "
                                              "queue)."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as one JSON document."),
    plot_file: Optional[Path] = typer.Option(None, "--plot", help="Save an equity and inventory chart (PNG; "
                                                                  "needs the `plot` extra: matplotlib)."),
) -> None:
    """Replay a recording through the bot's own loop against a queue-aware simulated exchange, and report.

    The same strategy, risk engine, loop and ledger as `kalshi auto`, on recorded time: orders reach the book
    after --latency and queue behind what rests there; fills come from recorded trades by the --queue model, fees
    as the exchange charges them, settlement from recorded lifecycle events.  The report: P&L, equity and
    drawdown, Sharpe per day, fills and fill ratio, adverse selection, quote uptime, order actions per fill,
    inventory.  The bot's state lives in a temporary store, never yours.  A strategy that raises halts the replay
    there, as it halts `kalshi auto`: the report, then exit 5.

    Example:  kalshi backtest --data recordings --latency 50ms --queue conservative
    """
    from kalshi_trading.auto.botconfig import load_config
    from kalshi_trading.backtest.engine import SIGNALS_REFUSED, BacktestSpec
    from kalshi_trading.backtest.markets import market_infos
    from kalshi_trading.backtest.sweep import config_document, expand, parse_latency, parse_queue, parse_sweeps
    from kalshi_trading.cli.commands_record import _range
    from kalshi_trading.replay.reader import Recording

    if strategy == "signals":
        raise UsageError(SIGNALS_REFUSED)
    ctx.obj.settings  # noqa: B018 - the logs (a strategy's traceback goes to errors.log) follow the settings
    _require("numpy", "model", "kalshi backtest")
    if plot_file is not None:
        if sweep:
            raise UsageError("--plot draws one run; leave it out with --sweep")
        _require("matplotlib", "plot", "--plot")
    sweeps = parse_sweeps(sweep or [])
    lat, model = parse_latency(latency), parse_queue(queue)
    if clock not in ("receive", "exchange"):
        raise UsageError(f"--clock must be receive or exchange, not {clock!r}")
    start, end = _range(since, until)
    cfg = load_config(config) if config is not None else None
    doc = config_document(cfg) if cfg is not None else {}
    name = strategy or (cfg.strategy if cfg is not None else "mm")
    recording = Recording(data)
    wanted = tuple(recording.check_markets(tickers) if tickers else recording.markets)
    spec = BacktestSpec(data, name, doc, lat, model, start, end, wanted, market_infos(wanted, market_info),
                        underlying, exchange_time=clock == "exchange")
    if sweeps:
        _sweep(spec, sweeps, json_output)
        return
    _single(expand(spec, [])[0], json_output, plot_file)


def _single(spec, json_output: bool, plot_file: Path | None) -> None:
    from kalshi_trading.backtest.engine import run_backtest
    from kalshi_trading.backtest.report import build_report, plot, render_text

    run = run_backtest(spec)
    report = build_report(run)
    if plot_file is not None:
        plot(run, str(plot_file))
    if json_output:
        emit_json(report)
        _halted(run)
        return
    echo(render_text(report))
    if plot_file is not None:
        echo(f"chart saved to {plot_file}")
    _halted(run)


def _halted(run) -> None:
    """A strategy that raised halted the replay (exit 5, as `kalshi auto`), after its report was printed."""
    if run.failure is not None:
        raise StrategyHalted(f"{run.failure.reason()}; the replay halted there (every order cancelled) and the "
                             "report covers the run up to then")


def _sweep(spec, sweeps: list[tuple[str, list[str]]], json_output: bool) -> None:
    from kalshi_trading.backtest.report import summary_row
    from kalshi_trading.backtest.sweep import expand, run_sweep

    specs = expand(spec, sweeps)  # every value checked before anything runs
    reports = run_sweep(specs)
    rows: list[dict[str, Any]] = [{**s.label, **summary_row(r)} for s, r in zip(specs, reports, strict=True)]
    if json_output:
        emit_json({"queue_model": spec.queue.value, "latency_ms": spec.latency.total_seconds() * 1000,
                   "strategy": spec.strategy, "runs": rows})
        return
    keys = [k for k, _ in sweeps]
    headers = keys + ["net $", "fees $", "fills", "fill ratio", "max dd $", "Sharpe/day", "uptime",
                      "actions/fill", "adverse 1s c", "adverse 60s c", "problems"]
    fields = ["net_pnl", "fees", "fills", "fill_ratio", "max_drawdown", "sharpe_per_day", "quote_uptime",
              "actions_per_fill", "adverse_1s_cents", "adverse_60s_cents", "problems"]
    body = [[row[k] for k in keys] + ["n/a" if row[f] is None else row[f] for f in fields] for row in rows]
    model = "(swept)" if "queue" in keys else spec.queue.value + (" (OPTIMISTIC)" if spec.queue.optimistic else "")
    echo(f"{len(rows)} runs of {spec.strategy} on {', '.join(spec.tickers)}: queue model {model}, latency "
         f"{'(swept)' if 'latency' in keys else format(spec.latency.total_seconds() * 1000, 'g') + ' ms'}")
    echo(table(body, headers))


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
