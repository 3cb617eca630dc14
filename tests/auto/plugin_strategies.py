"""Strategies written the way a user writes one (outside the package), for the plug-in tests.

`tests.auto.plugin_strategies:Name` is what a user would pass to `kalshi auto --strategy`.
"""

from __future__ import annotations

from kalshi_trading.auto.types import TargetOrder
from kalshi_trading.models import BookSide

CALLS_BEFORE_RAISING = 6


class JoinTouch:
    """One contract on the best bid and one on the best ask."""

    name = "join"

    def targets(self, event, snapshot):
        book = snapshot.book
        if book.stale or book.best_bid is None or book.best_ask is None:
            return []
        return [TargetOrder(snapshot.ticker, BookSide.BID, book.best_bid, snapshot.config.quote_size, "join:bid"),
                TargetOrder(snapshot.ticker, BookSide.ASK, book.best_ask, snapshot.config.quote_size, "join:ask")]


class RaisesOnNth(JoinTouch):
    """Quotes like JoinTouch, then raises on its Nth decision (its orders are resting by then)."""

    name = "raises-nth"

    def __init__(self):
        self.calls = 0

    def targets(self, event, snapshot):
        self.calls += 1
        if self.calls >= CALLS_BEFORE_RAISING:
            return {"oops": 1 / 0}
        return super().targets(event, snapshot)


class AnswersGarbage(JoinTouch):
    name = "garbage"

    def targets(self, event, snapshot):
        return [("bid", 0.5, 1)]


class WantsContext:
    """A factory-built strategy that asks for the context (the underlying source)."""

    name = "ctx"

    def __init__(self, context):
        self.source = context.underlying_source()

    def targets(self, event, snapshot):
        return []


class RaisesInInit:
    name = "init"

    def __init__(self):
        raise RuntimeError("cannot start: no model file")

    def targets(self, event, snapshot):
        return []


class NeedsArguments:
    name = "args"

    def __init__(self, window):
        self.window = window

    def targets(self, event, snapshot):
        return []


class NoTargets:
    name = "nothing"


class NoName:
    def targets(self, event, snapshot):
        return []


class BadName(JoinTouch):
    name = "has spaces in it"


class WrongSignature:
    name = "sig"

    def targets(self, snapshot):
        return []


def make_join() -> JoinTouch:
    """A factory function works as well as a class."""
    return JoinTouch()


INSTANCE = JoinTouch()  # an object that already is a strategy is used as it is
NOT_CALLABLE = 42
