"""Digests and trade notices: what the owner reads of a running bot or pipeline, as plain text `Message`s.

- Per pipeline cycle: a **signal digest** (each signal: model vs market, edge net of the taker fee, direction; with
  `actionable_only`, only signals with a direction, and nothing at all for a cycle with none and no failure) and an
  **execution digest** (each attempt: paper in `simulate` mode, real otherwise: filled / unfilled / submitted /
  rejected with the exchange's reason / skipped with the rule), both with the cycle's failure reasons (sources down,
  the cycle's own error).
- For `kalshi auto`: a **periodic digest** every `digest_every` of exchange time (default one hour) and a last one
  when the bot stops: P&L today and in total, positions, fills and order actions since the previous digest, risk.
- For manual trading (`KALSHI_TRADE_NOTICES=on`): one **fill notice** and one **settlement notice** per journal sync
  that brought new ones (every command that syncs the journal: `kalshi sync`, `portfolio`, `pnl`, `history`).

Money is rendered to the cent (`alerts.money`); prices exactly, in cents (42¢, 42.5¢); counts exactly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable, Sequence

from kalshi_trading.models import BookSide, Fill, Settlement, Side
from kalshi_trading.ops.alerts import HEALTHY, BotSnapshot, money
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.signals.pipeline import CycleResult
from kalshi_trading.store.alerts import MessageKind, Severity
from kalshi_trading.store.signals import AttemptOutcome, AttemptRecord

MAX_LINES = 60  # per digest; the rest is counted ("... and 12 more"); a channel splits what is still too long


def cents(price: Decimal | None) -> str:
    """42¢, 42.5¢ (exact), - for none."""
    if price is None:
        return "-"
    return f"{(price * 100).normalize():f}¢"


def count(value: Decimal) -> str:
    return f"{value.normalize():f}" if value != value.to_integral_value() else str(int(value))


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return lines[:MAX_LINES] + [f"... and {len(lines) - MAX_LINES} more"]


def failure_lines(result: CycleResult) -> list[str]:
    """Why the cycle was not clean: its own error, then each source that was not OK."""
    lines = [f"cycle failed: {result.error}"] if result.error else []
    lines += [f"source {h.source} {h.status.value}: {h.reason or '-'}" for h in result.health
              if h.status not in HEALTHY]
    return lines


# --- the pipeline's digests --------------------------------------------------------------------------------
def signal_digest(result: CycleResult, *, source: str = "pipeline", actionable_only: bool = False) -> Message | None:
    """The cycle's signals (None when `actionable_only` and there is nothing to say)."""
    signals = [s for s in result.signals if s.actionable or not actionable_only]
    failures = failure_lines(result)
    if actionable_only and not signals and not failures:
        return None
    head = (f"cycle {result.cycle_id} {result.status.value} at {when(result.finished)}: {result.markets} markets, "
            f"{len(result.signals)} signals ({result.actionable} actionable)")
    lines = [head]
    for s in sorted(signals, key=lambda s: (not s.actionable, -(s.edge_bps or -10**9), s.ticker)):
        edge = "-" if s.edge_bps is None else f"{s.edge_bps:+d} bps"
        lines.append(f"{s.direction.value.upper():7} {s.ticker} p(yes) {s.model_prob} vs mid {cents(s.market_mid)}, "
                     f"price {cents(s.trade_price)}, edge {edge} ({s.model})")
    lines += failures
    severity = Severity.WARNING if failures else Severity.INFO
    return Message(MessageKind.DIGEST, severity, "\n".join(_capped(lines)), source,
                   title=f"signals, cycle {result.cycle_id}")


def attempt_line(a: AttemptRecord) -> str:
    """One attempt and what became of it."""
    what = f"{a.direction} {count(a.count)} {a.ticker} limit {cents(a.limit_price)}"
    match a.outcome:
        case AttemptOutcome.FILLED:
            fee = "" if a.fee is None else f", fee {money(a.fee)}"
            return f"FILLED {what}: {count(a.fill_count)} @ {cents(a.fill_price)}{fee}"
        case AttemptOutcome.SKIPPED:
            return f"SKIPPED {what}: [{a.rule or '-'}] {a.reason or '-'}"
        case _:
            order = f" order {a.order_id}" if a.order_id else ""
            return f"{a.outcome.value.upper()} {what}{order}: {a.reason or '-'}"


def execution_digest(result: CycleResult, *, mode: str, source: str = "pipeline") -> Message | None:
    """The cycle's attempts, paper (`simulate`) or real (None when there was no attempt and no failure)."""
    failures = failure_lines(result)
    if not result.attempts and not failures:
        return None
    kind = "paper" if mode == "simulate" else f"real ({mode})"
    by: dict[str, int] = {}
    for a in result.attempts:
        by[a.outcome.value] = by.get(a.outcome.value, 0) + 1
    outcomes = ", ".join(f"{o} {n}" for o, n in by.items()) or "no attempts"
    lines = [f"cycle {result.cycle_id} {kind} execution: {outcomes}"]
    lines += [attempt_line(a) for a in result.attempts]
    lines += failures
    rejected = any(a.outcome is AttemptOutcome.REJECTED for a in result.attempts)
    severity = Severity.WARNING if failures or rejected else Severity.INFO
    return Message(MessageKind.DIGEST, severity, "\n".join(_capped(lines)), source,
                   title=f"{kind} execution, cycle {result.cycle_id}")


def cycle_digests(result: CycleResult, *, mode: str, source: str = "pipeline",
                  actionable_only: bool = False) -> list[Message]:
    """Both digests of one cycle, those that have something to say."""
    found = (signal_digest(result, source=source, actionable_only=actionable_only),
             execution_digest(result, mode=mode, source=source))
    return [m for m in found if m is not None]


# --- the bot's --------------------------------------------------------------------------------------------
def bot_digest(snap: BotSnapshot, previous: BotSnapshot | None = None, *, final: bool = False) -> Message:
    """The bot now, and what it did since `previous` (or since it started)."""
    base_fills = previous.fills if previous else 0
    since = previous.at if previous else snap.started
    what = "stopped" if final else "running"
    lines = [
        f"bot {snap.bot} [{snap.env}] {what} at {when(snap.at)}; risk {snap.risk_state}"
        + (f" ({snap.risk_reason})" if snap.risk_state != "active" else ""),
        f"P&L today {money(snap.pnl_today)}; total realized {money(snap.realized)}, unrealized "
        f"{money(snap.unrealized)}, fees {money(snap.fees)}, net {money(snap.net)}",
        f"exposure {money(snap.exposure)}; {snap.working} orders working",
        f"since {when(since)}: {snap.fills - base_fills} fills; orders placed "
        f"{snap.placed - (previous.placed if previous else 0)}, amended "
        f"{snap.amended - (previous.amended if previous else 0)}, cancelled "
        f"{snap.cancelled - (previous.cancelled if previous else 0)}, rejected "
        f"{snap.rejected - (previous.rejected if previous else 0)}; API errors "
        f"{snap.api_errors - (previous.api_errors if previous else 0)}",
    ]
    held = {t: p for t, p in sorted(snap.positions.items()) if p}
    lines.append("positions: " + (", ".join(f"{t} {count(p)}" for t, p in held.items()) or "none"))
    return Message(MessageKind.DIGEST, Severity.INFO, "\n".join(lines), snap.bot,
                   title=f"bot {snap.bot} {'final ' if final else ''}digest")


# --- manual trading ---------------------------------------------------------------------------------------
def fill_line(f: Fill) -> str:
    """bought 3 YES @ 42¢ on TICKER (taker, fee $0.02) order ..."""
    if f.outcome_side is Side.NO:
        verb, side, price = ("bought" if f.book_side is BookSide.ASK else "sold"), "NO", f.no_price
    else:
        verb, side, price = ("bought" if f.book_side is BookSide.BID else "sold"), "YES", f.yes_price
    role = "taker" if f.is_taker else "maker"
    return (f"{when(f.created_time)} {verb} {count(f.count)} {side} @ {cents(price)} on {f.ticker} ({role}, fee "
            f"{money(f.fee)}) order {f.order_id}")


def settlement_line(s: Settlement) -> str:
    cost = s.yes_total_cost + s.no_total_cost
    return (f"{when(s.settled_time)} {s.ticker} settled {s.market_result.upper() or '-'}: held YES {count(s.yes_count)}"
            f" / NO {count(s.no_count)}, paid out {money(s.revenue)} against cost {money(cost)}, fee {money(s.fee)}; "
            f"net {money(s.revenue - cost - s.fee)}")


def trade_notices(fills: Sequence[Fill], settlements: Sequence[Settlement], *, env: str,
                  source: str = "manual") -> list[Message]:
    """One notice for the new fills and one for the new settlements (those there are), oldest first."""
    out = []
    if fills:
        lines = [fill_line(f) for f in _oldest_first(fills, lambda f: f.created_time)]
        out.append(Message(MessageKind.FILL, Severity.INFO, "\n".join(_capped(lines)), source,
                           title=f"[{env}] {len(fills)} new fill{'s' if len(fills) != 1 else ''}"))
    if settlements:
        lines = [settlement_line(s) for s in _oldest_first(settlements, lambda s: s.settled_time)]
        out.append(Message(MessageKind.SETTLEMENT, Severity.INFO, "\n".join(_capped(lines)), source,
                           title=f"[{env}] {len(settlements)} market{'s' if len(settlements) != 1 else ''} settled"))
    return out


def _oldest_first(items: Iterable, key) -> list:
    floor = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(items, key=lambda x: key(x) or floor)
