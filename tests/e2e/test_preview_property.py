"""The order preview against the real simulator: what it says is what the balance and position then are.

For random orders (contract yes|no, buy|sell, gtc|ioc|fok, reduce-only or not, fractional counts), random
starting positions (flat, long YES, long NO, with part of it promised to an own resting order) and random
books (levels that cross fully, partly or not at all), the preview's figures must equal, to the $0.0001:
- right after placing: GET /portfolio/balance and the position;
- once a counterparty fills what rested: the balance and position again (the preview's "if all fills");
- the fees the exchange charged, and the max loss rebuilt from the exchange's own fills.
Book levels hold one order each: fees are per execution, which a level-by-level preview matches exactly then.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kalshi_trading.errors import RejectedError, UsageError
from kalshi_trading.models import Action, BookSide, OrderRequest, Side, TimeInForce, to_book_side, to_yes_price
from kalshi_trading.money import ONE, ZERO
from kalshi_trading.trading.executor import Executor
from tests.e2e.conftest import cent_market, client_for

pytestmark = pytest.mark.e2e

CENT = D("0.01")


@dataclass(frozen=True)
class Scenario:
    side: Side
    action: Action
    tif: TimeInForce
    reduce_only: bool
    count: D
    price: D  # on the contract, whole cents
    start: D  # signed starting position
    promised: D  # of the starting position, put on an own resting order that closes it (far from the book)
    levels: tuple[tuple[int, D], ...]  # (offset in cents from the limit, count): the opposite side's book


counts = st.integers(min_value=1, max_value=800).map(lambda n: D(n) / 100)


@st.composite
def scenarios(draw) -> Scenario:
    """One member of every class: contract x action x time in force x starting position x fill."""
    held = draw(st.sampled_from(["flat", "YES", "NO"]))
    size = D(draw(st.integers(min_value=1, max_value=8)))
    start = ZERO if held == "flat" else (size if held == "YES" else -size)
    promised = ZERO
    if start and draw(st.booleans()):
        promised = D(draw(st.integers(min_value=1, max_value=int(size) + 2)))
    fill = draw(st.sampled_from(["full", "partial", "none"]))
    crossing = [] if fill == "none" else draw(st.lists(st.integers(min_value=-6, max_value=0), min_size=1,
                                                       max_size=3, unique=True))
    apart = draw(st.lists(st.integers(min_value=1, max_value=6), max_size=2, unique=True))
    sizes = [draw(counts) for _ in crossing]
    on_book = sum(sizes, ZERO)
    if fill == "full":
        count = D(draw(st.integers(min_value=1, max_value=int(on_book * 100)))) / 100
    elif fill == "partial":
        count = on_book + draw(counts)
    else:
        count = draw(counts)
    levels = tuple(zip(crossing, sizes, strict=True)) + tuple((o, draw(counts)) for o in apart)
    return Scenario(
        side=draw(st.sampled_from(Side)), action=draw(st.sampled_from(Action)),
        tif=draw(st.sampled_from(TimeInForce)), reduce_only=draw(st.integers(min_value=0, max_value=4)) == 0,
        count=count, price=D(draw(st.integers(min_value=10, max_value=90))) / 100, start=start,
        promised=promised, levels=tuple(sorted(levels)),
    )


class Desk:
    """A fresh account per example (so nothing carries over), and Bob, who makes the book."""

    def __init__(self, sim, journal, bob):
        self.sim, self.journal, self.bob = sim, journal, bob
        self.ticker = cent_market(sim)

    def fresh(self):
        client = client_for(self.sim.base_url, self.sim.create_account(D(1000)))
        return client, Executor(client, self.journal, "sim")

    def position(self, client) -> D:
        for pos in client.get_positions(ticker=self.ticker).markets:
            if pos.ticker == self.ticker:
                return pos.position
        return ZERO

    def build_position(self, client, start: D, promised: D) -> None:
        """Trade `start` with Bob at 50c, then rest an order that would close `promised` of it, far away."""
        if start == 0:
            return
        mine = BookSide.BID if start > 0 else BookSide.ASK
        theirs = BookSide.ASK if start > 0 else BookSide.BID
        self.bob.create_order(OrderRequest(self.ticker, theirs, abs(start), D("0.50")))
        client.create_order(OrderRequest(self.ticker, mine, abs(start), D("0.50"), TimeInForce.IOC))
        if promised:
            closing = BookSide.ASK if start > 0 else BookSide.BID
            client.create_order(OrderRequest(self.ticker, closing, promised, D("0.99") if start > 0 else D("0.01")))

    def make_book(self, book_side: BookSide, limit_yes: D, levels) -> None:
        """Bob rests one order per level on the side the order would take, offsets measured from the limit
        (for a bid, asks at limit + offset: offset <= 0 crosses; for an ask, bids at limit - offset)."""
        theirs = BookSide.ASK if book_side is BookSide.BID else BookSide.BID
        for offset, count in levels:
            price = limit_yes + offset * CENT if book_side is BookSide.BID else limit_yes - offset * CENT
            if D("0.02") <= price <= D("0.98"):
                self.bob.create_order(OrderRequest(self.ticker, theirs, count, price))

    def fill_the_rest(self, book_side: BookSide, limit_yes: D, count: D) -> None:
        """Bob takes what rests, in one execution at its limit (Bob's own resting orders are all on the
        other side, so nothing of his is in the way)."""
        theirs = BookSide.ASK if book_side is BookSide.BID else BookSide.BID
        self.bob.create_order(OrderRequest(self.ticker, theirs, count, limit_yes, TimeInForce.IOC))

    def reset_book(self) -> None:
        self.bob.cancel_all()


@pytest.fixture
def desk(sim, journal, bob):
    return Desk(sim, journal, bob)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_preview_equals_what_the_exchange_does(desk, scenario):
    client, executor = desk.fresh()
    try:
        _check(desk, client, executor, scenario, record=True)
    finally:
        desk.reset_book()
        client.close()


def _check(desk: Desk, client, executor: Executor, s: Scenario, record: bool = False) -> None:
    t = desk.ticker
    desk.build_position(client, s.start, s.promised)
    book_side = to_book_side(s.side, s.action)
    limit_yes = to_yes_price(s.side, s.price)
    desk.make_book(book_side, limit_yes, s.levels)
    balance_before = client.get_balance().balance
    try:
        preview = executor.preview(t, s.side, s.action, s.count, s.price, time_in_force=s.tif,
                                   reduce_only=s.reduce_only)
    except UsageError as exc:
        # Only a reduce-only order with nothing to reduce is refused here, and the exchange agrees.
        assert s.reduce_only and "reduce-only" in str(exc)
        with pytest.raises(RejectedError):
            executor.place_limit_order(t, s.side, s.action, s.count, s.price, time_in_force=s.tif, reduce_only=True)
        assert client.get_balance().balance == balance_before
        return
    assert preview.cash_before == balance_before and preview.position_before == desk.position(client) == s.start
    result = executor.place_limit_order(t, s.side, s.action, s.count, s.price, time_in_force=s.tif,
                                        reduce_only=s.reduce_only)
    effects = preview.effects
    if record:
        _record_class(s, effects)
    assert result.fill_count == effects.filled_now
    assert client.get_balance().balance == preview.cash_now, (s, preview)
    assert desk.position(client) == preview.position_now
    if effects.resting > 0:
        assert result.remaining_count == effects.resting
        desk.fill_the_rest(book_side, limit_yes, effects.resting)
    assert client.get_balance().balance == preview.cash_after, (s, preview)
    assert desk.position(client) == preview.position_after
    order = executor.status(result.order_id)
    assert order.fees == preview.estimated_fee
    assert preview.max_loss == _max_loss_from_exchange(client, result.order_id, book_side, s)


def _record_class(s: Scenario, effects) -> None:
    """Which member of each class this example is (see --hypothesis-show-statistics)."""
    start = "flat" if s.start == 0 else ("long YES" if s.start > 0 else "long NO")
    if s.promised:
        start += ", partly promised"
    if effects.count > 0 and effects.filled_now == effects.count:
        fill = "full"
    elif effects.filled_now > 0:
        fill = "partial"
    else:
        fill = "none"
    event(f"{s.action.value} {s.side.value.upper()} from {start}")
    event(f"fill now: {fill}; {'rests' if effects.resting else 'nothing rests'}")
    closes = any(x.closing for x in effects.final_executions)
    opens = any(x.opening for x in effects.final_executions)
    event("closes and opens" if closes and opens else "closes only" if closes else "opens only")


def _max_loss_from_exchange(client, order_id: str, book_side: BookSide, s: Scenario) -> D:
    """The exchange's own fills, oldest first: fees, plus what each contract that did not close a free part
    of the starting position cost on the order's leg."""
    opposite = max(-s.start, ZERO) if book_side is BookSide.BID else max(s.start, ZERO)
    closable = max(opposite - s.promised, ZERO)
    total = ZERO
    for fill in sorted(client.iter_fills(order_id=order_id), key=lambda f: (not f.is_taker, f.fill_id)):
        leg = fill.yes_price if book_side is BookSide.BID else ONE - fill.yes_price
        closing = min(fill.count, closable)
        closable -= closing
        total += (fill.count - closing) * leg + fill.fee
    return total


# Every member of every class, deterministically: 5 contracts at 50c on the contract; a starting position of 3
# (so a closing order closes 3 and opens 2), or 3 with 2 of it promised to an own resting order.
STARTS = {"flat": (ZERO, ZERO), "long YES": (D(3), ZERO), "long NO": (D(-3), ZERO),
          "long YES, 2 promised": (D(3), D(2)), "long NO, 2 promised": (D(-3), D(2))}
FILLS = {"full": ((-2, D(2)), (0, D(4)), (3, D(9))), "partial": ((-1, D("2.5")), (2, D(9))), "none": ((1, D(4)),)}
GRID = [(side, action, start, fill, tif)
        for side in Side for action in Action for start in STARTS for fill in FILLS
        for tif in ([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK] if fill == "partial" else [TimeInForce.GTC])]


@pytest.mark.parametrize("side,action,start,fill,tif", GRID,
                         ids=[f"{a.value}-{s.value}-{st_}-{f}-{t.name}" for s, a, st_, f, t in GRID])
def test_preview_equals_the_exchange_in_every_class(desk, side, action, start, fill, tif):
    position, promised = STARTS[start]
    client, executor = desk.fresh()
    try:
        _check(desk, client, executor, Scenario(side, action, tif, False, D(5), D("0.50"), position, promised,
                                                FILLS[fill]))
    finally:
        desk.reset_book()
        client.close()


@pytest.mark.parametrize("side,action,tif,levels,count", [
    (Side.YES, Action.BUY, TimeInForce.GTC, ((-1, D(2)),), D(5)),  # 2 fill now, 3 rest and fill later
    (Side.NO, Action.BUY, TimeInForce.IOC, ((-2, D(3)), (0, D(4))), D(6)),  # takes two levels
    (Side.YES, Action.SELL, TimeInForce.GTC, ((2, D(4)),), D("3.5")),  # sells YES not held = buys NO; rests
])
def test_max_loss_is_what_settlement_takes_when_the_opened_side_loses(desk, sim, side, action, tif, levels,
                                                                      count):
    client, executor = desk.fresh()
    book_side, price = to_book_side(side, action), D("0.50")
    desk.make_book(book_side, to_yes_price(side, price), levels)
    before = client.get_balance().balance
    preview = executor.preview(desk.ticker, side, action, count, price, time_in_force=tif)
    executor.place_limit_order(desk.ticker, side, action, count, price, time_in_force=tif)
    if preview.effects.resting:
        desk.fill_the_rest(book_side, to_yes_price(side, price), preview.effects.resting)
    held = desk.position(client)
    assert held == preview.position_after != 0
    sim.exchange.settle(desk.ticker, "no" if held > 0 else "yes")
    assert client.get_balance().balance == before - preview.max_loss
    client.close()
