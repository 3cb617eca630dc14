"""Fixtures for the signal pipeline: a signal store in a temporary directory, hand-built signals."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.signals.types import Direction, Family, Signal
from tests.e2e.conftest import bob, client, journal, sim  # noqa: F401  (the simulator fixtures)
from kalshi_trading.store.sqlite.signals import SqliteSignalStore


@pytest.fixture
def store(tmp_path):
    s = SqliteSignalStore.open(tmp_path / "signals.sqlite")
    yield s
    s.close()


def make_signal(ticker: str, p: str, direction: Direction = Direction.BUY_YES, *, edge: int | None = 900,
                confidence: str = "0.9", family: Family = Family.BTCD, model: str = "hand-model",
                trade_price: str | None = None, mid: str | None = None) -> Signal:
    """A signal as a model would make it (the engine trusts its fields; tests choose them)."""
    return Signal(ticker=ticker, family=family, at=datetime.now(timezone.utc), model=model, model_prob=D(p),
                  market_mid=D(mid) if mid else None, trade_price=D(trade_price) if trade_price else None,
                  edge_bps=edge, confidence=D(confidence), direction=direction, inputs=(("source", "test"),))
