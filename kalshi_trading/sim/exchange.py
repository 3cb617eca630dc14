"""The simulated exchange: engine + catalogue + underlyings + participants, driven by a clock.

Simulated time advances in whole steps (1 s).  A gap longer than `MAX_REPLAY_S` (process
restart, `advance 2h`) is crossed in jumps from one lifecycle boundary to the next, with the
underlyings moved exactly between them and no background trading replayed.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from kalshi_trading.sim import btc15m, catalogue
from kalshi_trading.sim.candles import Candles
from kalshi_trading.sim.catalogue import DETERMINE_DELAY_MS, Event
from kalshi_trading.sim.clock import Clock, wall_ms
from kalshi_trading.sim.engine import Engine
from kalshi_trading.sim.errors import bad_request, not_found
from kalshi_trading.sim.extras import Extras
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.participants import Participants
from kalshi_trading.sim.records import Settlement
from kalshi_trading.sim.world import World

if TYPE_CHECKING:
    from kalshi_trading.sim.feed import Feed

log = logging.getLogger(__name__)

STEP_MS = 1000
DAY_MS = 86_400_000
MAX_REPLAY_S = 120
KEEP_FINALIZED_MS = 2 * 86_400_000
RESULTS = ("yes", "no", "void")
# How far one `advance` may move simulated time, and how far simulated time may run ahead of the real date:
# beyond this, times stop being representable (and no market lives that long anyway).
MAX_ADVANCE_S = 10 * 365 * 86_400


class SimExchange:
    def __init__(self, clock: Clock, seed: int = 0, participants: bool = True, engine: Engine | None = None,
                 world: World | None = None, sim_ms: int | None = None):
        self.clock = clock
        self.seed = seed
        self.engine = engine or Engine(clock, id_prefix=_prefix(seed))
        self.engine.clock = clock
        self.lock = self.engine.lock
        self.world = world or World(seed)
        self.events: dict[str, Event] = {}
        self.candles = Candles()
        self.engine.on_trade = self.candles.trade
        self.participants_on = participants
        self.participants = Participants(self.engine, self.world)
        self.flaky_venue = True  # one outside bitcoin venue is now and then stale or failing (sim/outside_btc)
        self.sim_ms = clock.now_ms() if sim_ms is None else sim_ms
        if not self.world.path:  # a new world (or one saved before the path existed) gets a past
            self.world.backfill(self.sim_ms)
        self.feed: Feed | None = None  # the WebSocket feed while a server runs: lifecycle hooks and flushes
        self.extras = Extras()  # historical tier, API keys, subaccounts (store.load replaces it)
        self.saved_events: tuple[tuple, str] | None = None  # store.dump's JSON of `events`, by (count, first, last)

    def _flush(self) -> None:
        """Hand what the last action changed to the WebSocket feed (caller holds the lock)."""
        if self.feed is not None:
            self.feed.flush()

    # ---- driving time -----------------------------------------------------------------------

    def sync(self) -> None:
        """Bring the simulation up to the clock's now."""
        with self.lock:
            now = self.clock.now_ms()
            if now - self.sim_ms > MAX_REPLAY_S * 1000:
                self._jump(now - 2 * STEP_MS)
            while self.sim_ms + STEP_MS <= now:
                self._step(self.sim_ms + STEP_MS)
            self.extras.history.roll(self, KEEP_FINALIZED_MS)
            self._flush()

    def prime(self) -> int:
        """Quote every active market the house has not quoted yet (at start, so the first request
        already sees two-sided books); return the number of markets quoted."""
        with self.lock:
            self.sync()
            if not self.participants_on:
                return 0
            now = self.clock.now_ms()
            n = self.participants.prime([m for m in self.engine.markets.values() if m.status == "active"], now)
            if n:
                self.engine.version += 1
            self._flush()
            return n

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (tests, `kalshi sim advance`), at most MAX_ADVANCE_S at once and never
        more than MAX_ADVANCE_S past the real date; anything else is refused and nothing moves."""
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_ADVANCE_S):
            raise bad_request(f"advance by more than 0 and at most {MAX_ADVANCE_S // 86_400} days",
                              "invalid_parameters", str(seconds))
        with self.lock:
            ahead_s = (self.clock.now_ms() - wall_ms()) / 1000 + seconds
            if ahead_s > MAX_ADVANCE_S:
                raise bad_request(f"simulated time may run at most {MAX_ADVANCE_S // 86_400} days ahead of the "
                                  "real date", "invalid_parameters", f"{ahead_s / 86_400:.0f} days ahead")
            self.clock.advance(seconds)
            self.sync()

    def _step(self, t: int) -> None:
        dt = (t - self.sim_ms) / 1000.0
        self.world.advance(self.sim_ms, t)
        self.sim_ms = t
        self._lifecycle(t)
        self.engine.expire(t)
        self.list_due(t)
        active = [m for m in self.engine.markets.values() if m.status == "active"]
        if self.participants_on:
            for market in active:
                self.participants.act(market, t, dt)
        book_top = self.engine.books
        new_day = t // DAY_MS != (t - STEP_MS) // DAY_MS
        for market in active:
            bb, _, ba, _ = book_top[market.ticker].top()
            self.candles.quote(market.ticker, t, bb, ba, market.open_interest)
            if new_day:  # previous_* = the values at the last UTC midnight
                market.previous_yes_bid, market.previous_yes_ask, market.previous_price = bb, ba, market.last_price
        self.engine.version += 1

    def _jump(self, to: int) -> None:
        """Cross a long gap boundary by boundary, without background trading."""
        log.info("rolling the exchange forward %.0f s", (to - self.sim_ms) / 1000)
        self.participants.pull()
        while True:
            nxt = self._next_boundary(self.sim_ms)
            if nxt is None or nxt > to:
                break
            self.world.advance(self.sim_ms, nxt)
            self.sim_ms = nxt
            self._lifecycle(nxt)
            self.engine.expire(nxt)
        self.world.advance(self.sim_ms, to)
        self.sim_ms = to
        self.engine.expire(to)
        self._lifecycle(to)
        self.list_due(to)
        self.engine.version += 1

    def _next_boundary(self, after: int) -> int | None:
        times = []
        for m in self.engine.markets.values():
            for t in _transitions(m):
                if t > after:
                    times.append(t)
                    break
        return min(times) if times else None

    # ---- lifecycle --------------------------------------------------------------------------

    def _lifecycle(self, t: int) -> None:
        engine = self.engine
        for market in list(engine.markets.values()):
            status = market.status
            if status == "initialized" and t >= market.open_ms:
                self._activate(market, t)
                status = "active"
            if status in ("active", "inactive") and t >= market.close_ms:
                self.close(market, t)
                status = "closed"
            if status == "closed" and t >= market.close_ms + DETERMINE_DELAY_MS:
                self.determine(market, self.world.result(market), t)
                status = "determined"
            determined, settled = market.determined_ms, market.settled_ms
            if status == "determined" and determined is not None and \
                    t >= determined + market.settlement_timer_seconds * 1000:
                self.finalize(market, t)
            elif status == "finalized" and settled is not None and t - settled > KEEP_FINALIZED_MS:
                self._prune(market)

    def _activate(self, market: Market, t: int) -> None:
        """Open a market for trading (a KXBTC15M market fixes its price to beat first)."""
        if market.underlying == btc15m.UNDERLYING:
            btc15m.open_market(market, self.world.path)
        self._set(market, "active", t)

    def _set(self, market: Market, status: str, t: int) -> None:
        market.status = status
        market.updated_ms = t
        self.engine.version += 1
        if self.feed is not None:
            self.feed.market_status(market, status, t)

    def close(self, market: Market, t: int) -> None:
        self.engine.sweep_market(market.ticker)
        self.participants.forget(market.ticker)
        self._set(market, "closed", t)

    def determine(self, market: Market, result: str, t: int) -> None:
        market.result = result
        market.determined_ms = t
        self._set(market, "determined", t)

    def finalize(self, market: Market, t: int) -> None:
        """Pay out and close every position in the market; write Settlement records."""
        result = market.result
        for account in self.engine.accounts.values():
            pos = account.positions.pop(market.ticker, None)
            if pos is None or account.house:
                continue
            yes = pos.pos if pos.pos > 0 else 0
            no = -pos.pos if pos.pos < 0 else 0
            if result == "yes":
                revenue, value = yes * 10_000, 100
            elif result == "no":
                revenue, value = no * 10_000, 0
            else:
                revenue, value = pos.cost, None
            account.cash += revenue
            if self.feed is not None:
                self.feed.position_settled(account, pos, revenue)
            account.settlements.append(Settlement(
                market.ticker, market.event_ticker, result, yes, pos.cost if yes else 0, no, pos.cost if no else 0,
                revenue, pos.fees, value, t))
        market.settled_ms = t
        market.open_interest = 0
        self._set(market, "finalized", t)
        if all(self.engine.markets[tk].status == "finalized" for tk in self._event_markets(market.event_ticker)):
            self.world.forget(market.event_ticker)

    def _event_markets(self, event_ticker: str) -> tuple[str, ...]:
        event = self.events.get(event_ticker)
        return tuple(t for t in event.market_tickers if t in self.engine.markets) if event else ()

    def _prune(self, market: Market) -> None:
        """Settled long enough ago: the market moves to the historical tier (its event stays listed)."""
        self.extras.history.archive_market(self, market)

    def settle(self, ticker: str, result: str) -> Market:
        """Force a market to close, determine with `result` and finalize now."""
        if result not in RESULTS:
            raise bad_request("result must be yes, no or void", "invalid_parameters", result)
        with self.lock:
            self.sync()
            market = self.engine.markets.get(ticker)
            if market is None:
                raise not_found("market not found", ticker)
            if market.status == "finalized":
                raise bad_request("market is already settled", "invalid_parameters", ticker)
            now = self.clock.now_ms()
            if market.status not in ("closed", "determined"):
                self.close(market, now)
            self.determine(market, result, now)
            self.finalize(market, now)
            self._flush()
            return market

    # ---- listing ----------------------------------------------------------------------------

    def list_due(self, t: int) -> None:
        """List every event whose creation time has come (so the exchange never runs dry)."""
        for close in catalogue.hourly_closes(t):
            label = f"KXBTCD-{catalogue.et_label(close, True)}"
            if label not in self.events and t >= close - 3 * catalogue.HOUR_MS:
                self._add(*catalogue.btc_event(close, self.world.spot), t)
        for close in catalogue.daily_closes(t):
            day = catalogue.et_label(close - catalogue.HOUR_MS, False)
            if f"KXHIGHNY-{day}" not in self.events and t >= close - 2 * catalogue.DAY_MS:
                centre = self.world.new_temp_event(f"KXHIGHNY-{day}")
                self._add(*catalogue.temp_event(close, centre), t)
            if f"KXRAINNYC-{day}" not in self.events and t >= close - 2 * catalogue.DAY_MS:
                self.world.new_rain_event(f"KXRAINNYC-{day}")
                self._add(*catalogue.rain_event(close), t)
        for opens in btc15m.window_opens(t):  # the running window and the next one
            if btc15m.event_ticker(opens + btc15m.WINDOW_MS) not in self.events:
                self._add(*btc15m.event(opens), t)

    def _add(self, event: Event, markets: list[Market], t: int) -> None:
        self.events[event.event_ticker] = event
        if self.feed is not None:
            self.feed.event_listed(event, t)
        for market in markets:
            market.created_ms = min(market.created_ms, t) if market.created_ms else t
            market.updated_ms = t
            self.engine.add_market(market)
            if self.feed is not None:
                self.feed.market_created(market, t)
            if t >= market.open_ms:
                self._activate(market, t)
        log.debug("listed %s with %d markets", event.event_ticker, len(markets))


def _transitions(m: Market) -> list[int]:
    if m.status == "initialized":
        return [m.open_ms, m.close_ms, m.close_ms + DETERMINE_DELAY_MS,
                m.close_ms + DETERMINE_DELAY_MS + m.settlement_timer_seconds * 1000]
    if m.status in ("active", "inactive"):
        return [m.close_ms, m.close_ms + DETERMINE_DELAY_MS,
                m.close_ms + DETERMINE_DELAY_MS + m.settlement_timer_seconds * 1000]
    if m.status == "closed":
        return [m.close_ms + DETERMINE_DELAY_MS, m.close_ms + DETERMINE_DELAY_MS + m.settlement_timer_seconds * 1000]
    if m.status == "determined" and m.determined_ms is not None:
        return [m.determined_ms + m.settlement_timer_seconds * 1000]
    return []


def _prefix(seed: int) -> str:
    """The id space of a new exchange (order, trade and fill ids are this prefix plus a counter).

    Random, not derived from the seed: a reset exchange with the same seed restarts its counter, and must never
    issue an id the previous one issued (a client's journal would take a new fill for an old one).  The seed still
    decides everything the market does."""
    import secrets

    r = secrets.randbits
    return f"{r(32):08x}-{r(16):04x}-4{r(12):03x}-8{r(12):03x}-"
