"""`kalshi auto`: run a strategy behind the risk engine; `resume`, `kill`, `status` for the operator.

The command is thin: it builds the services (client, executor, state, feed, strategy, clock), hands
them to `auto.runner`, shows a live status line and prints the final report.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from pathlib import Path
from typing import Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.ops_wiring import METRICS_ALLOW_REMOTE, METRICS_HOST, METRICS_PORT, bot_ops
from kalshi_trading.cli.render import echo, emit_json, env_badge, style
from kalshi_trading.errors import StrategyHalted, UsageError

AUTO_HELP = """Run a trading bot (market maker or model edge taker) behind the risk engine.

`kalshi auto --sim` with nothing else is the demo: it trades the sim environment's simulated exchange (the one
every `kalshi` command uses in sim) with its clock accelerated while it runs (--speed; the simulated clock never
runs backwards, so it stays that far ahead afterwards), picks the Bitcoin market whose strike is nearest the
spot, market-makes it for --duration seconds with a live status line, then prints a report.  Its orders and
fills are in the sim journal: `kalshi history`, `kalshi pnl` and `kalshi export-trades` (sim) show them,
tagged with the strategy.  Without --sim the same loop trades the exchange of your settings (sim, demo
or prod; prod asks for confirmation unless --yes).  Ctrl-C, SIGTERM or `kalshi auto kill` cancel every
order of the bot before it exits.

Several bots may share one store (and one exchange account), each trading its own markets: give each a name
with --bot (its own state, PID file and lease).  A bot leases every market it trades; another bot asking for one
of them is refused (exit 3) naming the holder and the expiry.  A crashed bot's leases lapse after
lease_ttl_seconds, and another may then take its markets over (its start-up reconciliation adopts or cancels the
dead bot's orders there, per --on-start).  Per-market and global settings written to the store
(`kalshi config market set`) override the --config file's and are reloaded while the bot runs.

A strategy of your own plugs in without editing the package: --strategy package.module:Class (a module
installed or in the current directory), or the name an installed package declares in the
`kalshi_trading.strategies` entry-point group.  A strategy that raises is stopped: the bot cancels its orders,
logs the traceback to errors.log, halts and exits 5.

Example:  kalshi auto --sim
Example:  kalshi auto --sim --strategy edge --duration 60 --speed 120 --json
Example:  kalshi auto --sim --strategy join_touch:JoinTouch --duration 5
Example:  kalshi auto --markets TICKER1,TICKER2 --config bot.toml
Example:  kalshi auto --bot east --markets TICKER1 --config bot.toml
"""

auto_app = typer.Typer(help=AUTO_HELP, no_args_is_help=False, invoke_without_command=True)

DEMO_DURATION = 30.0
DEMO_SPEED = 60.0
DEMO_INTERVAL_MS = 500
DEMO_ORDERS_PER_MINUTE = 120


def _app_ctx(ctx: typer.Context):
    return ctx.find_root().obj


def _use_auto_sim(app_ctx, speed: float, seed: Optional[int], *, quiet: bool = False):
    """Point the context at the sim environment's exchange (<data_dir>/sim), running `speed` x real time."""
    # An accelerated exchange: the client's own write budget (Basic: ten orders a second) would
    # throttle the bot below the simulated clock; the simulator still enforces its own limits.
    server = app_ctx.use_simulator(app_ctx.settings.data_dir, speed=speed, seed=seed, rate_tier="prestige")
    if server is None and not quiet:
        echo(style("the simulated exchange is served by another process (kalshi sim serve): trading it at its own "
                   "speed; --speed and --seed do not apply", fg="yellow", err=True), err=True)
    return server


def _pick_market(client, source, span_seconds: float = 0.0) -> str:
    """The open KXBTCD market whose strike is nearest the spot, on the event closing soonest after the run
    (`span_seconds` of exchange time) and 10 more minutes, so it trades for the whole run."""
    from datetime import timedelta
    from decimal import Decimal

    from kalshi_trading.signals.discovery import nearest_strike  # the rule lives with market discovery

    spot = source.poll()
    markets = [m for m in client.iter_markets(status="open", series_ticker="KXBTCD", limit=400)
               if m.floor_strike is not None and m.close_time is not None]
    if not markets or spot is None:
        raise UsageError("the simulator lists no open Bitcoin markets right now; try again in a moment")
    now, price = spot
    chosen = nearest_strike(markets, now, Decimal(repr(price)), timedelta(seconds=span_seconds, minutes=10))
    assert chosen is not None  # markets is not empty and every one has a strike
    return chosen.ticker


def _open_feed(kind: str, app_ctx, client, tickers, wait: float = 5.0):
    """The WebSocket feed (default), or REST polling; `auto` falls back to polling if no snapshot comes."""
    from kalshi_trading.marketdata.feed_poll import PollingFeed

    if kind == "poll":
        return PollingFeed(client, interval=0.25), "poll (REST)"
    from kalshi_trading.api.signer import Signer
    from kalshi_trading.marketdata.feed_ws import WebSocketFeed
    from kalshi_trading.config import load_private_key

    key_id, key_path, password = app_ctx.credentials()
    url = app_ctx.settings.ws_url(client.base_url)
    feed = WebSocketFeed(url, Signer(key_id, load_private_key(key_path, password)))
    if kind == "ws":
        return feed, f"ws ({url})"
    import time

    feed.start()
    feed.subscribe(tickers)
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            for _ in feed.events(0.2):
                pass
            if tickers and all(t in feed.books and not feed.books[t].stale for t in tickers):
                return feed, f"ws ({url})"
    except Exception as exc:  # noqa: BLE001 - any failure of the optional WebSocket means: poll instead
        echo(style(f"WebSocket feed unavailable ({exc}); polling REST instead", fg="yellow", err=True), err=True)
    feed.stop()
    echo(style("no WebSocket snapshot within 5 s; polling REST instead", fg="yellow", err=True), err=True)
    return PollingFeed(client, interval=0.25), "poll (REST; WebSocket unavailable)"


def _strategy(spec: str, client, underlying: Optional[Path]):
    """The strategy `spec` names (built-in, installed entry point or package.module:Class; see
    `auto.strategies.registry`), and the underlying source it took, if any (the market pick reuses it)."""
    from kalshi_trading.auto.strategies.registry import StrategyContext, resolve_strategy

    def source():
        if underlying is not None:
            from kalshi_trading.auto.pricing import CsvUnderlying

            return CsvUnderlying(underlying)
        from kalshi_trading.auto.underlying import SimSpotUnderlying

        spot = SimSpotUnderlying(client)
        spot.poll()  # a real exchange answers 404 here: a ConfigError telling the user to pass --underlying
        return spot

    context = StrategyContext(underlying=source)
    strategy = resolve_strategy(spec, context)
    return strategy, context.taken


class StatusLine:
    """The live status: rewritten in place on a terminal, one line per update otherwise (to stderr)."""

    def __init__(self, run, stream=None):
        self.run = run
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.lines = 0

    def text(self) -> str:
        loop = self.run.loop
        now = loop.clock.now().strftime("%H:%M:%S")
        marks = loop.marks()
        parts = [f"{now}"]
        for t in loop.tickers:
            quotes = sorted(loop.ledger.orders.values(), key=lambda o: o.book_side.value)
            q = " ".join(f"{o.book_side.value} {o.yes_price}x{o.remaining}" for o in quotes if o.ticker == t) or "-"
            parts.append(f"{t} pos {loop.ledger.position(t)} [{q}]")
        realized = loop.ledger.realized() - loop.ledger.fees()
        parts.append(f"fills {loop.metrics.fills} realized {realized:+.4f} unreal {loop.ledger.unrealized(marks):+.4f}")
        parts.append(f"risk {loop.risk.state.value.upper()}")
        return " | ".join(parts)

    def __call__(self) -> None:
        line = self.text()
        if self.tty:
            self.stream.write("\r\x1b[K" + line[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.lines += 1

    def end(self) -> None:
        if self.tty and self.lines:
            self.stream.write("\n")
            self.stream.flush()


def _alert(level: str, message: str) -> None:
    colour = "red" if level == "halt" else "yellow"
    echo("\n" + style(message, fg=colour, bold=level == "halt", err=True), err=True)


@auto_app.callback(invoke_without_command=True)
def auto(
    ctx: typer.Context,
    sim: bool = typer.Option(False, "--sim", help="Trade the sim environment's simulated exchange (its journal "
                                                 "records everything), its clock accelerated by --speed while "
                                                 "the bot runs."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="mm (market maker), edge (model edge "
                                                                    "taker), an installed strategy's name, or "
                                                                    "package.module:Class (your own; see the "
                                                                    "README); default: the config's, else mm."),
    markets: Optional[str] = typer.Option(None, "--markets", help="Comma-separated tickers (default: the "
                                                                  "config's markets; with --sim: picked)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Bot configuration (TOML/JSON), reloaded when "
                                                                 "it changes; `kalshi auto --help-config`."),
    duration: Optional[float] = typer.Option(None, "--duration", parser=ranges.number(*ranges.RUN_SECONDS),
                                             help="Wall-clock seconds to run, 0.1 to 31536000 (demo default "
                                                  "30; otherwise until stopped)."),
    speed: float = typer.Option(DEMO_SPEED, "--speed", parser=ranges.number(*ranges.SPEED),
                                help="With --sim: simulated seconds per real second (0.01 to 1000)."),
    seed: Optional[int] = typer.Option(None, "--seed", parser=ranges.whole(*ranges.SEED),
                                       help="With --sim: seed of the simulated exchange if it does not exist "
                                            "yet (0 to 4294967295)."),
    on_start: str = typer.Option("cancel", "--on-start", help="Open orders the bot does not know: cancel or "
                                                              "adopt."),
    underlying: Optional[Path] = typer.Option(None, "--underlying", help="CSV (timestamp,price) of the "
                                                                         "underlying for --strategy edge."),
    feed_kind: str = typer.Option("auto", "--feed", help="ws, poll, or auto (WebSocket, polling if it fails)."),
    interval_ms: Optional[int] = typer.Option(None, "--interval-ms", parser=ranges.whole(*ranges.LOOP_MS),
                                              help="Loop timer in exchange milliseconds, 10 to 3600000 "
                                                   "(overrides the config; demo 500)."),
    json_output: bool = typer.Option(False, "--json", help="Print the final report as one JSON document."),
    plot_file: Optional[Path] = typer.Option(None, "--plot", help="Save an equity and inventory chart (PNG; "
                                                                  "needs the `plot` extra: matplotlib)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (needed for prod without "
                                                        "a terminal)."),
    help_config: bool = typer.Option(False, "--help-config", help="Show the configuration file format."),
    bot: str = typer.Option("default", "--bot", help="This bot's name (a-z, 0-9, _ -): its own state, PID file "
                                                     "and leases, so several bots share a store."),
    metrics_port: Optional[int] = METRICS_PORT,
    metrics_host: str = METRICS_HOST,
    metrics_allow_remote: bool = METRICS_ALLOW_REMOTE,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if help_config:
        from kalshi_trading.auto.botconfig import SCHEMA_DOC

        echo(SCHEMA_DOC)
        return
    if on_start not in ("cancel", "adopt"):
        raise UsageError(f"--on-start must be cancel or adopt, not {on_start!r}")
    if feed_kind not in ("ws", "poll", "auto"):
        raise UsageError(f"--feed must be ws, poll or auto, not {feed_kind!r}")
    if plot_file is not None:
        try:
            import matplotlib  # noqa: F401  (checked before trading, used after)
        except ImportError:
            echo("error: --plot needs matplotlib: pip install 'kalshi-trading[plot]'", err=True)
            raise typer.Exit(2) from None
    _bot(bot)
    _run(ctx, sim, strategy, markets, config, duration, speed, seed, on_start, underlying, feed_kind, interval_ms,
         json_output, plot_file, yes, bot)


def _run(ctx, sim, strategy, markets, config, duration, speed, seed, on_start, underlying, feed_kind, interval_ms,
         json_output, plot_file, yes, bot) -> None:
    from kalshi_trading.auto.botconfig import BotConfig, ConfigWatcher
    from kalshi_trading.auto.leases import MarketLeases, current_holder
    from kalshi_trading.auto.runner import BotRun, BotSetup, PidFile, install_stop_signals
    from kalshi_trading.auto.runtime_config import StoreConfigWatcher
    from kalshi_trading.auto.underlying import ExchangeClock, WallClock
    from kalshi_trading.ops.running import attach_bot

    app_ctx = _app_ctx(ctx)
    if sim:
        _use_auto_sim(app_ctx, speed, seed)
        duration = DEMO_DURATION if duration is None else duration
    s = app_ctx.settings
    if duration is not None and duration <= 0:
        raise UsageError("--duration must be more than 0 seconds")
    if s.is_prod and not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to run a bot on PROD (real money) without a terminal to confirm on; "
                             "rerun with --yes")
        if not typer.confirm(f"{env_badge('PROD')} run a trading bot with real money?", default=False):
            raise typer.Exit(1)
    watcher = None
    if config is not None:
        watcher = ConfigWatcher(config, WallClock().now)
        cfg = watcher.config
    else:
        cfg = BotConfig.default()
    if sim and config is None:
        # The demo quotes a market moving 60x faster than life; the default 30 orders a minute would keep
        # it off the book most of the time.
        cfg = dataclasses.replace(cfg, max_orders_per_minute=DEMO_ORDERS_PER_MINUTE)
    if interval_ms is not None or (sim and config is None):
        cfg = dataclasses.replace(cfg, loop_interval_ms=interval_ms or DEMO_INTERVAL_MS)
        if watcher is not None:
            watcher.override(cfg)  # stays in force until the file changes
    # the store's runtime configuration over the file (or the defaults); --interval-ms over both
    reloader = StoreConfigWatcher(app_ctx.store.runtime_config(), WallClock().now, base=cfg, file=watcher,
                                  pinned={"loop_interval_ms": interval_ms} if interval_ms is not None else None,
                                  location=app_ctx.store.url.masked)
    cfg = reloader.config
    client = app_ctx.client
    app_ctx.require_journal("the bot")  # every order it places is journalled first
    executor = app_ctx.executor
    strat_name = strategy or cfg.strategy
    strat, source = _strategy(strat_name, client, underlying)
    if markets:
        tickers = tuple(dict.fromkeys(t.strip().upper() for t in markets.split(",") if t.strip()))
    elif cfg.enabled_tickers:
        tickers = cfg.enabled_tickers
    elif sim:
        from kalshi_trading.auto.underlying import SimSpotUnderlying

        tickers = (_pick_market(client, source or SimSpotUnderlying(client), (duration or 0) * speed),)
    else:
        raise UsageError("name the markets to trade: --markets T1,T2 or [markets.\"T\"] tables in --config")
    clock = ExchangeClock(client)
    state_dir = s.env_data_dir
    state = app_ctx.bot_state(bot)  # closed (its decision log flushed) with the store
    leases = MarketLeases(app_ctx.store.leases(), current_holder(bot), bot, tickers,
                          ttl=lambda: reloader.config.lease_ttl_seconds)
    feed, feed_name = _open_feed(feed_kind, app_ctx, client, tickers)
    setup = BotSetup(client=client, executor=executor, state=state, strategy=strat, config=cfg, tickers=tickers,
                     clock=clock, feed=feed, feed_name=feed_name, env=s.env_label, watcher=reloader,
                     on_start=on_start, on_alert=_alert, leases=leases,
                     probe_store=lambda: app_ctx.store.check().problem)
    run = BotRun(setup)
    notify = attach_bot(run, s, bot=bot, on_close=app_ctx.on_close)  # the notifier and Telegram commands, if configured
    # alert rules, digests, /metrics (cli/ops_wiring.py); registered after the notifier, so closed before it
    ops = bot_ops(app_ctx, run, ctx.params, bot=bot, sink=notify.sink)
    reloader.passes = lambda: run.metrics.timer_passes
    stop = threading.Event()
    with PidFile(state_dir, bot):
        restore = install_stop_signals(stop)
        try:
            run.prepare()
            if not json_output:
                echo(f"{env_badge(s.env_label)} {strat.name} on {', '.join(tickers)} via {feed_name}; "
                     f"{'for ' + format(duration, 'g') + ' s' if duration else 'until Ctrl-C / kalshi auto kill'}"
                     f"{f' at x{speed:g}' if sim else ''}")
                if run.startup is not None and run.startup.changed:
                    echo(f"start-up reconciliation: {run.startup.summary()}")
            status = StatusLine(run)
            try:
                run.run(stop, duration, ops.status(status))
            finally:
                status.end()
        finally:
            try:
                cancelled = run.shutdown("stopped")
            finally:
                restore()
    report = run.report()
    report["shutdown_cancelled"] = cancelled
    edge = _edge_section(run, client, state)
    if edge is not None:
        report["edge"] = edge
    if plot_file is not None:
        from kalshi_trading.auto.report import plot

        plot(run.metrics, str(plot_file))
    if json_output:
        emit_json(report)
    else:
        from kalshi_trading.auto.report import render_text

        echo(render_text(report))
        if edge is not None:
            from kalshi_trading.auto.edge_report import render_edge

            echo(render_edge(edge))
        if plot_file is not None:
            echo(f"chart saved to {plot_file}")
    if run.failure is not None:
        raise StrategyHalted(f"{run.failure.reason()}. The bot cancelled its orders and is HALTED: fix the "
                             "strategy, then `kalshi auto resume`")
    if run.loop is not None and run.loop.risk.state.value == "halted":
        echo(style("the bot is HALTED; `kalshi auto resume` lets it trade again", fg="red", bold=True, err=True),
             err=True)


def _edge_section(run, client, state) -> Optional[dict]:
    """The edge taker's own report (predicted edge at entry against what each contract made), or None for any
    other strategy; a market that settled during the run is valued at its result, else at its mark."""
    from kalshi_trading.auto.edge_report import edge_report, settlement_values
    from kalshi_trading.auto.strategies import EdgeTaker
    from kalshi_trading.errors import ApiError

    taker = run.strategy.inner if run.strategy is not None else None
    if not isinstance(taker, EdgeTaker) or run.loop is None:
        return None
    markets = []
    for ticker in sorted({d.ticker for d in taker.decisions.values()}):
        try:
            markets.append(client.get_market(ticker))
        except ApiError as exc:  # valued at its mark instead
            echo(style(f"could not read {ticker} for the edge report ({exc}); valued at its mark", fg="yellow",
                       err=True), err=True)
    return edge_report(taker.decisions, state.fills(), run.loop.marks(), settlement_values(markets),
                       started=run.metrics.ex_start)


SIM_BOT = typer.Option(False, "--sim", help="The sim environment's bot (that of `auto --sim`).")
BOT_NAME = typer.Option("default", "--bot", help="Which bot (its --bot name).")


@auto_app.command("resume")
def resume_cmd(ctx: typer.Context, sim: bool = SIM_BOT, bot: str = BOT_NAME) -> None:
    """Let a halted bot trade again (a person's decision; the running bot picks it up within a second).

    Example:  kalshi auto resume
    Example:  kalshi auto resume --bot east
    """
    from kalshi_trading.auto.botconfig import BotConfig
    from kalshi_trading.auto.runner import resume
    from kalshi_trading.auto.underlying import WallClock

    _bot(bot)
    _state_dir(ctx, sim)  # with --sim: the sim environment's store
    old, new = resume(_app_ctx(ctx).bot_state(bot), BotConfig.default(), WallClock())
    echo(f"risk state {old} -> {new}")


@auto_app.command("kill")
def kill_cmd(ctx: typer.Context, sim: bool = SIM_BOT, bot: str = BOT_NAME,
             json_output: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Stop the running bot (SIGTERM: it cancels all its orders); if it is gone, cancel its orders here.

    On a market another bot has taken over meanwhile, only this bot's own orders are cancelled.

    Example:  kalshi auto kill
    Example:  kalshi auto kill --bot east
    """
    from kalshi_trading.auto.exchange import RestExchange
    from kalshi_trading.auto.leases import foreign_markets
    from kalshi_trading.auto.runner import kill, pid_alive, read_pid

    _bot(bot)
    app_ctx = _app_ctx(ctx)
    state_dir = _state_dir(ctx, sim)
    if sim and not pid_alive(read_pid(state_dir, bot)):
        _use_auto_sim(app_ctx, 1.0, None, quiet=True)
    # cancels go through the executor: journalled
    result = kill(state_dir, app_ctx.bot_state(bot), lambda: RestExchange(app_ctx.client, app_ctx.executor),
                  bot=bot, foreign=foreign_markets(app_ctx.store.leases(), bot))
    if json_output:
        emit_json(result)
    elif result["signalled"] and result["exited"]:
        echo(f"bot (pid {result['pid']}) stopped; it cancelled its orders")
    else:
        echo(f"bot not running; cancelled {result['cancelled_here']} orders via the API")


@auto_app.command("status")
def status_cmd(ctx: typer.Context,
               sim: bool = SIM_BOT,
               bot: str = BOT_NAME,
               method: str = typer.Option("avg", "--method", help="P&L by avg (average cost, the exchange's "
                                                                   "method) or fifo lots."),
               json_output: bool = typer.Option(False, "--json", help="Print as one JSON document.")) -> None:
    """Show the bot's saved state: running or not, risk state, positions, working orders, recent events.

    Also the store's leases: which bot trades which market, until when.

    Example:  kalshi auto status --json
    Example:  kalshi auto status --bot east
    """
    from kalshi_trading.auto.runner import status

    if method not in ("avg", "fifo"):
        raise UsageError("--method must be avg or fifo")
    _bot(bot)
    state_dir = _state_dir(ctx, sim)
    app_ctx = _app_ctx(ctx)
    doc = status(state_dir, app_ctx.bot_state(bot), method, bot)
    doc["leases"] = [{"name": lease.name, "holder": str(lease.holder), "expires": lease.expires.isoformat()}
                     for lease in app_ctx.store.leases().holders()]
    if json_output:
        emit_json(doc)
        return
    run = f"running (pid {doc['pid']})" if doc["running"] else "not running"
    risk = doc["risk_state"] or "active"
    echo(f"bot {bot} {run}; env {doc['env'] or '-'}; markets {', '.join(doc['markets']) or '-'}")
    colour = {"halted": "red", "reducing": "yellow"}.get(risk)
    echo(f"risk {style(risk.upper(), fg=colour, bold=True)}: {doc['risk_reason']} (since {doc['risk_since']})")
    echo(f"positions {doc['positions'] or '-'}; realized {doc['realized_pnl']} ({method}) fees {doc['fees']}")
    for o in doc["working_orders"]:
        echo(f"  working {o['ticker']} {o['side']} {o['yes_price']} x {o['remaining']} ({o['order_id']})")
    for e in doc["events"]:
        echo(f"  {e['ts']} {e['kind']}: {e['message']}")
    for lease in doc["leases"]:
        echo(f"  lease {lease['name']}: {lease['holder']} until {lease['expires']}")


def _bot(name: str) -> str:
    """--bot's value checked (a usage error, exit 2, names the rule)."""
    from kalshi_trading.store.base import check_bot_name

    return check_bot_name(name)



def _state_dir(ctx: typer.Context, sim: bool) -> Path:
    """The bot's directory (its PID file), the context pointed at the sim environment's store first with `sim`
    (the sim environment's bot, whatever the settings' environment; nothing is started)."""
    app_ctx = _app_ctx(ctx)
    if sim:  # its store is `<data dir>/sim`, as `kalshi auto --sim` uses it (never the user's KALSHI_STORE)
        app_ctx.use_sim_environment(app_ctx.settings.data_dir)
    return app_ctx.settings.env_data_dir


def register(app: typer.Typer) -> None:
    app.add_typer(auto_app, name="auto", help=AUTO_HELP)

