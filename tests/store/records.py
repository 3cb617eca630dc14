"""Domain records for the store tests, and a duck-typed exchange client for the sync service."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from kalshi_trading.models import Fill, Settlement

D = Decimal
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def fill(i: int, book_side: str = "bid", count: str = "10", price: str = "0.52", fee: str = "0.0175",
         ticker: str = "KXA", minutes: int | None = None) -> Fill:
    return Fill(
        fill_id=f"fill-{i}", order_id=f"ord-{i}", ticker=ticker, outcome_side="yes" if book_side == "bid" else "no",
        book_side=book_side, count=D(count), yes_price=D(price), is_taker=i % 2 == 0, fee=D(fee),
        created_time=T0 + timedelta(minutes=i if minutes is None else minutes), trade_id=f"fill-{i}",
    )


def settlement(ticker: str = "KXA", minutes: int = 60, result: str = "yes") -> Settlement:
    return Settlement(
        ticker=ticker, event_ticker="KXEV", market_result=result, yes_count=D("10"), yes_total_cost=D("5.20"),
        no_count=D("0"), no_total_cost=D("0"), revenue=D("10.00"), settled_time=T0 + timedelta(minutes=minutes),
        fee=D("0"),
    )


class FakeClient:
    """Duck-typed exchange client: serves everything at or after min_ts, and remembers what it was asked."""

    def __init__(self, fills: list[Fill], settlements: list[Settlement]):
        self.fills = fills
        self.settlement_list = settlements
        self.asked: list[tuple[str, int | None]] = []

    def iter_fills(self, min_ts: int | None = None):
        self.asked.append(("fills", min_ts))
        return iter([f for f in self.fills if min_ts is None or f.created_time.timestamp() >= min_ts])

    def iter_settlements(self, min_ts: int | None = None):
        self.asked.append(("settlements", min_ts))
        return iter([s for s in self.settlement_list if min_ts is None or s.settled_time.timestamp() >= min_ts])
