"""The historical tier (`/historical/*`): what the live endpoints stop serving once it is older than the cutoff.

As on the real exchange the boundary is a set of cutoff timestamps that advance with time:

* markets (with their candles) settled before `market_settled_ts` leave `/markets` for `/historical/markets`; this
  is the exchange's own pruning of finalized markets (`exchange.KEEP_FINALIZED_MS` after settlement), so the
  market cutoff is `sim time - KEEP_FINALIZED_MS` to the millisecond.  Their settled positions move to
  `/historical/positions` at the same moment (the simulator settles every position of a market at once).
* public trades and every account's fills created before `trades_created_ts`, and orders canceled or executed
  before `orders_updated_ts`, move at whole minutes: both cutoffs are the same window behind sim time, rounded
  down to the minute, so a move costs one scan a minute rather than one per request.

The tier keeps `HISTORY_KEEP_MS` of data (and at most `MAX_TRADES` public trades) so the saved state stays small:
a simulator limit, the real tier keeps everything.  Events stay at `/events` while any of their markets is live or
historical (the real exchange keeps events forever).
"""

from __future__ import annotations

import json
import logging
from typing import Callable, NamedTuple, TypeVar

from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import BID, PU, RESTING, Account, Fill, Order, Trade

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
HISTORY_KEEP_MS = 14 * 86_400_000
MAX_TRADES = 10_000
ORDER_FIELDS = tuple(name for name in Order.__slots__ if name != "account")


class ArchivedPosition(NamedTuple):
    """A settled market position as `/historical/positions` shows it (money in micro-dollars, counts in cu)."""

    ticker: str
    event_ticker: str
    total_traded: int  # leg cost of every fill
    traded_count: int
    realized: int  # trading and settlement P&L, fees excluded
    fees: int
    settled_ms: int


class History:
    """Archived markets, public trades, and per account fills, orders and settled positions."""

    def __init__(self) -> None:
        self.markets: dict[str, Market] = {}
        self.trades: list[Trade] = []  # oldest first
        self.fills: dict[str, list[Fill]] = {}  # account id -> fills, oldest first
        self.orders: dict[str, list[Order]] = {}  # account id -> finished orders, by last update
        self.positions: dict[str, list[ArchivedPosition]] = {}
        self.cutoff_ms = 0  # trades_created_ts = orders_updated_ts
        self.market_cutoff_ms = 0  # market_settled_ts = market_positions_last_updated_ts
        self.version = 0  # bumped on every change (the saved document is rebuilt only then)

    # ---- moving data in -------------------------------------------------------------------------

    def archive_market(self, ex, market: Market) -> None:
        """Move a finalized market out of the live engine (called where the exchange used to drop it)."""
        engine = ex.engine
        ticker = market.ticker
        engine.markets.pop(ticker, None)
        engine.books.pop(ticker, None)
        self.trades.extend(engine.trades.pop(ticker, ()))
        self.trades.sort(key=lambda t: (t.ts_ms, t.trade_id))
        self.markets[ticker] = market
        for account in engine.accounts.values():
            if not account.house:
                self._archive_position(account, market)
        self.version += 1

    def _archive_position(self, account: Account, market: Market) -> None:
        settlement = next((s for s in reversed(account.settlements) if s.ticker == market.ticker), None)
        if settlement is None:
            return
        fills = [f for f in self.fills.get(account.account_id, ()) if f.ticker == market.ticker]
        fills += [f for f in account.fills if f.ticker == market.ticker]
        traded = count = yes_flows = 0
        for f in fills:
            traded += (f.price if f.side == BID else PU - f.price) * f.qty
            count += f.qty
            yes_flows += -f.price * f.qty if f.side == BID else f.price * f.qty
        # In YES terms a position's P&L is the YES flows plus what the final position paid; a NO holder's
        # collateral (one dollar a contract) comes back through the settlement's revenue.
        realized = yes_flows - settlement.no_count * PU + settlement.revenue_mu
        self.positions.setdefault(account.account_id, []).append(ArchivedPosition(
            market.ticker, market.event_ticker, traded, count, realized, settlement.fee, settlement.ts_ms))

    def roll(self, ex, window_ms: int) -> None:
        """Advance the cutoffs to `window_ms` behind sim time and move what fell behind them."""
        self.market_cutoff_ms = ex.sim_ms - window_ms
        cutoff = (ex.sim_ms - window_ms) // MINUTE_MS * MINUTE_MS
        if cutoff <= self.cutoff_ms:
            return
        self.cutoff_ms = cutoff
        engine = ex.engine
        moved = 0
        for queue in engine.trades.values():
            while queue and queue[0].ts_ms < cutoff:
                self.trades.append(queue.popleft())
                moved += 1
        for account in engine.accounts.values():
            if not account.house:
                moved += self._roll_account(engine, account, cutoff)
        if moved:
            self.trades.sort(key=lambda t: (t.ts_ms, t.trade_id))
            log.debug("moved %d records to the historical tier (cutoff %d)", moved, cutoff)
        if self._expire(ex, cutoff - HISTORY_KEEP_MS) or moved:
            self.version += 1  # (a cutoff that moved alone need not be saved: the next roll catches up)

    def _roll_account(self, engine, account: Account, cutoff: int) -> int:
        fills = account.fills
        n = 0
        while n < len(fills) and fills[n].ts_ms < cutoff:
            n += 1
        if n:
            self.fills.setdefault(account.account_id, []).extend(fills[:n])
            del fills[:n]
        done = [o for o in account.orders if o.status != RESTING and o.updated_ms < cutoff]
        if done:
            gone = {id(o) for o in done}
            account.orders[:] = [o for o in account.orders if id(o) not in gone]
            for order in done:
                engine.orders.pop(order.order_id, None)
            archive = self.orders.setdefault(account.account_id, [])
            archive.extend(done)
            archive.sort(key=lambda o: (o.updated_ms, o.seq))
        return n + len(done)

    def _expire(self, ex, horizon: int) -> int:
        """Forget what is older than the tier keeps; drop events none of whose markets remain.  Return how
        many records went."""
        old = [t for t, m in self.markets.items() if (m.settled_ms or 0) < horizon]
        for ticker in old:
            del self.markets[ticker]
        gone = len(old) + len(self.trades)
        self.trades = [t for t in self.trades if t.ts_ms >= horizon][-MAX_TRADES:]
        gone -= len(self.trades)
        gone += (_keep_since(self.fills, _ts, horizon) + _keep_since(self.orders, _updated, horizon)
                 + _keep_since(self.positions, _settled, horizon))
        if old:
            live = ex.engine.markets
            for ticker, event in list(ex.events.items()):
                if not any(t in live or t in self.markets for t in event.market_tickers):
                    del ex.events[ticker]
        return gone

    # ---- persistence ------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps({
            "cutoff_ms": self.cutoff_ms,
            "market_cutoff_ms": self.market_cutoff_ms,
            "markets": [m.to_state() for m in self.markets.values()],
            "trades": [list(t) for t in self.trades],
            "fills": {aid: [list(f) for f in fills] for aid, fills in self.fills.items() if fills},
            "orders": {aid: [[o.account.account_id] + [getattr(o, f) for f in ORDER_FIELDS] for o in orders]
                       for aid, orders in self.orders.items() if orders},
            "positions": {aid: [list(p) for p in rows] for aid, rows in self.positions.items() if rows},
        })

    @classmethod
    def from_json(cls, text: str | None, accounts: dict[str, Account]) -> History:
        history = cls()
        if not text:
            return history
        data = json.loads(text)
        history.cutoff_ms = data["cutoff_ms"]
        history.market_cutoff_ms = data.get("market_cutoff_ms", 0)
        for state in data["markets"]:
            market = Market.from_state(state)
            history.markets[market.ticker] = market
        history.trades = [Trade(*t) for t in data["trades"]]
        history.fills = {aid: [Fill(*f) for f in rows] for aid, rows in data["fills"].items()}
        for aid, rows in data["orders"].items():
            account = accounts.get(aid)
            if account is not None:
                history.orders[aid] = [_order(account, row[1:]) for row in rows]
        history.positions = {aid: [ArchivedPosition(*p) for p in rows] for aid, rows in data["positions"].items()}
        return history


R = TypeVar("R")


def _keep_since(table: dict[str, list[R]], when: Callable[[R], int], horizon: int) -> int:
    """Drop each account's rows older than `horizon`; return how many went."""
    gone = 0
    for aid, rows in table.items():
        kept = [r for r in rows if when(r) >= horizon]
        gone += len(rows) - len(kept)
        table[aid] = kept
    return gone


def _ts(fill: Fill) -> int:
    return fill.ts_ms


def _updated(order: Order) -> int:
    return order.updated_ms


def _settled(row: ArchivedPosition) -> int:
    return row.settled_ms


def _order(account: Account, values: list) -> Order:
    fields = dict(zip(ORDER_FIELDS, values, strict=True))
    order = Order(fields["order_id"], fields["seq"], account, fields["ticker"], fields["side"], fields["price"],
                  fields["initial"], fields["tif"], fields["stp"], fields["created_ms"])
    for name, value in fields.items():
        setattr(order, name, value)
    return order
