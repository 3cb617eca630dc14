"""Did the edge taker earn the edge it predicted?  Its takes, their fills, and what each contract made.

The taker (`strategies.edge.EdgeTaker`) remembers, for every order it sent, what it believed when it decided
(`TakeDecision`: its model value, the limit, the fee it expected); the loop's exchange port tells it the order id
(`placed`).  `edge_report` joins the bot's fills to those decisions by order id and values each filled contract at
the market's result when it settled (1 or 0), else at a mark (the book's mid when the run ended):

- predicted edge per contract: buy = value - fill price - fee each; sell = fill price - value - fee each, where
  value is the model's at the decision;
- realized per contract: the same with the settlement (or the mark) in place of the model's value;
- hit rate: the share of fills whose realized P&L per contract is positive (fees included); fill ratio: the share
  of the orders sent that filled at all.

Its section of the `--json` report is `edge`; `render_edge` is the text.  Money stays Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping, Protocol

from kalshi_trading.auto.ledger import BotFill
from kalshi_trading.models import BookSide
from kalshi_trading.money import ZERO

PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class TakeDecision:
    """What the taker believed when it decided to take: the market, side, limit and clip, its model value, and the
    taker fee per contract it expected at the limit."""

    ts: datetime
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal
    fair: Decimal
    fee_each: Decimal

    @property
    def edge(self) -> Decimal:
        """Predicted edge per contract at the limit, after the fee."""
        return per_contract(self.book_side, self.fair, self.yes_price, self.fee_each)


def per_contract(book_side: BookSide, value: Decimal, price: Decimal, fee_each: Decimal) -> Decimal:
    """P&L per contract of buying (bid) or selling (ask) YES at `price` when it is worth `value`, after the fee."""
    gross = value - price if book_side is BookSide.BID else price - value
    return gross - fee_each


@dataclass(frozen=True)
class EdgeFill:
    """One fill of a take: the predicted and the realized edge per contract."""

    decision: TakeDecision
    fill: BotFill
    value: Decimal | None  # the settlement (1 or 0) or the mark; None when neither is known
    basis: str  # "settled", "marked" or "unvalued"

    @property
    def fee_each(self) -> Decimal:
        return self.fill.fee / self.fill.count

    @property
    def predicted(self) -> Decimal:
        return per_contract(self.fill.book_side, self.decision.fair, self.fill.yes_price, self.fee_each)

    @property
    def realized(self) -> Decimal | None:
        if self.value is None:
            return None
        return per_contract(self.fill.book_side, self.value, self.fill.yes_price, self.fee_each)


def edge_fills(decisions: Mapping[str, TakeDecision], fills: Iterable[BotFill], marks: Mapping[str, Decimal],
               results: Mapping[str, Decimal] | None = None) -> list[EdgeFill]:
    """The fills of the taker's orders (`decisions` by order id), each valued at its market's settlement value
    (`results`: 1 or 0 per ticker) when known, else at its mark."""
    results = results or {}
    out = []
    for f in fills:
        decision = decisions.get(f.order_id)
        if decision is None or f.count <= 0:
            continue  # not one of the taker's orders (or a position adjustment)
        if f.ticker in results:
            value, basis = results[f.ticker], "settled"
        elif f.ticker in marks:
            value, basis = marks[f.ticker], "marked"
        else:
            value, basis = None, "unvalued"
        out.append(EdgeFill(decision, f, value, basis))
    return out


class Settled(Protocol):
    """A market's result: a `Market` read over REST, or a backtest's recorded `SettlementNote`."""

    @property
    def ticker(self) -> str: ...

    @property
    def result(self) -> str | None: ...


def settlement_values(markets: Iterable[Settled]) -> dict[str, Decimal]:
    """What one YES contract paid on each market that settled yes or no (a void or open market is left out)."""
    paid = {"yes": Decimal(1), "no": ZERO}
    return {m.ticker: paid[m.result] for m in markets if m.result in paid}


def _avg(total: Decimal, n: Decimal) -> str | None:
    return str((total / n).quantize(PLACES)) if n > 0 else None


def edge_report(decisions: Mapping[str, TakeDecision], fills: Iterable[BotFill], marks: Mapping[str, Decimal],
                results: Mapping[str, Decimal] | None = None, started: datetime | None = None) -> dict[str, Any]:
    """The `edge` section of the bot's report: orders sent (and the exchange minutes from `started` to the first),
    fills, contracts, fill ratio, predicted against realized edge per contract (contract-weighted means and dollar
    totals), hit rate, and one row per fill."""
    rows = edge_fills(decisions, fills, marks, results)
    first = min((d.ts for d in decisions.values()), default=None)
    contracts = sum((r.fill.count for r in rows), ZERO)
    valued = [r for r in rows if r.realized is not None]
    valued_contracts = sum((r.fill.count for r in valued), ZERO)
    predicted_total = sum((r.predicted * r.fill.count for r in rows), ZERO)
    realized_total = sum(((r.realized or ZERO) * r.fill.count for r in valued), ZERO)
    filled_orders = {r.fill.order_id for r in rows}
    wins = sum(1 for r in valued if (r.realized or ZERO) > 0)
    return {
        "orders": len(decisions),
        "first_order": first.isoformat() if first is not None else None,
        "minutes_to_first_order": (round(max((first - started).total_seconds(), 0.0) / 60, 1)
                                   if first is not None and started is not None else None),
        "orders_filled": len(filled_orders),
        "fill_ratio": round(len(filled_orders) / len(decisions), 4) if decisions else None,
        "fills": len(rows),
        "contracts": str(contracts),
        "predicted_edge_per_contract": _avg(predicted_total, contracts),
        "realized_per_contract": _avg(realized_total, valued_contracts),
        "predicted_total": str(predicted_total.quantize(PLACES)),
        "realized_total": str(realized_total.quantize(PLACES)),
        "hit_rate": round(wins / len(valued), 4) if valued else None,
        "valued_by": sorted({r.basis for r in rows}),
        "rows": [{"ts": r.fill.ts.isoformat(), "ticker": r.fill.ticker, "side": r.fill.book_side.value,
                  "price": str(r.fill.yes_price), "count": str(r.fill.count), "fee": str(r.fill.fee),
                  "model_value": str(r.decision.fair), "predicted_per_contract": str(r.predicted.quantize(PLACES)),
                  "value": None if r.value is None else str(r.value), "basis": r.basis,
                  "realized_per_contract": None if r.realized is None else str(r.realized.quantize(PLACES))}
                 for r in rows],
    }


def render_edge(section: Mapping[str, Any]) -> str:
    """The edge section for people: one summary line, then one line per fill (at most the last 20)."""
    lines = [f"edge taker: {section['orders']} orders, {section['orders_filled']} filled "
             f"(fill ratio {_pct(section['fill_ratio'])}), {section['fills']} fills, {section['contracts']} contracts; "
             f"per contract predicted {section['predicted_edge_per_contract'] or '-'} vs realized "
             f"{section['realized_per_contract'] or '-'} ({'/'.join(section['valued_by']) or '-'}, after fees); "
             f"hit rate {_pct(section['hit_rate'])}"]
    for r in section["rows"][-20:]:
        lines.append(f"  {r['ts']} {r['side']} {r['count']} @ {r['price']} fee {r['fee']}: model "
                     f"{r['model_value']}, predicted {r['predicted_per_contract']}, {r['basis']} "
                     f"{r['value'] or '-'} -> realized {r['realized_per_contract'] or '-'}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"
