"""A fence around a strategy's decisions: a strategy that raises (or answers nonsense) is stopped, not the loop.

The loop asks `GuardedStrategy.targets` exactly as it asks any strategy.  When the strategy inside raises, or
answers something that is not a list of `TargetOrder`s for the market it was asked about, the guard logs the error
with its traceback (`errors.log`), remembers it as a `StrategyFailure`, answers "want nothing" from then on and
tells its owner (`on_failure`): `BotRun` halts the risk engine with the reason (every order of the bot is
cancelled) and stops the run.  A decision is made before any write of its pass, so a failure never interrupts the
journalled write path half-way.  `kalshi backtest` can wrap its strategy the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from kalshi_trading.auto.types import (BookBand, BookBanded, Event, MarketSnapshot, SpreadGated, Strategy,
                                       TargetOrder)
from kalshi_trading.models import BookSide

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrategyFailure:
    """Why a strategy was stopped."""

    strategy: str
    ticker: str
    error: str  # "ZeroDivisionError: division by zero"
    at: datetime
    where: str = "targets"  # the strategy's method that failed

    def reason(self) -> str:
        """One line for the risk state, the event log and the exit message."""
        return (f"strategy {self.strategy} raised {self.error} in {self.where} on {self.ticker}; "
                "traceback in errors.log")


class StrategyAnswerError(TypeError):
    """A strategy answered something the loop cannot act on."""


def checked_targets(answer: Any, snapshot: MarketSnapshot) -> list[TargetOrder]:
    """`answer` as a list of orders for `snapshot.ticker`, or StrategyAnswerError saying what is wrong with it."""
    if not isinstance(answer, (list, tuple)):
        raise StrategyAnswerError(f"targets() returned a {type(answer).__name__}, not a list of TargetOrder")
    out = []
    for item in answer:
        if not isinstance(item, TargetOrder):
            raise StrategyAnswerError(f"targets() returned a {type(item).__name__} among its orders, not a "
                                      "TargetOrder")
        if item.ticker != snapshot.ticker:
            raise StrategyAnswerError(f"targets() for {snapshot.ticker} returned an order on {item.ticker}")
        if not isinstance(item.book_side, BookSide):
            raise StrategyAnswerError(f"an order's book_side is {item.book_side!r}, not a BookSide")
        for name in ("yes_price", "count"):
            value = getattr(item, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise StrategyAnswerError(f"an order's {name} is {value!r}, not a finite Decimal")
        if item.count <= 0:
            raise StrategyAnswerError(f"an order's count is {item.count}, not positive")
        out.append(item)
    return out


class GuardedStrategy:
    """Runs `strategy` behind the fence described in the module docstring; `name` is the strategy's own."""

    def __init__(self, strategy: Strategy, on_failure: Callable[[StrategyFailure], None] | None = None):
        self.inner = strategy
        self.name = strategy.name
        self.on_failure = on_failure
        self.failure: StrategyFailure | None = None
        self._told = False
        # asked once: a protocol check is slow, and the gate is asked on every pass
        self._gated: SpreadGated | None = strategy if isinstance(strategy, SpreadGated) else None
        self._banded: BookBanded | None = strategy if isinstance(strategy, BookBanded) else None

    def targets(self, event: Event, snapshot: MarketSnapshot) -> list[TargetOrder]:
        """The strategy's orders, checked; nothing once it has failed (the first failure stops it for good)."""
        if self.failure is None:
            try:
                return checked_targets(self.inner.targets(event, snapshot), snapshot)
            except Exception as exc:  # noqa: BLE001 - a strategy is the user's code: whatever it raises stops it
                self._fail(exc, snapshot.ticker, snapshot.now, "targets")
        self._tell()
        return []

    def inner_gate_open(self, snapshot: MarketSnapshot) -> bool | None:
        """Whether the strategy inside has its spread gate open (None: it has no gate, or it failed), so the report
        measures quote uptime over the gate behind the fence too."""
        if self.failure is not None or self._gated is None:
            return None
        try:
            return bool(self._gated.gate_open(snapshot))
        except Exception as exc:  # noqa: BLE001 - the user's code: a failing gate stops the strategy like targets
            self._fail(exc, snapshot.ticker, snapshot.now, "gate_open")
            return None

    def book_band(self, snapshot: MarketSnapshot) -> BookBand | None:
        """The band of the book the strategy inside read (`BookBanded`; None when it does not say, or failed)."""
        if self.failure is not None or self._banded is None:
            return None
        try:
            return self._banded.book_band(snapshot)
        except Exception as exc:  # noqa: BLE001 - the user's code: a failing band stops the strategy like targets
            self._fail(exc, snapshot.ticker, snapshot.now, "book_band")
            return None

    def placed(self, target: TargetOrder, order_id: str) -> None:
        """Pass the exchange's id of an order the loop sent to a strategy that wants it (an optional
        `placed(target, order_id)` method).  Called from inside the write path, so a failure here is only
        remembered: the next decision pass reports it and stops the strategy."""
        hook = getattr(self.inner, "placed", None)
        if self.failure is not None or not callable(hook):
            return
        try:
            hook(target, order_id)
        except Exception as exc:  # noqa: BLE001 - the user's code again; never let it break a write half-way
            self._fail(exc, target.ticker, None, "placed")

    def _fail(self, exc: Exception, ticker: str, at: datetime | None, where: str) -> None:
        from datetime import timezone

        error = f"{type(exc).__name__}: {_first_line(exc)}".rstrip(": ")
        when = at or datetime.now(timezone.utc)
        self.failure = StrategyFailure(self.name, ticker, error, when, where)
        log.error("strategy %s raised in %s on %s; it is stopped and the bot halts", self.name, where, ticker,
                  exc_info=exc)

    def _tell(self) -> None:
        if self.failure is not None and not self._told:
            self._told = True
            if self.on_failure is not None:
                self.on_failure(self.failure)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 200 else line[:197] + "..."
