"""The loop against an in-test fake exchange and feed, with an injected clock (no network, no timing asserts)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kalshi_trading.auto.botconfig import BotConfig, ConfigWatcher, parse_config
from kalshi_trading.auto.diff import plan
from kalshi_trading.auto.exchange import Placed
from kalshi_trading.auto.ledger import BotFill, FillSource, OrderRecord
from kalshi_trading.auto.loop import BotLoop, MarketInfo
from kalshi_trading.auto.risk import RiskEngine
from kalshi_trading.auto.strategies import MarketMaker
from kalshi_trading.auto.types import RiskState, SimpleBookView, TargetOrder, TimerEvent
from kalshi_trading.errors import NotFoundError
from kalshi_trading.marketdata.events import FillMsg
from kalshi_trading.models import BookSide, Fill, Order, PriceLevel, Side
from kalshi_trading.money import PriceGrid
from tests.auto.states import open_state

T = "KXTEST-26JAN01-T50"
D = Decimal
BID, ASK = BookSide.BID, BookSide.ASK
T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


class ManualClock:
    rate = 1.0

    def __init__(self, start: datetime = T0):
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@dataclass
class FakeExchange:
    """Records every call; orders rest until cancelled."""

    calls: list = field(default_factory=list)
    orders: dict = field(default_factory=dict)
    fills: list = field(default_factory=list)
    pos: dict = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    journalled: list = field(default_factory=list)  # fills handed to the journal

    def place(self, target: TargetOrder, market, ioc: bool) -> Placed:
        oid = f"o{next(self.ids)}"
        self.calls.append(("place", target.book_side.value, target.yes_price, target.count))
        self.orders[oid] = Order(oid, "", target.ticker, "yes" if target.book_side is BID else "no",
                                 target.book_side.value, "resting", target.yes_price, D(0), target.count, target.count)
        return Placed(oid, "", D(0), target.count, "resting")

    def amend(self, order: OrderRecord, target: TargetOrder, market=None) -> Placed:
        if order.order_id not in self.orders:
            raise NotFoundError("gone", status=404)
        self.calls.append(("amend", order.order_id, target.yes_price, target.count))
        o = self.orders[order.order_id]
        self.orders[order.order_id] = Order(o.order_id, "", o.ticker, o.outcome_side, o.book_side, "resting",
                                            target.yes_price, D(0), target.count, target.count)
        return Placed(order.order_id, "", order.filled, target.count, "resting")

    def cancel(self, order: OrderRecord) -> Decimal:
        self.calls.append(("cancel", order.order_id))
        self.orders.pop(order.order_id, None)
        return order.remaining

    def decrease(self, order: OrderRecord, reduce_to: Decimal) -> Decimal:
        self.calls.append(("decrease", order.order_id, reduce_to))
        return reduce_to

    def cancel_orders(self, refs) -> int:
        refs = list(refs)
        self.calls.append(("cancel_many", sorted(r.order_id for r in refs)))
        for r in refs:
            self.orders.pop(r.order_id, None)
        return len(refs)

    def order_fills(self, order_id):
        return iter([f for f in self.fills if f.order_id == order_id])

    def record_fills(self, fills) -> int:
        self.journalled.extend(fills)
        return len(fills)

    def resting_orders(self, tickers=None):
        return [o for o in self.orders.values() if tickers is None or o.ticker in tickers]

    def fills_since(self, ts):
        return iter(self.fills)

    def positions(self):
        return dict(self.pos)

    def writes(self):
        return [c for c in self.calls if c[0] != "noop"]


class FakeFeed:
    def __init__(self, book):
        self.books = {T: book}
        self.queue = []

    def start(self):
        pass

    def stop(self):
        pass

    def subscribe(self, tickers):
        pass

    def events(self, timeout):
        while self.queue:
            yield self.queue.pop(0)


def book(bid: str, ask: str, size: str = "10") -> SimpleBookView:
    return SimpleBookView.top(D(bid), D(size), D(ask), D(size))


@pytest.fixture
def state(tmp_path):
    s = open_state(tmp_path)
    yield s
    s.close()


def make_loop(state, config: BotConfig | None = None, watcher=None, the_book=None, clock=None, strategy=None):
    clock = clock or ManualClock()
    config = config or BotConfig()
    ex = FakeExchange()
    feed = FakeFeed(the_book or book("0.40", "0.50"))
    loop = BotLoop(strategy=strategy or MarketMaker(), risk=RiskEngine(config, clock.now), ledger=state.load_ledger(),
                   state=state, port=ex, feed=feed,
                   markets={T: MarketInfo(T, PriceGrid.of([("0.01", "0.99", "0.01")]))}, clock=clock,
                   config=config, watcher=watcher)
    return loop, ex, feed, clock


# --- the diff -------------------------------------------------------------------------------------
def rec(oid: str, side: BookSide, price: str, remaining: str, filled: str = "0") -> OrderRecord:
    fills = [BotFill(f"t/{oid}", oid, T, side, D(price), D(filled), D(0), T0)] if D(filled) else []
    return OrderRecord(oid, T, side, D(price), D(remaining) + D(filled), fills=fills)


def tgt(side: BookSide, price: str, count: str, tag: str = "mm") -> TargetOrder:
    return TargetOrder(T, side, D(price), D(count), tag)


def kinds(actions):
    return [(a.kind, a.order.order_id if a.order else None, a.reason) for a in actions]


def test_plan_keeps_an_order_that_is_close_enough():
    # same price, a partial fill left 3 of 5, short by less than min_size_change: still worth its queue position
    assert kinds(plan([tgt(BID, "0.41", "5")], [rec("a", BID, "0.41", "3", "2")],
                      min_size_change=D(3))) == [("keep", "a", "close enough")]


def test_plan_amends_on_price_change_and_decreases_on_shrink():
    actions = plan([tgt(BID, "0.42", "5"), tgt(ASK, "0.49", "1")],
                   [rec("a", BID, "0.41", "5"), rec("b", ASK, "0.49", "4")], price_tolerance=D(0))
    assert kinds(actions) == [("decrease", "b", "shrink"), ("amend", "a", "price")]


def test_plan_without_amend_cancels_then_places():
    actions = plan([tgt(BID, "0.42", "5")], [rec("a", BID, "0.41", "5")], can_amend=False, price_tolerance=D(0))
    assert [a.kind for a in actions] == ["cancel", "place"]


def test_plan_cancels_unwanted_and_places_missing():
    actions = plan([tgt(ASK, "0.49", "1")], [rec("a", BID, "0.41", "5")])
    assert [(a.kind, a.reason) for a in actions] == [("cancel", "not wanted"), ("place", "new")]


def test_plan_tops_up_an_order_mostly_filled():
    actions = plan([tgt(BID, "0.41", "10")], [rec("a", BID, "0.41", "2", "8")])
    assert kinds(actions) == [("amend", "a", "size")]


def test_plan_sends_takes_separately():
    actions = plan([tgt(BID, "0.50", "1", "edge:take-buy")], [])
    assert [(a.kind, a.ioc) for a in actions] == [("place", True)]


# --- the loop -------------------------------------------------------------------------------------
def test_quotes_once_then_keeps_them_then_amends_when_the_book_moves(state):
    loop, ex, feed, clock = make_loop(state)
    loop.tick(T, TimerEvent(clock.now()))
    assert ex.calls == [("place", "bid", D("0.41"), D(1)), ("place", "ask", D("0.49"), D(1))]
    ex.calls.clear()
    # our own quotes are now in the book; the maker must not step inside itself
    feed.books[T] = SimpleBookView(bids=(PriceLevel(D("0.41"), D(1)), PriceLevel(D("0.40"), D(10))),
                                   asks=(PriceLevel(D("0.49"), D(1)), PriceLevel(D("0.50"), D(10))))
    loop.tick(T, TimerEvent(clock.now()))
    assert ex.calls == []  # close enough: kept, queue position intact
    feed.books[T] = book("0.44", "0.55")
    loop.tick(T, TimerEvent(clock.now()))
    assert [c[0] for c in ex.calls] == ["amend", "amend"]
    assert {(o.book_side, o.yes_price) for o in loop.ledger.orders.values()} == {(BID, D("0.45")), (ASK, D("0.54"))}
    assert state.decisions(10)  # every pass is in the decision log


def test_risk_denies_with_a_logged_reason(state):
    # the bid (0.41 at risk) fits under $0.45 of exposure; the ask (0.51 more) does not
    config = parse_config("max_total_exposure = 0.45\n", "toml")
    loop, ex, feed, clock = make_loop(state, config)
    loop.tick(T, TimerEvent(clock.now()))
    assert ex.calls == [("place", "bid", D("0.41"), D(1))]
    denied = state.events(kinds=["denied"])
    assert denied and "[exposure_cap]" in denied[0]["message"]
    assert loop.metrics.denials == 1


def test_stale_book_cancels_quotes(state):
    loop, ex, feed, clock = make_loop(state)
    loop.tick(T, TimerEvent(clock.now()))
    feed.books[T] = SimpleBookView(book("0.40", "0.50").bids, book("0.40", "0.50").asks, stale=True)
    ex.calls.clear()
    loop.tick(T, TimerEvent(clock.now()))
    assert sorted(c[0] for c in ex.calls) == ["cancel", "cancel"]
    assert loop.ledger.orders == {}


def test_loss_past_the_limit_halts_cancels_everything_and_stops_quoting(state):
    config = parse_config("max_daily_loss = 1\n", "toml")
    loop, ex, feed, clock = make_loop(state, config)
    loop.tick(T, TimerEvent(clock.now()))
    assert len(loop.ledger.orders) == 2
    ex.calls.clear()
    alerts = []
    loop.on_alert = lambda level, msg: alerts.append(level)
    # bought 10 YES at 0.60 and the book now marks them at 0.45: unrealized -1.50 <= -1
    loop.apply_fill(BotFill("t1/x", "x", T, BID, D("0.60"), D(10), D("0.05"), clock.now()))
    assert loop.risk.state is RiskState.HALTED
    assert ex.calls[0][0] == "cancel_many" and loop.ledger.orders == {} and ex.orders == {}
    assert "halt" in alerts
    assert state.risk_state()["state"] == "halted"
    ex.calls.clear()
    loop.tick(T, TimerEvent(clock.now()))
    assert ex.calls == []  # halted: nothing is quoted


def test_fill_is_counted_once_from_feed_and_rest(state):
    loop, ex, feed, clock = make_loop(state)
    fill = BotFill("t1/o9", "o9", T, BID, D("0.40"), D(2), D(0), clock.now())
    assert loop.apply_fill(fill) is True
    assert loop.apply_fill(fill) is False
    assert loop.ledger.position(T) == D(2)


def test_config_reload_keeps_the_last_good_configuration(state, tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text("[defaults]\nquote_size = 2\n")
    clock = ManualClock()
    watcher = ConfigWatcher(path, clock.now)
    loop, ex, feed, _ = make_loop(state, watcher.config, watcher, clock=clock)
    path.write_text("[defaults]\nquote_size = -5\n")  # bad
    os.utime(path, ns=(1, 1))
    loop.reload_config()
    assert loop.config.market(T).quote_size == D(2)
    assert state.events(kinds=["config_rejected"])
    path.write_text("[defaults]\nquote_size = 3\n")
    os.utime(path, ns=(2, 2))
    loop.reload_config()
    assert loop.config.market(T).quote_size == D(3)
    loop.tick(T, TimerEvent(clock.now()))
    assert {c[3] for c in ex.calls} == {D(3)}


def test_resume_request_from_another_process_is_picked_up(state):
    loop, ex, feed, clock = make_loop(state)
    loop.risk.halt("test")
    state.put("resume_request", clock.now().isoformat())
    loop.reload_config()
    assert loop.risk.state is RiskState.ACTIVE


def test_amend_of_an_order_gone_meanwhile_forgets_it(state):
    loop, ex, feed, clock = make_loop(state)
    loop.tick(T, TimerEvent(clock.now()))
    ex.orders.clear()  # filled elsewhere
    feed.books[T] = book("0.44", "0.55")
    loop.tick(T, TimerEvent(clock.now()))
    assert loop.ledger.orders == {}


# --- fills reach the journal, positions are corrected by explicit adjustments ------------------------------
def rest_fill(trade: str, order_id: str, side: BookSide, price: str, count: str, ts=T0) -> Fill:
    return Fill(trade, order_id, T, "yes" if side is BID else "no", side.value, D(count), D(price), False, D("0.01"),
                ts, trade)


def test_a_feed_fill_is_journalled_from_its_rest_record_once_the_exchange_lists_it(state):
    loop, ex, feed, clock = make_loop(state)
    loop.tick(T, TimerEvent(clock.now()))
    oid, rec = next((o, r) for o, r in loop.ledger.orders.items() if r.book_side is BID)
    loop.handle(FillMsg(T, "t1", oid, False, Side.YES, BID, rec.yes_price, D(1), D("0.01"), None, T0))
    assert loop.ledger.position(T) == 1 and set(loop.unjournalled) == {f"t1/{oid}"}
    loop.journal_fills()  # the exchange does not list it yet: it stays pending
    assert ex.journalled == [] and loop.unjournalled
    ex.fills.append(rest_fill("t1", oid, BID, str(rec.yes_price), "1"))
    loop.journal_fills()
    assert [f.fill_id for f in ex.journalled] == ["t1"] and loop.unjournalled == {}
    assert loop.ledger.position(T) == 1  # journalled, not counted twice


def test_a_fill_seen_only_by_rest_is_applied_and_journalled_by_reconciliation(state):
    loop, ex, feed, clock = make_loop(state)
    ex.fills.append(rest_fill("t7", "elsewhere", ASK, "0.45", "2"))
    ex.pos = {T: D(-2)}
    loop.reconcile()
    assert loop.ledger.position(T) == -2 and [f.fill_id for f in ex.journalled] == ["t7"]
    assert state.adjustments() == []  # the fill explains the position


def test_a_position_the_fills_do_not_explain_is_corrected_by_an_adjustment_fact(state):
    loop, ex, feed, clock = make_loop(state)
    ex.pos = {T: D(3)}  # fills the bot never saw
    loop.reconcile()
    assert loop.ledger.position(T) == 0  # seen once: could be a fill landing between the reads
    loop.reconcile()
    assert loop.ledger.position(T) == 3
    [adj] = state.adjustments()
    assert (adj.source, adj.book_side, adj.count, adj.yes_price) == (FillSource.ADJUSTMENT, BID, D(3), D("0.45"))
    assert state.fills() == [] and state.load_ledger().position(T) == 3  # a fact of its own, kept
    assert f"{T} position 0.00 -> 3 (exchange)" in state.events(5, ["reconcile"])[-1]["message"]
