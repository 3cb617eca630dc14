"""`kalshi order ...`, `kalshi orders`, `kalshi cancel`, `kalshi amend`: every write previews and confirms."""

from __future__ import annotations

from typing import Optional

import typer

from kalshi_trading.cli.parsing import parse_count, parse_price, parse_when
from kalshi_trading.cli.render import count as show_count
from kalshi_trading.cli.render import echo, emit_json, env_badge, style, usd
from kalshi_trading.cli.views import (
    amend_preview_json,
    confirm_action,
    confirm_amend,
    confirm_order,
    order_json,
    order_result_json,
    preview_json,
    render_order_result,
    render_orders,
)
from kalshi_trading.errors import KalshiError, UsageError

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
TIFS = {"gtc": "good_till_canceled", "ioc": "immediate_or_cancel", "fok": "fill_or_kill"}

order_app = typer.Typer(help="Place orders and check their status.", no_args_is_help=True)


def _tif(value: str):
    from kalshi_trading.models import TimeInForce

    try:
        return TimeInForce(TIFS[value.lower()])
    except KeyError:
        raise UsageError(f"--tif must be gtc, ioc or fok, not {value!r}") from None


def _intent(side: str, sell: bool):
    """(contract, action) from the command line; the trading modules load only when a command runs."""
    from kalshi_trading.models import Action
    from kalshi_trading.trading.executor import parse_side

    return parse_side(side), Action.SELL if sell else Action.BUY


@order_app.command("limit")
def order_limit(
    ctx: typer.Context,
    ticker: str = typer.Argument(..., help="Market ticker."),
    side: str = typer.Argument(..., help="yes or no: the contract to trade."),
    count: str = typer.Argument(..., help="Contracts, in steps of 0.01."),
    price: str = typer.Argument(..., help="Cents 1-99 (52) or dollars with a leading 0. (0.52, 0.525)."),
    sell: bool = typer.Option(False, "--sell", help="Sell the contract instead of buying it."),
    tif: str = typer.Option("gtc", "--tif", help="gtc, ioc or fok."),
    post_only: bool = typer.Option(False, "--post-only", help="Refuse to cross the book (maker only)."),
    reduce_only: bool = typer.Option(False, "--reduce-only", help="Only shrink the position."),
    expires: Optional[str] = typer.Option(None, "--expires", help="30m, 2h, or an ISO-8601 time (gtc only)."),
    yes: bool = YES_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Place a limit order (previewed and confirmed).

    Example:  kalshi order limit TICKER yes 10 52
    Example:  kalshi order limit TICKER no 2.5 0.475 --sell --tif ioc --yes
    """
    app_ctx = ctx.obj
    contract, action = _intent(side, sell)
    qty, px = parse_count(count), parse_price(price)
    time_in_force = _tif(tif)
    expiration = parse_when(expires) if expires else None
    app_ctx.require_journal("placing an order")  # the write-ahead intent: refused before any preview
    ex = app_ctx.executor
    market = ex.market(ticker)
    preview = ex.preview(market.ticker, contract, action, qty, px, time_in_force=time_in_force, post_only=post_only,
                         reduce_only=reduce_only, expiration=expiration, market=market)
    confirm_order(preview, yes, json_output)
    result = ex.place_limit_order(market.ticker, contract, action, qty, px, time_in_force=time_in_force,
                                  post_only=post_only, expiration=expiration, reduce_only=reduce_only, market=market)
    _show_result(result, preview, json_output)


@order_app.command("market")
def order_market(
    ctx: typer.Context,
    ticker: str = typer.Argument(..., help="Market ticker."),
    side: str = typer.Argument(..., help="yes or no."),
    count: str = typer.Argument(..., help="Contracts, in steps of 0.01."),
    sell: bool = typer.Option(False, "--sell", help="Sell instead of buy."),
    max_price: Optional[str] = typer.Option(None, "--max-price", help="Worst price to accept (min when selling)."),
    yes: bool = YES_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Buy or sell now: an immediate-or-cancel limit at a protective price (Kalshi has no market orders).

    Example:  kalshi order market TICKER yes 5 --max-price 60
    """
    app_ctx = ctx.obj
    contract, action = _intent(side, sell)
    qty = parse_count(count)
    limit = parse_price(max_price) if max_price else None
    ioc = _tif("ioc")
    app_ctx.require_journal("placing an order")  # the write-ahead intent: refused before any preview
    ex = app_ctx.executor
    market = ex.market(ticker)
    price = ex.market_order_price(market, contract, action, qty, limit)
    preview = ex.preview(market.ticker, contract, action, qty, price, time_in_force=ioc, market=market)
    confirm_order(preview, yes, json_output)
    result = ex.place_limit_order(market.ticker, contract, action, qty, price, time_in_force=ioc, market=market)
    _show_result(result, preview, json_output)


def _show_result(result, preview, json_output: bool) -> None:
    if json_output:
        emit_json({**order_result_json(result), "preview": preview_json(preview)})
    else:
        echo(render_order_result(result))


@order_app.command("status")
def order_status(ctx: typer.Context, order_id: str = typer.Argument(..., help="Order id."),
                 json_output: bool = JSON_OPTION) -> None:
    """One order's status, fills and fees.

    Example:  kalshi order status ORDER_ID --json
    """
    app_ctx = ctx.obj
    order = app_ctx.executor.status(order_id)
    if json_output:
        emit_json({"environment": app_ctx.settings.env, **order_json(order)})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} order {order.order_id}")
    echo(render_orders([order]))
    echo(f"fees paid {usd(order.fees)}")


def orders(ctx: typer.Context, ticker: Optional[str] = typer.Option(None, "--ticker", "-t", help="Only this market."),
           json_output: bool = JSON_OPTION) -> None:
    """Open (resting) orders.

    Example:  kalshi orders --ticker TICKER
    """
    app_ctx = ctx.obj
    found = app_ctx.executor.open_orders(ticker.upper() if ticker else None)
    if json_output:
        emit_json({"environment": app_ctx.settings.env, "orders": [order_json(o) for o in found]})
        return
    echo(f"{env_badge(app_ctx.settings.env_label)} {len(found)} open order(s)")
    echo(render_orders(found))


def cancel(
    ctx: typer.Context,
    order_id: Optional[str] = typer.Argument(None, help="Order id (or use --all)."),
    all_orders: bool = typer.Option(False, "--all", help="Cancel every open order."),
    ticker: Optional[str] = typer.Option(None, "--ticker", "-t", help="With --all: only this market."),
    yes: bool = YES_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Cancel one order, or all of them.

    Example:  kalshi cancel ORDER_ID   |   kalshi cancel --all --ticker TICKER --yes
    """
    app_ctx = ctx.obj
    env = app_ctx.settings.env_label
    ex = app_ctx.executor
    if all_orders == bool(order_id):
        raise UsageError("give an order id or --all (not both)")
    if ticker and not all_orders:
        raise UsageError("--ticker goes with --all")
    if all_orders:
        scope = f"all open orders on {ticker.upper()}" if ticker else "ALL open orders"
        if not confirm_action(env, f"cancel {scope}", yes):
            raise typer.Exit(0)
        acks = ex.cancel_all(ticker.upper() if ticker else None)
        if json_output:
            cancelled = [{"order_id": a.order_id, "reduced_by": a.reduced_by} for a in acks]
            emit_json({"environment": env.lower(), "cancelled": cancelled})
        else:
            echo(f"{env_badge(env)} cancelled {len(acks)} order(s)")
        return
    order = ex.status(order_id)
    if not confirm_action(env, f"cancel order {order.order_id} ({order.ticker})", yes):
        raise typer.Exit(0)
    ack = ex.cancel(order.order_id)
    if json_output:
        emit_json({"environment": env.lower(), "order_id": ack.order_id, "client_order_id": ack.client_order_id,
                   "reduced_by": ack.reduced_by, "already_gone": ack.already_gone})
    else:
        echo(f"{env_badge(env)} cancelled order {ack.order_id}: {ack.reduced_by} contracts no longer resting")


def amend(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., help="Order id."),
    price: Optional[str] = typer.Option(None, "--price", help="New price (cents 1-99 or dollars 0.xx)."),
    count: Optional[str] = typer.Option(None, "--count", help="New resting count."),
    yes: bool = YES_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Change a resting order's price and/or size (previewed and confirmed, like an order).

    A new price that crosses the book executes at once as a taker: the preview says so.

    Example:  kalshi amend ORDER_ID --price 50 --count 4
    """
    app_ctx = ctx.obj
    env = app_ctx.settings.env_label
    new_price = parse_price(price) if price is not None else None
    new_count = parse_count(count) if count is not None else None
    if new_price is None and new_count is None:
        raise UsageError("give --price, --count, or both")
    app_ctx.require_journal("amending an order")  # amends are journalled, and read the order's side from it
    ex = app_ctx.executor
    preview = ex.preview_amend(order_id, price=new_price, count=new_count)
    confirm_amend(preview, yes, json_output)
    ack = ex.amend(preview.order_id, price=new_price, count=new_count)
    try:
        after = ex.status(preview.order_id)
    except KalshiError as exc:
        # The exchange applied the amend; only reading the order back failed.  Say what the amend answered.
        _amend_applied_unread(env, ack, preview, exc, json_output)
        return
    if json_output:
        emit_json({"environment": env.lower(), **order_json(after), "preview": amend_preview_json(preview)})
    else:
        echo(f"{env_badge(env)} amended")
        echo(render_orders([after]))


def _amend_applied_unread(env: str, ack, preview, exc: KalshiError, json_output: bool) -> None:
    warning = f"warning: the amend was applied, but reading the order back failed: {exc}"
    if json_output:
        emit_json({"environment": env.lower(), "order_id": ack.order_id, "amended": True,
                   "fill_count": ack.fill_count, "remaining_count": ack.remaining_count,
                   "average_fill_price": ack.average_fill_price, "refresh_error": str(exc),
                   "preview": amend_preview_json(preview)})
    else:
        echo(f"{env_badge(env)} amended order {ack.order_id}: filled {show_count(ack.fill_count)}, "
             f"resting {show_count(ack.remaining_count)} (as the amend answered)")
    echo(style(warning, fg="yellow", err=True), err=True)
    echo(f"check it with: kalshi order status {ack.order_id}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(order_app, name="order")
    app.command("orders")(orders)
    app.command("cancel")(cancel)
    app.command("amend")(amend)
