"""What the bot's loop is given: the exchange clock, the market-data feed, the markets it trades, and the
translation of a feed fill into the bot's fill (the loop's own inputs, apart from the exchange port)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Iterator, Mapping, Protocol

from kalshi_trading.auto.ledger import BotFill, FillSource, fill_key
from kalshi_trading.auto.types import BookView
from kalshi_trading.marketdata.events import FeedEvent, FillMsg, TickerMsg
from kalshi_trading.models import Market
from kalshi_trading.money import PriceGrid


class Clock(Protocol):
    """Exchange time, and how many exchange seconds pass per wall-clock second (1 on a real exchange)."""

    def now(self) -> datetime: ...

    @property
    def rate(self) -> float: ...


class FeedPort(Protocol):
    """Live market data: the WebSocket `MarketFeed` and the REST `PollingFeed` both fit.

    `events(timeout)` yields what arrived within about `timeout` seconds (book updates, trades, fills,
    resyncs, disconnects); `books[ticker]` is the current book of a subscribed market.
    """

    books: Mapping[str, BookView]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def subscribe(self, tickers: Iterable[str]) -> None: ...

    def events(self, timeout: float) -> Iterator[FeedEvent]: ...


@dataclass(frozen=True)
class MarketInfo:
    """What the loop knows about a market it trades (fetched once at start)."""

    ticker: str
    grid: PriceGrid
    fee_type: str = "quadratic"
    fee_multiplier: Decimal = Decimal(1)
    close_time: datetime | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    market: Market | None = None


def feed_fill(ev: FillMsg) -> BotFill | None:
    """A feed fill as a BotFill; None when it lacks what deduplication against REST needs."""
    if not ev.trade_id or not ev.order_id or not ev.ticker or ev.book_side is None:
        return None
    return BotFill(fill_key(ev.trade_id, None, ev.order_id), ev.order_id, ev.ticker, ev.book_side, ev.yes_price,
                   ev.count, ev.fee, ev.ts, FillSource.FEED)


def ticker_mid(q: TickerMsg | None) -> Decimal | None:
    if q is None or q.yes_bid is None or q.yes_ask is None or not 0 < q.yes_bid <= q.yes_ask < 1:
        return None
    return (q.yes_bid + q.yes_ask) / 2
