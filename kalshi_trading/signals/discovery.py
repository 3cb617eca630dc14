"""Market discovery: which markets the pipeline looks at, by series, keyword groups, explicit tickers and events.

Each configured series of a modelled family is auto-selected live:

- `KXHIGHNY` (weather): the active event of the coming climate day (local standard time, UTC-5, all year: the
  climate report's day), with all its brackets;
- `KXBTC15M`: the nearest active 15-minute contract, and the next one too when the current one closes within
  `btc15m_next_margin_s`;
- `KXBTCD`: the strike nearest the spot on the event closing soonest (at least `btcd_min_to_close_s` away when
  one is), the rule the bot has always used (`nearest_strike`; `kalshi auto --sim` calls it too).

Keyword groups match any of their words (case-insensitive) in a market's title or subtitle, within one series or
across every open market.  Explicit tickers are read in batches (`get_markets_by_tickers`), events with their nested
markets; listings follow the exchange's cursor (`iter_markets`).  Tickers that are unknown or could not be read are
reported in `DiscoveryResult.missing`, not silently dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterable, Sequence

from kalshi_trading.api.batch import ReadPool
from kalshi_trading.api.client import KalshiClient
from kalshi_trading.errors import NotFoundError
from kalshi_trading.models import Market, MarketStatus
from kalshi_trading.signals.types import Family

log = logging.getLogger(__name__)

SERIES_FAMILY: dict[str, Family] = {"KXHIGHNY": Family.WEATHER, "KXBTC15M": Family.BTC15M, "KXBTCD": Family.BTCD}
CLIMATE_TZ = timezone(timedelta(hours=-5))  # local standard time all year, as the climate report keeps it
_UPCOMING = (MarketStatus.ACTIVE, MarketStatus.INITIALIZED)

SpotSource = Callable[[], "Decimal | None"]


@dataclass(frozen=True)
class KeywordGroup:
    """Markets whose title or subtitle contains any of `words`, within `series` (None: every open market)."""

    words: tuple[str, ...]
    series: str | None = None

    def matches(self, market: Market) -> bool:
        text = f"{market.title} {market.yes_sub_title}".casefold()
        return any(word.casefold() in text for word in self.words)


@dataclass(frozen=True)
class DiscoveryConfig:
    series: tuple[str, ...] = tuple(SERIES_FAMILY)
    tickers: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    keywords: tuple[KeywordGroup, ...] = ()
    btc15m_next_margin_s: int = 120
    btcd_min_to_close_s: int = 600


@dataclass(frozen=True)
class Discovered:
    """A market found, the family that models it (None: no model), and how it was found."""

    market: Market
    family: Family | None
    via: str


@dataclass(frozen=True)
class DiscoveryResult:
    found: tuple[Discovered, ...]
    missing: tuple[str, ...] = ()  # tickers or events asked for that the exchange does not know (or did not answer)
    notes: tuple[str, ...] = field(default=())  # why a series found nothing (no spot, no active event...)

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(d.market.ticker for d in self.found)


def family_of(ticker: str) -> Family | None:
    """The modelled family of a market or event ticker, by its series prefix."""
    return SERIES_FAMILY.get(ticker.split("-", 1)[0].upper())


def climate_day(moment: datetime) -> date:
    """The climate day `moment` falls in (local standard time)."""
    return moment.astimezone(CLIMATE_TZ).date()


def _event_day(market: Market) -> date | None:
    """The climate day an event's market is about: the day its close (the day's end) falls in, a minute earlier."""
    if market.close_time is None:
        return None
    return climate_day(market.close_time - timedelta(minutes=1))


def weather_event(markets: Iterable[Market], now: datetime) -> list[Market]:
    """All brackets of the active event for the coming climate day (today's until it closes), by strike."""
    active = [m for m in markets if m.status is MarketStatus.ACTIVE and m.close_time is not None
              and m.close_time > now]
    today = climate_day(now)
    days = sorted({d for m in active if (d := _event_day(m)) is not None and d >= today})
    if not days:
        return []
    event = min(m.event_ticker for m in active if _event_day(m) == days[0])
    chosen = [m for m in active if m.event_ticker == event]
    return sorted(chosen, key=lambda m: (m.floor_strike if m.floor_strike is not None else Decimal(-10**9),
                                         m.ticker))


def btc15m_contracts(markets: Iterable[Market], now: datetime, next_margin: timedelta) -> list[Market]:
    """The nearest active 15-minute contract, plus the next one when the current closes within `next_margin`."""
    upcoming = sorted((m for m in markets if m.status in _UPCOMING and m.close_time is not None
                       and m.close_time > now), key=lambda m: (m.close_time, m.ticker))
    current = next((m for m in upcoming if m.status is MarketStatus.ACTIVE), None)
    if current is None or current.close_time is None:
        return []
    chosen = [current]
    if current.close_time - now <= next_margin:
        later = [m for m in upcoming if m.close_time is not None and m.close_time > current.close_time]
        if later:
            chosen.append(later[0])
    return chosen


def nearest_strike(markets: Iterable[Market], now: datetime, price: Decimal,
                   min_to_close: timedelta = timedelta(minutes=10)) -> Market | None:
    """The market whose strike is nearest `price`, on the event closing soonest after `now + min_to_close`
    (or, when none closes that late, on the one closing last: it trades longest).  The bot's rule for picking a
    KXBTCD strike.  (In an hour's last minutes the open events may all close before a long run ends: the soonest
    of them would close within minutes.)"""
    priced = [m for m in markets if m.floor_strike is not None and m.close_time is not None]
    if not priced:
        return None
    later = [m for m in priced if m.close_time is not None and m.close_time > now + min_to_close]
    closes = [m.close_time for m in (later or priced) if m.close_time is not None]
    chosen_close = min(closes) if later else max(closes)
    event = [m for m in priced if m.close_time == chosen_close]
    return min(event, key=lambda m: (abs((m.floor_strike or Decimal(0)) - price), m.ticker))


class Discoverer:
    """Runs discovery against one client; listings are read once per `discover` call."""

    def __init__(self, client: KalshiClient, *, spot: SpotSource | None = None, pool: ReadPool | None = None):
        self.client = client
        self.spot = spot
        self.pool = pool

    def discover(self, config: DiscoveryConfig, now: datetime) -> DiscoveryResult:
        """Every market `config` names, each once (the first way it was found wins)."""
        found: dict[str, Discovered] = {}
        missing: list[str] = []
        notes: list[str] = []
        listings: dict[str | None, list[Market]] = {}

        def add(markets: Iterable[Market], via: str) -> None:
            for m in markets:
                found.setdefault(m.ticker, Discovered(m, family_of(m.ticker), via))

        for series in config.series:
            picked, note = self._auto(series, config, now, listings)
            add(picked, f"series {series}")
            if note:
                notes.append(note)
        for group in config.keywords:
            pool = self._listing(group.series, now, listings)
            where = group.series or "all series"
            add((m for m in pool if m.status is MarketStatus.ACTIVE and group.matches(m)),
                f"keywords {'|'.join(group.words)} in {where}")
        if config.tickers:
            batch = self.client.get_markets_by_tickers(config.tickers, pool=self.pool)
            add((batch.found[t] for t in config.tickers if t in batch.found), "ticker")
            missing.extend(batch.unknown)
            missing.extend(batch.failed)
        for event in config.events:
            try:
                add(self.client.get_event(event, with_nested_markets=True).markets, f"event {event}")
            except NotFoundError:
                missing.append(event)
        return DiscoveryResult(tuple(found.values()), tuple(dict.fromkeys(missing)), tuple(notes))

    def _listing(self, series: str | None, now: datetime, cache: dict[str | None, list[Market]]) -> list[Market]:
        """A series' markets closing after `now` (all series: every open market), read once, every page."""
        if series not in cache:
            if series is None:
                cache[None] = list(self.client.iter_markets(status="open", page_size=1000))
            else:
                cache[series] = list(self.client.iter_markets(series_ticker=series, min_close_ts=now,
                                                              page_size=1000))
        return cache[series]

    def _auto(self, series: str, config: DiscoveryConfig, now: datetime,
              cache: dict[str | None, list[Market]]) -> tuple[Sequence[Market], str | None]:
        markets = self._listing(series, now, cache)
        family = SERIES_FAMILY.get(series)
        if family is Family.WEATHER:
            picked = weather_event(markets, now)
            return picked, None if picked else f"{series}: no active event for the coming climate day"
        if family is Family.BTC15M:
            picked = btc15m_contracts(markets, now, timedelta(seconds=config.btc15m_next_margin_s))
            return picked, None if picked else f"{series}: no active 15-minute contract"
        if family is Family.BTCD:
            price = self.spot() if self.spot is not None else None
            if price is None:
                return [], f"{series}: no spot price, so no strike can be chosen"
            active = [m for m in markets if m.status is MarketStatus.ACTIVE]
            chosen = nearest_strike(active, now, price, timedelta(seconds=config.btcd_min_to_close_s))
            return ([chosen] if chosen else []), None if chosen else f"{series}: no active market"
        return [m for m in markets if m.status is MarketStatus.ACTIVE], None
