"""A catalogue that looks like Kalshi's: series, events and their markets, listed on a schedule.

* KXBTCD: hourly "Bitcoin price above $X" ladder of strikes around the simulated spot
  (linear_cent grid, fee type quadratic_with_maker_fees).
* KXHIGHNY: daily NYC high-temperature brackets, mutually exclusive `between` strikes plus two
  tails (tapered_deci_cent grid, fee type quadratic).
* KXRAINNYC: a plain daily yes/no market "Rain in NYC today?" (deci_cent grid, quadratic).
* KXBTC15M: bitcoin up or down every 15 minutes (`btc15m` builds its events; linear_cent, quadratic_with_maker_fees).

Times are UTC milliseconds; tickers use US Eastern *standard* time (UTC-5) dates as Kalshi's do
(daylight saving is ignored: a simulator simplification).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from kalshi_trading.money import GRIDS
from kalshi_trading.sim.market import Market

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
ET = timezone(timedelta(hours=-5))
DETERMINE_DELAY_MS = 30_000  # closed -> determined
SETTLEMENT_TIMER_S = 60  # determined -> finalized

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True)
class Series:
    ticker: str
    frequency: str
    title: str
    category: str
    tags: tuple[str, ...]
    fee_type: str
    fee_multiplier: str
    price_level_structure: str
    settlement_source: tuple[str, str]  # (name, url)
    contract_url: str
    listed_ms: int = 0

    @property
    def price_ranges(self) -> list[tuple[str, str, str]]:
        return [(str(r.start), str(r.end), str(r.step)) for r in GRIDS[self.price_level_structure].ranges]


@dataclass(frozen=True)
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    mutually_exclusive: bool
    created_ms: int
    open_ms: int
    close_ms: int
    kind: str  # btc | btc15m | temp | rain (which underlying settles it)
    market_tickers: tuple[str, ...] = field(default=())

    def to_state(self) -> dict:
        data = asdict(self)
        data["market_tickers"] = list(self.market_tickers)
        return data

    @classmethod
    def from_state(cls, data: dict) -> "Event":
        return cls(**{**data, "market_tickers": tuple(data["market_tickers"])})


SERIES = (
    Series("KXBTCD", "hourly", "Bitcoin price today at an hour", "Crypto", ("BTC", "Hourly"),
           "quadratic_with_maker_fees", "1", "linear_cent",
           ("CF Benchmarks", "https://www.cfbenchmarks.com/data/indices/BRTI"),
           "https://kalshi.com/markets/kxbtcd"),
    Series("KXHIGHNY", "daily", "Highest temperature in NYC today", "Climate and Weather",
           ("Weather", "Daily temperature"), "quadratic", "1", "tapered_deci_cent",
           ("National Weather Service", "https://www.weather.gov/wrh/climate?wfo=okx"),
           "https://kalshi.com/markets/kxhighny"),
    Series("KXRAINNYC", "daily", "Rain in NYC today", "Climate and Weather", ("Weather", "Rain"),
           "quadratic", "1", "deci_cent",
           ("National Weather Service", "https://www.weather.gov/wrh/climate?wfo=okx"),
           "https://kalshi.com/markets/kxrainnyc"),
    Series("KXBTC15M", "fifteen_min", "Bitcoin price up or down in 15 minutes", "Crypto", ("BTC", "15 min"),
           "quadratic_with_maker_fees", "1", "linear_cent",
           ("CF Benchmarks", "https://www.cfbenchmarks.com/data/indices/BRTI"),
           "https://kalshi.com/markets/kxbtc15m"),
)
SERIES_BY_TICKER = {s.ticker: s for s in SERIES}

BTC_STRIKE_STEP = 250
BTC_STRIKES = 11


def et_label(ms: int, with_hour: bool) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=ET)
    text = f"{dt.year % 100:02d}{_MONTHS[dt.month - 1]}{dt.day:02d}"
    return f"{text}{dt.hour:02d}" if with_hour else text


def _et_text(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=ET)
    return dt.strftime("%b %d, %Y at %I%p ET").replace(" 0", " ")


def _market(series: Series, event: Event, ticker: str, yes_sub: str, no_sub: str, rules: str,
            strike_type: str | None, floor, cap, underlying: str) -> Market:
    return Market(
        ticker=ticker, event_ticker=event.event_ticker, series_ticker=series.ticker, title=event.title,
        subtitle=yes_sub, yes_sub_title=yes_sub, no_sub_title=no_sub, created_ms=event.created_ms,
        open_ms=event.open_ms, close_ms=event.close_ms, expected_expiration_ms=event.close_ms + DETERMINE_DELAY_MS,
        latest_expiration_ms=event.close_ms + 7 * DAY_MS, settlement_timer_seconds=SETTLEMENT_TIMER_S,
        rules_primary=rules, rules_secondary=(
            f"The market settles on data from {series.settlement_source[0]}. This is a simulated market: "
            "no real money changes hands."),
        price_level_structure=series.price_level_structure, price_ranges=series.price_ranges,
        strike_type=strike_type, floor_strike=floor, cap_strike=cap, fee_type=series.fee_type,
        fee_multiplier=series.fee_multiplier, can_close_early=False, underlying=underlying,
    )


def btc_event(close_ms: int, spot: float) -> tuple[Event, list[Market]]:
    series = SERIES_BY_TICKER["KXBTCD"]
    label = et_label(close_ms, True)
    event_ticker = f"KXBTCD-{label}"
    when = _et_text(close_ms)
    centre = round(spot / BTC_STRIKE_STEP) * BTC_STRIKE_STEP
    half = BTC_STRIKES // 2
    strikes = [centre + BTC_STRIKE_STEP * (i - half) for i in range(BTC_STRIKES)]
    event = Event(event_ticker, series.ticker, f"Bitcoin price on {when}?", f"On {when}", False,
                  close_ms - 3 * HOUR_MS, close_ms - 2 * HOUR_MS, close_ms, "btc")
    markets = []
    for strike in strikes:
        floor = strike - 0.01
        ticker = f"{event_ticker}-T{floor:.2f}"
        rules = (f"If the simulated Bitcoin index is above {floor:,.2f} at {when}, then the market resolves "
                 "to Yes.")
        markets.append(_market(series, event, ticker, f"${strike:,} or above", f"Below ${strike:,}", rules,
                               "greater", floor, None, "btc"))
    return _with_markets(event, markets), markets


def temp_event(close_ms: int, centre: int) -> tuple[Event, list[Market]]:
    series = SERIES_BY_TICKER["KXHIGHNY"]
    day_ms = close_ms - HOUR_MS  # the ET day that ends at close
    label = et_label(day_ms, False)
    event_ticker = f"KXHIGHNY-{label}"
    day = datetime.fromtimestamp(day_ms / 1000, tz=ET).strftime("%b %d, %Y").replace(" 0", " ")
    event = Event(event_ticker, series.ticker, f"Highest temperature in NYC on {day}?", f"On {day}", True,
                  close_ms - 2 * DAY_MS, close_ms - DAY_MS, close_ms, "temp")
    low = centre - 5  # brackets [low, low+1], ..., six of them, plus tails
    markets = []
    rules = ("If the highest temperature recorded in Central Park, New York on {day} is {what}, "
             "then the market resolves to Yes.")
    tail_lo = low
    markets.append(_market(series, event, f"{event_ticker}-T{tail_lo}", f"{tail_lo - 1}° or below",
                           f"{tail_lo}° or above", rules.format(day=day, what=f"less than {tail_lo}°"),
                           "less", None, tail_lo, "temp"))
    for i in range(5):
        a = low + 2 * i
        markets.append(_market(series, event, f"{event_ticker}-B{a + 0.5}", f"{a}° to {a + 1}°",
                               f"Not {a}° to {a + 1}°", rules.format(day=day, what=f"between {a}-{a + 1}°"),
                               "between", a, a + 1, "temp"))
    tail_hi = low + 9
    markets.append(_market(series, event, f"{event_ticker}-T{tail_hi}", f"{tail_hi + 1}° or above",
                           f"{tail_hi}° or below", rules.format(day=day, what=f"greater than {tail_hi}°"),
                           "greater", tail_hi, None, "temp"))
    return _with_markets(event, markets), markets


def rain_event(close_ms: int) -> tuple[Event, list[Market]]:
    series = SERIES_BY_TICKER["KXRAINNYC"]
    day_ms = close_ms - HOUR_MS
    event_ticker = f"KXRAINNYC-{et_label(day_ms, False)}"
    day = datetime.fromtimestamp(day_ms / 1000, tz=ET).strftime("%b %d, %Y").replace(" 0", " ")
    event = Event(event_ticker, series.ticker, f"Will it rain in NYC on {day}?", f"On {day}", False,
                  close_ms - 2 * DAY_MS, close_ms - DAY_MS, close_ms, "rain")
    rules = (f"If more than 0 inches of rain is recorded in Central Park, New York on {day}, "
             "then the market resolves to Yes.")
    markets = [_market(series, event, f"{event_ticker}-T0", "Rain", "No rain", rules, "greater", 0, None, "rain")]
    return _with_markets(event, markets), markets


def _with_markets(event: Event, markets: list[Market]) -> Event:
    return Event(**{**asdict(event), "market_tickers": tuple(m.ticker for m in markets)})


def hourly_closes(now_ms: int) -> list[int]:
    """Close times of the hourly events that should exist at `now` (created <= now < close)."""
    first = (now_ms // HOUR_MS + 1) * HOUR_MS
    return [first + i * HOUR_MS for i in range(3)]


DAILY_CLOSE_OFFSET_MS = 5 * HOUR_MS  # midnight ET (standard time) = 05:00 UTC


def daily_closes(now_ms: int) -> list[int]:
    base = ((now_ms - DAILY_CLOSE_OFFSET_MS) // DAY_MS + 1) * DAY_MS + DAILY_CLOSE_OFFSET_MS
    return [base, base + DAY_MS]
