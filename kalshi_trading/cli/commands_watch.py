"""`kalshi watch TICKER...`: live top of book, depth, spread and last trades, from the WebSocket (or REST polling)."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, List, Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.commands_market import get_markets
from kalshi_trading.cli.render import cents, count, echo, env_badge, iso, style, table, to_jsonable
from kalshi_trading.errors import UsageError

if TYPE_CHECKING:
    from kalshi_trading.marketdata.events import TradeMsg

REDRAW_EVERY = 0.1  # seconds: at most ten screens a second
WATCH_CHANNELS = ("orderbook_delta", "trade", "ticker")


def build_feed(app_ctx, poll: bool, interval: float):
    """The WebSocket feed (signed with this environment's key), or the REST polling fallback."""
    if poll:
        from kalshi_trading.marketdata.feed_poll import PollingFeed

        return PollingFeed(app_ctx.client, interval=interval)
    from kalshi_trading.api.signer import Signer
    from kalshi_trading.marketdata.feed_ws import WebSocketFeed
    from kalshi_trading.config import load_private_key

    url = app_ctx.settings.ws_url(app_ctx.base_url())
    key_id, key_path, password = app_ctx.credentials()
    return WebSocketFeed(url, Signer(key_id, load_private_key(key_path, password)), WATCH_CHANNELS,
                         read_timeout=app_ctx.settings.read_timeout * 3)


def event_json(event) -> str:
    """One --json line: the event's fields (exact decimal strings, ISO-8601 UTC) plus `event`."""
    from kalshi_trading.marketdata.events import EVENT_KIND

    doc = {"event": EVENT_KIND[type(event)]}
    doc.update(to_jsonable(event))
    return json.dumps(doc, separators=(",", ":"))


def book_json(book, ts) -> str:
    return json.dumps(to_jsonable({
        "event": "book", "ticker": book.ticker, "ts": ts, "stale": book.stale,
        "best_bid": book.best_bid, "best_bid_size": book.best_bid_size, "best_ask": book.best_ask,
        "best_ask_size": book.best_ask_size, "spread": book.spread, "mid": book.mid,
    }), separators=(",", ":"))


class Screen:
    """The text view: one block per market; redrawn in place on a terminal, appended otherwise."""

    def __init__(self, env_label: str, source: str, tickers: list[str], depth: int, trades: int, tty: bool):
        self.env_label, self.source, self.tickers = env_label, source, tickers
        self.depth = depth
        self.tty = tty
        self.trades: dict[str, deque[TradeMsg]] = {t: deque(maxlen=trades) for t in tickers}
        self.status = "connecting"
        self._lines = 0

    def note(self, event) -> None:
        name = type(event).__name__
        if name == "TradeMsg" and event.ticker in self.trades:
            self.trades[event.ticker].appendleft(event)
        elif name == "Disconnected":
            self.status = f"disconnected: {event.reason}"
        elif name in ("Reconnected", "BookUpdated"):
            self.status = "live"
        elif name == "FeedError":
            self.status = f"error {event.code}: {event.message}"

    def render(self, feed) -> str:
        now = datetime.now(timezone.utc).strftime("%H:%M:%S")
        stats = feed.stats
        head = (f"{env_badge(self.env_label)} watch via {self.source}  {now} UTC  {self.status}  "
                f"({stats.messages + stats.polls} updates, {feed.resyncs} resyncs)")
        blocks = [head]
        for t in self.tickers:
            blocks.append(self._market(t, feed.books.get(t)))
        return "\n".join(blocks)

    def _market(self, ticker: str, book) -> str:
        if book is None:
            return f"\n{ticker}: not followed"
        if book.stale:
            return f"\n{style(ticker, bold=True)}  " + style(f"(resyncing: {book.stale_reason})", fg="yellow")
        top = (f"\n{style(ticker, bold=True)}  bid {cents(book.best_bid)} x {count(book.best_bid_size)}  |  "
               f"ask {cents(book.best_ask)} x {count(book.best_ask_size)}  spread {cents(book.spread)}  "
               f"mid {cents(book.mid)}")
        bids, asks = book.depth(self.depth)
        rows = []
        for i in range(max(len(bids), len(asks))):
            b = bids[i] if i < len(bids) else None
            a = asks[i] if i < len(asks) else None
            rows.append((count(b.count) if b else "", cents(b.price) if b else "",
                         cents(a.price) if a else "", count(a.count) if a else ""))
        depth = table(rows, ["bid size", "YES bid", "YES ask", "ask size"], colalign=("right",) * 4) if rows \
            else "(empty book)"
        trades = [f"{cents(tr.yes_price)} x {count(tr.count)} ({tr.taker_book_side or '?'}) "
                  f"{tr.ts.strftime('%H:%M:%S')}" for tr in self.trades.get(ticker, ())]
        last = "last trades: " + (", ".join(trades) if trades else "-")
        return "\n".join([top, depth, last])

    def draw(self, feed) -> None:
        text = self.render(feed)
        if self.tty:
            if self._lines:
                sys.stdout.write(f"\x1b[{self._lines}F\x1b[J")  # back to the top of the last screen, clear below
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            self._lines = text.count("\n") + 1
        else:
            echo(text + "\n")


def watch(
    ctx: typer.Context,
    tickers: List[str] = typer.Argument(..., help="One or more market tickers."),
    json_output: bool = typer.Option(False, "--json", help="Stream one JSON line per event instead of a screen."),
    poll: bool = typer.Option(False, "--poll", help="Poll the REST order book instead of the WebSocket."),
    interval: float = typer.Option(1.0, "--interval", parser=ranges.number(*ranges.POLL_SECONDS),
                                   help="Seconds between polls with --poll (0.1 to 300)."),
    duration: Optional[float] = typer.Option(None, "--duration", parser=ranges.number(*ranges.RUN_SECONDS),
                                             help="Stop by itself after this many seconds (0.1 to 31536000)."),
    depth: int = typer.Option(5, "--depth", "-d", parser=ranges.whole(*ranges.WATCH_DEPTH),
                              help="Levels per side to show (1 to 100)."),
) -> None:
    """Watch markets live: top of book, depth, spread and the last trades.

    Redraws in place on a terminal; prints a new block per update otherwise.  Ctrl-C stops.

    Example:  kalshi watch TICKER --depth 3 --duration 60
    """
    if duration is not None and duration <= 0:
        raise UsageError("--duration must be positive")
    if interval <= 0:
        raise UsageError("--interval must be positive")
    if depth <= 0:
        raise UsageError("--depth must be positive")
    app_ctx = ctx.obj
    wanted = list(dict.fromkeys(m.ticker for m in get_markets(app_ctx.client, tickers)))  # unknown -> exit 4
    feed = build_feed(app_ctx, poll, interval)
    screen = None
    if json_output:
        echo(json.dumps({"event": "start", "environment": app_ctx.settings.env, "source": "poll" if poll else "ws",
                         "tickers": wanted, "ts": iso(datetime.now(timezone.utc))}, separators=(",", ":")))
    else:
        screen = Screen(app_ctx.settings.env_label, "REST polling" if poll else "WebSocket", wanted, depth, 5,
                        sys.stdout.isatty())
    deadline = None if duration is None else time.monotonic() + duration
    feed.subscribe(wanted)
    feed.start()
    try:
        _loop(feed, screen, deadline)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one leaves: a clean exit
    finally:
        feed.stop()
    if screen is not None and not screen.tty:
        echo(f"stopped: {feed.stats.messages + feed.stats.polls} updates, {feed.resyncs} resyncs")


def _loop(feed, screen, deadline) -> None:
    while deadline is None or time.monotonic() < deadline:
        wait = REDRAW_EVERY if deadline is None else max(0.0, min(REDRAW_EVERY, deadline - time.monotonic()))
        changed = False
        for event in feed.events(timeout=wait):
            if screen is None:
                name = type(event).__name__
                echo(book_json(feed.books[event.ticker], event.ts) if name == "BookUpdated"
                     and event.ticker in feed.books else event_json(event))
            else:
                screen.note(event)
                changed = True
        if screen is not None and changed:
            screen.draw(feed)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
