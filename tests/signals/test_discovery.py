"""Discovery offline: the exchange is `responses` bodies in the reference's market shape (kalshi-api.md section 4),
driven through the real client (pagination, batch reads, event reads)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from kalshi_trading.api import parse
from kalshi_trading.api.client import KalshiClient
from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.signals.discovery import (
    Discoverer, DiscoveryConfig, KeywordGroup, btc15m_contracts, climate_day, family_of, nearest_strike,
    weather_event,
)
from kalshi_trading.signals.types import Family

BASE = "https://api.test/trade-api/v2"
NOW = datetime(2026, 11, 21, 16, 7, 0, tzinfo=timezone.utc)


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def market(ticker: str, close: datetime, *, status: str = "active", open_: datetime | None = None,
           title: str = "Bitcoin price up or down in 15 minutes?", sub: str = "Up", strike_type: str | None = "greater",
           floor=None, cap=None, bid: str = "0.4200", ask: str = "0.4400") -> dict:
    """A market body as GET /markets answers it (every required field of the reference)."""
    body = {
        "ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "market_type": "binary", "title": title,
        "yes_sub_title": sub, "no_sub_title": "Not " + sub, "created_time": ts(close - timedelta(days=1)),
        "updated_time": ts(close - timedelta(days=1)), "open_time": ts(open_ or close - timedelta(minutes=15)),
        "close_time": ts(close), "latest_expiration_time": ts(close + timedelta(days=7)),
        "settlement_timer_seconds": 60, "status": status, "yes_bid_dollars": bid, "yes_bid_size_fp": "10.00",
        "yes_ask_dollars": ask, "yes_ask_size_fp": "10.00", "no_bid_dollars": "0.5600", "no_ask_dollars": "0.5800",
        "last_price_dollars": "0.4300", "volume_fp": "0.00", "volume_24h_fp": "0.00", "open_interest_fp": "0.00",
        "result": "", "can_close_early": False, "notional_value_dollars": "1.0000",
        "previous_yes_bid_dollars": "0.0000", "previous_yes_ask_dollars": "0.0000",
        "previous_price_dollars": "0.0000", "expiration_value": "", "rules_primary": "r", "rules_secondary": "",
        "price_level_structure": "linear_cent", "price_ranges": [{"start": "0.01", "end": "0.99", "step": "0.01"}],
        "strike_type": strike_type,
    }
    if floor is not None:
        body["floor_strike"] = floor
    if cap is not None:
        body["cap_strike"] = cap
    return body


def m(body: dict):
    return parse.market(body)


def btc15m(close: datetime, status: str = "active") -> dict:
    label = close.astimezone(timezone(timedelta(hours=-5))).strftime("%y%b%d%H%M").upper()
    return market(f"KXBTC15M-{label}-15", close, status=status, floor=97512.25)


@pytest.fixture
def client(rsa_key):
    c = KalshiClient.build(BASE, "key-id-0001", rsa_key, rate_tier=None, sleep=lambda s: None,
                           retry=RetryPolicy(max_attempts=2, base_delay=0, max_delay=0, max_total=1))
    yield c
    c.close()


def serve_markets(rsps, pages_by_series: dict[str | None, list[list[dict]]]):
    """GET /markets: each series' listing in pages linked by cursors; records every query."""
    seen: list[dict] = []

    def answer(request):
        query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        seen.append(query)
        pages = pages_by_series.get(query.get("series_ticker"), [[]])
        index = int(query.get("cursor", "0"))
        cursor = str(index + 1) if index + 1 < len(pages) else ""
        return 200, {}, json.dumps({"markets": pages[index], "cursor": cursor})

    rsps.add_callback(responses.GET, f"{BASE}/markets", callback=answer)
    return seen


# -- KXBTC15M --------------------------------------------------------------------------------------------------------

CLOSE = datetime(2026, 11, 21, 16, 15, tzinfo=timezone.utc)  # the contract running at NOW (16:07)


def test_btc15m_the_nearest_active_contract_only_when_far_from_its_close():
    markets = [m(btc15m(CLOSE)), m(btc15m(CLOSE + timedelta(minutes=15), "initialized")),
               m(btc15m(CLOSE - timedelta(minutes=15), "closed"))]
    assert [x.close_time for x in btc15m_contracts(markets, NOW, timedelta(minutes=2))] == [CLOSE]


def test_btc15m_adds_the_next_contract_within_the_margin():
    markets = [m(btc15m(CLOSE + timedelta(minutes=15), "initialized")), m(btc15m(CLOSE)),
               m(btc15m(CLOSE + timedelta(minutes=30), "initialized"))]
    at = CLOSE - timedelta(seconds=90)
    assert [x.close_time for x in btc15m_contracts(markets, at, timedelta(minutes=2))] == [
        CLOSE, CLOSE + timedelta(minutes=15)]
    # exactly at the margin counts; just outside it does not
    assert len(btc15m_contracts(markets, CLOSE - timedelta(minutes=2), timedelta(minutes=2))) == 2
    assert len(btc15m_contracts(markets, CLOSE - timedelta(seconds=121), timedelta(minutes=2))) == 1


def test_btc15m_none_active_or_all_closed():
    assert btc15m_contracts([m(btc15m(CLOSE, "initialized"))], NOW, timedelta(minutes=2)) == []
    assert btc15m_contracts([m(btc15m(CLOSE, "active"))], CLOSE, timedelta(minutes=2)) == []  # closes now
    assert btc15m_contracts([], NOW, timedelta(minutes=2)) == []


@responses.activate
def test_discover_btc15m_through_the_client_follows_every_page(client):
    pages = [[btc15m(CLOSE - timedelta(minutes=15), "closed")], [btc15m(CLOSE)],
             [btc15m(CLOSE + timedelta(minutes=15), "initialized")]]
    seen = serve_markets(responses, {"KXBTC15M": pages})
    result = Discoverer(client).discover(DiscoveryConfig(series=("KXBTC15M",), btc15m_next_margin_s=600), NOW)
    assert [d.market.close_time for d in result.found] == [CLOSE, CLOSE + timedelta(minutes=15)]
    assert all(d.family is Family.BTC15M and d.via == "series KXBTC15M" for d in result.found)
    assert len(seen) == 3 and seen[0]["min_close_ts"] == str(int(NOW.timestamp()))


# -- KXHIGHNY --------------------------------------------------------------------------------------------------------

def weather(day: str, close: datetime, status="active") -> list:
    brackets = [("T40", "less", None, 40), ("B40.5", "between", 40, 41), ("B42.5", "between", 42, 43),
                ("T43", "greater", 43, None)]
    return [m(market(f"KXHIGHNY-{day}-{suffix}", close, status=status, title="Highest temperature in NYC?",
                     sub=suffix, strike_type=kind, floor=lo, cap=hi, open_=close - timedelta(days=1)))
            for suffix, kind, lo, hi in brackets]


NOV21_CLOSE = datetime(2026, 11, 22, 4, 59, tzinfo=timezone.utc)  # the real close: 23:59 EST on the climate day


def test_weather_the_coming_climate_days_event_with_all_brackets():
    today, tomorrow = weather("26NOV21", NOV21_CLOSE), weather("26NOV22", NOV21_CLOSE + timedelta(days=1))
    chosen = weather_event(tomorrow + today, NOW)
    assert [x.ticker for x in chosen] == ["KXHIGHNY-26NOV21-T40", "KXHIGHNY-26NOV21-B40.5",
                                          "KXHIGHNY-26NOV21-B42.5", "KXHIGHNY-26NOV21-T43"]


def test_weather_uses_local_standard_time_for_the_climate_day():
    # 04:30Z on Nov 22 is 23:30 EST on Nov 21: still the 21st's climate day (daylight time never applies)
    late = datetime(2026, 11, 22, 4, 30, tzinfo=timezone.utc)
    assert climate_day(late).isoformat() == "2026-11-21"
    today, tomorrow = weather("26NOV21", NOV21_CLOSE), weather("26NOV22", NOV21_CLOSE + timedelta(days=1))
    assert {x.event_ticker for x in weather_event(today + tomorrow, late)} == {"KXHIGHNY-26NOV21"}
    # after the close the next day's event is the coming one
    after = NOV21_CLOSE + timedelta(minutes=1)
    assert {x.event_ticker for x in weather_event(today + tomorrow, after)} == {"KXHIGHNY-26NOV22"}
    # a July night: 03:30Z is 23:30 EDT but 22:30 EST, the same climate day as the evening before
    assert climate_day(datetime(2026, 7, 10, 3, 30, tzinfo=timezone.utc)).isoformat() == "2026-07-09"


def test_weather_skips_an_event_not_yet_open_and_finds_nothing_when_none_is_active():
    today = weather("26NOV21", NOV21_CLOSE, status="closed")
    tomorrow = weather("26NOV22", NOV21_CLOSE + timedelta(days=1))
    assert {x.event_ticker for x in weather_event(today + tomorrow, NOW)} == {"KXHIGHNY-26NOV22"}
    assert weather_event(today, NOW) == []


# -- KXBTCD: the bot's rule, moved here ------------------------------------------------------------------------------

def ladder(close: datetime, strikes) -> list:
    label = close.astimezone(timezone(timedelta(hours=-5))).strftime("%y%b%d%H").upper()
    return [m(market(f"KXBTCD-{label}-T{k - D('0.01')}", close, floor=str(k - D("0.01")), open_=close
                     - timedelta(hours=1))) for k in strikes]


def test_nearest_strike_on_the_event_closing_soonest_after_ten_minutes():
    soon = ladder(datetime(2026, 11, 21, 16, 12, tzinfo=timezone.utc), [D(97000), D(97250)])  # 5 min away
    next_ = ladder(datetime(2026, 11, 21, 17, 0, tzinfo=timezone.utc), [D(97000), D(97250), D(97500)])
    later = ladder(datetime(2026, 11, 21, 18, 0, tzinfo=timezone.utc), [D(97300)])
    chosen = nearest_strike(soon + later + next_, NOW, D("97300"))
    assert chosen is not None and chosen.ticker.endswith("T97249.99") and chosen.close_time.hour == 17


def test_when_no_event_closes_late_enough_the_one_closing_last_is_chosen():
    """The last minutes of an hour: a 70-minute run finds the open events closing in 3 and 63 minutes; the one
    closing in 3 would end the run at once."""
    now = datetime(2026, 11, 21, 15, 57, tzinfo=timezone.utc)
    soon = ladder(datetime(2026, 11, 21, 16, 0, tzinfo=timezone.utc), [D(97000), D(97250)])
    next_ = ladder(datetime(2026, 11, 21, 17, 0, tzinfo=timezone.utc), [D(97000), D(97250), D(97500)])
    chosen = nearest_strike(soon + next_, now, D("97300"), timedelta(minutes=70))
    assert chosen is not None and chosen.close_time.hour == 17 and chosen.ticker.endswith("T97249.99")


def test_nearest_strike_ties_go_to_the_first_ticker_and_a_lone_early_event_still_counts():
    ladder_ = ladder(datetime(2026, 11, 21, 16, 12, tzinfo=timezone.utc), [D(97000), D(97250)])
    chosen = nearest_strike(ladder_, NOW, D("97124.99"))  # exactly between: both 125 away
    assert chosen is not None and chosen.ticker.endswith("T96999.99")
    assert nearest_strike([], NOW, D(1)) is None


@responses.activate
def test_discover_btcd_needs_a_spot(client):
    serve_markets(responses, {"KXBTCD": [[*(market(x.ticker, x.close_time, floor=str(x.floor_strike))
                                           for x in ladder(datetime(2026, 11, 21, 17, tzinfo=timezone.utc),
                                                           [D(97000), D(97250)]))]]})
    config = DiscoveryConfig(series=("KXBTCD",))
    without = Discoverer(client).discover(config, NOW)
    assert without.found == () and "no spot" in without.notes[0]
    with_spot = Discoverer(client, spot=lambda: D("97200")).discover(config, NOW)
    assert [d.market.ticker[-9:] for d in with_spot.found] == ["T97249.99"]


# -- keywords, tickers, events ---------------------------------------------------------------------------------------

@responses.activate
def test_keyword_groups_within_a_series_or_across_all(client):
    rain = market("KXRAINNYC-26NOV21-T0", NOV21_CLOSE, title="Will it rain in NYC?", sub="Rain")
    snow = market("KXSNOW-26NOV21-T0", NOV21_CLOSE, title="Snow in NYC", sub="SNOWFALL")
    btc = market("KXBTCD-26NOV2111-T97249.99", NOV21_CLOSE, title="Bitcoin price today", sub="$97,250 or above")
    seen = serve_markets(responses, {None: [[rain, snow], [btc]], "KXBTCD": [[btc]]})
    config = DiscoveryConfig(series=(), keywords=(KeywordGroup(("rain", "snowfall")),
                                                  KeywordGroup(("BITCOIN",), "KXBTCD")))
    result = Discoverer(client).discover(config, NOW)
    assert [d.market.ticker for d in result.found] == [rain["ticker"], snow["ticker"], btc["ticker"]]
    assert result.found[2].via == "keywords BITCOIN in KXBTCD" and result.found[0].family is None
    assert {q.get("status") for q in seen if "series_ticker" not in q} == {"open"}


@responses.activate
def test_explicit_tickers_in_one_batch_and_events_with_their_markets(client):
    known = market("KXBTCD-26NOV2117-T97249.99", NOV21_CLOSE)
    asked: list[str] = []

    def markets(request):
        query = parse_qs(urlparse(request.url).query)
        asked.append(query["tickers"][0])
        return 200, {}, json.dumps({"markets": [known], "cursor": ""})

    responses.add_callback(responses.GET, f"{BASE}/markets", callback=markets)
    event = {"event_ticker": "KXHIGHNY-26NOV21", "series_ticker": "KXHIGHNY", "title": "t", "sub_title": "s",
             "mutually_exclusive": True, "collateral_return_type": "", "settlement_sources": None,
             "markets": [market("KXHIGHNY-26NOV21-B40.5", NOV21_CLOSE, strike_type="between", floor=40, cap=41)]}
    responses.add(responses.GET, f"{BASE}/events/KXHIGHNY-26NOV21", json={"event": event})
    responses.add(responses.GET, re.compile(f"{BASE}/events/KXHIGHNY-26NOV29.*"), status=404,
                  json={"error": {"code": "not_found", "message": "no such event"}})
    config = DiscoveryConfig(series=(), tickers=("KXBTCD-26NOV2117-T97249.99", "KXBTCD-26NOV2117-T1.00"),
                             events=("KXHIGHNY-26NOV21", "KXHIGHNY-26NOV29"))
    result = Discoverer(client).discover(config, NOW)
    assert asked == ["KXBTCD-26NOV2117-T97249.99,KXBTCD-26NOV2117-T1.00"]  # one batch read
    assert [(d.market.ticker, d.via) for d in result.found] == [
        ("KXBTCD-26NOV2117-T97249.99", "ticker"), ("KXHIGHNY-26NOV21-B40.5", "event KXHIGHNY-26NOV21")]
    assert result.missing == ("KXBTCD-26NOV2117-T1.00", "KXHIGHNY-26NOV29")


def test_family_by_series_prefix():
    assert family_of("KXHIGHNY-26NOV21-B40.5") is Family.WEATHER
    assert family_of("kxbtc15m-26NOV211615-15") is Family.BTC15M
    assert family_of("KXBTCD") is Family.BTCD and family_of("KXRAINNYC-26NOV21-T0") is None
