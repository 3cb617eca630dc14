"""`kalshi record`, `kalshi replay` and `kalshi history download`: market data kept for replay (docs/recording.md)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.render import echo, emit_json, env_badge, table
from kalshi_trading.errors import UsageError

if TYPE_CHECKING:
    from kalshi_trading.replay.recorder import RecordCounts

RECORD_CHANNELS = ("orderbook_delta", "trade", "ticker", "market_lifecycle_v2")
SNAPSHOT_SECONDS = (0.1, 86_400.0)
CANDLE_PERIODS = {"1m": 1, "1h": 60, "1d": 1440}


def _tickers(app_ctx, tickers: list[str] | None, series: str | None, status: str | None,
             live: bool = True) -> list[str]:
    """The markets named, plus those of `series` (with `status`), each once.  With `live` the named ones must be
    in the live tier (unknown ones exit 4); without, they are only checked for form (history reaches further)."""
    from kalshi_trading import ids
    from kalshi_trading.cli.commands_market import get_markets

    if tickers and live:
        wanted = [m.ticker for m in get_markets(app_ctx.client, tickers)]
    else:
        wanted = [ids.market_ticker(t) for t in tickers or ()]
    if series:
        found = [m.ticker for m in app_ctx.client.iter_markets(series_ticker=series.strip().upper(), status=status)]
        if not found:
            raise UsageError(f"no {status + ' ' if status else ''}markets in series {series.strip().upper()}")
        wanted += found
    if not wanted:
        raise UsageError("name at least one market ticker, or a series with --series")
    return list(dict.fromkeys(wanted))


def _counts_line(counts: RecordCounts) -> str:
    return (f"{counts.snapshots} snapshots, {counts.deltas} deltas, {counts.trades} trades, {counts.tickers} tickers, "
            f"{counts.lifecycle} lifecycle, {counts.stale} stale")


class _Progress:
    """One progress line on stderr: redrawn every second on a terminal, a line every 10 s otherwise."""

    def __init__(self, writer, markets: int):
        self.writer, self.markets = writer, markets
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, counts: RecordCounts) -> None:
        now = time.monotonic()
        if not self.tty and now - self._last < 10:
            return
        self._last = now
        line = (f"recording {self.markets} market(s) {now - self.started:6.0f} s: {_counts_line(counts)}, "
                f"{self.writer.bytes_written() / 1e6:.2f} MB")
        sys.stderr.write(f"\r{line}\x1b[K" if self.tty else line + "\n")
        sys.stderr.flush()

    def end(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def record(
    ctx: typer.Context,
    tickers: Optional[List[str]] = typer.Argument(None, help="Market tickers to record."),
    series: Optional[str] = typer.Option(None, "--series", help="Also record every open market of this series."),
    duration: Optional[float] = typer.Option(None, "--duration", parser=ranges.number(*ranges.RUN_SECONDS),
                                             help="Stop by itself after this many seconds (0.1 to 31536000)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Recording directory (default: <data dir>/<env>/"
                                                            "recordings)."),
    snapshot_every: Optional[float] = typer.Option(
        None, "--snapshot-every", parser=ranges.number(*SNAPSHOT_SECONDS),
        help="Ask for fresh snapshots this often (seconds, 0.1 to 86400): checkpoints a replay verifies."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Record markets' order books, trades, tickers and lifecycle events for replay.

    Writes daily gzip JSON-lines files (book_l2 rows with receive time and sequence number; trades, tickers and
    lifecycle beside them; gaps as explicit resync markers), flushed every second.  Ctrl-C stops cleanly.

    Example:  kalshi record TICKER --duration 120 --out recordings
    """
    from kalshi_trading.api.signer import Signer
    from kalshi_trading.config import load_private_key
    from kalshi_trading.marketdata.feed_ws import WebSocketFeed
    from kalshi_trading.replay.recorder import Recorder
    from kalshi_trading.replay.writer import SessionWriter

    app_ctx = ctx.obj
    wanted = _tickers(app_ctx, tickers, series, "open")
    directory = out or app_ctx.settings.env_data_dir / "recordings"
    key_id, key_path, password = app_ctx.credentials()
    url = app_ctx.settings.ws_url(app_ctx.base_url())
    feed = WebSocketFeed(url, Signer(key_id, load_private_key(key_path, password)), RECORD_CHANNELS,
                         read_timeout=app_ctx.settings.read_timeout * 3)
    writer = SessionWriter(directory, wanted, datetime.now(timezone.utc), environment=app_ctx.settings.env,
                           source=url)
    recorder = Recorder(feed, writer)
    progress = _Progress(writer, len(wanted))
    stop = threading.Event()
    started = time.monotonic()
    restore = _stop_on_signals(stop)
    try:
        feed.subscribe(wanted)
        feed.start()
        recorder.run(duration=duration, stop=stop, snapshot_every=snapshot_every, on_progress=progress)
    finally:
        restore()
        feed.stop()
        progress.end()
        writer.close(datetime.now(timezone.utc), recorder.counts.as_dict(), recorder.clock_fit())
    _summary(app_ctx, writer, wanted, recorder.counts, time.monotonic() - started, json_output)


def _stop_on_signals(stop: threading.Event):
    """Ctrl-C (and SIGTERM) ask the loop to stop between two rows, so no gzip stream is cut mid-write; a second
    Ctrl-C interrupts at once.  Returns the function that puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return restore


def _summary(app_ctx, writer, tickers: list[str], counts, seconds: float, json_output: bool) -> None:
    files = [str(p) for p in writer.files]
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "directory": str(writer.directory), "session": writer.session,
                   "tickers": tickers, "seconds": round(seconds, 3), "counts": counts.as_dict(), "files": files})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} recorded {len(tickers)} market(s) for {seconds:.1f} s into "
         f"{writer.directory} (session {writer.session})")
    echo(f"  {_counts_line(counts)}; {writer.bytes_written() / 1e6:.2f} MB in {len(files)} file(s)")


def replay(
    ctx: typer.Context,
    directory: Path = typer.Argument(..., help="A recording directory (from kalshi record)."),
    tickers: Optional[List[str]] = typer.Option(None, "--ticker", "-t", help="Only these markets (repeatable); "
                                                "default: the one market recorded there."),
    since: Optional[str] = typer.Option(None, "--from", help="From this time (2026-11-21 or ISO-8601)."),
    until: Optional[str] = typer.Option(None, "--to", help="Up to this time, inclusive."),
    events: bool = typer.Option(False, "--events", help="Stream every event as a JSON line (as kalshi watch --json)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Replay a recording through the replay feed: what it holds, its checkpoints, gaps and problems.

    A damaged file, an unknown record or markets mixed up stop with the file and line (exit 2 or 3); a cut-off
    tail and sequence gaps are reported, and each gap keeps its books stale until their next snapshot.

    Example:  kalshi replay recordings --json
    """
    from kalshi_trading.cli.commands_watch import event_json
    from kalshi_trading.marketdata.events import EVENT_KIND
    from kalshi_trading.replay.feed import ReplayFeed
    from kalshi_trading.replay.reader import Recording

    start, end = _range(since, until)
    recording = Recording(directory)
    wanted = recording.check_markets(tickers) if tickers else [recording.pick_market()]
    feed = ReplayFeed(recording, start=start, end=end)
    feed.subscribe(wanted)
    kinds: Counter[str] = Counter()
    for event in feed.events():
        kinds[EVENT_KIND[type(event)]] += 1
        if events:
            echo(event_json(event))
    doc = {"directory": str(recording.path), "markets": wanted, "recorded_markets": list(recording.markets),
           "sessions": list(recording.sessions), "days": [d.isoformat() for d in recording.days],
           "events": dict(kinds), "checkpoints": feed.checkpoints, "resyncs": feed.resyncs,
           "gaps": len(feed.gaps), "problems": [str(p) for p in feed.problems],
           "books": {t: _top(feed.books[t]) for t in wanted}}
    if events:
        echo(json.dumps({"event": "summary", **doc}, separators=(",", ":"), default=str))
    elif json_output:
        emit_json(doc)
    else:
        _print_replay(doc)


def _range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """--from and --to (a day: its start and its end; or an ISO-8601 time), in order."""
    from kalshi_trading.cli.parsing import parse_date

    start, end = parse_date(since), parse_date(until, end_of_day=True)
    if start is not None and end is not None and start > end:
        raise UsageError(f"--from {since} is after --to {until}")
    return start, end


def _top(book) -> dict[str, Any]:
    """The last state of a book (shown even when it ended stale, with the reason)."""
    from kalshi_trading.replay.schema import price_text

    yes, no = book.levels_units()
    return {"stale": book.stale_reason, "levels": len(yes) + len(no),
            "best_bid": price_text(book.best_bid_units) if book.best_bid_units else None,
            "best_ask": price_text(book.best_ask_units) if book.best_ask_units else None}


def _print_replay(doc: dict[str, Any]) -> None:
    echo(f"{doc['directory']}: {len(doc['sessions'])} session(s), days {', '.join(doc['days'])}; "
         f"markets {', '.join(doc['recorded_markets'])}")
    echo(table(sorted(doc["events"].items()), ["event", "count"], colalign=("left", "right")))
    echo(f"checkpoints matched: {doc['checkpoints']}; resyncs: {doc['resyncs']}; sequence gaps: {doc['gaps']}")
    for text in doc["problems"]:
        echo(f"problem: {text}", err=True)


def download(
    ctx: typer.Context,
    tickers: Optional[List[str]] = typer.Argument(None, help="Market tickers."),
    series: Optional[str] = typer.Option(None, "--series", help="Also every market of this series (its ticker is "
                                         "used for the candle requests)."),
    since: Optional[str] = typer.Option(None, "--from", help="From this time (default: a day before --to)."),
    until: Optional[str] = typer.Option(None, "--to", help="Up to this time (default: now)."),
    period: str = typer.Option("1m", "--period", help="Candle period: 1m, 1h or 1d."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory (default: <data dir>/<env>/history)."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Download Kalshi's own trades and candlesticks (live and historical tiers) as JSON lines.

    Example:  kalshi history download TICKER --from 2026-11-01 --period 1h --out recordings
    """
    from kalshi_trading.replay.history import download as fetch

    if period not in CANDLE_PERIODS:
        raise UsageError(f"--period {period!r} is not one of {', '.join(CANDLE_PERIODS)}")
    start, end = _range(since, until)
    end = end or datetime.now(timezone.utc)
    start = start or end - timedelta(days=1)
    if start > end:
        raise UsageError(f"--from {since} is after --to {until or 'now'}")
    app_ctx = ctx.obj
    wanted = _tickers(app_ctx, tickers, series, None, live=False)
    directory = out or app_ctx.settings.env_data_dir / "history"
    cutoff, done = fetch(app_ctx.client, wanted, start, end, directory, period=CANDLE_PERIODS[period],
                         series=series.strip().upper() if series else None)
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "directory": str(directory), "from": start, "to": end,
                   "cutoff": {"trades_created": cutoff.trades_created, "market_settled": cutoff.market_settled},
                   "markets": [{"ticker": m.ticker, "tier": m.tier, "trades": m.trades,
                                "historical_trades": m.historical_trades, "candles": m.candles,
                                "files": [str(p) for p in m.files]} for m in done]})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} history {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC into "
         f"{directory} (historical tier: trades before {cutoff.trades_created:%Y-%m-%d %H:%M})")
    echo(table([(m.ticker, m.tier, m.trades, m.historical_trades, m.candles) for m in done],
               ["ticker", "market tier", "trades", "of which historical", f"{period} candles"]))


def register(app: typer.Typer) -> None:
    app.command("record")(record)
    app.command("replay")(replay)


def register_history(history_app: typer.Typer) -> None:
    """`kalshi history download` (the group is `kalshi history`, the journal's listing, in commands_portfolio)."""
    history_app.command("download")(download)
