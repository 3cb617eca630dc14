"""The market maker without churn: tolerances in the diff, the spread gate, decisions only on settled books,
post-only crosses backed off, the order-rate wait, withheld orders counted once, quote uptime over the gate.

Deterministic: the fakes of test_loop.py, an injected exchange clock and an injected wall clock."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from kalshi_trading.auto.botconfig import BotConfig, MarketConfig, parse_config
from kalshi_trading.auto.diff import plan
from kalshi_trading.auto.loop import BotLoop, MarketInfo
from kalshi_trading.auto.pacing import ECHO_WAIT, BookMark, Pacing, back_off
from kalshi_trading.auto.report import Metrics, QuoteTime, build_report, render_text
from kalshi_trading.auto.risk import RateLimitRule, RiskEngine
from kalshi_trading.auto.strategies.guard import GuardedStrategy
from kalshi_trading.auto.strategies import MarketMaker
from kalshi_trading.auto.types import SimpleBookView, TimerEvent, WorkingOrder
from kalshi_trading.errors import ConfigError, RejectedError
from kalshi_trading.marketdata.events import BookUpdated
from kalshi_trading.models import BookSide, PriceLevel
from kalshi_trading.money import PriceGrid
from tests.auto import test_loop
from tests.auto.test_loop import T, T0, FakeExchange, ManualClock, book, kinds, rec, tgt
from tests.auto.test_strategies import EV, snap

state = test_loop.state  # the bot-state fixture of test_loop.py, shared

D = Decimal
BID, ASK = BookSide.BID, BookSide.ASK
CENT = PriceGrid.of([("0.01", "0.99", "0.01")])


def levels(bids, asks) -> SimpleBookView:
    """A book from (price, size) pairs (sorted here, best first)."""
    return SimpleBookView(tuple(sorted((PriceLevel(D(p), D(s)) for p, s in bids), key=lambda lv: -lv.price)),
                          tuple(sorted((PriceLevel(D(p), D(s)) for p, s in asks), key=lambda lv: lv.price)))


class Wall:
    """An injected wall clock (seconds)."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class ScriptedFeed:
    """A feed whose messages arrive in bursts: `arrive(final, half, n)` queues n book events that end on `final`,
    the books in between half-applied (`half`), as a WebSocket burst of deltas would leave them."""

    def __init__(self, first: SimpleBookView, stop: threading.Event | None = None):
        self.books = {T: first}
        self.queue: list[tuple[SimpleBookView, BookUpdated]] = []
        self.stop = stop

    def start(self):
        pass

    def subscribe(self, tickers):
        pass

    def arrive(self, final: SimpleBookView, half: SimpleBookView, n: int = 3) -> None:
        for i in range(n):
            self.queue.append((final if i == n - 1 else half, BookUpdated(T, T0)))

    def pop(self):
        """The next event alone (its book applied)."""
        return self._take()

    def _take(self):
        view, ev = self.queue.pop(0)
        self.books[T] = view
        return ev

    def events(self, timeout):
        if self.queue:
            yield self._take()
        elif self.stop is not None:
            self.stop.set()

    def drain(self):
        out = []
        while self.queue:
            out.append(self._take())
        return out


class CrossingExchange(FakeExchange):
    """Rejects placements and amends at the prices in `crossing` as post-only crosses (the exchange's book has
    moved past them while ours has not)."""

    def __init__(self):
        super().__init__()
        self.crossing: set[Decimal] = set()

    def _cross(self, price):
        if price in self.crossing:
            self.calls.append(("rejected", price))
            raise RejectedError("post only order would cross the book", status=400, code="invalid_order",
                                details="post only cross")

    def place(self, target, market, ioc):
        self._cross(target.yes_price)
        return super().place(target, market, ioc)

    def amend(self, order, target, market=None):
        self._cross(target.yes_price)
        return super().amend(order, target, market)


def make(state, config: BotConfig | None = None, the_book=None, ex=None, feed=None, strategy=None):
    clock, wall = ManualClock(), Wall()
    config = config or BotConfig()
    ex = ex or FakeExchange()
    feed = feed or test_loop.FakeFeed(the_book or book("0.40", "0.50"))
    loop = BotLoop(strategy=strategy or MarketMaker(), risk=RiskEngine(config, clock.now), ledger=state.load_ledger(),
                   state=state, port=ex, feed=feed, markets={T: MarketInfo(T, CENT)}, clock=clock, config=config,
                   wall=wall)
    return loop, ex, feed, clock, wall


def writes(ex) -> list[tuple]:
    return [c for c in ex.calls if c[0] in ("place", "amend", "cancel", "decrease", "rejected")]


def showing_quotes(bid="0.41", ask="0.49", others=("0.40", "0.50")) -> SimpleBookView:
    """The book once it shows the bot's quotes (1 each) in front of the others' (10 each)."""
    return levels([(bid, 1), (others[0], 10)], [(ask, 1), (others[1], 10)])


# --- the diff: tolerances -----------------------------------------------------------------------------
@pytest.mark.parametrize("price, tolerance, kind", [
    ("0.41", "0.01", "keep"),   # at the target
    ("0.40", "0.01", "keep"),   # one tick behind, within the tolerance
    ("0.42", "0.01", "keep"),   # one tick ahead, within the tolerance
    ("0.39", "0.01", "amend"),  # two ticks off: re-priced
    ("0.43", "0.02", "keep"),
    ("0.44", "0.02", "amend"),
    ("0.40", "0", "amend"),     # tolerance 0: the old rule, exact price only
])
def test_an_order_is_kept_while_its_price_is_within_the_tolerance(price, tolerance, kind):
    actions = plan([tgt(BID, "0.41", "1")], [rec("a", BID, price, "1")], price_tolerance=D(tolerance))
    assert [a.kind for a in actions] == [kind]


@pytest.mark.parametrize("remaining, filled, threshold, kind", [
    ("4", "1", "2", "keep"),       # short by 1 < 2: not topped up
    ("3", "2", "2", "amend"),      # short by 2: topped up
    ("0.5", "0.5", "1", "keep"),   # a partly filled 1-lot keeps its place
    ("4", "1", "0", "amend"),      # threshold 0: any shortfall is topped up
    ("5", "0", "0", "keep"),
])
def test_size_changes_below_the_threshold_keep_the_order(remaining, filled, threshold, kind):
    target = tgt(BID, "0.41", str(D(remaining) + D(filled)) if kind != "keep" or filled != "0" else remaining)
    actions = plan([target], [rec("a", BID, "0.41", remaining, filled)], min_size_change=D(threshold))
    assert [a.kind for a in actions] == [kind]


@pytest.mark.parametrize("remaining", ["1.01", "2", "10"])
def test_a_smaller_target_decreases_the_order_never_cancels_and_replaces(remaining):
    for can_amend in (True, False):
        actions = plan([tgt(ASK, "0.49", "1")], [rec("b", ASK, "0.49", remaining)], can_amend=can_amend)
        assert kinds(actions) == [("decrease", "b", "shrink")]


def test_the_nearest_order_within_the_tolerance_is_the_one_kept():
    actions = plan([tgt(BID, "0.41", "1")], [rec("far", BID, "0.40", "1"), rec("near", BID, "0.41", "1")])
    assert kinds(actions) == [("cancel", "far", "not wanted"), ("keep", "near", "close enough")]


@pytest.mark.parametrize("bid, ask, first", [
    ("0.46", "0.52", "ask"),  # the market jumps up: the ask moves up out of the way, then the bid follows
    ("0.34", "0.42", "bid"),  # down: the bid first
])
def test_a_quote_moves_away_from_the_other_side_before_the_other_moves_towards_it(bid, ask, first):
    working = [rec("b", BID, "0.41", "1"), rec("a", ASK, "0.45", "1")]
    actions = plan([tgt(BID, bid, "1"), tgt(ASK, ask, "1")], working)
    assert [a.target.book_side.value for a in actions if a.kind == "amend"][0] == first


def test_beyond_the_tolerance_without_amend_it_is_cancel_then_place():
    actions = plan([tgt(BID, "0.45", "1")], [rec("a", BID, "0.41", "1")], can_amend=False)
    assert [(a.kind, a.reason) for a in actions] == [("cancel", "price"), ("place", "replace")]


# --- configuration --------------------------------------------------------------------------------
def test_tolerance_keys_parse_and_default():
    cfg = parse_config("[defaults]\nreprice_tolerance = 0.02\nmin_size_change = 0.5\n"
                       "[markets.\"X\"]\nreprice_tolerance = \"0\"\nmin_size_change = 0\n", "toml")
    assert (cfg.defaults.reprice_tolerance, cfg.defaults.min_size_change) == (D("0.02"), D("0.5"))
    assert (cfg.market("X").reprice_tolerance, cfg.market("X").min_size_change) == (0, 0)
    assert (MarketConfig().reprice_tolerance, MarketConfig().min_size_change) == (D("0.02"), D(1))


@pytest.mark.parametrize("line", ["reprice_tolerance = -0.01", "reprice_tolerance = 1", "reprice_tolerance = inf",
                                  "reprice_tolerance = true", "reprice_tolerance = \"one cent\"",
                                  "min_size_change = -1", "min_size_change = 0.005", "min_size_change = false",
                                  "min_size_change = \"x\"", "reprice_tolerence = 0.01"])
def test_bad_tolerance_values_name_the_key(line):
    key = line.split(" ")[0]
    with pytest.raises(ConfigError) as err:
        parse_config(f"[defaults]\n{line}\n", "toml")
    assert key in str(err.value) and "Traceback" not in str(err.value)


# --- the spread gate ------------------------------------------------------------------------------
@pytest.mark.parametrize("view, is_open", [
    (levels([("0.40", 5)], [("0.50", 5)]), True),
    (levels([("0.40", 5)], [("0.41", 5)]), False),                    # others' spread below min_spread
    (levels([("0.45", 5)], [("0.45", 5)]), False),                    # locked
    (levels([("0.46", 5)], [("0.44", 5)]), False),                    # crossed
    (levels([("0.40", 5)], []), False),                               # one-sided
    (SimpleBookView(levels([("0.40", 5)], [("0.50", 5)]).bids, levels([], [("0.50", 5)]).asks, stale=True), False),
])
def test_the_spread_gate(view, is_open):
    mm = MarketMaker()
    assert mm.gate_open(snap(book=view)) is is_open
    assert (mm.targets(EV, snap(book=view)) != []) is is_open


def test_the_gate_is_the_others_spread_without_our_own_quotes():
    mine = [WorkingOrder("b", "KX-T", BID, D("0.44"), D(1))]
    # the book's spread is one tick only because of our own bid: the others' 0.40 / 0.45 is wide
    assert MarketMaker().gate_open(snap(book=levels([("0.44", 1), ("0.40", 5)], [("0.45", 5)]), working=mine))
    # the others' own spread is one tick: our bid below it does not open the gate
    mine = [WorkingOrder("b", "KX-T", BID, D("0.39"), D(1))]
    assert not MarketMaker().gate_open(snap(book=levels([("0.40", 5), ("0.39", 1)], [("0.41", 5)]), working=mine))


# --- decisions on settled books only --------------------------------------------------------------
# the others re-quote 0.40/0.50 -> 0.44/0.54: their asks vanish first (the book one-sided but for our own ask),
# then come back higher
REQUOTED = showing_quotes(others=("0.44", "0.54"))
HALFWAY = levels([("0.41", 1), ("0.44", 10)], [("0.49", 1)])


def test_a_burst_of_deltas_is_decided_once_on_the_book_it_ends_with(state):
    stop = threading.Event()
    feed = ScriptedFeed(book("0.40", "0.50"), stop)
    loop, ex, _, clock, wall = make(state, feed=feed)
    loop.tick(T, TimerEvent(clock.now()))  # quotes 0.41 / 0.49
    feed.books[T] = showing_quotes()
    loop.handle(BookUpdated(T, T0))
    ex.calls.clear()
    asked = []
    inner = loop.strategy.targets
    loop.strategy.targets = lambda event, s: asked.append(s.book) or inner(event, s)  # type: ignore[method-assign]
    feed.arrive(REQUOTED, HALFWAY, n=4)
    wall.t += 10
    loop.run(stop)
    # re-priced once, the ask out of the way first; never pulled on the half book
    assert writes(ex) == [("amend", "o2", D("0.53"), D(1)), ("amend", "o1", D("0.45"), D(1))]
    assert HALFWAY not in asked and REQUOTED in asked
    assert loop.metrics.book_events == 5


def test_each_delta_decided_at_once_would_have_pulled_the_quotes(state):
    """The same burst, decided delta by delta (no deferral): the half-applied book cancels both quotes."""
    feed = ScriptedFeed(book("0.40", "0.50"))
    loop, ex, _, clock, _ = make(state, feed=feed)
    loop.tick(T, TimerEvent(clock.now()))
    feed.books[T] = showing_quotes()
    loop.handle(BookUpdated(T, T0))
    ex.calls.clear()
    feed.arrive(REQUOTED, HALFWAY, n=4)
    loop.handle(feed.pop())
    assert [c[0] for c in writes(ex)] == ["cancel", "cancel"]


def test_a_crossed_or_locked_book_decides_nothing(state):
    loop, ex, feed, clock, _ = make(state)
    loop.tick(T, TimerEvent(clock.now()))
    ex.calls.clear()
    for view in (levels([("0.47", 5)], [("0.45", 5)]), levels([("0.45", 5)], [("0.45", 5)])):
        feed.books[T] = view
        loop.handle(BookUpdated(T, T0))
        assert writes(ex) == []  # quotes neither pulled nor moved
    assert len(loop.ledger.orders) == 2 and loop.metrics.held_crossed == 2


def test_a_decision_waits_for_the_book_to_show_the_bots_own_write(state):
    """Right after the ask is re-priced from 0.51 to 0.54 the book still shows it at 0.51; read as someone
    else's ask, it would pull our ask back to 0.51.  The loop waits for the book to show the write."""
    loop, ex, feed, clock, wall = make(state, config=parse_config("[defaults]\nmin_spread = 0.02\n", "toml"),
                                       the_book=levels([("0.49", 10)], [("0.52", 10)]))
    loop.tick(T, TimerEvent(clock.now()))
    assert writes(ex) == [("place", "bid", D("0.50"), D(1)), ("place", "ask", D("0.51"), D(1))]
    feed.books[T] = levels([("0.50", 1), ("0.49", 10)], [("0.51", 1), ("0.55", 10)])  # others' ask up to 0.55
    loop.handle(BookUpdated(T, T0))
    assert writes(ex)[-1] == ("amend", "o2", D("0.54"), D(1))
    ex.calls.clear()
    loop.tick(T, TimerEvent(clock.now()))  # the same book: our old ask still shows at 0.51
    assert writes(ex) == [] and loop.metrics.held_echo == 1
    feed.books[T] = levels([("0.50", 1), ("0.49", 10)], [("0.54", 1), ("0.55", 10)])
    loop.handle(BookUpdated(T, T0))  # the echo
    assert writes(ex) == []  # kept: nothing to re-price


def test_the_wait_for_the_bots_own_write_is_bounded(state):
    loop, ex, feed, clock, wall = make(state)
    loop.tick(T, TimerEvent(clock.now()))
    ex.calls.clear()
    loop.config = parse_config("[defaults]\nmin_spread = 0.5\n", "toml")  # the quotes are no longer wanted
    loop.tick(T, TimerEvent(clock.now()))  # the same book: the echo of the placements has not come
    assert writes(ex) == []
    wall.t += ECHO_WAIT
    loop.tick(T, TimerEvent(clock.now()))  # no echo after ECHO_WAIT wall seconds: decide anyway
    assert [c[0] for c in writes(ex)] == ["cancel", "cancel"]


def test_when_the_book_moves_during_a_pass_the_rest_is_decided_again_on_the_newer_book(state):
    """The exchange moves on while the bid is in flight (the others' ask comes down to 0.46): the ask, decided
    on the old book at 0.49, would now cross.  It is not sent; the market is decided again on the newer book."""

    class MovingExchange(FakeExchange):
        def place(self, target, market, ioc):
            placed = super().place(target, market, ioc)
            if target.book_side is BID and feed.queue == []:
                feed.arrive(levels([("0.41", 1), ("0.40", 10)], [("0.45", 10)]),
                            levels([("0.41", 1), ("0.40", 10)], []), n=2)
            return placed

    feed = ScriptedFeed(book("0.40", "0.50"))
    loop, ex, _, clock, wall = make(state, ex=MovingExchange(), feed=feed)
    loop.tick(T, TimerEvent(clock.now()))
    assert writes(ex) == [("place", "bid", D("0.41"), D(1))]  # the ask was held back
    assert loop.metrics.held_moved == 1 and T in loop._pending
    loop.decide_pending()
    assert writes(ex)[1:] == [("place", "ask", D("0.44"), D(1))]  # one tick inside the newer 0.45


def test_a_fill_learned_over_rest_waits_for_the_book_to_show_it(state):
    """Reconciliation finds the bid filled (the others' new ask took it, at a price the feed has not shown yet):
    the bid is not re-placed on the old book, where it would cross that ask, but on the next one."""
    loop, ex, feed, clock, wall = make(state)
    loop.tick(T, TimerEvent(clock.now()))
    feed.books[T] = showing_quotes()
    loop.handle(BookUpdated(T, T0))
    wall.t += 1
    ex.calls.clear()
    oid = next(o for o, r in loop.ledger.orders.items() if r.book_side is BID)
    ex.orders.pop(oid)
    ex.fills.append(test_loop.rest_fill("t1", oid, BID, "0.41", "1"))
    ex.pos = {T: D(1)}
    loop.reconcile()
    assert loop.ledger.position(T) == 1 and oid not in loop.ledger.orders
    loop.tick(T, TimerEvent(clock.now()))  # the old book still shows our filled bid: read as someone else's,
    assert writes(ex) == [] and loop.metrics.held_echo == 1  # it would have had a bid placed at 0.42
    # the ask that took it rests at 0.41, the others' bid has dropped to 0.38
    feed.books[T] = levels([("0.38", 10)], [("0.41", 9), ("0.49", 1)])
    loop.handle(BookUpdated(T, T0))
    # long 1 now: the inventory skew takes the bid down a tick (0.38, not 0.39); the ask 0.40
    assert writes(ex) == [("place", "bid", D("0.38"), D(1)), ("amend", "o2", D("0.40"), D(1))]


def test_an_order_found_gone_by_its_amend_is_replaced_on_a_book_that_shows_what_took_it(state):
    loop, ex, feed, clock, wall = make(state)
    loop.tick(T, TimerEvent(clock.now()))
    feed.books[T] = showing_quotes()
    loop.handle(BookUpdated(T, T0))
    wall.t += 1
    ex.orders.pop("o1")  # the bid was taken while the amend was on its way
    ex.calls.clear()
    feed.books[T] = levels([("0.41", 1), ("0.44", 10)], [("0.49", 1), ("0.50", 10)])
    loop.handle(BookUpdated(T, T0))
    assert writes(ex) == []  # the amend found it gone (404): nothing placed on this book
    assert "o1" not in loop.ledger.orders
    loop.tick(T, TimerEvent(clock.now()))
    assert writes(ex) == []
    feed.books[T] = levels([("0.44", 10)], [("0.49", 1), ("0.50", 10)])
    loop.handle(BookUpdated(T, T0))
    assert writes(ex) == [("place", "bid", D("0.45"), D(1))]


# --- post-only crosses ----------------------------------------------------------------------------
def test_a_crossing_placement_backs_off_one_tick_and_waits_for_a_newer_book(state):
    ex = CrossingExchange()
    ex.crossing = {D("0.41")}
    loop, _, feed, clock, wall = make(state, ex=ex)
    loop.tick(T, TimerEvent(clock.now()))
    assert writes(ex) == [("rejected", D("0.41")), ("place", "ask", D("0.49"), D(1))]
    ex.calls.clear()
    wall.t += 1  # no echo wait; the same book, though
    for _ in range(3):
        loop.tick(T, TimerEvent(clock.now()))
    assert writes(ex) == [] and loop.metrics.cross_waits == 3  # no retry on the book that was wrong
    feed.books[T] = book("0.40", "0.50")  # a newer book (the same prices)
    loop.handle(BookUpdated(T, T0))
    assert writes(ex) == [("place", "bid", D("0.40"), D(1))]  # one tick behind the rejected 0.41
    ex.calls.clear()
    feed.books[T] = levels([("0.40", 11)], [("0.49", 1), ("0.50", 10)])
    loop.handle(BookUpdated(T, T0))
    assert writes(ex) == []  # resting at 0.40, within the tolerance of 0.41: not pushed back into the cross
    m = loop.metrics
    assert (m.rejected, m.rejected_cross, m.place_rejected, m.placed) == (1, 1, 1, 2)
    assert m.summary()["orders_rejected_pct"] == round(100 / 3, 2)


def test_a_crossing_amend_keeps_the_order_where_it_rests(state):
    ex = CrossingExchange()
    loop, _, feed, clock, wall = make(state, ex=ex)
    loop.tick(T, TimerEvent(clock.now()))
    ex.crossing = {D("0.45")}
    feed.books[T] = levels([("0.44", 10), ("0.41", 1)], [("0.49", 1), ("0.55", 10)])
    loop.handle(BookUpdated(T, T0))
    assert ("rejected", D("0.45")) in ex.calls
    assert {o.yes_price for o in loop.ledger.orders.values()} == {D("0.41"), D("0.54")}  # the bid still rests
    ex.calls.clear()
    loop.tick(T, TimerEvent(clock.now()))
    assert writes(ex) == []
    feed.books[T] = levels([("0.44", 10), ("0.41", 1)], [("0.54", 1), ("0.55", 10)])
    loop.handle(BookUpdated(T, T0))
    assert writes(ex) == [("amend", "o1", D("0.44"), D(1))]  # joins at 0.44: a tick behind the rejected 0.45


def test_a_quote_that_would_cross_the_bots_own_other_quote_is_held(state):
    """The ask could not move out of the way (its amend was refused): the bid does not follow into it."""
    ex = CrossingExchange()
    loop, _, feed, clock, wall = make(state, ex=ex, the_book=book("0.40", "0.46"))
    loop.tick(T, TimerEvent(clock.now()))
    assert writes(ex) == [("place", "bid", D("0.41"), D(1)), ("place", "ask", D("0.45"), D(1))]
    ex.calls.clear()
    ex.crossing = {D("0.54")}
    wall.t += ECHO_WAIT
    feed.books[T] = levels([("0.47", 10), ("0.41", 1)], [("0.55", 10)])  # a view that misses our ask
    loop.handle(BookUpdated(T, T0))
    assert writes(ex) == [("rejected", D("0.54"))]  # the bid at 0.48 would have met our ask at 0.45
    assert loop.metrics.held_self_cross == 1
    assert sorted(o.yes_price for o in loop.ledger.orders.values()) == [D("0.41"), D("0.45")]


def test_back_off_never_makes_a_price_more_aggressive():
    bid, ask = tgt(BID, "0.38", "1"), tgt(ASK, "0.55", "1")
    assert back_off(bid, D("0.41"), CENT) == bid and back_off(ask, D("0.49"), CENT) == ask
    assert back_off(tgt(BID, "0.41", "1"), D("0.41"), CENT).yes_price == D("0.40")
    assert back_off(tgt(ASK, "0.49", "1"), D("0.49"), CENT).yes_price == D("0.50")
    assert back_off(tgt(BID, "0.01", "1"), D("0.01"), CENT) is None  # no lower price: nothing to send


# --- the order-rate window ------------------------------------------------------------------------
def test_rate_window_reopens_when_the_oldest_order_leaves_it():
    rule = RateLimitRule()
    assert rule.reopens_at(T0, 2) is None
    rule.record(T0)
    rule.record(T0 + timedelta(seconds=10))
    assert rule.reopens_at(T0 + timedelta(seconds=20), 2) == T0 + timedelta(seconds=60)
    rule.record(T0 + timedelta(seconds=30))
    assert rule.reopens_at(T0 + timedelta(seconds=30), 2) == T0 + timedelta(seconds=70)
    assert rule.reopens_at(T0 + timedelta(seconds=70), 2) is None


def test_rate_limit_denials_wait_for_the_window_and_count_each_withheld_order_once(state):
    config = parse_config("max_orders_per_minute = 2\n", "toml")
    loop, ex, feed, clock, wall = make(state, config=config)
    loop.tick(T, TimerEvent(clock.now()))  # two placements: the window is full
    feed.books[T] = book("0.44", "0.55")
    loop.handle(BookUpdated(T, T0))  # both quotes must move: withheld (their old prices cancelled)
    checks = len(loop.risk.denials)
    for _ in range(5):
        clock.advance(5)
        wall.t += 1
        feed.books[T] = book("0.44", "0.55", size=str(10 + _))
        loop.handle(BookUpdated(T, T0))
    assert len(loop.risk.denials) == checks == 1  # the risk engine is not asked again while the window is full
    assert loop.metrics.denials_unique == 2  # the bid and the ask
    assert loop.metrics.denials == 12 and loop.metrics.rate_waits == 11
    assert len(state.events(kinds=["denied"])) == 2  # one log line per withheld order
    ex.calls.clear()
    clock.advance(60)
    feed.books[T] = book("0.44", "0.55", size="99")
    loop.handle(BookUpdated(T, T0))
    assert [c[0] for c in writes(ex)] == ["place", "place"]


def test_a_denial_repeated_for_the_same_wanted_order_counts_once_until_it_is_no_longer_wanted(state):
    config = parse_config("max_total_exposure = 0.45\n", "toml")  # room for the bid, not for the ask
    loop, ex, feed, clock, wall = make(state, config=config)
    for i in range(4):
        wall.t += 1
        feed.books[T] = book("0.40", "0.50", size=str(10 + i))
        loop.handle(BookUpdated(T, T0))
    assert (loop.metrics.denials, loop.metrics.denials_unique) == (4, 1)
    feed.books[T] = book("0.40", "0.41")  # the gate shuts: the ask is no longer wanted
    loop.handle(BookUpdated(T, T0))
    wall.t += 1
    feed.books[T] = book("0.40", "0.50")
    loop.handle(BookUpdated(T, T0))
    assert (loop.metrics.denials, loop.metrics.denials_unique) == (5, 2)


def test_pacing_forgets_withheld_orders_that_are_sent_or_unwanted():
    p = Pacing()
    bid = tgt(BID, "0.41", "1")
    assert p.withhold(bid, "exposure_cap") and not p.withhold(bid, "rate_limit")
    p.release(bid)
    assert p.withhold(bid, "exposure_cap")
    p.still_wanted(T, [])
    assert p.withhold(bid, "exposure_cap")
    mark = BookMark(3, None)
    p.crossed(bid, D("0.41"), mark)
    assert p.blocked(T, BID, BookMark(3, None)) and not p.blocked(T, BID, BookMark(4, None))
    assert not p.blocked(T, ASK, mark)


# --- quote uptime over the spread gate ------------------------------------------------------------
def test_quote_time_counts_each_interval_in_the_state_seen_at_its_start():
    q = QuoteTime()
    q.observe(T0, True, True)
    q.observe(T0 + timedelta(seconds=10), False, False)
    q.observe(T0 + timedelta(seconds=20), False, True)  # gate open, not quoted yet
    q.observe(T0 + timedelta(seconds=25), True, True)
    q.close(T0 + timedelta(seconds=40))
    assert (q.observed, q.quoted, q.gate, q.gate_quoted) == (40, 25, 30, 25)
    assert q.uptime == 25 / 40 and q.gate_uptime == 25 / 30 and q.gate_share == 30 / 40


@pytest.mark.parametrize("guarded", [False, True], ids=["bare", "behind-the-guard"])
def test_uptime_is_measured_over_the_time_the_gate_is_open(state, guarded):
    # `kalshi auto` runs every strategy behind its guard: the gate is measured through it too
    loop, ex, feed, clock, wall = make(state, strategy=GuardedStrategy(MarketMaker()) if guarded else None)
    loop.tick(T, TimerEvent(clock.now()))  # gate open, quoted
    clock.advance(10)
    wall.t += 1
    feed.books[T] = book("0.40", "0.41")  # the gate shuts: the bid (now above the others' best) comes off, the ask
    # (no better than their best ask) is held through the narrow spread
    loop.handle(BookUpdated(T, T0))
    clock.advance(30)
    wall.t += 1
    feed.books[T] = book("0.40", "0.50")
    loop.handle(BookUpdated(T, T0))
    clock.advance(20)
    loop.metrics.stopped(wall(), clock.now())
    q = loop.metrics.quoted[T]
    assert (q.observed, q.gate, q.gate_quoted, q.quoted) == (60, 30, 30, 30)
    report = build_report(loop.metrics, loop.ledger, loop.marks(), risk_state="active", risk_reason="", tickers=[T],
                          strategy="mm", env="SIM", feed="fake")
    assert (report["quote_uptime"], report["quote_uptime_gate_open"], report["gate_open_share"]) == (0.5, 1.0, 0.5)
    m = report["metrics"]
    assert (m["orders_placed"], m["orders_cancelled"], m["order_actions"], m["actions_per_fill"]) == (3, 1, 4, None)
    text = render_text(report)
    assert "100% while the spread gate was open" in text and "withheld orders" in text


def test_report_fields_of_an_empty_run():
    doc = Metrics().summary()
    for key in ("orders_rejected_pct", "actions_per_fill"):
        assert doc[key] is None
    assert doc["risk_denials_unique"] == doc["risk_denials"] == 0
