"""Portfolio: positions marked to market, realized P&L from the journal's fills and settlements, totals.

Marks, in this order (documented in the README):
  1. a determined/finalized market: its settlement value (1 for yes, 0 for no; void: at cost);
  2. the mid of the best YES bid and ask;
  3. a one-sided book: the best bid, else the best ask;
  4. an empty book: the last traded price;
  5. nothing at all: unmarked (valued at cost, unrealized 0, flagged).
Realized P&L comes from lot accounting over the journal (FIFO by default, average cost as an option);
fees are kept apart and subtracted into net P&L.  Where the exchange reports per-market
`realized_pnl`/`fees_paid`, they are compared (on average cost, the exchange's method) and any
difference above $0.0001 is flagged with both figures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from kalshi_trading.models import Market, MarketPosition, OrderBook
from kalshi_trading.money import ONE, ZERO
from kalshi_trading.trading.journal import Journal
from kalshi_trading.trading.pnl import LotBook, PnlReport, TickerPnl, compute_pnl, market_value

log = logging.getLogger(__name__)

TOLERANCE = Decimal("0.0001")


@dataclass(frozen=True)
class Mark:
    price: Decimal | None  # YES price
    source: str  # settled | void | mid | bid | ask | last | none


@dataclass(frozen=True)
class PositionView:
    ticker: str
    title: str
    status: str
    position: Decimal  # signed: + YES, - NO
    mark: Decimal | None
    mark_source: str
    market_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    net_pnl: Decimal


@dataclass(frozen=True)
class Discrepancy:
    ticker: str
    field: str
    ours: Decimal
    exchange: Decimal

    def __str__(self) -> str:
        return f"{self.ticker} {self.field}: journal {self.ours} vs exchange {self.exchange}"


@dataclass(frozen=True)
class TickerSummary:
    ticker: str
    position: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees_paid: Decimal
    net_pnl: Decimal


@dataclass(frozen=True)
class PortfolioSummary:
    env: str
    method: str
    as_of: datetime
    balance: Decimal
    portfolio_value: Decimal
    positions: tuple[PositionView, ...]
    tickers: tuple[TickerSummary, ...]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees_paid: Decimal
    net_pnl: Decimal
    discrepancies: tuple[Discrepancy, ...]


def mark_of(market: Market, book: OrderBook | None) -> Mark:
    if market.result in ("yes", "no") and market.is_settled:
        return Mark(ONE if market.result == "yes" else ZERO, "settled")
    if market.result == "void":
        return Mark(None, "void")
    if market.settlement_value is not None and market.is_settled:
        return Mark(market.settlement_value, "settled")
    bid = book.best_yes_bid if book else None
    ask = book.best_yes_ask if book else None
    if bid is not None and ask is not None:
        return Mark((bid.price + ask.price) / 2, "mid")
    if bid is not None:
        return Mark(bid.price, "bid")
    if ask is not None:
        return Mark(ask.price, "ask")
    if market.last_price > 0:
        return Mark(market.last_price, "last")
    return Mark(None, "none")


class Portfolio:
    def __init__(self, client, journal: Journal, env: str):
        self.client = client
        self.journal = journal
        self.env = env.upper()

    def sync(self):
        """Pull new fills and settlements into the journal (network)."""
        return self.journal.sync(self.client)

    def pnl(self, method: str = "fifo", since: datetime | None = None) -> PnlReport:
        """Lot P&L over the journal (local).  `since` limits which closes count, not which lots exist."""
        report = compute_pnl(self.journal.fills(), self.journal.settlements(), method=method)
        if since is None:
            return report
        return _realized_since(report, since)

    def summary(self, method: str = "fifo", since: datetime | None = None, sync: bool = True) -> PortfolioSummary:
        if sync:
            self.sync()
        balance = self.client.get_balance()
        exchange_positions = {p.ticker: p for p in self.client.get_positions().markets}
        report = self.pnl(method, since)
        check = self.pnl("avg") if method != "avg" else report
        views: list[PositionView] = []
        discrepancies: list[Discrepancy] = []
        for ticker, pos in sorted(exchange_positions.items()):
            lots = report.get(ticker)
            if pos.position != 0:
                views.append(self._view(pos, lots))
            discrepancies.extend(_compare(pos, check.get(ticker)))
        unrealized_by = {v.ticker: v.unrealized_pnl for v in views}
        positions_by = {v.ticker: v.position for v in views}
        tickers = []
        for t in report.tickers:
            unreal = unrealized_by.get(t.ticker, ZERO)
            tickers.append(TickerSummary(t.ticker, positions_by.get(t.ticker, t.position), t.realized_pnl, unreal,
                                         t.fees_paid, t.realized_pnl + unreal - t.fees_paid))
        for v in views:  # positions the journal has no fills for (opened elsewhere before the journal began)
            if report.get(v.ticker) is None:
                tickers.append(TickerSummary(v.ticker, v.position, ZERO, v.unrealized_pnl, ZERO, v.unrealized_pnl))
        realized = report.realized_pnl
        unrealized = sum((v.unrealized_pnl for v in views), ZERO)
        fees = report.fees_paid
        for d in discrepancies:
            log.warning("P&L differs from the exchange: %s", d)
        return PortfolioSummary(
            env=self.env, method=method, as_of=datetime.now(timezone.utc), balance=balance.balance,
            portfolio_value=balance.portfolio_value, positions=tuple(views),
            tickers=tuple(sorted(tickers, key=lambda t: t.ticker)), realized_pnl=realized,
            unrealized_pnl=unrealized, fees_paid=fees, net_pnl=realized + unrealized - fees,
            discrepancies=tuple(discrepancies),
        )

    def _view(self, pos: MarketPosition, lots: TickerPnl | None) -> PositionView:
        market = self.client.get_market(pos.ticker)
        book = None if market.is_settled else self.client.get_orderbook(pos.ticker)
        mark = mark_of(market, book)
        if lots is not None and lots.position == pos.position:
            cost = lots.cost_basis
            realized, fees = lots.realized_pnl, lots.fees_paid
        else:
            # The journal does not explain this position (trades before it began): use the exchange's cost.
            cost = pos.market_exposure
            realized, fees = pos.realized_pnl, pos.fees_paid
        value = cost if mark.price is None else market_value(pos.position, mark.price)
        unrealized = value - cost
        return PositionView(
            ticker=pos.ticker, title=market.title or market.yes_sub_title, status=market.status,
            position=pos.position, mark=mark.price, mark_source=mark.source, market_value=value, cost_basis=cost,
            unrealized_pnl=unrealized, realized_pnl=realized, fees_paid=fees, net_pnl=realized + unrealized - fees,
        )


def _compare(pos: MarketPosition, ours: TickerPnl | None) -> list[Discrepancy]:
    if ours is None:
        return []
    found = []
    if abs(ours.realized_pnl - pos.realized_pnl) > TOLERANCE:
        found.append(Discrepancy(pos.ticker, "realized_pnl", ours.realized_pnl, pos.realized_pnl))
    if abs(ours.fees_paid - pos.fees_paid) > TOLERANCE:
        found.append(Discrepancy(pos.ticker, "fees_paid", ours.fees_paid, pos.fees_paid))
    return found


def _realized_since(report: PnlReport, since: datetime) -> PnlReport:
    """Keep realized P&L and fees of lots closed at or after `since` (fees of still-open lots stay)."""
    tickers = []
    for t in report.tickers:
        closed = tuple(lot for lot in t.closed_lots if lot.disposed_time is None or lot.disposed_time >= since)
        realized = sum((lot.gain for lot in closed), ZERO)
        closed_fees = sum((lot.fees for lot in closed), ZERO)
        open_fees = sum((lot.fees for lot in t.open_lots), ZERO)
        tickers.append(TickerPnl(t.ticker, t.position, t.cost_basis, realized + closed_fees, closed_fees + open_fees,
                                 closed, t.open_lots, t.settled_result))
    return PnlReport(report.method, tuple(tickers))


__all__ = ["LotBook", "Mark", "Portfolio", "PortfolioSummary", "PositionView", "mark_of"]
