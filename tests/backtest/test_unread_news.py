"""Not deciding a quiet market again on news it does not read (`auto.types.BookBanded`) is an optimisation only: a
backtest makes exactly the same orders, fills and P&L with it as when the market maker is decided on every event."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kalshi_trading.auto.strategies import MarketMaker
from kalshi_trading.backtest.engine import BacktestSpec, run_backtest
from kalshi_trading.backtest.matching import QueueModel
from kalshi_trading.backtest.report import build_report
from tests.backtest.streams import write_market

CONFIG = {"max_orders_per_minute": 100_000}


def outcome(run):
    m = run.loop.metrics
    fills = [(r.fill.order_id, r.fill.yes_price, r.fill.count, r.fill.fee, r.us) for r in run.tape.fills]
    report = build_report(run)
    return fills, (m.placed, m.amended, m.decreased, m.cancelled, m.rejected, m.denials_unique), report["pnl"]


@pytest.mark.parametrize("markets, queue", [(1, QueueModel.CONSERVATIVE), (3, QueueModel.PROBABILISTIC)])
def test_a_backtest_is_the_same_with_and_without_skipping_unread_news(tmp_path, monkeypatch, markets, queue):
    write_market(tmp_path / "rec", 12_000, markets=markets, gap_us=2_000, settle="yes")
    spec = replace(BacktestSpec(tmp_path / "rec", config=CONFIG), queue=queue)
    skipping = run_backtest(spec)
    monkeypatch.setattr(MarketMaker, "book_band", lambda self, snapshot: None)  # cannot say: decided on every event
    every = run_backtest(spec)
    assert every.loop.metrics.unread == 0 < skipping.loop.metrics.unread
    assert skipping.loop.metrics.ticks < every.loop.metrics.ticks
    assert outcome(skipping) == outcome(every)
    assert len(skipping.tape.fills) > 0 < skipping.loop.metrics.placed  # it traded: the comparison means something
