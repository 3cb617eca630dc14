"""The WebSocket feed's hub: subscriptions, the engine observer, and fan-out (reference section 11).

The engine calls the hooks below while an action runs (under the exchange lock); they only note
what changed.  `flush()` (end of every HTTP request, simulation step and settlement, and before a
snapshot) turns the notes into messages: one `orderbook_delta` per price level with the net change
of the action, trades, tickers whose top of book or stats moved, the owners' fills, positions and
orders, lifecycle events.  Messages go to per-connection queues; writer threads send them, so a
slow client never blocks the engine (a full queue ends that subscription with error 25).

All state here is guarded by the exchange lock.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Iterable

from kalshi_trading.sim import ws_wire as ww
from kalshi_trading.sim.book import Book
from kalshi_trading.sim.catalogue import Event
from kalshi_trading.sim.faults import FaultSpec
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import BID, Account, Fill, Order, Position, Trade
from kalshi_trading.sim.ws_commands import (
    BOOK, CHANNELS, FILL, LIFECYCLE, ORDERS, POSITIONS, PRIVATE, TICKER, TRADE, FeedCommands, Sub, error_frame,
)

if TYPE_CHECKING:
    from kalshi_trading.sim.exchange import SimExchange
    from kalshi_trading.sim.ws import Connection

log = logging.getLogger(__name__)


class Feed(FeedCommands):
    """Hub between the engine and the connections (see module docstring)."""

    def __init__(self, exchange: SimExchange, spec: FaultSpec | None = None):
        self.exchange = exchange
        self.engine = exchange.engine
        self.lock = exchange.lock
        self.conns: set[Connection] = set()
        self.subs: dict[str, list[Sub]] = {c: [] for c in CHANNELS}
        self.book_index: dict[str, list[Sub]] = {}  # ticker -> orderbook_delta subs
        self.private_accounts: set[str] = set()
        self._reset_pending()
        self.last_ticker: dict[str, tuple] = {}
        self.last_size: dict[str, int] = {}
        self.spec = spec or FaultSpec()
        self._drop_next = self._dup_next = False
        self.delivered = 0  # messages queued (bench)
        exchange.feed = self

    @property
    def spec(self) -> FaultSpec:
        return self._spec

    @spec.setter
    def spec(self, spec: FaultSpec) -> None:
        self._spec = spec
        self._faulty = spec.ws_active
        self._rng = random.Random(spec.seed)

    def _reset_pending(self) -> None:
        self.levels: dict[tuple, list] = {}  # (ticker, side, price) -> [net change, own orders or None]
        self.trades: list[Trade] = []
        self.fills: list[tuple[Order, Fill, int]] = []  # (order, fill, position after)
        self.orders: dict[str, Order] = {}
        self.positions: dict[tuple, tuple] = {}
        self.events: list[tuple] = []  # (type, ticker | None, tickers for events, msg)
        self.touched: set[str] = set()

    # ---- engine / exchange hooks (under the lock; keep them cheap) ----------------------------

    def level(self, ticker: str, order: Order, side: str, p: int, change: int) -> None:
        key = (ticker, side, p)
        entry = self.levels.get(key)
        if entry is None:
            self.levels[key] = [change, None if order.account.house else [order]]
            return
        entry[0] += change
        if not order.account.house:
            if entry[1] is None:
                entry[1] = [order]
            else:
                entry[1].append(order)

    def traded(self, trade: Trade, taker: Order, maker: Order) -> None:
        self.trades.append(trade)
        if not taker.account.house:  # the taker's order caused the maker level's change too
            entry = self.levels.get((trade.ticker, maker.side, trade.price))
            if entry is not None:
                if entry[1] is None:
                    entry[1] = [taker]
                else:
                    entry[1].append(taker)

    def filled(self, order: Order, fill: Fill, pos: Position) -> None:
        account = order.account
        if account.account_id in self.private_accounts:
            self.fills.append((order, fill, pos.pos))
            self.orders[order.order_id] = order
            self.positions[(account.account_id, fill.ticker)] = (account, fill.ticker, pos, 0)

    def order_changed(self, order: Order) -> None:
        if order.account.account_id in self.private_accounts:
            self.orders[order.order_id] = order

    def market_added(self, ticker: str, book: Book) -> None:
        if self._wants_tap(ticker):
            book.tap = self.level

    def position_settled(self, account: Account, pos: Position, revenue: int) -> None:
        if account.account_id in self.private_accounts:
            extra = pos.realized + revenue - pos.cost
            self.positions[(account.account_id, pos.ticker)] = (account, pos.ticker, None, extra)

    def market_status(self, market: Market, status: str, t: int) -> None:
        if not self.subs[LIFECYCLE]:
            return
        kind = {"active": "activated", "inactive": "deactivated", "determined": "determined",
                "finalized": "settled"}.get(status)
        if status == "closed" and t < market.close_ms:
            kind = "close_date_updated"
        if kind is not None:
            self.events.append(("market_lifecycle_v2", market.ticker, None, ww.lifecycle(market, kind, t)))

    def market_created(self, market: Market, t: int) -> None:
        if self.subs[LIFECYCLE]:
            self.events.append(("market_lifecycle_v2", market.ticker, None, ww.lifecycle(market, "created", t)))

    def event_listed(self, event: Event, t: int) -> None:
        if self.subs[LIFECYCLE]:
            self.events.append(("event_lifecycle", None, event.market_tickers, ww.event_lifecycle(event, t)))

    # ---- fan-out ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Turn what changed since the last flush into messages (caller holds the lock)."""
        levels, trades = self.levels, self.trades
        if not (levels or trades or self.fills or self.orders or self.positions or self.events):
            return
        out: dict = {}
        now = self.exchange.clock.now_ms()
        tickers_on = bool(self.subs[TICKER])
        touched = self.touched
        if levels:
            self.levels = {}
            self._deltas(out, levels, now)
            if tickers_on:
                touched.update(t for t, _, _ in levels)
        if trades:
            self.trades = []
            last_size = self.last_size
            for t in trades:
                last_size[t.ticker] = t.qty
            if tickers_on:
                touched.update(t.ticker for t in trades)
            subs = self.subs[TRADE]
            if subs:
                for t in trades:
                    body = None
                    for sub in subs:
                        if sub.covers(t.ticker):
                            body = body or ww.trade(t)
                            self._put(out, sub, {"type": "trade", "sid": sub.sid, "msg": body})
        if touched:
            self.touched = set()
            if tickers_on:
                self._tickers(out, sorted(touched), now, only_changed=True)
        if self.fills:
            fills, self.fills = self.fills, []
            for order, f, post in fills:
                self._private(out, FILL, order.account, f.ticker, "fill", ww.fill(f, order, post))
        if self.positions:
            positions, self.positions = self.positions, {}
            for account, ticker, pos, extra in positions.values():
                self._private(out, POSITIONS, account, ticker, "market_position",
                              ww.position(account.user_id, ticker, pos, extra))
        if self.orders:
            orders, self.orders = self.orders, {}
            for order in orders.values():
                self._private(out, ORDERS, order.account, order.ticker, "user_order", ww.user_order(order))
        if self.events:
            events, self.events = self.events, []
            for kind, ticker, tickers, body in events:
                for sub in self.subs[LIFECYCLE]:
                    if sub.tickers is None or (ticker in sub.tickers if ticker else sub.tickers & set(tickers)):
                        self._put(out, sub, {"type": kind, "sid": sub.sid, "msg": body})
        if out:
            self._send(out)

    def _deltas(self, out: dict, levels: dict, now: int) -> None:
        """One orderbook_delta per level whose total moved (net of the whole action)."""
        index = self.book_index
        for (ticker, side, p), (change, own) in levels.items():
            if change == 0:
                continue
            subs = index.get(ticker)
            if not subs:
                continue
            plain = yes_scale = None
            for sub in subs:
                if sub.yes_price and side != BID:
                    if yes_scale is None:
                        yes_scale = ww.delta(ticker, side, p, change, now, True)
                    body = yes_scale
                else:
                    if plain is None:
                        plain = ww.delta(ticker, side, p, change, now, False)
                    body = plain
                if own is not None:
                    mine = next((o for o in own if o.account is sub.conn.account), None)
                    if mine is not None:
                        body = dict(body)
                        if mine.client_order_id:
                            body["client_order_id"] = mine.client_order_id
                        body["subaccount"] = 0
                self._delta(out, sub, body)

    def _delta(self, out: dict, sub: Sub, body: dict) -> None:
        sub.seq += 1
        if not (self._faulty or self._drop_next or self._dup_next):  # the usual case
            frame = {"type": "orderbook_delta", "sid": sub.sid, "seq": sub.seq, "msg": body}
            batch = out.get(sub.conn)
            if batch is None:
                out[sub.conn] = [(sub, frame)]
            else:
                batch.append((sub, frame))
            return
        if self._drop_next or self._roll(self.spec.ws_drop):
            self._drop_next = False
            return  # a sequence gap: the seq advanced, nothing sent
        frame = {"type": "orderbook_delta", "sid": sub.sid, "seq": sub.seq, "msg": body}
        self._put(out, sub, frame)
        if self._dup_next or self._roll(self.spec.ws_dup):
            self._dup_next = False
            self._put(out, sub, frame)
        if self._roll(self.spec.ws_close):
            sub.conn.drop()

    def _roll(self, p: float) -> bool:
        return p > 0 and self._rng.random() < p

    def _private(self, out: dict, channel: str, account: Account, ticker: str, kind: str, body: dict) -> None:
        for sub in self.subs[channel]:
            if sub.conn.account is account and sub.covers(ticker):
                self._put(out, sub, {"type": kind, "sid": sub.sid, "msg": body})

    def _tickers(self, out: dict, tickers: Iterable[str], now: int, only_changed: bool,
                 subs: list[Sub] | None = None) -> None:
        engine = self.engine
        for ticker in tickers:
            market = engine.markets.get(ticker)
            book = engine.books.get(ticker)
            if market is None or book is None:
                continue
            state = ww.ticker_state(market, book)
            if only_changed:
                if self.last_ticker.get(ticker) == state:
                    continue
                self.last_ticker[ticker] = state
            body = None
            for sub in subs or self.subs[TICKER]:
                if sub.covers(ticker):
                    body = body or ww.ticker(market, state, self.last_size.get(ticker, 0), now)
                    self._put(out, sub, {"type": "ticker", "sid": sub.sid, "msg": body})

    @staticmethod
    def _put(out: dict, sub: Sub | None, frame: dict, conn: Connection | None = None) -> None:
        """Queue `frame` for `conn`, else for the subscription's connection (a reply names its conn)."""
        if conn is None:
            if sub is None:
                raise ValueError("a frame goes to a subscription or to a named connection")
            conn = sub.conn
        batch = out.get(conn)
        if batch is None:
            batch = out[conn] = []
        batch.append((sub, frame))

    def _send(self, out: dict) -> None:
        for conn, batch in out.items():
            self.delivered += len(batch)
            for sub in conn.push(batch):
                if sub.alive:
                    log.info("ws subscription %s overflowed its connection's queue", sub.sid)
                    self._remove(sub)
                    conn.push([(None, error_frame(25, sid=sub.sid))], force=True)

    # ---- subscriptions ------------------------------------------------------------------------

    def attach(self, conn: Connection, max_per_user: int | None = None) -> bool:
        """Register a connection; False (not registered) when its user already has `max_per_user`."""
        with self.lock:
            if max_per_user is not None:
                account = conn.account
                if sum(1 for c in self.conns if c.account is account) >= max_per_user:
                    return False
            self.conns.add(conn)
            return True

    def detach(self, conn: Connection) -> None:
        with self.lock:
            self.conns.discard(conn)
            for sub in list(conn.subs.values()):
                self._remove(sub)

    def _add(self, sub: Sub) -> None:
        self.flush()  # earlier changes belong to the snapshot, not to this sub's deltas
        sub.conn.subs[sub.sid] = sub
        self.subs[sub.channel].append(sub)
        if sub.channel in PRIVATE:
            self.private_accounts.add(sub.conn.account.account_id)
        self._reindex()

    def _remove(self, sub: Sub) -> None:
        if not sub.alive:
            return
        self.flush()
        sub.alive = False
        sub.conn.subs.pop(sub.sid, None)
        self.subs[sub.channel].remove(sub)
        self.private_accounts = {s.conn.account.account_id for c in PRIVATE for s in self.subs[c]}
        self._reindex()

    def _reindex(self) -> None:
        """Rebuild the per-ticker index and the book taps; attach to the engine only when watched."""
        index: dict[str, list[Sub]] = {}
        for sub in self.subs[BOOK]:
            for ticker in sub.tickers or ():
                index.setdefault(ticker, []).append(sub)
        self.book_index = index
        for ticker, book in self.engine.books.items():
            book.tap = self.level if self._wants_tap(ticker) else None
        watched = any(self.subs[c] for c in CHANNELS)
        self.engine.observer = self if watched else None
        if not self.subs[TICKER]:
            self.last_ticker.clear()

    def _wants_tap(self, ticker: str) -> bool:
        if ticker in self.book_index:
            return True
        return any(sub.covers(ticker) for sub in self.subs[TICKER])

    # ---- fault hooks --------------------------------------------------------------------------

    def drop_next_delta(self) -> None:
        with self.lock:
            self._drop_next = True

    def duplicate_next_delta(self) -> None:
        with self.lock:
            self._dup_next = True

    def shutdown(self) -> None:
        """Close every connection with a close frame (server stopping)."""
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            conn.close()

    def close_connections(self) -> int:
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            conn.drop()
        return len(conns)
