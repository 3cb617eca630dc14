"""The paper report: attempts by outcome, fills, P&L marked to market and settled, hit rate, edge at entry vs
realized; and the calibration of the signals against the markets' settlements.

Money is exact (Decimal).  Scores (Brier, log loss) are floats: they are statistics, not money.

- Settled P&L of a fill: (payout of the bought side - fill price) x count - fee, payout $1 when its side won.
- Marked P&L of an open fill: (the side's bid now - fill price) x count - fee (no bid: marked at 0).
- Hit rate: settled fills whose side won / settled fills.
- Edge at entry: the signal's net edge (bps) when the order went; realized edge: payout - price - fee per
  contract (bps), averaged over settled fills.
- Calibration: every stored signal of a market that settled yes or no (with a market mid for the market's scores):
  Brier = mean (p - y)^2, log loss = -mean(y log p + (1 - y) log(1 - p)), model against market mid; and a table of
  10 bins of the model's probability (count, mean forecast, observed frequency); overall and per family
  (`calibration_by_family`).  Every stored signal counts (a market evaluated in many cycles counts many times);
  `markets` says how many settled markets they are about.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from kalshi_trading.models import Market
from kalshi_trading.money import ONE, ZERO
from kalshi_trading.store.signals import AttemptOutcome, AttemptRecord, SignalRecord

_EPS = 1e-6


@dataclass(frozen=True)
class FillPnl:
    attempt: AttemptRecord
    settled: bool
    won: bool | None
    pnl: Decimal  # settled or marked


@dataclass(frozen=True)
class PaperReport:
    by_outcome: Mapping[str, int]
    fills: int
    contracts: Decimal
    cost: Decimal
    fees: Decimal
    pnl_settled: Decimal
    pnl_marked: Decimal
    hit_rate: Decimal | None
    avg_edge_entry_bps: Decimal | None
    avg_edge_realized_bps: Decimal | None
    rows: tuple[FillPnl, ...]


def _side_won(direction: str, result: str) -> bool:
    return (result == "yes") == (direction == "buy_yes")


def _mark(direction: str, market: Market) -> Decimal:
    """What the bought contract could be sold for now: its best bid (YES bid, or 1 - YES ask for NO)."""
    if direction == "buy_yes":
        return market.best_yes_bid or ZERO
    ask = market.best_yes_ask
    return ONE - ask if ask is not None else ZERO


def fill_pnl(attempt: AttemptRecord, market: Market | None) -> FillPnl:
    price = attempt.fill_price or ZERO
    fee = attempt.fee or ZERO
    if market is not None and market.result in ("yes", "no"):
        won = _side_won(attempt.direction, market.result)
        payout = ONE if won else ZERO
        return FillPnl(attempt, True, won, (payout - price) * attempt.fill_count - fee)
    mark = _mark(attempt.direction, market) if market is not None else ZERO
    return FillPnl(attempt, False, None, (mark - price) * attempt.fill_count - fee)


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return (sum(values, ZERO) / len(values)).quantize(Decimal("0.1")) if values else None


def paper_report(attempts: Iterable[AttemptRecord], markets: Mapping[str, Market]) -> PaperReport:
    """The report over `attempts`, with each market as it is now (for marks and settlements)."""
    attempts = list(attempts)
    by_outcome = Counter(a.outcome.value for a in attempts)
    fills = [a for a in attempts if a.outcome is AttemptOutcome.FILLED and a.fill_count > 0]
    rows = tuple(fill_pnl(a, markets.get(a.ticker)) for a in fills)
    settled = [r for r in rows if r.settled]
    realized = [((ONE if r.won else ZERO) - (r.attempt.fill_price or ZERO)
                 - (r.attempt.fee or ZERO) / r.attempt.fill_count) * 10_000 for r in settled]
    entry = [Decimal(a.edge_bps) for a in fills if a.edge_bps is not None]
    return PaperReport(
        by_outcome={o.value: by_outcome.get(o.value, 0) for o in AttemptOutcome},
        fills=len(fills), contracts=sum((a.fill_count for a in fills), ZERO),
        cost=sum(((a.fill_price or ZERO) * a.fill_count for a in fills), ZERO),
        fees=sum((a.fee or ZERO for a in fills), ZERO),
        pnl_settled=sum((r.pnl for r in settled), ZERO), pnl_marked=sum((r.pnl for r in rows if not r.settled), ZERO),
        hit_rate=(Decimal(sum(1 for r in settled if r.won)) / len(settled)).quantize(Decimal("0.001"))
        if settled else None,
        avg_edge_entry_bps=_mean(entry), avg_edge_realized_bps=_mean(realized), rows=rows,
    )


@dataclass(frozen=True)
class CalibrationBin:
    lo: float
    hi: float
    count: int
    mean_forecast: float | None
    observed: float | None


@dataclass(frozen=True)
class Calibration:
    signals: int                 # settled signals scored
    markets: int                 # the settled markets they are about
    with_mid: int                # of which with a market mid (the market's scores use these)
    brier_model: float | None
    brier_market: float | None
    log_loss_model: float | None
    log_loss_market: float | None
    bins: tuple[CalibrationBin, ...]


def _brier(pairs: Sequence[tuple[float, int]]) -> float | None:
    return sum((p - y) ** 2 for p, y in pairs) / len(pairs) if pairs else None


def _log_loss(pairs: Sequence[tuple[float, int]]) -> float | None:
    if not pairs:
        return None
    total = 0.0
    for p, y in pairs:
        p = min(1 - _EPS, max(_EPS, p))
        total -= y * math.log(p) + (1 - y) * math.log(1 - p)
    return total / len(pairs)


def calibration(signals: Iterable[SignalRecord], markets: Mapping[str, Market], bins: int = 10) -> Calibration:
    """Scores of the stored signals whose markets settled yes or no, model against market mid."""
    scored: list[tuple[float, float | None, int]] = []
    settled: set[str] = set()
    for s in signals:
        market = markets.get(s.ticker)
        if market is None or market.result not in ("yes", "no"):
            continue
        settled.add(s.ticker)
        y = 1 if market.result == "yes" else 0
        scored.append((float(s.model_prob), float(s.market_mid) if s.market_mid is not None else None, y))
    with_mid = [(p, m, y) for p, m, y in scored if m is not None]
    table = []
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        inside = [(p, y) for p, _, y in scored if lo <= p < hi or (i == bins - 1 and p == 1.0)]
        table.append(CalibrationBin(lo, hi, len(inside),
                                    sum(p for p, _ in inside) / len(inside) if inside else None,
                                    sum(y for _, y in inside) / len(inside) if inside else None))
    return Calibration(
        signals=len(scored), markets=len(settled), with_mid=len(with_mid),
        brier_model=_brier([(p, y) for p, _, y in with_mid]),
        brier_market=_brier([(m, y) for _, m, y in with_mid if m is not None]),
        log_loss_model=_log_loss([(p, y) for p, _, y in with_mid]),
        log_loss_market=_log_loss([(m, y) for _, m, y in with_mid if m is not None]),
        bins=tuple(table),
    )


def calibration_by_family(signals: Iterable[SignalRecord], markets: Mapping[str, Market],
                          bins: int = 10) -> dict[str, Calibration]:
    """`calibration` of each family's signals, by family name (in the order families first appear)."""
    by_family: dict[str, list[SignalRecord]] = {}
    for s in signals:
        by_family.setdefault(s.family, []).append(s)
    return {family: calibration(rows, markets, bins) for family, rows in by_family.items()}
