"""KXBTC15M: bitcoin up or down in 15 minutes, on the simulated index (`btcpath`).

As Kalshi's rules say (data-sources.md section 2): a new market opens at every :00, :15, :30 and :45 UTC and
closes 15 minutes later; it resolves Yes when the simple average of the index over the 60 seconds before the
close is at least the average over the 60 seconds before the open, each rounded to 2 decimals.  `floor_strike`
carries the opening average (the "price to beat"), `strike_type` is `greater_or_equal`.

The simulator lists each event one window ahead (status `initialized`, `floor_strike` null) and fixes the
strike when the market opens (`open_market`).  Tickers use US Eastern *standard* time like the rest of the
catalogue: event `KXBTC15M-26NOV210945` (the close, yyMONddHHMM), market `KXBTC15M-26NOV210945-45`.

The background makers are informed but not perfect (`maker_fair`): they price a plain digital on the index
as it was `MAKER_LAG_S` seconds ago, with the true volatility but no drift and no account of the averaging
(in the final minute part of the closing average is already fixed), so a model that uses the live index
and the averaging window has an edge, largest late in a window.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from kalshi_trading.sim import catalogue
from kalshi_trading.sim.btcpath import BtcPath
from kalshi_trading.sim.catalogue import ET, SERIES_BY_TICKER, Event
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.noise import norm_cdf

SERIES_TICKER = "KXBTC15M"
UNDERLYING = "btc15m"
WINDOW_MS = 15 * 60_000
MAKER_LAG_S = 20
YEAR_S = 365.0 * 86_400.0
CENT = Decimal("0.01")


def window_opens(now_ms: int) -> tuple[int, int]:
    """The open times of the window running at `now` and of the next one (both listed)."""
    start = now_ms // WINDOW_MS * WINDOW_MS
    return start, start + WINDOW_MS


def event_ticker(close_ms: int) -> str:
    minute = datetime.fromtimestamp(close_ms / 1000, tz=ET).minute
    return f"{SERIES_TICKER}-{catalogue.et_label(close_ms, True)}{minute:02d}"


def _clock_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=ET).strftime("%I:%M%p").lstrip("0")


def event(open_ms: int) -> tuple[Event, list[Market]]:
    """The event of the window opening at `open_ms` (a multiple of 15 minutes), created one window earlier."""
    series = SERIES_BY_TICKER[SERIES_TICKER]
    close_ms = open_ms + WINDOW_MS
    ticker = event_ticker(close_ms)
    day = datetime.fromtimestamp(close_ms / 1000, tz=ET).strftime("%b %d, %Y").replace(" 0", " ")
    span = f"{_clock_text(open_ms)} to {_clock_text(close_ms)} ET on {day}"
    ev = Event(ticker, series.ticker, f"Bitcoin price up or down from {span}?", span, False,
               open_ms - WINDOW_MS, open_ms, close_ms, UNDERLYING)
    rules = (f"If the average of the simulated Bitcoin index over the 60 seconds before {_clock_text(close_ms)} ET "
             f"is at least its average over the 60 seconds before {_clock_text(open_ms)} ET (the price to beat; "
             "both rounded to 2 decimals), then the market resolves to Yes.")
    minute = ticker[-2:]
    market = catalogue._market(series, ev, f"{ticker}-{minute}", "Up", "Down", rules, "greater_or_equal",
                               None, None, UNDERLYING)
    return replace(ev, market_tickers=(market.ticker,)), [market]


def average_2dp(path: BtcPath, end_ms: int) -> Decimal:
    """The 60-second average of the index before `end_ms`, rounded half up to 2 decimals (the index as it
    stands when the path has no sample in the window: never the case for a window the simulation ran)."""
    value = path.average(end_ms)
    if value is None:
        value = path.price_at(end_ms)
    return Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def open_market(market: Market, path: BtcPath) -> None:
    """Fix the price to beat as the market opens."""
    strike = average_2dp(path, market.open_ms)
    market.floor_strike = float(strike)
    market.yes_sub_title = market.subtitle = f"${strike:,} or above"
    market.no_sub_title = f"Below ${strike:,}"


def result(market: Market, path: BtcPath) -> str:
    """`yes` when the closing average is at least the price to beat; sets the market's expiration value."""
    if market.floor_strike is None:
        raise ValueError(f"market {market.ticker} closed without a price to beat")
    closing = average_2dp(path, market.close_ms)
    market.expiration_value = str(closing)
    return "yes" if closing >= Decimal(repr(market.floor_strike)) else "no"


def maker_fair(market: Market, path: BtcPath, vol: float, now_ms: int) -> float:
    """The background makers' YES probability (see the module docstring for what they leave out)."""
    if market.floor_strike is None or not path:
        return 0.5
    seen = path.price_at(now_ms - MAKER_LAG_S * 1000)
    remaining_s = (market.close_ms - now_ms) / 1000.0
    if remaining_s <= 0 or vol <= 0:
        return 1.0 if seen >= market.floor_strike else 0.0
    sd = vol * math.sqrt(remaining_s / YEAR_S)
    return norm_cdf(math.log(seen / market.floor_strike) / sd)
