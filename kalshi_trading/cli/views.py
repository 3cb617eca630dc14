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
    """The order preview as (label, value) rows; cash is available cash, as `kalshi balance` shows it."""
    verb = f"{p.action.value.upper()} {count(p.count)} {p.side.value.upper()} @ {cents(p.price)}"
    rows = [
        ("environment", env_badge(p.env)),
        ("market", f"{p.ticker}  {p.title}"),
        ("order", verb + f"  ({p.time_in_force.value}{', post-only' if p.post_only else ''}"
                         f"{', reduce-only' if p.reduce_only else ''})"),
        ("exchange side", f"{p.book_side.value} @ YES {cents(p.yes_price)}"),
        ("best opposite", _best(p.side, p.action, p.best_price)),
        ("notional", usd(p.notional)),
    ]
    rows += _effect_rows(p.effects, p.side, p.time_in_force.value, p.fee_kind)
    if p.expiration is not None:
        rows.append(("expires", iso(p.expiration) or "-"))
    rows += [("warning", style(w, fg="yellow", bold=True)) for w in preview_warnings(p.effects, p.side, p.count)]
    return rows


def _best(side, action, best: Decimal | None) -> str:
    word = "ask" if action.value == "buy" else "bid"
    return f"{side.value.upper()} {word} {cents(best)}" if best is not None else f"no {side.value.upper()} {word}"


def _effect_rows(e, side, tif: str, fee_kind: str, cash_before: Decimal | None = None) -> list[tuple[str, str]]:
    """Fills, rest, fee, max loss, position and cash: now (when placed) and once all of it has filled.

    `cash_before` is the balance shown first when it differs from `e.cash_before` (an amend counts the
    order's current hold as released before re-reserving)."""
    rows = [("fills now", _fills(e, side))]
    if e.resting > 0:
        rows.append(("rests", f"{count(e.resting)} as a maker (holds {usd(e.held)} of cash until it fills)"))
    if e.unfilled > 0:
        why = "self-trade prevention" if e.self_trade else tif
        rows.append(("cancelled", f"{count(e.unfilled)} not filled ({why})"))
    fee = f"{usd(e.fees)} ({fee_kind}"
    if e.executions and e.resting > 0:
        fee += f": {usd(e.taker_fee)} now, {usd(e.maker_fee)} if the rest fills"
    rows.append(("estimated fee", fee + ")"))
    rows.append(("max loss", f"{usd(e.max_loss)} (what the contracts it opens cost, plus fees)"))
    rows.append(("position", _path(_signed_position, e.position_before, e.position_now, e.position_if_filled, e)))
    before = e.cash_before if cash_before is None else cash_before
    rows.append(("cash available", _path(usd, before, e.cash_now, e.cash_if_filled, e)))
    return rows


def _fills(e, side) -> str:
    if not e.executions:
        return "none"
    parts = ", ".join(f"{count(x.count)} @ {cents(_on(side, x.yes_price))}" for x in e.executions)
    return f"{parts} (taker, fee {usd(e.taker_fee)})"


def _path(fmt, before, now, if_filled, e) -> str:
    text = f"{fmt(before)} -> {fmt(now)} when placed"
    if e.resting > 0:
        text += f" -> {fmt(if_filled)} if all of it fills"
    return text


def _on(side, yes_price: Decimal) -> Decimal:
    return yes_price if side.value == "yes" else ONE - yes_price


def preview_warnings(e, side, asked: Decimal) -> list[str]:
    """What a trader must not miss: a refusal ahead, a self-trade, a capped or unfillable order."""
    out = []
    if e.insufficient:
        out.append(f"the exchange will refuse this for want of cash: it needs {usd(e.required)} available, "
                   f"you have {usd(e.cash_before)}")
    if e.self_trade:
        out.append("it meets one of your own resting orders: the exchange cancels it there (self-trade prevention)")
    if e.count < asked:
        out.append(f"reduce-only: capped at {count(e.count)}, the position it can reduce")
    if e.count > 0 and not e.executions and e.resting == 0 and not e.self_trade:
        out.append("as the book stands, none of it fills: it would be cancelled unfilled")
    return out


def render_preview(p) -> str:
    return table(preview_rows(p), ["order preview", ""])


def preview_json(p) -> dict:
    e = p.effects
    return {
        "environment": p.env.lower(), "ticker": p.ticker, "side": p.side.value, "action": p.action.value,
        "count": p.count, "price": p.price, "yes_price": p.yes_price, "book_side": p.book_side.value,
        "time_in_force": p.time_in_force.value, "notional": p.notional, "estimated_fee": p.estimated_fee,
        "fee_kind": p.fee_kind, "would_cross": p.would_cross, "best_price": p.best_price, "max_loss": p.max_loss,
        "position_before": p.position_before, "position_after": p.position_after, "cash_before": p.cash_before,
        "cash_after": p.cash_after, **effects_json(e, p.side), "warnings": preview_warnings(e, p.side, p.count),
    }


def effects_json(e, side) -> dict:
    """`*_now`: right after placing; `cash_after` / `position_after` (and `*_if_filled`): once all of it fills."""
    return {
        "fills_now": [{"count": x.count, "price": _on(side, x.yes_price), "yes_price": x.yes_price, "fee": x.fee}
                      for x in e.executions],
        "taker_fee": e.taker_fee, "maker_fee_if_filled": e.maker_fee, "resting_count": e.resting,
        "unfilled_count": e.unfilled, "cash_held": e.held, "cash_now": e.cash_now, "position_now": e.position_now,
        "cash_if_filled": e.cash_if_filled, "position_if_filled": e.position_if_filled,
        "cash_required": e.required, "self_trade": e.self_trade,
    }


def amend_rows(a) -> list[tuple[str, str]]:
    """The amend preview: what changes, whether it crosses and pays the taker fee, cash and position."""
    rows = [
        ("environment", env_badge(a.env)),
        ("market", f"{a.ticker}  {a.title}"),
        ("order", f"{a.order_id}: {a.action.value.upper()} {a.side.value.upper()}"),
        ("price", f"{cents(a.old_price)} -> {cents(a.new_price)}"),
        ("resting", f"{count(a.old_remaining)} -> {count(a.new_remaining)}"
                    f"{f' ({count(a.filled)} filled so far)' if a.filled else ''}"),
        ("queue", "goes to the back (new price or larger size)" if a.requeued else "keeps its place"),
        ("best opposite", _best(a.side, a.action, a.best_price)),
    ]
    fee_kind = "taker + maker" if a.effects.executions and a.effects.resting else (
        "taker" if a.effects.executions else "maker")
    rows += _effect_rows(a.effects, a.side, "good_till_canceled", fee_kind, a.cash_before)
    warnings = []
    if a.would_cross and a.effects.executions:
        warnings.append(f"CROSSES THE BOOK: {count(a.effects.filled_now)} would execute at once as a TAKER "
                        f"(taker fee {usd(a.effects.taker_fee)}), not rest at {cents(a.new_price)}")
    warnings += preview_warnings(a.effects, a.side, a.new_remaining)
    rows += [("warning", style(w, fg="red" if w.startswith("CROSSES") else "yellow", bold=True)) for w in warnings]
    return rows


def render_amend_preview(a) -> str:
    return table(amend_rows(a), ["amend preview", ""])


def amend_preview_json(a) -> dict:
    return {"environment": a.env.lower(), "order_id": a.order_id, "ticker": a.ticker, "side": a.side.value,
            "action": a.action.value, "old_price": a.old_price, "new_price": a.new_price,
            "old_remaining": a.old_remaining, "new_remaining": a.new_remaining, "filled": a.filled,
            "would_cross": a.would_cross, "best_price": a.best_price, "requeued": a.requeued,
            "max_loss": a.effects.max_loss, "estimated_fee": a.effects.fees, "cash_before": a.cash_before,
            **effects_json(a.effects, a.side)}


def confirm_order(preview, assume_yes: bool, json_output: bool = False) -> None:
    """Show the preview and ask; `--yes` skips the question; no terminal and no `--yes` is a refusal."""
    _confirm(render_preview(preview), preview.env, "Send this order?", "order", assume_yes, json_output)


def confirm_amend(preview, assume_yes: bool, json_output: bool = False) -> None:
    """The same for an amend: preview, then ask (a crossing amend is said in red in the preview)."""
    _confirm(render_amend_preview(preview), preview.env, "Amend this order?", "amend", assume_yes, json_output)


def _confirm(text: str, env: str, prompt: str, what: str, assume_yes: bool, json_output: bool) -> None:
    if not json_output or not assume_yes:
        typer.echo(text, err=json_output)
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"no terminal to confirm on: nothing was sent; rerun with --yes to send the {what} "
                         "unattended")
    if env == "PROD":
        prompt = style("REAL MONEY on PROD. ", fg="red", bold=True) + prompt
    if not ask_yes_no(prompt):
        typer.echo("not sent", err=True)
        raise typer.Exit(0)


def confirm_action(env: str, description: str, assume_yes: bool) -> bool:
    """Confirm a cancel the same way orders are confirmed."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"no terminal to confirm on: did not {description}; rerun with --yes")
    return ask_yes_no(f"{env_badge(env)} {description}?")


def ask_yes_no(prompt: str) -> bool:
    """`[y/N]`: Ctrl-C is an interruption (exit 130, like everywhere else); Ctrl-D (end of input) answers No."""
    try:
        return typer.confirm(prompt, default=False)
    except typer.Abort as exc:
        # typer/click turn both Ctrl-C and end of input into Abort; the original is kept as its context.
        if isinstance(exc.__context__, EOFError):
            typer.echo("", err=True)
            return False
        raise KeyboardInterrupt from None


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


ORDER_HEADERS = ("order id", "ticker", "order", "resting", "filled", "status", "created")


def order_rows(orders: Iterable) -> list[tuple[str, ...]]:
    """`kalshi orders`' rows (the dashboard shows the same)."""
    return [(o.order_id, o.ticker, _describe_order(o), count(o.remaining_count), count(o.fill_count), o.status,
             iso(o.created_time) or "-") for o in orders]


def render_orders(orders: Iterable) -> str:
    return table(order_rows(orders), list(ORDER_HEADERS))


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
            "result": m.result, "tick_sizes": _steps(m), "strike_type": m.strike_type,
            "floor_strike": m.floor_strike, "cap_strike": m.cap_strike, "rules_primary": m.rules_primary}


def render_markets(markets) -> str:
    rows = [(m.ticker, _short(m.title or m.yes_sub_title, 44), m.status, _quote(m.best_yes_bid),
             _quote(m.best_yes_ask), cents(m.last_price) if m.last_price else "-", count(m.volume),
             iso(m.close_time) or "-") for m in markets]
    return table(rows, ["ticker", "title", "status", "bid", "ask", "last", "volume", "closes"])


def render_market(m) -> str:
    steps = ", ".join(_steps(m))
    rows = [("ticker", m.ticker), ("title", m.title), ("yes means", m.yes_sub_title), ("status", m.status),
            ("yes bid / ask", f"{_quote(m.best_yes_bid)} x {count(m.yes_bid_size)} / "
                              f"{_quote(m.best_yes_ask)} x {count(m.yes_ask_size)}"),
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


POSITION_HEADERS = ("ticker", "position", "mark", "marked by", "cost", "value", "unrealized")
PNL_HEADERS = ("ticker", "position", "realized", "unrealized", "fees", "net")


def position_rows(s) -> list[tuple[str, ...]]:
    """`kalshi portfolio`'s position rows (the dashboard shows the same)."""
    return [(p.ticker, _signed_position(p.position), cents(p.mark) if p.mark is not None else "-", p.mark_source,
             usd(p.cost_basis), usd(p.market_value), usd(p.unrealized_pnl, signed=True)) for p in s.positions]


def render_positions(s) -> str:
    return table(position_rows(s), list(POSITION_HEADERS))


def totals_rows(s) -> list[tuple[str, str]]:
    return [("cash available", usd(s.balance)), ("portfolio value", usd(s.portfolio_value)),
            ("realized P&L", usd(s.realized_pnl, signed=True)), ("unrealized P&L", usd(s.unrealized_pnl, signed=True)),
            ("fees paid", usd(s.fees_paid)), ("net P&L", usd(s.net_pnl, signed=True))]


def render_totals(s) -> str:
    return table(totals_rows(s), ["totals", ""], colalign=("left", "right"))


def pnl_rows(s) -> list[tuple[str, ...]]:
    """`kalshi pnl`'s per-market rows."""
    return [(t.ticker, _signed_position(t.position), usd(t.realized_pnl, signed=True),
             usd(t.unrealized_pnl, signed=True), usd(t.fees_paid), usd(t.net_pnl, signed=True)) for t in s.tickers]


def render_pnl(s) -> str:
    return table(pnl_rows(s), list(PNL_HEADERS))


def render_discrepancies(s) -> str:
    return "\n".join(style(f"warning: {d}", fg="yellow") for d in s.discrepancies)


def _short(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _quote(price) -> str:
    """A best bid or ask in cents, or "-" when that side of the book is empty."""
    return "-" if price is None else cents(price)
