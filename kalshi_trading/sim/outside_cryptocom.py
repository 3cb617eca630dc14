"""Loopback Crypto.com Exchange v1 market data (data-sources.md section 2): REST `public/get-tickers`,
`public/get-book`, `public/get-candlestick`, `public/get-valuations`, and what its market WebSocket pushes
(`ext_ws` serves the socket).

Every REST reply is `{"id", "method", "code": 0, "result"}`; an error is `code != 0` with a `message` (HTTP
400, code 40004, for a missing or invalid argument).  Numbers are strings, times milliseconds.  The venue
quotes like the others (`outside_btc`: basis, noise, its turn at being the flaky venue); its candles are the
simulated index's minute bars times its basis; `BTCUSD-INDEX` is the simulated index itself.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from kalshi_trading.sim import noise
from kalshi_trading.sim import outside_btc as btc
from kalshi_trading.sim.outside_wire import OutsideError, Query, dec, fixed, on_tick

if TYPE_CHECKING:
    from kalshi_trading.sim.exchange import SimExchange

INSTRUMENT = "BTC_USD"
INDEX = "BTCUSD-INDEX"
VENUE = "cryptocom"
MINUTE_MS = 60_000
TIMEFRAMES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "12h": 720, "1D": 1440,
              "7D": 10_080, "14D": 20_160, "1M": 43_200}  # 1M: calendar months (30 days to size a request)
LEGACY_TIMEFRAMES = {"M1": "1m", "M5": "5m", "M15": "15m", "M30": "30m", "H1": "1h", "H2": "2h", "H4": "4h",
                     "H12": "12h", "D1": "1D", "D7": "7D", "D14": "14D"}
MAX_CANDLES = 300
MAX_BOOK_DEPTH = 50
MAX_VALUATIONS = 1440
CENT = Decimal("0.01")


def _bad(method: str, query: Query, message: str) -> OutsideError:
    return OutsideError(400, {"id": request_id(query), "method": method, "code": 40004, "message": message})


def request_id(query: Query) -> int:
    raw = query.one("id")
    try:
        return int(raw) if raw is not None else -1
    except ValueError:
        return -1


def _reply(method: str, query: Query, result: dict) -> dict:
    return {"id": request_id(query), "method": method, "code": 0, "result": result}


def _instrument(method: str, query: Query, expected: str, required: bool = True) -> None:
    name = query.one("instrument_name")
    if (name is None or name == "") and not required:
        return
    if name != expected:
        raise _bad(method, query, f"Invalid instrument_name: {name or '(missing)'}")


def _int(method: str, query: Query, name: str, default: int, lowest: int, highest: int) -> int:
    raw = query.one(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(method, query, f"Invalid {name}: {raw}") from None
    if not lowest <= value <= highest:
        raise _bad(method, query, f"Invalid {name}: {raw} (allowed {lowest}..{highest})")
    return value


def check_up(ex: SimExchange) -> None:
    """Raise the venue's 503 while it is failing (every method of a failing venue fails)."""
    if btc.venue_state(ex, VENUE, ex.clock.now_ms()) == btc.FAILING:
        raise OutsideError(503, None)


# ---- payloads (REST results and WebSocket data) ---------------------------------------------------------------


def ticker_item(ex: SimExchange) -> dict:
    """One `get-tickers` / `ticker.BTC_USD` data item: a last, b bid, k ask, h/l/v/vv/c over 24 h, t ms."""
    q = btc.quote(ex, VENUE)
    day = btc.day_stats(ex, q, q.t_ms - btc.DAY_MS)
    change = ((q.last - day.open) / day.open).quantize(Decimal("0.0001"))
    return {"i": INSTRUMENT, "h": q.text(day.high), "l": q.text(day.low), "a": q.text(q.last),
            "v": fixed(day.volume, 4), "vv": fixed(day.volume * q.last, 2), "c": str(change),
            "b": q.text(q.bid), "k": q.text(q.ask), "oi": "0", "t": q.t_ms}


def index_item(ex: SimExchange, t_ms: int | None = None) -> dict:
    """The index value at `t_ms` (now by default): `{"v": "50776.73000", "t": ms}`."""
    t = ex.clock.now_ms() if t_ms is None else t_ms
    value = dec(ex.world.path.price_at(t)).quantize(CENT)
    return {"v": fixed(value, 5), "t": t}


def _bucket(t_ms: int, timeframe: str) -> int:
    if timeframe == "1M":
        dt = datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc)
        return int(datetime(dt.year, dt.month, 1, tzinfo=timezone.utc).timestamp() * 1000)
    span = TIMEFRAMES[timeframe] * MINUTE_MS
    return t_ms // span * span


def candles(ex: SimExchange, timeframe: str, count: int, end_ms: int, start_ms: int | None = None) -> list[dict]:
    """The last `count` candles of `timeframe` ending at `end_ms` (from the index's minute bars), oldest first."""
    factor = 1.0 + btc.basis(ex.world.seed, VENUE)
    span = TIMEFRAMES[timeframe] * MINUTE_MS
    lowest = end_ms - (count + 1) * span if start_ms is None else start_ms
    grouped: dict[int, list] = {}
    for start, o, h, low, c in ex.world.path.bars(lowest, end_ms):
        key = _bucket(start, timeframe)
        row = grouped.get(key)
        if row is None:
            grouped[key] = [o, h, low, c]
        else:
            row[1], row[2], row[3] = max(row[1], h), min(row[2], low), c
    out = []
    for key in sorted(grouped)[-count:]:
        if start_ms is not None and key < _bucket(start_ms, timeframe):
            continue
        o, h, low, c = (on_tick(dec(x * factor), CENT) for x in grouped[key])
        volume = btc.VENUES[VENUE].daily_volume * TIMEFRAMES[timeframe] / 1440 * \
            (0.5 + noise.uniform(ex.world.seed, "candle-volume", timeframe, key))
        out.append({"o": str(o), "h": str(h), "l": str(low), "c": str(c), "v": fixed(volume, 4), "t": key})
    return out


# ---- REST methods -----------------------------------------------------------------------------------------------


def get_tickers(ex: SimExchange, query: Query) -> dict:
    method = "public/get-tickers"
    _instrument(method, query, INSTRUMENT, required=False)
    return _reply(method, query, {"data": [ticker_item(ex)]})


def get_book(ex: SimExchange, query: Query) -> dict:
    """Levels `[price, quantity, "0"]`, bids from the best down, asks from the best up."""
    method = "public/get-book"
    _instrument(method, query, INSTRUMENT)
    depth = _int(method, query, "depth", MAX_BOOK_DEPTH, 1, MAX_BOOK_DEPTH)
    q = btc.quote(ex, VENUE)
    seed, tick = ex.world.seed, q.venue.tick
    sides: dict[str, list] = {"bids": [], "asks": []}
    for name, best, sign in (("bids", q.bid, -1), ("asks", q.ask, 1)):
        price = best
        for level in range(depth):
            if level:
                price += sign * tick * (1 + int(noise.uniform(seed, "gap", name, q.t_ms // 1000, level) * 20))
            qty = dec(0.0005 + 2.0 * noise.uniform(seed, "qty", name, q.t_ms // 1000, level) ** 2)
            sides[name].append([q.text(price), fixed(qty, 5), "0"])
    return _reply(method, query, {"depth": depth, "instrument_name": INSTRUMENT,
                                  "data": [{"bids": sides["bids"], "asks": sides["asks"], "t": q.t_ms}]})


def _ms(method: str, query: Query, name: str) -> int | None:
    raw = query.one(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _bad(method, query, f"Invalid {name}: {raw}") from None
    return value * 1000 if value < 10**11 else value  # seconds are accepted too


def get_candlestick(ex: SimExchange, query: Query) -> dict:
    """`timeframe` (legacy names accepted and echoed), `count` (default 25, at most 300), `start_ts`/`end_ts`."""
    method = "public/get-candlestick"
    _instrument(method, query, INSTRUMENT)
    check_up(ex)
    asked = query.one("timeframe") or "1m"
    timeframe = LEGACY_TIMEFRAMES.get(asked, asked)
    if timeframe not in TIMEFRAMES:
        raise _bad(method, query, f"Invalid timeframe: {asked}")
    count = min(_int(method, query, "count", 25, 1, 10_000), MAX_CANDLES)
    now = ex.clock.now_ms()
    end = min(_ms(method, query, "end_ts") or now, now)
    data = candles(ex, timeframe, count, end, _ms(method, query, "start_ts"))
    return _reply(method, query, {"interval": asked, "instrument_name": INSTRUMENT, "data": data})


def get_valuations(ex: SimExchange, query: Query) -> dict:
    """`BTCUSD-INDEX` `index_price`, one value a minute, newest first (`count`, default 1)."""
    method = "public/get-valuations"
    _instrument(method, query, INDEX)
    kind = query.one("valuation_type")
    if kind != "index_price":
        raise _bad(method, query, f"Invalid valuation_type: {kind or '(missing)'}")
    check_up(ex)
    count = _int(method, query, "count", 1, 1, MAX_VALUATIONS)
    now = ex.clock.now_ms()
    minute = now // MINUTE_MS * MINUTE_MS
    data = [{"v": index_item(ex, min(now, minute - k * MINUTE_MS + MINUTE_MS - 1))["v"], "t": minute - k * MINUTE_MS}
            for k in range(count)]
    return _reply(method, query, {"instrument_name": INDEX, "data": data})


METHODS = {"public/get-tickers": get_tickers, "public/get-book": get_book,
           "public/get-candlestick": get_candlestick, "public/get-valuations": get_valuations}


# ---- WebSocket channels ----------------------------------------------------------------------------------------


def channel_data(ex: SimExchange, channel: str) -> dict | None:
    """The push `result` for a subscription (`ticker.BTC_USD`, `index.BTCUSD-INDEX`, `candlestick.<tf>.BTC_USD`),
    None for an unknown channel; OutsideError while the venue fails."""
    parts = channel.split(".")
    if parts == ["ticker", INSTRUMENT]:
        return {"channel": "ticker", "subscription": channel, "instrument_name": INSTRUMENT,
                "data": [ticker_item(ex)]}
    if parts == ["index", INDEX]:
        check_up(ex)
        return {"channel": "index", "subscription": channel, "instrument_name": INDEX, "data": [index_item(ex)]}
    if len(parts) == 3 and parts[0] == "candlestick" and parts[2] == INSTRUMENT:
        timeframe = LEGACY_TIMEFRAMES.get(parts[1], parts[1])
        if timeframe in TIMEFRAMES:
            check_up(ex)
            return {"channel": "candlestick", "subscription": channel, "instrument_name": INSTRUMENT,
                    "interval": parts[1], "data": candles(ex, timeframe, 1, ex.clock.now_ms())}
    return None
