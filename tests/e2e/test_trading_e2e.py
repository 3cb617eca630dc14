"""Trading services end to end against the simulator: place, fill, amend, cancel, sell, settle; journal,
computed P&L and the exchange's own figures agree; a crash between intent and response reconciles."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal as D

import pytest

from kalshi_trading.api.client import OrderOutcomeUnknown
from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.errors import NotFoundError, RejectedError, UsageError
from kalshi_trading.models import BookSide, OrderRequest, Side, Action, TimeInForce
from kalshi_trading.sim.faults import FaultSpec, Faults
from kalshi_trading.store.sqlite.journal import SqliteJournal
from tests.e2e.conftest import cent_market, client_for

YES, NO, BUY, SELL = Side.YES, Side.NO, Action.BUY, Action.SELL


def test_round_trip_pnl_matches_exchange_to_the_cent(sim, client, bob, executor, portfolio, journal):
    t = cent_market(sim)
    # 1. Buy 10 YES @ 0.52, resting on an empty book: a maker order on a maker-fee series.
    preview = executor.preview(t, YES, BUY, D(10), D("0.52"))
    assert not preview.would_cross and preview.fee_kind == "maker"
    assert preview.estimated_fee == D("0.0437")  # 0.0175 x 10 x 0.52 x 0.48 = 0.04368 -> 0.0437
    assert preview.max_loss == D("5.2437") and preview.position_after == D(10) and preview.env == "SIM"
    placed = executor.place_limit_order(t, YES, BUY, D(10), D("0.52"))
    assert placed.status == "resting" and placed.remaining_count == D(10)

    # 2. Bob sells 4 into it: a partial fill at the resting price; we are the maker.
    bob.create_order(OrderRequest(t, BookSide.ASK, D(4), D("0.52"), TimeInForce.IOC))
    status = executor.status(placed.order_id)
    assert status.fill_count == D(4) and status.remaining_count == D(6)
    assert status.maker_fees == D("0.0175")  # 0.0175 x 4 x 0.2496 = 0.017472 -> 0.0175

    # 3. Amend the rest down to 0.50, then cancel it.
    executor.amend(placed.order_id, price=D("0.50"))
    amended = executor.status(placed.order_id)
    assert amended.yes_price == D("0.50") and amended.remaining_count == D(6)
    cancelled = executor.cancel(placed.order_id)
    assert cancelled.reduced_by == D(6)
    assert executor.status(placed.order_id).status == "canceled"

    # 4. Bob bids 3 @ 0.60; we sell 3 "at market": an IOC at the protective price, taker.
    bob.create_order(OrderRequest(t, BookSide.BID, D(3), D("0.60")))
    sold = executor.place_market_order(t, YES, SELL, D(3))
    assert sold.fill_count == D(3) and sold.average_price == D("0.60") and sold.status == "executed"
    assert sold.fees == D("0.0504")  # 0.07 x 3 x 0.6 x 0.4

    # 5. Before settlement: 1 YES left at cost 0.52; the empty book marks at the last price 0.60.
    summary = portfolio.summary(method="fifo")
    assert [(p.ticker, p.position, p.mark, p.mark_source) for p in summary.positions] == [(t, D(1), D("0.60"), "last")]
    view = summary.positions[0]
    assert view.cost_basis == D("0.52") and view.unrealized_pnl == D("0.08")
    assert summary.realized_pnl == D("0.24")  # (0.60 - 0.52) x 3
    assert summary.fees_paid == D("0.0679")  # 0.0175 + 0.0504
    assert summary.discrepancies == ()  # the exchange's realized_pnl and fees_paid agree
    exchange_pos = client.get_positions(ticker=t).markets[0]
    assert exchange_pos.realized_pnl == D("0.24") and exchange_pos.fees_paid == D("0.0679")

    # 6. Settle YES: the last contract pays $1.
    sim.exchange.settle(t, "yes")
    summary = portfolio.summary()
    assert summary.positions == ()
    assert summary.realized_pnl == D("0.72") and summary.net_pnl == D("0.6521")
    # cash: 1000 - 4 x 0.52 - 0.0175 + 3 x 0.60 - 0.0504 + 1 = 1000.6521
    assert client.get_balance().balance == D("1000.6521")

    # the journal has the whole story, and a second sync changes nothing
    kinds = [e.kind for e in journal.order_events()]
    assert kinds.count("intent") == 2 and "amended" in kinds and "cancelled" in kinds
    assert portfolio.sync().new_fills == 0 and len(journal.settlements()) == 1


def test_no_against_yes_nets_and_flips(sim, client, bob, executor, portfolio):
    t = cent_market(sim)
    bob.create_order(OrderRequest(t, BookSide.ASK, D(5), D("0.40")))  # Bob offers YES at 0.40
    executor.place_limit_order(t, YES, BUY, D(5), D("0.40"), time_in_force=TimeInForce.IOC)
    bob.create_order(OrderRequest(t, BookSide.BID, D(8), D("0.45")))  # Bob bids YES at 0.45 = NO offered at 0.55
    # Buying 8 NO @ 0.55 closes 5 YES (sold at 0.45) and opens 3 NO.
    result = executor.place_limit_order(t, NO, BUY, D(8), D("0.55"), time_in_force=TimeInForce.IOC)
    assert result.fill_count == D(8) and result.average_price == D("0.55")
    pos = client.get_positions(ticker=t).markets[0]
    assert pos.position == D(-3)
    summary = portfolio.summary()
    assert summary.realized_pnl == D("0.25")  # 5 x (0.45 - 0.40)
    assert summary.positions[0].cost_basis == D("1.65")  # 3 NO x 0.55
    assert summary.discrepancies == ()


@pytest.mark.parametrize("price,count,exc", [
    (D("0.525"), D(1), UsageError),  # off the cent grid
    (D("0"), D(1), UsageError),
    (D("1"), D(1), UsageError),
    (D("0.5"), D("1.005"), UsageError),
    (D("0.5"), D("-1"), UsageError),
])
def test_bad_orders_refused_before_any_write(sim, executor, journal, price, count, exc):
    t = cent_market(sim)
    with pytest.raises(exc):
        executor.place_limit_order(t, YES, BUY, count, price)
    assert journal.order_events() == []


def test_unknown_ticker_and_closed_market(sim, executor, journal):
    with pytest.raises(NotFoundError):
        executor.place_limit_order("KXNOPE-26NOV21-T1", YES, BUY, D(1), D("0.5"))
    t = cent_market(sim)
    sim.exchange.settle(t, "no")
    with pytest.raises(RejectedError, match="not open"):
        executor.place_limit_order(t, YES, BUY, D(1), D("0.5"))
    assert journal.order_events() == []


def test_exchange_rejection_is_journalled(sim, executor, journal):
    t = cent_market(sim)
    with pytest.raises(RejectedError) as info:
        executor.place_limit_order(t, YES, BUY, D(100000), D("0.99"))
    assert info.value.code == "insufficient_balance"
    events = journal.order_events()
    assert [e.kind for e in events] == ["intent", "rejected"] and events[1].code == "insufficient_balance"


def test_crash_after_intent_reconciles_without_duplicates(sim, client, tmp_path):
    """A child process journals the intent, sends the order, and dies the moment the response arrives."""
    t = cent_market(sim)
    account = sim.demo_account
    journal_path = tmp_path / "crash.sqlite"
    script = textwrap.dedent(f"""
        import os
        from decimal import Decimal
        from pathlib import Path
        from requests.adapters import HTTPAdapter
        from kalshi_trading.api.client import KalshiClient
        from kalshi_trading.api.signer import KalshiAuth, Signer
        from kalshi_trading.api.transport import Transport
        from kalshi_trading.config import load_private_key
        from kalshi_trading.models import Side, Action
        from kalshi_trading.trading.executor import Executor
        from kalshi_trading.store.sqlite.journal import SqliteJournal

        class DiesOnOrderResponse(HTTPAdapter):
            def send(self, request, **kwargs):
                response = super().send(request, **kwargs)
                if request.method == "POST":
                    os._exit(9)  # the exchange has the order; our journal never hears back
                return response

        key = load_private_key(Path({str(account.private_key_path)!r}))
        transport = Transport({sim.base_url!r}, KalshiAuth(Signer({account.key_id!r}, key)),
                              adapter=DiesOnOrderResponse(max_retries=0))
        executor = Executor(KalshiClient(transport), SqliteJournal.open(Path({str(journal_path)!r})), "sim")
        executor.place_limit_order({t!r}, Side.YES, Action.BUY, Decimal(2), Decimal("0.30"))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    with SqliteJournal.open(journal_path) as journal:
        pending = journal.pending_intents()
        assert len(pending) == 1
        from kalshi_trading.trading.executor import Executor

        settled = Executor(client, journal, "sim").reconcile()
        assert len(settled) == 1 and settled[0][1] is not None and settled[0][2] == "resting"
        assert journal.pending_intents() == []
        orders = [o for o in client.iter_orders(ticker=t) if o.client_order_id == pending[0].client_order_id]
        assert len(orders) == 1  # placed exactly once


def test_reconcile_marks_intents_that_never_arrived(sim, client, journal, executor):
    t = cent_market(sim)
    journal.record_intent("never-sent-1", t, "bid", D("0.30"), D(1), "good_till_canceled", "sim")
    assert executor.reconcile() == [("never-sent-1", None, "not_placed")]


def test_fault_storm_never_duplicates_orders(sim):
    """Requests processed and then answered 5xx or dropped: retries with the same client_order_id never
    place an order twice."""
    t = cent_market(sim)
    c = client_for(sim.base_url, sim.demo_account,
                   RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01, max_total=30))
    sim.app.faults = Faults(FaultSpec(error_after=0.3, drop_after=0.2, error_before=0.1, seed=3))
    ids, unknown = [], 0
    for i in range(25):
        req = OrderRequest(t, BookSide.BID, D(1), D("0.10") + D(i) / 100, client_order_id=f"storm-{i}")
        try:
            c.create_order(req)
        except OrderOutcomeUnknown:
            unknown += 1
        ids.append(req.client_order_id)
    sim.app.faults = None
    placed = [o.client_order_id for o in c.iter_orders(ticker=t)]
    for cid in ids:
        assert placed.count(cid) <= 1
    assert len(placed) >= 25 - unknown
    c.close()
