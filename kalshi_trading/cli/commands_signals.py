"""`kalshi discover`, `kalshi pipeline run|status`, `kalshi signals`, `kalshi paper orders|report`.

Thin: parse, build the services (`signals/`), render.  The pipeline's records live in the store
(`store.signals()`), so every read command works after (or while) `pipeline run` writes.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.ops_wiring import METRICS_ALLOW_REMOTE, METRICS_HOST, METRICS_PORT, pipeline_ops
from kalshi_trading.cli.render import cents, count, echo, emit_json, env_badge, iso, style, table, usd
from kalshi_trading.errors import UsageError

if TYPE_CHECKING:
    from kalshi_trading.signals.pipeline import CycleResult
    from kalshi_trading.signals.profiles import PipelineConfig

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
SINCE_OPTION = typer.Option(None, "--since", help="From this date or time (2026-11-21 or 2026-11-21T14:30:00Z).")
CONFIG_OPTION = typer.Option(None, "--config", help="Pipeline configuration file (TOML or JSON).")

pipeline_app = typer.Typer(help="Run the signal pipeline (discover, collect, model, signal, paper-trade).",
                           no_args_is_help=True)
paper_app = typer.Typer(help="Paper (and real) attempts of the signal pipeline: the orders and the report.",
                        no_args_is_help=True)


def _app_ctx(ctx: typer.Context):
    return ctx.find_root().obj


def _config(path: Optional[Path]) -> PipelineConfig:
    from kalshi_trading.signals.profiles import PipelineConfig, load_pipeline_config

    return load_pipeline_config(path) if path is not None else PipelineConfig()


def _outside(app_ctx, cfg: PipelineConfig, clock, **parts):
    """The collectors of `cfg.sources` (in the sim environment the simulator's /ext copies), closed with the
    command."""
    from kalshi_trading.signals.live import outside_data
    from kalshi_trading.signals.outside import sim_root_of

    client = app_ctx.client
    sim_root = sim_root_of(client.base_url) if app_ctx.settings.env == "sim" else None
    data = outside_data(cfg.sources, clock, sim_root=sim_root, **parts)
    app_ctx.on_close(data.close)
    return data


def _exchange_clock(client, warmup: float = 0.25):
    """The exchange's time (an accelerated simulator's too), safe to read from the collectors' threads; `warmup`
    0 for a single reading (no rate measured)."""
    from kalshi_trading.auto.underlying import ExchangeClock

    clock = ExchangeClock(client, warmup=warmup)
    lock = threading.Lock()

    def now() -> datetime:
        with lock:
            return clock.now()

    return now


def _split(values: Optional[list[str]]) -> tuple[str, ...]:
    return tuple(v.strip().upper() for text in values or () for v in text.split(",") if v.strip())


def discover(
    ctx: typer.Context,
    series: Optional[list[str]] = typer.Option(None, "--series", help="Series to auto-select (repeat or comma)."),
    keywords: Optional[list[str]] = typer.Option(
        None, "--keywords", help="A keyword group: any of these comma-separated words in title/subtitle (repeat)."),
    in_series: Optional[str] = typer.Option(None, "--in", help="Search the keyword groups within this series only."),
    tickers: Optional[list[str]] = typer.Option(None, "--ticker", help="Explicit market tickers (repeat or comma)."),
    events: Optional[list[str]] = typer.Option(None, "--event", help="Explicit events, all their markets."),
    config: Optional[Path] = CONFIG_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Find the markets the pipeline targets: by series (live auto-selection), keywords, tickers and events.

    With no flags the configuration's discovery (default: KXHIGHNY, KXBTC15M, KXBTCD) is used; --series
    replaces its series, the other flags add to it.

    Example:  kalshi discover --series KXBTCD --keywords bitcoin,btc --json
    """
    from kalshi_trading.errors import ConfigError
    from kalshi_trading.signals.discovery import Discoverer

    app_ctx = _app_ctx(ctx)
    cfg = _config(config)
    base = cfg.discovery
    try:  # a bad flag is bad input (exit 2), named as the flag; a bad file stays a configuration error
        wanted = _discovery_flags(base, series, keywords, in_series, tickers, events)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    client = app_ctx.client
    clock = _exchange_clock(client, warmup=0.0)
    spot = _outside(app_ctx, cfg, clock, weather=False, history=False).spot  # the KXBTCD strike rule's spot
    result = Discoverer(client, spot=spot).discover(wanted, clock())
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), "missing": list(result.missing), "notes": list(result.notes),
                   "markets": [{"ticker": d.market.ticker, "event_ticker": d.market.event_ticker,
                                "family": d.family.value if d.family else None, "via": d.via,
                                "status": d.market.status.value, "close_time": d.market.close_time,
                                "yes_bid": d.market.best_yes_bid, "yes_ask": d.market.best_yes_ask,
                                "strike_type": d.market.strike_type, "floor_strike": d.market.floor_strike,
                                "cap_strike": d.market.cap_strike} for d in result.found]})
    else:
        echo(f"{env_badge(env)} {len(result.found)} market(s)")
        echo(table([(d.market.ticker, d.family.value if d.family else "-", d.via, d.market.status.value,
                     iso(d.market.close_time) or "-", cents(d.market.best_yes_bid), cents(d.market.best_yes_ask))
                    for d in result.found], ["ticker", "family", "found by", "status", "closes", "bid", "ask"]))
    for note in result.notes:
        echo(style(f"note: {note}", fg="yellow", err=True), err=True)
    if result.missing:
        echo(style(f"warning: not found: {', '.join(result.missing)}", fg="yellow", err=True), err=True)


def _discovery_flags(base, series, keywords, in_series, tickers, events):
    """The configuration's discovery with the flags applied: --series replaces, the others add."""
    from kalshi_trading.signals.discovery import KeywordGroup
    from kalshi_trading.signals.profiles import parse_keywords, parse_series

    changes: dict = {}
    if series:
        changes["series"] = tuple(parse_series(s, "--series") for s in _split(series))
    if keywords:
        scope = parse_series(in_series, "--in") if in_series else None
        groups = parse_keywords([{"words": [w for w in k.split(",") if w.strip()]} for k in keywords], "--keywords")
        changes["keywords"] = base.keywords + tuple(KeywordGroup(g.words, scope) for g in groups)
    elif in_series:
        raise UsageError("--in names the series a --keywords group searches; give --keywords too")
    if tickers:
        changes["tickers"] = base.tickers + _split(tickers)
    if events:
        changes["events"] = base.events + _split(events)
    return dataclasses.replace(base, **changes)


@pipeline_app.command("run")
def pipeline_run(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Run one cycle, then stop."),
    profile: Optional[str] = typer.Option(None, "--profile", help="conservative | balanced | aggressive."),
    mode: Optional[str] = typer.Option(None, "--mode", help="simulate | sim | demo | live (where orders go)."),
    bot_mode: Optional[str] = typer.Option(None, "--bot-mode", help="demo_safe (default) | live_safe | live_auto."),
    config: Optional[Path] = CONFIG_OPTION,
    duration: Optional[float] = typer.Option(None, "--duration", help="Stop after this many seconds."),
    interval: Optional[float] = typer.Option(None, "--interval", help="Seconds between cycles (default 30)."),
    sim: bool = typer.Option(False, "--sim", help="Run on the sim environment's simulator (<data dir>/sim), its "
                                                 "outside sources included (refused when KALSHI_ENV is not sim)."),
    speed: Optional[float] = typer.Option(None, "--speed", parser=ranges.number(*ranges.SPEED),
                                          help="With --sim: simulated seconds per real second, 0.01 to 1000 "
                                               "(default 1)."),
    seed: Optional[int] = typer.Option(None, "--seed", parser=ranges.whole(*ranges.SEED),
                                       help="With --sim: seed of the simulated exchange if it does not exist yet."),
    confirm_live_auto: bool = typer.Option(False, "--confirm-live-auto",
                                           help="With KALSHI_CONFIRM_LIVE_AUTO=yes: enter live_auto without a prompt."),
    json_output: bool = JSON_OPTION,
    metrics_port: Optional[int] = METRICS_PORT,
    metrics_host: str = METRICS_HOST,
    metrics_allow_remote: bool = METRICS_ALLOW_REMOTE,
) -> None:
    """Run the pipeline: each cycle discovers markets, collects, models, stores signals and paper-trades them.

    A status line per cycle goes to stderr.  Ctrl-C stops cleanly after the current cycle.  Only one pipeline
    runs per store (a second is refused, exit 3).  In the sim environment the outside sources are the
    simulator's loopback copies (no network); --sim runs that simulator, at --speed.  live_auto asks for
    confirmation (or --confirm-live-auto with KALSHI_CONFIRM_LIVE_AUTO=yes) and needs production keys.

    Example:  kalshi pipeline run --sim --duration 60 --speed 30 --interval 2
    """
    from kalshi_trading.signals.modes import confirm_live_auto as gate
    from kalshi_trading.signals.modes import parse_bot_mode, parse_engine_mode, resolve_modes
    from kalshi_trading.signals.profiles import PRESETS, preset

    app_ctx = _app_ctx(ctx)
    settings = app_ctx.settings
    if sim and settings.env != "sim":
        raise UsageError(f"--sim runs on the simulator, but KALSHI_ENV is {settings.env}; unset it or set it to sim")
    if not sim and (speed is not None or seed is not None):
        raise UsageError(f"{'--speed' if speed is not None else '--seed'} applies to the simulator: add --sim")
    if duration is not None and not 0 < duration <= 7 * 86_400:
        raise UsageError(f"--duration must be between 0 and {7 * 86_400} seconds, not {duration:g}")
    if interval is not None and not 1 <= interval <= 86_400:
        raise UsageError(f"--interval must be between 1 and 86400 seconds, not {interval:g}")
    cfg = _config(config)
    if profile is not None:
        if profile.strip().lower() not in PRESETS:
            raise UsageError(f"--profile must be one of {', '.join(PRESETS)}, not {profile!r}")
        cfg = dataclasses.replace(cfg, profile=preset(profile.strip().lower(), "--profile"))
    if interval is not None:
        cfg = dataclasses.replace(cfg, interval_s=interval)
    modes = resolve_modes(parse_bot_mode(bot_mode) if bot_mode else cfg.bot_mode,
                          parse_engine_mode(mode) if mode else cfg.mode, settings.env)
    ask = (lambda text: typer.prompt(text, default="", show_default=False)) if sys.stdin.isatty() else None
    gate(modes, has_prod_keys=bool(settings.api_key_id and settings.private_key_path), limits=cfg.profile.limits_text(),
         flag=confirm_live_auto, environ=os.environ, ask=ask)
    if sim:
        _use_sim(app_ctx, speed, seed)
    pipeline = _build_pipeline(app_ctx, cfg, modes.engine)
    from kalshi_trading.ops.running import attach_pipeline  # the notifier and Telegram commands, if configured

    notify = attach_pipeline(pipeline, app_ctx.settings, modes, app_ctx.client, on_close=app_ctx.on_close)
    # digests, alert rules, /metrics (cli/ops_wiring.py); registered after the notifier, so closed before it
    ops = pipeline_ops(app_ctx, pipeline, ctx.params, mode=modes.engine.value, sink=notify.sink)
    if not json_output:
        echo(f"{env_badge(settings.env_label)} pipeline: bot mode {modes.bot.value}, engine {modes.engine.value}, "
             f"{cfg.profile.limits_text()}; every {cfg.interval_s:g} s"
             f"{' for ' + format(duration, 'g') + ' s' if duration else (' once' if once else ' until Ctrl-C')}")
    results = _run(pipeline, once, duration, ops.on_cycle(_status_line))
    summary = {"environment": settings.env, "bot_mode": modes.bot.value, "mode": modes.engine.value,
               "profile": cfg.profile.name, "cycles": len(results),
               "signals": sum(len(r.signals) for r in results), "actionable": sum(r.actionable for r in results),
               "attempts": sum(len(r.attempts) for r in results),
               "by_outcome": _outcomes(a for r in results for a in r.attempts),
               "failed_cycles": sum(1 for r in results if r.status.value == "failed")}
    if json_output:
        emit_json(summary)
    else:
        echo(table([(k.replace("_", " "), str(v) if not isinstance(v, dict) else
                     ", ".join(f"{o} {n}" for o, n in v.items() if n) or "-") for k, v in summary.items()], ["", ""]))


def _use_sim(app_ctx, speed: Optional[float], seed: Optional[int]) -> None:
    """Run the sim environment's exchange in this process at `speed` (or use the one another process serves)."""
    server = app_ctx.use_simulator(app_ctx.settings.data_dir, speed=speed or 1.0, seed=seed)
    if server is None and (speed is not None or seed is not None):
        echo(style("the simulated exchange is served by another process (kalshi sim serve): running at its own "
                   "speed; --speed and --seed do not apply", fg="yellow", err=True), err=True)


def _outcomes(attempts) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in attempts:
        counts[a.outcome.value] = counts.get(a.outcome.value, 0) + 1
    return counts


def _build_pipeline(app_ctx, cfg: PipelineConfig, engine_mode):
    from kalshi_trading.signals.discovery import Discoverer
    from kalshi_trading.signals.engine import Engine, ExecutorPlacer
    from kalshi_trading.signals.live import build_sources
    from kalshi_trading.signals.pipeline import Pipeline
    from kalshi_trading.trading.fees import FeeSchedule

    client = app_ctx.client
    store = app_ctx.store.signals()
    placer = None
    if engine_mode.sends_orders:
        app_ctx.require_journal("the pipeline's orders")  # every order is journalled before it is sent
        placer = ExecutorPlacer(app_ctx.executor)
    clock = _exchange_clock(client)
    engine = Engine(client, store, cfg.profile, engine_mode, placer=placer, clock=clock)
    data = _outside(app_ctx, cfg, clock)
    return Pipeline(Discoverer(client, spot=data.spot), store, cfg, engine, build_sources(cfg.models, data),
                    FeeSchedule(client).for_market, clock, prepare=data.prepare)


def _run(pipeline, once: bool, duration: Optional[float], on_cycle=None) -> list[CycleResult]:
    stop = threading.Event()
    restore = _stop_on_signals(stop) if threading.current_thread() is threading.main_thread() else None
    try:
        return pipeline.run(once=once, duration=duration, stop=stop, on_cycle=on_cycle or _status_line)
    finally:
        if restore is not None:
            restore()


def _stop_on_signals(stop: threading.Event):
    """The first Ctrl-C (or SIGTERM) lets the current cycle finish; a second Ctrl-C interrupts it (exit 130)."""
    import logging
    import signal

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        logging.getLogger(__name__).warning("signal %s: stopping after the current cycle", signum)
        echo("stopping after the current cycle (Ctrl-C again to stop now)", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _status_line(result: CycleResult) -> None:
    health = " ".join(f"{h.source}:{h.status.value}" for h in result.health) or "-"
    outcomes = ", ".join(f"{o} {n}" for o, n in _outcomes(result.attempts).items()) or "no attempts"
    text = (f"{result.finished.strftime('%H:%M:%S')} cycle {result.cycle_id} {result.status.value}: "
            f"{result.markets} markets, {len(result.signals)} signals ({result.actionable} actionable), "
            f"{outcomes}; sources {health}")
    if result.error:
        text += f"; error: {result.error}"
    echo(text, err=True)


@pipeline_app.command("status")
def pipeline_status(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """The last cycle, each source's health in it, and who holds the store's pipeline lease.

    Example:  kalshi pipeline status --json
    """
    from kalshi_trading.signals.pipeline import LEASE

    app_ctx = _app_ctx(ctx)
    store = app_ctx.store.signals()
    cycles = store.cycles(limit=1)
    last = cycles[0] if cycles else None
    health = store.health(last.id) if last is not None else []
    lease = store.lease(LEASE)
    now = datetime.now(timezone.utc)
    running = lease is not None and lease.expires > now
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), "running": running, "lease": lease, "last_cycle": last,
                   "health": health})
        return
    echo(f"{env_badge(env)} pipeline {'running (' + lease.holder + ')' if running and lease else 'not running'}")
    if last is None:
        echo("no cycle recorded yet (kalshi pipeline run)")
        return
    echo(table([("cycle", str(last.id)), ("started", iso(last.started) or "-"), ("finished", iso(last.finished) or "-"),
                ("status", last.status.value), ("mode", last.mode), ("profile", last.profile),
                ("markets", str(last.markets)), ("signals", str(last.signals)), ("attempts", str(last.attempts)),
                ("error", last.error or "-")], ["", ""]))
    echo(table([(h.source, h.status, "-" if h.latency_ms is None else f"{h.latency_ms} ms", h.reason or "")
                for h in health], ["source", "health", "latency", "reason"]))


def signals_cmd(
    ctx: typer.Context,
    since: Optional[str] = SINCE_OPTION,
    ticker: Optional[str] = typer.Option(None, "--ticker", help="Only this market."),
    actionable: bool = typer.Option(False, "--actionable", help="Only signals with a direction."),
    limit: int = typer.Option(50, "--limit", "-n", help="The newest N signals (0 = all)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Stored signals: model probability vs the market, edge net of the taker fee, direction.

    Example:  kalshi signals --actionable --since 2026-11-21 --json
    """
    from kalshi_trading.cli.parsing import parse_date

    if limit < 0:
        raise UsageError(f"--limit must be 0 or more, not {limit}")
    app_ctx = _app_ctx(ctx)
    rows = app_ctx.store.signals().signals(since=parse_date(since), ticker=ticker.strip().upper() if ticker else None,
                                           actionable=True if actionable else None, limit=limit or None)
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), "signals": rows})
        return
    echo(f"{env_badge(env)} {len(rows)} signal(s)")
    echo(table(signal_rows(rows), list(SIGNAL_HEADERS)))


SIGNAL_HEADERS = ("time", "ticker", "model", "p(yes)", "mid", "price", "edge bps", "conf", "direction")
ATTEMPT_HEADERS = ("time", "ticker", "direction", "mode", "outcome", "count", "limit", "filled", "avg", "order", "why")


def signal_rows(rows) -> list[tuple[str, ...]]:
    """`kalshi signals`' rows (the dashboard shows the same)."""
    return [(iso(s.at) or "-", s.ticker, s.model, str(s.model_prob), "-" if s.market_mid is None else str(s.market_mid),
             cents(s.trade_price), "-" if s.edge_bps is None else str(s.edge_bps), str(s.confidence), s.direction)
            for s in rows]


def attempt_rows(rows) -> list[tuple[str, ...]]:
    """`kalshi paper orders`' rows (the dashboard shows the same)."""
    return [(iso(a.at) or "-", a.ticker, a.direction, a.mode, a.outcome.value, count(a.count), cents(a.limit_price),
             count(a.fill_count) if a.fill_count else "-", cents(a.fill_price), a.order_id or "-",
             (f"[{a.rule}] " if a.rule else "") + (a.reason or "")) for a in rows]


@paper_app.command("orders")
def paper_orders(ctx: typer.Context, since: Optional[str] = SINCE_OPTION,
                 ticker: Optional[str] = typer.Option(None, "--ticker", help="Only this market."),
                 json_output: bool = JSON_OPTION) -> None:
    """Every attempt and its outcome: filled, unfilled, submitted (order id), rejected (why), skipped (rule).

    Example:  kalshi paper orders --since 2026-11-21 --json
    """
    from kalshi_trading.cli.parsing import parse_date

    app_ctx = _app_ctx(ctx)
    rows = app_ctx.store.signals().attempts(since=parse_date(since), ticker=ticker.strip().upper() if ticker else None)
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), "attempts": rows})
        return
    echo(f"{env_badge(env)} {len(rows)} attempt(s)")
    echo(table(attempt_rows(rows), list(ATTEMPT_HEADERS)))


@paper_app.command("report")
def paper_report_cmd(ctx: typer.Context, since: Optional[str] = SINCE_OPTION,
                     calibration: bool = typer.Option(False, "--calibration",
                                                      help="Add Brier, log loss vs market mid, a 10-bin table."),
                     json_output: bool = JSON_OPTION) -> None:
    """Attempts by outcome, fills, P&L marked to market and settled, hit rate, edge at entry vs realized.

    Example:  kalshi paper report --calibration --json
    """
    from kalshi_trading.cli.parsing import parse_date
    from kalshi_trading.signals.report import calibration as calibrate
    from kalshi_trading.signals.report import calibration_by_family, paper_report

    app_ctx = _app_ctx(ctx)
    store = app_ctx.store.signals()
    start = parse_date(since)
    attempts = store.attempts(since=start)
    signals = store.signals(since=start) if calibration else []
    tickers = {a.ticker for a in attempts if a.fill_count > 0} | {s.ticker for s in signals}
    markets = markets_now(app_ctx.client, tickers)
    report = paper_report(attempts, markets)
    cal = calibrate(signals, markets) if calibration else None
    families = calibration_by_family(signals, markets) if calibration else {}
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), **{k: v for k, v in dataclasses.asdict(report).items()
                                                   if k != "rows"}, "calibration": cal,
                   "calibration_by_family": families})
        return
    echo(f"{env_badge(env)} paper report{' since ' + since if since else ''}")
    echo(table(paper_report_rows(report), ["", ""]))
    if cal is not None:
        _render_calibration(cal, "all families")
        for family, one in families.items():
            _render_calibration(one, family)


def markets_now(client, tickers: set[str]) -> dict:
    """The markets as they are now, from the live tier, or the historical one for those settled long ago."""
    from kalshi_trading.errors import NotFoundError

    if not tickers:
        return {}
    batch = client.get_markets_by_tickers(sorted(tickers))
    markets = dict(batch.found)
    for ticker in batch.unknown:
        try:
            markets[ticker] = client.get_historical_market(ticker)
        except NotFoundError:
            continue  # unknown to both tiers: neither marked nor scored
    return markets


def paper_report_rows(report) -> list[tuple[str, str]]:
    """`kalshi paper report`'s rows (the dashboard shows the same)."""
    return [("attempts", ", ".join(f"{o} {n}" for o, n in report.by_outcome.items())),
            ("fills", f"{report.fills} ({count(report.contracts)} contracts, cost {usd(report.cost)}, "
                      f"fees {usd(report.fees)})"),
            ("P&L settled", usd(report.pnl_settled, signed=True)),
            ("P&L marked", usd(report.pnl_marked, signed=True)),
            ("hit rate", "-" if report.hit_rate is None else f"{report.hit_rate * 100:.1f}%"),
            ("avg edge at entry", "-" if report.avg_edge_entry_bps is None else f"{report.avg_edge_entry_bps} bps"),
            ("avg edge realized", "-" if report.avg_edge_realized_bps is None
             else f"{report.avg_edge_realized_bps} bps")]


def calibration_rows(cal) -> tuple[str, list[tuple[str, str, str]], list[tuple[str, str, str, str]]]:
    """The calibration as `kalshi paper report --calibration` shows it: the count line, the scores' rows (score,
    model, market mid) and the bins' rows (bin, signals, mean forecast, observed)."""
    def num(x: Optional[float]) -> str:
        return "-" if x is None else f"{x:.4f}"

    line = f"{cal.signals} settled signal(s) on {cal.markets} market(s) ({cal.with_mid} with a market mid)"
    scores = [("Brier", num(cal.brier_model), num(cal.brier_market)),
              ("log loss", num(cal.log_loss_model), num(cal.log_loss_market))]
    bins = [(f"{b.lo:.1f}-{b.hi:.1f}", str(b.count), num(b.mean_forecast), num(b.observed)) for b in cal.bins]
    return line, scores, bins


def _render_calibration(cal, title: str) -> None:
    line, scores, bins = calibration_rows(cal)
    echo(f"\ncalibration, {title}: {line}")
    echo(table(scores, ["score", "model", "market mid"]))
    echo(table(bins, ["bin", "signals", "mean forecast", "observed"]))


def register(app: typer.Typer) -> None:
    app.command("discover")(discover)
    app.add_typer(pipeline_app, name="pipeline")
    app.command("signals")(signals_cmd)
    app.add_typer(paper_app, name="paper")
