"""Loopback bitcoin tickers of Coinbase (Exchange and Advanced), Kraken and Bitstamp, in the shapes of
data-sources.md section 2 (Crypto.com is `outside_cryptocom`).

Each venue quotes the simulated index (`World.path`) times (1 + its basis + noise): the basis is a small
constant of the seed and venue (a few basis points), the noise new every second; bid and ask sit on the
venue's tick around that mid.  One venue, chosen by the seed (`flaky_venue`), is now and then degraded for
a 5-minute block: failing (HTTP 503) or stale (the quote and its time frozen 60 s before the block began).
All of it is a function of (seed, venue, time), so a request never changes the simulation and the same
seed answers the same numbers at the same simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from kalshi_trading.sim import noise
from kalshi_trading.sim.outside_wire import OutsideError, Query, dec, fixed, floor_tick, iso_micro, on_tick

if TYPE_CHECKING:
    from kalshi_trading.sim.exchange import SimExchange

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
BASIS_SD = 1.5e-4
NOISE_SD = 0.5e-4
FLAKY_BLOCK_MS = 300_000
FLAKY_FAIL = 0.04  # share of blocks the flaky venue fails
FLAKY_STALE = 0.08  # share of blocks it serves a frozen quote
STALE_BY_MS = 60_000
OK, STALE, FAILING = "ok", "stale", "failing"
SATOSHI = Decimal("0.00000001")


@dataclass(frozen=True)
class Venue:
    name: str
    tick: Decimal
    spread_ticks: int
    places: int  # decimals the venue writes prices with
    daily_volume: float  # BTC


VENUES = {v.name: v for v in (
    Venue("coinbase", Decimal("0.01"), 1, 2, 9_000.0),
    Venue("kraken", Decimal("0.1"), 1, 5, 2_500.0),
    Venue("bitstamp", Decimal("1"), 2, 0, 1_500.0),
    Venue("cryptocom", Decimal("0.01"), 10, 2, 6_000.0),
)}
FLAKY_ORDER = ("coinbase", "kraken", "bitstamp", "cryptocom")


@dataclass(frozen=True)
class Quote:
    """A venue's top of book and last trade at `t_ms` (old when the venue is stale)."""

    venue: Venue
    t_ms: int
    bid: Decimal
    ask: Decimal
    last: Decimal
    size: Decimal
    buy: bool  # the last trade lifted the ask

    def text(self, value: Decimal) -> str:
        return fixed(value, self.venue.places)


@dataclass(frozen=True)
class Day:
    """24-hour (or since-midnight) statistics of a venue: open, high, low, volume, vwap."""

    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    vwap: Decimal
    trades: int


def flaky_venue(seed: int) -> str:
    """The one venue that is now and then stale or failing, for this seed."""
    return FLAKY_ORDER[int(noise.uniform(seed, "flaky-venue") * len(FLAKY_ORDER))]


def condition(seed: int, venue: str, now_ms: int) -> str:
    """`ok`, `stale` or `failing`: the venue's state in the 5-minute block holding `now`."""
    if venue != flaky_venue(seed):
        return OK
    roll = noise.uniform(seed, "flaky", now_ms // FLAKY_BLOCK_MS)
    return FAILING if roll < FLAKY_FAIL else STALE if roll < FLAKY_FAIL + FLAKY_STALE else OK


def venue_state(ex: SimExchange, venue: str, now_ms: int) -> str:
    """`condition` of the venue in this exchange: always OK when its flaky venue is switched off (tests of other
    things, `start_embedded(flaky_venue=False)`)."""
    return condition(ex.world.seed, venue, now_ms) if ex.flaky_venue else OK


def basis(seed: int, venue: str) -> float:
    return BASIS_SD * noise.gauss(seed, "basis", venue)


def _mid(ex: SimExchange, venue: Venue, t_ms: int) -> Decimal:
    seed = ex.world.seed
    factor = 1.0 + basis(seed, venue.name) + NOISE_SD * noise.gauss(seed, "tick", venue.name, t_ms // 1000)
    return dec(ex.world.path.price_at(t_ms) * factor)


def quote_at(ex: SimExchange, venue_name: str, t_ms: int) -> Quote:
    """The venue's quote as it stood at `t_ms` (no fault model)."""
    venue = VENUES[venue_name]
    seed, second = ex.world.seed, t_ms // 1000
    bid = floor_tick(_mid(ex, venue, t_ms) - venue.spread_ticks * venue.tick / 2, venue.tick)
    ask = bid + venue.spread_ticks * venue.tick
    buy = noise.uniform(seed, "side", venue_name, second) < 0.5
    size = dec(0.0001 + 0.4 * noise.uniform(seed, "size", venue_name, second) ** 3).quantize(SATOSHI)
    return Quote(venue, t_ms, bid, ask, ask if buy else bid, size, buy)


def quote(ex: SimExchange, venue_name: str) -> Quote:
    """The venue's quote now, as its fault model has it: stale (old), or OutsideError 503 when failing."""
    now = ex.clock.now_ms()
    state = venue_state(ex, venue_name, now)
    if state == FAILING:
        raise OutsideError(503, None)
    if state == STALE:
        now = now // FLAKY_BLOCK_MS * FLAKY_BLOCK_MS - STALE_BY_MS
    return quote_at(ex, venue_name, now)


def day_stats(ex: SimExchange, q: Quote, since_ms: int) -> Day:
    """The venue's statistics from `since_ms` to the quote (the index's minute bars times the venue's basis)."""
    venue = q.venue
    factor = 1.0 + basis(ex.world.seed, venue.name)
    bars = ex.world.path.bars(since_ms, q.t_ms) or [[q.t_ms, *(ex.world.path.price_at(q.t_ms),) * 4]]
    high = max(on_tick(dec(max(b[2] for b in bars) * factor), venue.tick), q.last, q.ask)
    low = min(on_tick(dec(min(b[3] for b in bars) * factor), venue.tick), q.last, q.bid)
    hours = max(1, (q.t_ms - since_ms) // HOUR_MS)
    share = sum(0.8 + 0.4 * noise.uniform(ex.world.seed, "volume", venue.name, q.t_ms // HOUR_MS - h)
                for h in range(hours)) / 24.0
    volume = dec(venue.daily_volume * share).quantize(SATOSHI)
    vwap = on_tick((high + low + q.last) / 3, venue.tick)
    return Day(on_tick(dec(bars[0][1] * factor), venue.tick), high, low, volume, vwap, int(volume * 40))


def _midnight(ms: int) -> int:
    return ms // DAY_MS * DAY_MS


# ---- Coinbase ----------------------------------------------------------------------------------------------


def _product(product: str) -> None:
    if product != "BTC-USD":
        raise OutsideError(404, {"message": "NotFound"})


def coinbase_ticker(ex: SimExchange, query: Query, product: str) -> dict:
    """GET /products/BTC-USD/ticker (Coinbase Exchange)."""
    _product(product)
    q = quote(ex, "coinbase")
    day = day_stats(ex, q, q.t_ms - DAY_MS)
    return {"ask": q.text(q.ask), "bid": q.text(q.bid), "volume": str(day.volume),
            "trade_id": q.t_ms // 1000 - 1_700_000_000, "price": q.text(q.last), "size": str(q.size),
            "time": iso_micro(q.t_ms), "rfq_volume": "0.00000000"}


def coinbase_advanced_ticker(ex: SimExchange, query: Query, product: str) -> dict:
    """GET /api/v3/brokerage/market/products/BTC-USD/ticker?limit=N (Coinbase Advanced: trades, best bid/ask)."""
    raw = query.one("limit")
    if raw is None or raw == "":
        raise OutsideError(400, {"error": "INVALID_ARGUMENT", "error_details": "limit is required",
                                 "message": "limit is required"})
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if not 1 <= limit <= 1000:
        raise OutsideError(400, {"error": "INVALID_ARGUMENT", "error_details": "limit must be within 1..1000",
                                 "message": "limit must be within 1..1000"})
    if product != "BTC-USD":
        raise OutsideError(404, {"error": "NOT_FOUND", "error_details": "product not found",
                                 "message": "product not found"})
    top = quote(ex, "coinbase")
    trades = []
    for k in range(limit):  # one trade a second, newest first
        q = top if k == 0 else quote_at(ex, "coinbase", top.t_ms - k * 1000)
        trades.append({"trade_id": str(q.t_ms // 1000 - 1_700_000_000), "product_id": "BTC-USD",
                       "price": q.text(q.last), "size": str(q.size), "time": iso_micro(q.t_ms),
                       "side": "BUY" if q.buy else "SELL", "bid": "", "ask": "", "exchange": "coinbase"})
    return {"trades": trades, "best_bid": top.text(top.bid), "best_ask": top.text(top.ask)}


# ---- Kraken ---------------------------------------------------------------------------------------------------

KRAKEN_PAIRS = {"XBTUSD", "XXBTZUSD", "BTCUSD", "XBT/USD", "BTC/USD"}
KRAKEN_KEY = "XXBTZUSD"


def kraken_ticker(ex: SimExchange, query: Query) -> dict:
    """GET /0/public/Ticker?pair=XBTUSD: the result keyed XXBTZUSD; an unknown pair is HTTP 200 with an error list."""
    pairs = query.items("pair") or ["XBTUSD"]
    if any(p.upper() not in KRAKEN_PAIRS for p in pairs):
        return {"error": ["EQuery:Unknown asset pair"]}
    q = quote(ex, "kraken")
    today = day_stats(ex, q, _midnight(q.t_ms))
    last_day = day_stats(ex, q, q.t_ms - DAY_MS)

    def two(a: Decimal, b: Decimal) -> list[str]:
        return [q.text(a), q.text(b)]

    lots = str(1 + int(noise.uniform(ex.world.seed, "lots", q.t_ms // 1000) * 9))
    return {"error": [], "result": {KRAKEN_KEY: {
        "a": [q.text(q.ask), lots, f"{lots}.000"], "b": [q.text(q.bid), lots, f"{lots}.000"],
        "c": [q.text(q.last), str(q.size)], "v": [str(today.volume), str(last_day.volume)],
        "p": two(today.vwap, last_day.vwap), "t": [today.trades, last_day.trades], "l": two(today.low, last_day.low),
        "h": two(today.high, last_day.high), "o": q.text(today.open)}}}


# ---- Bitstamp -----------------------------------------------------------------------------------------------


def bitstamp_ticker(ex: SimExchange, query: Query, pair: str) -> dict:
    """GET /api/v2/ticker/btcusd/: every value a string, the timestamp in seconds."""
    if pair.lower() != "btcusd":
        raise OutsideError(404, {"status": "error", "reason": "Not Found", "code": "404"})
    q = quote(ex, "bitstamp")
    day = day_stats(ex, q, q.t_ms - DAY_MS)
    today = day_stats(ex, q, _midnight(q.t_ms))
    change = (q.last - day.open) / day.open * 100
    return {"timestamp": str(q.t_ms // 1000), "open": q.text(today.open), "high": q.text(day.high),
            "low": q.text(day.low), "last": q.text(q.last), "volume": str(day.volume), "vwap": q.text(day.vwap),
            "bid": q.text(q.bid), "ask": q.text(q.ask), "side": "0" if q.buy else "1",
            "open_24": q.text(day.open), "percent_change_24": fixed(change, 2)}
