"""Turning service results into tables and JSON documents; shared by the subcommands and the menu."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Iterable

import typer

from kalshi_trading.cli.render import cents, count, env_badge, iso, style, table, usd
from kalshi_trading.errors import UsageError
from kalshi_trading.money import ONE


# ------------------------------------------------------------------ orders
def preview_rows(p) -> list[tuple[str, str]]:
    verb = f"{p.action.value.upper()} {count(p.count)} {p.side.value.upper()} @ {cents(p.price)}"
    rows = [
        ("environment", env_badge(p.env)),
        ("market", f"{p.ticker}  {p.title}"),
        ("order", verb + f"  ({p.time_in_force.value}{', post-only' if p.post_only else ''}"
                         f"{', reduce-only' if p.reduce_only else ''})"),
        ("exchange side", f"{p.book_side.value} @ YES {cents(p.yes_price)}"),
        ("notional", usd(p.notional)),
        ("estimated fee", f"{usd(p.estimated_fee)} ({p.fee_kind}{', crosses the book' if p.would_cross else ''})"),
        ("max loss", usd(p.max_loss)),
        ("position", f"{_signed_position(p.position_before)} -> {_signed_position(p.position_after)}"),
        ("cash if filled", f"{usd(p.cash_before)} -> {usd(p.cash_after)}"),
    ]
    if p.expiration is not None:
        rows.append(("expires", iso(p.expiration)))
    return rows


def render_preview(p) -> str:
    return table(preview_rows(p), ["order preview", ""])


def preview_json(p) -> dict:
    return {
        "environment": p.env.lower(), "ticker": p.ticker, "side": p.side.value, "action": p.action.value,
        "count": p.count, "price": p.price, "yes_price": p.yes_price, "book_side": p.book_side.value,
        "time_in_force": p.time_in_force.value, "notional": p.notional, "estimated_fee": p.estimated_fee,
        "fee_kind": p.fee_kind, "would_cross": p.would_cross, "max_loss": p.max_loss,
        "position_before": p.position_before, "position_after": p.position_after, "cash_before": p.cash_before,
        "cash_after": p.cash_after,
    }


def confirm_order(preview, assume_yes: bool, json_output: bool = False) -> None:
    """Show the preview and ask; `--yes` skips the question; no terminal and no `--yes` is a refusal."""
    if not json_output or not assume_yes:
        typer.echo(render_preview(preview), err=json_output)
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("no terminal to confirm on: nothing was sent; rerun with --yes to place orders unattended")
    prompt = "Send this order?"
    if preview.env == "PROD":
        prompt = style("REAL MONEY on PROD. ", fg="red", bold=True) + prompt
    if not typer.confirm(prompt, default=False):
        raise typer.Exit(0)


def confirm_action(env: str, description: str, assume_yes: bool) -> bool:
    """Confirm a cancel or amend the same way orders are confirmed."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"no terminal to confirm on: did not {description}; rerun with --yes")
    return typer.confirm(f"{env_badge(env)} {description}?", default=False)


def order_result_json(r) -> dict:
    return {"environment": r.env.lower(), "order_id": r.order_id, "client_order_id": r.client_order_id,
            "ticker": r.ticker, "side": r.side.value, "action": r.action.value, "status": r.status,
            "fill_count": r.fill_count, "remaining_count": r.remaining_count, "unfilled_count": r.unfilled_count,
            "average_price": r.average_price, "fees": r.fees}


def render_order_result(r) -> str:
    lines = [f"{env_badge(r.env)} order {r.order_id} {style(r.status, bold=True)}: "
             f"{r.action.value} {r.side.value.upper()} {r.ticker}"]
    filled = f"filled {count(r.fill_count)}"
    if r.average_price is not None:
        filled += f" at avg {cents(r.average_price)}"
    if r.fees is not None:
        filled += f", fees {usd(r.fees)}"
    lines.append(filled)
    if r.remaining_count > 0:
        lines.append(f"resting {count(r.remaining_count)}")
    if r.unfilled_count > 0:
        lines.append(style(f"not filled {count(r.unfilled_count)} (cancelled: no more liquidity at the limit)",
                           fg="yellow"))
    if r.recovered:
        lines.append("(the exchange already had this order from an earlier attempt; it was not sent twice)")
    return "\n".join(lines)


def order_json(o) -> dict:
    return {"order_id": o.order_id, "client_order_id": o.client_order_id, "ticker": o.ticker, "status": o.status,
            "book_side": o.book_side, "outcome_side": o.outcome_side, "yes_price": o.yes_price,
            "no_price": o.no_price, "fill_count": o.fill_count, "remaining_count": o.remaining_count,
            "initial_count": o.initial_count, "fees": o.fees, "created_time": o.created_time,
            "expiration_time": o.expiration_time}


def render_orders(orders: Iterable) -> str:
    rows = [(o.order_id, o.ticker, _describe_order(o), count(o.remaining_count), count(o.fill_count), o.status,
             iso(o.created_time) or "-") for o in orders]
    return table(rows, ["order id", "ticker", "order", "resting", "filled", "status", "created"])


def _describe_order(o) -> str:
    if o.book_side == "bid":
        return f"buy YES @ {cents(o.yes_price)}"
    return f"sell YES @ {cents(o.yes_price)} (= buy NO @ {cents(ONE - o.yes_price)})"


# ------------------------------------------------------------------ market data
def market_json(m) -> dict:
    return {"ticker": m.ticker, "event_ticker": m.event_ticker, "title": m.title, "status": m.status,
            "yes_sub_title": m.yes_sub_title, "yes_bid": m.yes_bid, "yes_bid_size": m.yes_bid_size,
            "yes_ask": m.yes_ask, "yes_ask_size": m.yes_ask_size, "no_bid": m.no_bid, "no_ask": m.no_ask,
            "last_price": m.last_price, "volume": m.volume, "volume_24h": m.volume_24h,
            "open_interest": m.open_interest, "open_time": m.open_time, "close_time": m.close_time,
            "result": m.result, "tick_sizes": _steps(m),
            "rules_primary": m.rules_primary}


def render_markets(markets) -> str:
    rows = [(m.ticker, _short(m.title or m.yes_sub_title, 44), m.status, cents(m.yes_bid) if m.yes_bid else "-",
             cents(m.yes_ask) if m.yes_ask else "-", cents(m.last_price) if m.last_price else "-", count(m.volume),
             iso(m.close_time) or "-") for m in markets]
    return table(rows, ["ticker", "title", "status", "bid", "ask", "last", "volume", "closes"])


def render_market(m) -> str:
    steps = ", ".join(_steps(m))
    rows = [("ticker", m.ticker), ("title", m.title), ("yes means", m.yes_sub_title), ("status", m.status),
            ("yes bid / ask",
             f"{cents(m.yes_bid)} x {count(m.yes_bid_size)} / {cents(m.yes_ask)} x {count(m.yes_ask_size)}"),
            ("no bid / ask", f"{cents(m.no_bid)} / {cents(m.no_ask)}"), ("last", cents(m.last_price)),
            ("volume (24h)", f"{count(m.volume)} ({count(m.volume_24h)})"), ("open interest", count(m.open_interest)),
            ("tick size", steps), ("opens", iso(m.open_time) or "-"), ("closes", iso(m.close_time) or "-")]
    if m.result:
        rows.append(("result", m.result))
    if m.rules_primary:
        rows.append(("rules", _short(m.rules_primary, 200)))
    return table(rows, ["market", ""])


def _steps(m) -> list[str]:
    return sorted({f"{r.step.normalize():f}" for r in m.price_grid.ranges}, key=Decimal)


def book_json(book, depth: int | None) -> dict:
    bids, asks = _sides(book, depth)
    return {"ticker": book.ticker,
            "yes_bids": [{"price": lvl.price, "count": lvl.count} for lvl in bids],
            "yes_asks": [{"price": lvl.price, "count": lvl.count} for lvl in asks],
            "no_bids": [{"price": ONE - lvl.price, "count": lvl.count} for lvl in asks],
            "no_asks": [{"price": ONE - lvl.price, "count": lvl.count} for lvl in bids],
            "best_yes_bid": book.best_yes_bid.price if book.best_yes_bid else None,
            "best_yes_ask": book.best_yes_ask.price if book.best_yes_ask else None,
            "spread": (book.best_yes_ask.price - book.best_yes_bid.price)
            if book.best_yes_bid and book.best_yes_ask else None}


def render_book(book, depth: int | None) -> str:
    """YES bids and asks side by side, with the NO price each level means."""
    bids, asks = _sides(book, depth)
    rows = []
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        rows.append((count(b.count) if b else "", cents(b.price) if b else "", cents(ONE - b.price) if b else "",
                     cents(a.price) if a else "", cents(ONE - a.price) if a else "", count(a.count) if a else ""))
    head = ["bid size", "YES bid", "(NO ask)", "YES ask", "(NO bid)", "ask size"]
    spread = ""
    if book.best_yes_bid and book.best_yes_ask:
        spread = f"\nspread {cents(book.best_yes_ask.price - book.best_yes_bid.price)}, mid {cents(book.mid)}"
    return table(rows, head, colalign=("right",) * 6) + spread


def _sides(book, depth: int | None):
    bids, asks = list(book.yes_bids), list(book.yes_asks)
    if depth:
        bids, asks = bids[:depth], asks[:depth]
    return bids, asks


# ------------------------------------------------------------------ portfolio
def _signed_position(position: Decimal) -> str:
    if position == 0:
        return "flat"
    return f"{count(abs(position))} {'YES' if position > 0 else 'NO'}"


def summary_json(s) -> dict:
    return {
        "environment": s.env.lower(), "as_of": s.as_of, "method": s.method, "balance": s.balance,
        "portfolio_value": s.portfolio_value, "realized_pnl": s.realized_pnl, "unrealized_pnl": s.unrealized_pnl,
        "fees_paid": s.fees_paid, "net_pnl": s.net_pnl,
        "positions": [{"ticker": p.ticker, "position": p.position, "mark": p.mark, "mark_source": p.mark_source,
                       "market_value": p.market_value, "cost_basis": p.cost_basis, "realized_pnl": p.realized_pnl,
                       "unrealized_pnl": p.unrealized_pnl, "fees_paid": p.fees_paid, "net_pnl": p.net_pnl}
                      for p in s.positions],
        "tickers": [{"ticker": t.ticker, "position": t.position, "realized_pnl": t.realized_pnl,
                     "unrealized_pnl": t.unrealized_pnl, "fees_paid": t.fees_paid, "net_pnl": t.net_pnl}
                    for t in s.tickers],
        "discrepancies": [{"ticker": d.ticker, "field": d.field, "journal": d.ours, "exchange": d.exchange}
                          for d in s.discrepancies],
        "missing": [{"ticker": m.ticker, "reason": m.source, "error": str(m.error) if m.error else None}
                    for m in s.missing],
    }


def render_positions(s) -> str:
    rows = [(p.ticker, _signed_position(p.position), cents(p.mark) if p.mark is not None else "-", p.mark_source,
             usd(p.cost_basis), usd(p.market_value), usd(p.unrealized_pnl, signed=True)) for p in s.positions]
    return table(rows, ["ticker", "position", "mark", "marked by", "cost", "value", "unrealized"])


def render_totals(s) -> str:
    rows = [("cash available", usd(s.balance)), ("portfolio value", usd(s.portfolio_value)),
            ("realized P&L", usd(s.realized_pnl, signed=True)), ("unrealized P&L", usd(s.unrealized_pnl, signed=True)),
            ("fees paid", usd(s.fees_paid)), ("net P&L", usd(s.net_pnl, signed=True))]
    return table(rows, ["totals", ""], colalign=("left", "right"))


def render_pnl(s) -> str:
    rows = [(t.ticker, _signed_position(t.position), usd(t.realized_pnl, signed=True),
             usd(t.unrealized_pnl, signed=True), usd(t.fees_paid), usd(t.net_pnl, signed=True)) for t in s.tickers]
    return table(rows, ["ticker", "position", "realized", "unrealized", "fees", "net"])


def render_discrepancies(s) -> str:
    return "\n".join(style(f"warning: {d}", fg="yellow") for d in s.discrepancies)


def _short(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
