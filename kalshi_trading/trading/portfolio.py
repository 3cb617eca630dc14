"""Portfolio: positions marked to market, realized P&L from the journal's fills and settlements, totals.

Marks, in this order (documented in the README):
  1. a determined/finalized market: its settlement value (1 for yes, 0 for no; void: at cost);
  2. the mid of the best YES bid and ask;
  3. a one-sided book: the best bid, else the best ask;
  4. an empty book: the last traded price;
  5. nothing at all: unmarked (valued at cost, unrealized 0, flagged).
A market or book that could not be read (network failure after retries, or a market the exchange does not
know) is never replaced by an older or zero price: its position shows no mark, value or unrealized P&L
(`missing` / `unknown`), the unrealized and net totals are left unknown, and `incomplete_error` names it.
Realized P&L comes from lot accounting over the journal (FIFO by default, average cost as an option);
fees are kept apart and subtracted into net P&L.  Where the exchange reports per-market
`realized_pnl`/`fees_paid`, they are compared (on average cost, the exchange's method) and any
difference above $0.0001 is flagged with both figures.

Reads cost a constant number of sequential round trips whatever the number of positions: the journal sync
(fills, then settlements) runs on the calling thread (a store may tie its connection to it; SQLite does) while the
balance and the positions are read on a `ReadPool`; the positions' markets and order books then come from the
batch endpoints (`GET /markets?tickers=`, `GET /markets/orderbooks`), their chunks all at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable

from kalshi_trading.api.batch import BatchRead, ReadPool, is_network, read_each
from kalshi_trading.errors import ApiError, ExchangeUnavailable, NotFoundError, RejectedError
from kalshi_trading.models import Balance, Market, MarketPosition, OrderBook
from kalshi_trading.money import ONE, ZERO
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.trading.pnl import LotBook, PnlReport, TickerPnl, compute_pnl, market_value
from kalshi_trading.trading.sync import SyncResult, sync_journal

log = logging.getLogger(__name__)

TOLERANCE = Decimal("0.0001")
READ_WORKERS = 6
MISSING = "missing"  # mark source: the market or its book could not be read now
UNKNOWN = "unknown"  # mark source: the exchange does not know the market


@dataclass(frozen=True)
class Mark:
    price: Decimal | None  # YES price
    source: str  # settled | void | mid | bid | ask | last | none | missing | unknown


@dataclass(frozen=True)
class PositionView:
    ticker: str
    title: str
    status: str
    position: Decimal  # signed: + YES, - NO
    mark: Decimal | None
    mark_source: str
    market_value: Decimal | None  # None: no current mark (missing / unknown), never a stale one
    cost_basis: Decimal
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    fees_paid: Decimal
    net_pnl: Decimal | None


@dataclass(frozen=True)
class MissingMark:
    """A position shown without a mark, and why: `missing` (not read: `error`) or `unknown` (no such market)."""

    ticker: str
    source: str
    error: ApiError | None = None


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
    unrealized_pnl: Decimal | None  # None: the position has no current mark
    fees_paid: Decimal
    net_pnl: Decimal | None


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
    unrealized_pnl: Decimal | None  # None while any position has no current mark
    fees_paid: Decimal
    net_pnl: Decimal | None
    discrepancies: tuple[Discrepancy, ...]
    missing: tuple[MissingMark, ...] = ()  # positions without a current mark, by ticker


@dataclass(frozen=True)
class ExchangeReads:
    """What one summary reads from the exchange."""

    balance: Balance
    positions: tuple[MarketPosition, ...]
    markets: BatchRead[Market]
    books: BatchRead[OrderBook]


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


def current_mark(ticker: str, markets: BatchRead[Market], books: BatchRead[OrderBook]) -> Mark:
    """The mark from what was read now; `missing`/`unknown` where a needed read failed (never an older price)."""
    market = markets.found.get(ticker)
    if market is None:
        return Mark(None, UNKNOWN if ticker in markets.unknown else MISSING)
    if market.is_settled:  # the settlement decides; the book is not needed
        return mark_of(market, None)
    book = books.found.get(ticker)
    if book is None:
        return Mark(None, UNKNOWN if ticker in books.unknown else MISSING)
    return mark_of(market, book)


def _read_error(ticker: str, reads: ExchangeReads) -> ApiError | None:
    return reads.markets.failed.get(ticker) or reads.books.failed.get(ticker)


def incomplete_error(summary: PortfolioSummary) -> ApiError | None:
    """The error a command exits with after showing a summary that lacks marks, or None when complete.

    Exit 6 (`ExchangeUnavailable`) when any mark is missing for a network or exchange failure (trying again may
    help), else exit 4 (`NotFoundError`) when the exchange does not know a market; the message names them all.
    """
    if not summary.missing:
        return None
    unread = [m for m in summary.missing if m.source == MISSING]
    unknown = [m.ticker for m in summary.missing if m.source == UNKNOWN]
    parts = []
    if unread:
        cause = next((m.error for m in unread if m.error is not None), None)
        parts.append(f"could not read the market or order book of {', '.join(m.ticker for m in unread)}"
                     + (f" ({cause})" if cause is not None else ""))
    if unknown:
        parts.append(f"the exchange does not know {', '.join(unknown)}")
    text = ("incomplete: " + "; ".join(parts) + " - shown without a mark, and the unrealized and net totals "
            "are left blank")
    if any(m.error is None or is_network(m.error) for m in unread):
        return ExchangeUnavailable(text)
    if unread:  # refused by the exchange for another reason (a 4xx other than 404)
        return RejectedError(text)
    return NotFoundError(text)


class Portfolio:
    # Benchmark only (bench/bench_latency.py): True reads one market and one book per position, one request
    # after another, as before the batch reads; never set by the CLI.
    sequential_reads = False

    def __init__(self, client, journal: TradeJournal, env: str, workers: int = READ_WORKERS,
                 on_sync: Callable[[SyncResult], None] | None = None):
        self.client = client
        self.journal = journal
        self.env = env.upper()
        self.workers = workers
        self.on_sync = on_sync  # told of every sync's new records (the manual trader's fill and settlement notices)

    def sync(self) -> SyncResult:
        """Pull new fills and settlements into the journal (network; `trading.sync`)."""
        result = sync_journal(self.client, self.journal, new_records=self.on_sync is not None)
        if self.on_sync is not None:
            self.on_sync(result)
        return result

    def pnl(self, method: str = "fifo", since: datetime | None = None) -> PnlReport:
        """Lot P&L over the journal (local).  `since` limits which closes count, not which lots exist."""
        report = compute_pnl(self.journal.fills(), self.journal.settlements(), method=method)
        if since is None:
            return report
        return _realized_since(report, since)

    def summary(self, method: str = "fifo", since: datetime | None = None, sync: bool = True) -> PortfolioSummary:
        """Balance, positions marked to market and P&L (network: a constant number of round trips).

        A position whose market or book could not be read is listed in `missing`, without a mark (see
        `incomplete_error`); every other position is complete.
        """
        reads = self._read_sequential(sync) if self.sequential_reads else self._read(sync)
        return self._summarise(reads, method, since)

    def _read(self, sync: bool) -> ExchangeReads:
        with ReadPool(self.workers, name="kalshi-portfolio") as pool:
            balance = pool.submit(self.client.get_balance)
            marked = pool.submit(self._positions_and_marks, pool)
            if sync:
                self.sync()  # here, on the calling thread: a store's connection may belong to it (SQLite's does)
            pool.wait([balance, marked])
            positions, markets, books = marked.result()
            return ExchangeReads(balance.result(), positions, markets, books)

    def _positions_and_marks(self, pool: ReadPool):
        positions = self.client.get_positions().markets
        tickers = sorted({p.ticker for p in positions if p.position != 0})
        markets = pool.submit(self.client.get_markets_by_tickers, tickers, pool=pool)
        books = pool.submit(self.client.get_orderbooks_by_tickers, tickers, pool=pool)
        pool.wait([markets, books])
        return positions, markets.result(), books.result()

    def _read_sequential(self, sync: bool) -> ExchangeReads:
        """Today's path before batch reads, one request at a time (kept to benchmark against)."""
        if sync:
            self.sync()
        balance = self.client.get_balance()
        positions = self.client.get_positions().markets
        tickers = sorted({p.ticker for p in positions if p.position != 0})
        markets = read_each(tickers, self.client.get_market)
        live = [t for t in tickers if t in markets.found and not markets.found[t].is_settled]
        books = read_each(live, self.client.get_orderbook)
        return ExchangeReads(balance, positions, markets, books)

    def _summarise(self, reads: ExchangeReads, method: str, since: datetime | None) -> PortfolioSummary:
        exchange_positions = {p.ticker: p for p in reads.positions}
        report = self.pnl(method, since)
        check = self.pnl("avg") if method != "avg" else report
        views: list[PositionView] = []
        discrepancies: list[Discrepancy] = []
        missing: list[MissingMark] = []
        for ticker, pos in sorted(exchange_positions.items()):
            lots = report.get(ticker)
            if pos.position != 0:
                view = self._view(pos, lots, reads)
                views.append(view)
                if view.mark_source in (MISSING, UNKNOWN):
                    missing.append(MissingMark(ticker, view.mark_source, _read_error(ticker, reads)))
            discrepancies.extend(_compare(pos, check.get(ticker)))
        unrealized_by = {v.ticker: v.unrealized_pnl for v in views}
        positions_by = {v.ticker: v.position for v in views}
        tickers = []
        for t in report.tickers:
            unreal = unrealized_by.get(t.ticker, ZERO)
            net = None if unreal is None else t.realized_pnl + unreal - t.fees_paid
            tickers.append(TickerSummary(t.ticker, positions_by.get(t.ticker, t.position), t.realized_pnl, unreal,
                                         t.fees_paid, net))
        for v in views:  # positions the journal has no fills for (opened elsewhere before the journal began)
            if report.get(v.ticker) is None:
                tickers.append(TickerSummary(v.ticker, v.position, ZERO, v.unrealized_pnl, ZERO, v.unrealized_pnl))
        realized = report.realized_pnl
        known = [v.unrealized_pnl for v in views if v.unrealized_pnl is not None]
        unrealized = None if missing or len(known) < len(views) else sum(known, ZERO)
        fees = report.fees_paid
        for d in discrepancies:
            log.warning("P&L differs from the exchange: %s", d)
        for m in missing:
            log.warning("no current mark for %s (%s)", m.ticker, m.error or m.source)
        return PortfolioSummary(
            env=self.env, method=method, as_of=datetime.now(timezone.utc), balance=reads.balance.balance,
            portfolio_value=reads.balance.portfolio_value, positions=tuple(views),
            tickers=tuple(sorted(tickers, key=lambda t: t.ticker)), realized_pnl=realized,
            unrealized_pnl=unrealized, fees_paid=fees,
            net_pnl=None if unrealized is None else realized + unrealized - fees,
            discrepancies=tuple(discrepancies), missing=tuple(missing),
        )

    def _view(self, pos: MarketPosition, lots: TickerPnl | None, reads: ExchangeReads) -> PositionView:
        market = reads.markets.found.get(pos.ticker)
        mark = current_mark(pos.ticker, reads.markets, reads.books)
        if lots is not None and lots.position == pos.position:
            cost = lots.cost_basis
            realized, fees = lots.realized_pnl, lots.fees_paid
        else:
            # The journal does not explain this position (trades before it began): use the exchange's cost.
            cost = pos.market_exposure
            realized, fees = pos.realized_pnl, pos.fees_paid
        if mark.source in (MISSING, UNKNOWN):
            value = unrealized = net = None
        else:
            value = cost if mark.price is None else market_value(pos.position, mark.price)
            unrealized = value - cost
            net = realized + unrealized - fees
        return PositionView(
            ticker=pos.ticker, title=(market.title or market.yes_sub_title) if market else "",
            status=market.status if market else mark.source,
            position=pos.position, mark=mark.price, mark_source=mark.source, market_value=value, cost_basis=cost,
            unrealized_pnl=unrealized, realized_pnl=realized, fees_paid=fees, net_pnl=net,
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


__all__ = ["LotBook", "Mark", "MissingMark", "Portfolio", "PortfolioSummary", "PositionView", "current_mark",
           "incomplete_error", "mark_of"]
