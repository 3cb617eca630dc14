"""`kalshi demo`: a guided tour against the simulated exchange (refuses to run anywhere else)."""

from __future__ import annotations

from decimal import Decimal

import typer

from kalshi_trading.cli.render import echo, env_badge, style
from kalshi_trading.cli.views import render_book, render_markets, render_order_result, render_orders, render_preview
from kalshi_trading.errors import UsageError


def _step(n: int, text: str) -> None:
    echo()
    echo(style(f"{n}. {text}", bold=True))


def pick_market(client):
    """An open market with both a bid and an ask (a spread to quote inside), else the first open one."""
    candidates = list(client.iter_markets(status="open", series_ticker="KXBTCD", limit=60))
    for m in candidates:
        if m.best_yes_bid is not None and m.best_yes_ask is not None:
            return m, candidates
    if not candidates:
        raise UsageError("the simulator lists no open markets right now; try again in a moment")
    return candidates[len(candidates) // 2], candidates


def demo(ctx: typer.Context) -> None:
    """A two-minute tour on the simulator: markets, a book, an order previewed, placed, cancelled, the portfolio.

    Example:  kalshi demo
    """
    from kalshi_trading.models import Action, Side

    app_ctx = ctx.obj
    s = app_ctx.settings
    if s.env != "sim":
        raise UsageError(f"kalshi demo only runs against the simulator (KALSHI_ENV is {s.env})")
    client = app_ctx.client
    echo(f"{env_badge(s.env_label)} a simulated exchange that speaks Kalshi's API, "
         f"running on {client.base_url}")
    _step(1, "Your simulated account")
    bal = client.get_balance()
    echo(f"cash {bal.balance:,.2f} dollars, portfolio value {bal.portfolio_value:,.2f}")

    _step(2, "Open Bitcoin markets (kalshi markets --series KXBTCD)")
    market, candidates = pick_market(client)
    echo(render_markets(candidates[:8]))

    _step(3, f"The order book of {market.ticker} (kalshi book {market.ticker})")
    book = client.get_orderbook(market.ticker)
    echo(render_book(book, 5))

    _step(4, "Preview a small order one tick below the best bid (kalshi order limit ... --post-only)")
    ex = app_ctx.executor
    best_bid = book.best_yes_bid.price if book.best_yes_bid else None
    price = market.price_grid.next_below(best_bid) if best_bid else market.price_grid.min_price
    price = price or market.price_grid.min_price
    preview = ex.preview(market.ticker, Side.YES, Action.BUY, Decimal(1), price,
                         post_only=True, market=market)
    echo(render_preview(preview))

    _step(5, "Place it (the demo confirms for you; real commands ask, or take --yes)")
    result = ex.place_limit_order(market.ticker, Side.YES, Action.BUY, preview.count, price, post_only=True,
                                  market=market)
    echo(render_order_result(result))
    echo(render_orders(ex.open_orders(market.ticker)))

    _step(6, f"Cancel it (kalshi cancel {result.order_id})")
    if result.status == "resting":
        ack = ex.cancel(result.order_id)
        echo(f"cancelled: {ack.reduced_by} contracts no longer resting")
    else:
        echo(f"nothing to cancel: the order is {result.status}")

    _step(7, "Your portfolio (kalshi portfolio)")
    from kalshi_trading.cli.views import render_positions, render_totals

    summary = app_ctx.portfolio.summary()
    echo(render_positions(summary))
    echo(render_totals(summary))
    echo()
    echo("Next: kalshi menu | kalshi --help | kalshi order limit TICKER yes 10 52 | kalshi sim advance 1h")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
