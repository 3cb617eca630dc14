"""Every write to an order goes through the executor's journalled path, for the bot (orders it knows) as for the
CLI (orders it reads first): placements carry the strategy that sent them, and amends, decreases, cancels and
batch cancels are order events; fills are recorded as they arrive.  Against the real simulator over HTTP."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest

from kalshi_trading.errors import JournalError, NotFoundError, UsageError
from kalshi_trading.models import Action, BookSide, OrderRequest, Side, TimeInForce
from kalshi_trading.trading.executor import Executor, OrderRef
from kalshi_trading.store.unusable import UnusableJournal
from kalshi_trading.trading.pnl import BookCarry, LotBook, compute_pnl
from tests.e2e import conftest as e2e
from tests.e2e.conftest import cent_market

sim, client, bob, journal, executor = e2e.sim, e2e.client, e2e.bob, e2e.journal, e2e.executor  # fixtures, by name


def place(ex: Executor, ticker, price="0.30", count="3", strategy=None):
    return ex.place_limit_order(ticker, Side.YES, Action.BUY, D(count), D(price), strategy=strategy)


def events(j, cid):
    return [(e.kind, e.order_id, e.yes_price, e.count) for e in j.order_events(client_order_id=cid)]


def test_known_order_writes_are_journalled(sim, client, executor, journal):
    t = cent_market(sim)
    placed = place(executor, t, strategy="mm")
    ref = OrderRef(placed.order_id, t, placed.client_order_id, BookSide.BID)
    assert journal.strategies([placed.order_id, placed.client_order_id]) == {placed.order_id: "mm",
                                                                            placed.client_order_id: "mm"}
    executor.amend_known(ref, yes_price=D("0.31"), total=D(4), market=executor.market(t))
    executor.decrease_known(ref, reduce_to=D(2))
    executor.cancel_known(ref)
    assert events(journal, placed.client_order_id)[1:] == [
        ("accepted", placed.order_id, None, D(0)), ("amended", placed.order_id, D("0.31"), D(4)),
        ("decreased", placed.order_id, None, D(2)), ("cancelled", placed.order_id, None, D(2))]
    with pytest.raises(NotFoundError):  # gone: nothing more is recorded
        executor.cancel_known(ref)
    assert len(events(journal, placed.client_order_id)) == 5


def test_an_amend_off_the_grid_is_refused_before_anything_is_sent(sim, client, executor, journal):
    t = cent_market(sim)
    placed = place(executor, t)
    ref = OrderRef(placed.order_id, t, placed.client_order_id, BookSide.BID)
    with pytest.raises(UsageError, match="tick grid"):
        executor.amend_known(ref, yes_price=D("0.305"), total=D(3), market=executor.market(t))
    assert client.get_order(placed.order_id).yes_price == D("0.30")
    assert [k for k, *_ in events(journal, placed.client_order_id)] == ["intent", "accepted"]


def test_batch_cancel_journals_each_order_and_skips_ones_already_gone(sim, client, executor, journal):
    t = cent_market(sim)
    mine = [place(executor, t, price=p, strategy="mm") for p in ("0.20", "0.21", "0.22")]
    gone = mine[0]
    client.cancel_order(gone.order_id)  # cancelled elsewhere (the website)
    acks = executor.cancel_known_orders(OrderRef(o.order_id, t, o.client_order_id) for o in mine)
    assert sorted(a.order_id for a in acks) == sorted(o.order_id for o in mine[1:])
    assert [k for k, *_ in events(journal, gone.client_order_id)] == ["intent", "accepted"]
    for o in mine[1:]:
        assert events(journal, o.client_order_id)[-1] == ("cancelled", o.order_id, None, D(3))
    assert list(client.iter_orders(ticker=t, status="resting")) == []


def test_the_cli_paths_read_the_order_then_take_the_same_journalled_path(sim, client, executor, journal):
    t = cent_market(sim)
    placed = place(executor, t)
    executor.amend(placed.order_id, price=D("0.32"))
    executor.decrease(placed.order_id, reduce_by=D(1))
    executor.cancel(placed.order_id)
    assert [k for k, *_ in events(journal, placed.client_order_id)] == ["intent", "accepted", "amended", "decreased",
                                                                        "cancelled"]
    with pytest.raises(NotFoundError, match="no order"):
        executor.cancel("00000000-0000-0000-0000-000000000000")


def test_fills_are_recorded_as_they_arrive_once(sim, client, bob, executor, journal):
    t = cent_market(sim)
    bob.create_order(OrderRequest(ticker=t, book_side=BookSide.ASK, count=D(5), yes_price=D("0.60"),
                                  time_in_force=TimeInForce.GTC))
    placed = place(executor, t, price="0.60", count="2", strategy="edge")
    fills = list(client.iter_fills(order_id=placed.order_id))
    assert fills and executor.record_fills(fills) == len(fills)
    assert executor.record_fills(fills) == 0  # the journal holds them already
    assert journal.strategies(f.order_id for f in fills) == {placed.order_id: "edge"}


def test_record_fills_without_a_usable_journal_logs_and_goes_on(sim, client, caplog):
    unusable = UnusableJournal(sim.directory / "journal.sqlite", JournalError("damaged"))
    with caplog.at_level(logging.WARNING):
        assert Executor(client, unusable, "sim").record_fills([object()]) == 0  # type: ignore[list-item]
    assert "could not be journalled" in caplog.text


def test_a_carried_book_goes_on_exactly_as_the_whole_one():
    from tests.auto.test_ledger import fill

    fills = [fill(i, side, price, n, "0.01", minutes=i) for i, (side, price, n) in enumerate(
        [(BookSide.BID, "0.33", 2), (BookSide.BID, "0.34", 1), (BookSide.ASK, "0.50", 1), (BookSide.ASK, "0.61", 4),
         (BookSide.BID, "0.20", 1)])]
    for method in ("avg", "fifo"):
        whole = compute_pnl([f.as_fill() for f in fills], method=method, with_lots=False)
        head = LotBook(method, keep_lots=False)
        head.apply_fills(f.as_fill() for f in fills[:3])
        carry = head.carry(fills[0].ticker)
        tail = LotBook(method, keep_lots=False)
        tail.resume(BookCarry(carry.ticker, carry.position, carry.lots, carry.realized, carry.fees))
        tail.apply_fills(f.as_fill() for f in fills[3:])
        assert tail.report(with_lots=False) == whole
    with pytest.raises(ValueError, match="one pooled lot"):
        LotBook("avg").resume(BookCarry("X", 200, ((100, 1, None, 0), (100, 1, None, 0)), 0, 0))
