"""`kalshi markets`, `kalshi market TICKER`, `kalshi book TICKER`: market data, thin over the client."""

from __future__ import annotations

from typing import Optional

import typer

from kalshi_trading import ids
from kalshi_trading.cli import ranges
from kalshi_trading.cli.render import echo, emit_json, env_badge
from kalshi_trading.cli.views import book_json, market_json, render_book, render_market, render_markets
from kalshi_trading.errors import NotFoundError, UsageError

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
STATUSES = ("unopened", "open", "paused", "closed", "settled")


def search_markets(client, query: str | None, series: str | None, event: str | None, status: str | None,
                   limit: int) -> list:
    """Markets whose ticker, title or subtitle contain every word of `query` (case-insensitive)."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status must be one of {', '.join(STATUSES)}")
    if limit <= 0:
        raise UsageError("--limit must be positive")
    words = (query or "").lower().split()
    found = []
    for m in client.iter_markets(series_ticker=series, event_ticker=event, status=status):
        text = f"{m.ticker} {m.title} {m.yes_sub_title} {m.event_ticker}".lower()
        if all(w in text for w in words):
            found.append(m)
            if len(found) >= limit:
                break
    return found


def get_market(client, ticker: str):
    ticker = ids.market_ticker(ticker)  # UsageError naming the documented form; upper case
    try:
        return client.get_market(ticker)
    except NotFoundError:
        raise NotFoundError(f"no market {ticker}; find one with: kalshi markets QUERY", status=404,
                            code="not_found") from None


def get_markets(client, tickers: list[str]) -> list:
    """Several markets with one batch read, in the order given (each once); unknown ones exit 4, naming them."""
    wanted = [t for t in dict.fromkeys(t.strip().upper() for t in tickers) if t]
    if not wanted:
        raise UsageError("a market ticker is required")
    read = client.get_markets_by_tickers(wanted)
    if read.failed:
        raise next(iter(read.failed.values()))
    if read.unknown:
        raise NotFoundError(f"no market {', '.join(read.unknown)}; find one with: kalshi markets QUERY", status=404,
                            code="not_found")
    return [read.found[t] for t in wanted]


def market_and_book(client, ticker: str, depth: int | None):
    """A market and its order book, read at the same time (one round trip)."""
    from kalshi_trading.api.batch import ReadPool

    ticker = ticker.strip().upper()
    if not ticker:
        raise UsageError("a market ticker is required")
    with ReadPool(2, name="kalshi-book") as pool:
        market = pool.submit(get_market, client, ticker)
        book = pool.submit(client.get_orderbook, ticker, depth)
        pool.wait([market, book])
        return market.result(), book.result()  # an unknown ticker: get_market's message, exit 4


def markets(
    ctx: typer.Context,
    query: Optional[str] = typer.Argument(None, help="Words to find in the ticker or title."),
    series: Optional[str] = typer.Option(None, "--series", help="Only this series, e.g. KXBTCD."),
    event: Optional[str] = typer.Option(None, "--event", help="Only this event."),
    status: Optional[str] = typer.Option("open", "--status", help="unopened, open, paused, closed or settled."),
    limit: int = typer.Option(20, "--limit", "-n", parser=ranges.whole(*ranges.MARKET_LIMIT),
                              help="Show at most this many (1 to 1000)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Search markets.

    Example:  kalshi markets bitcoin --series KXBTCD --limit 5
    """
    app_ctx = ctx.obj
    found = search_markets(app_ctx.client, query, series, event, status, limit)
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "markets": [market_json(m) for m in found]})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} {len(found)} market(s)")
    echo(render_markets(found))


def market(ctx: typer.Context, ticker: str = typer.Argument(..., help="Market ticker."),
           json_output: bool = JSON_OPTION) -> None:
    """One market: prices, sizes, volume, tick size, times, rules.

    Example:  kalshi market TICKER
    """
    app_ctx = ctx.obj
    m = get_market(app_ctx.client, ticker)
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "market": market_json(m)})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} {m.ticker}")
    echo(render_market(m))


def book(ctx: typer.Context, ticker: str = typer.Argument(..., help="Market ticker."),
         depth: int = typer.Option(10, "--depth", "-d", parser=ranges.whole(*ranges.BOOK_DEPTH),
                                   help="Levels per side, 0 to 100 (0 = all)."),
         json_output: bool = JSON_OPTION) -> None:
    """The order book: YES bids and asks side by side, with the NO prices they mean.

    Example:  kalshi book TICKER --depth 5
    """
    if depth < 0:
        raise UsageError("--depth must be 0 (all) or positive")
    app_ctx = ctx.obj
    m, ob = market_and_book(app_ctx.client, ticker, depth or None)
    if json_output:
        emit_json({"environment": app_ctx.settings.env, **book_json(ob, depth or None)})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} {m.ticker} order book ({m.status})")
    echo(render_book(ob, depth or None))


def register(app: typer.Typer) -> None:
    app.command("markets")(markets)
    app.command("market")(market)
    app.command("book")(book)
