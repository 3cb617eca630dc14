"""Strategies for the ops tests, loaded the way a user's are (`--strategy tests.ops.plugins:Taker`)."""

from __future__ import annotations

from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.models import BookSide


class Taker:
    """Buys one YES at the best ask on every pass, immediate-or-cancel: each clip pays the spread and a taker fee,
    so the day's P&L falls until the loss limit halts the bot."""

    name = "taker"

    def targets(self, event, snapshot):
        book = snapshot.book
        if book.stale or book.best_ask is None:
            return []
        return [TargetOrder(snapshot.ticker, BookSide.BID, book.best_ask, snapshot.config.quote_size, "take")]
