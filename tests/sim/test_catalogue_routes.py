"""Catalogue reads the official SDK offers beyond markets, over real HTTP: event candlesticks, metadata and
forecasts, milestones and live data, the weather index, search, structured targets, incentive programs,
multivariate collections, and the families a simulated account may not use (403)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from tests.sim.conftest import active_market, order


def _get(alice, path, **params):
    return requests.get(alice.base_url + path, params=params, timeout=10)


def _event(server, series="KXBTCD"):
    return server.exchange.engine.markets[active_market(server, series)].event_ticker


def test_event_candlesticks(server, alice, bob, btc):
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.40", "2"))
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "2"))
    event = server.exchange.engine.markets[btc].event_ticker
    server.exchange.advance(120)
    now = server.clock.now_ms() // 1000
    r = _get(alice, f"/series/KXBTCD/events/{event}/candlesticks", start_ts=now - 600, end_ts=now, period_interval=1)
    body = r.json()
    assert r.status_code == 200 and set(body) == {"market_tickers", "market_candlesticks", "adjusted_end_ts"}
    assert body["market_tickers"] == list(server.exchange.events[event].market_tickers)
    assert len(body["market_candlesticks"]) == len(body["market_tickers"]) and body["adjusted_end_ts"] == now
    mine = body["market_candlesticks"][body["market_tickers"].index(btc)]
    assert any(c["volume_fp"] == "2.00" for c in mine)
    assert set(mine[0]) == {"end_period_ts", "yes_bid", "yes_ask", "price", "volume_fp", "open_interest_fp"}
    # 11 markets x one-minute candles over a week would pass 5000 candles: the end is pulled in
    wide = _get(alice, f"/series/KXBTCD/events/{event}/candlesticks", start_ts=now - 7 * 86400, end_ts=now,
                period_interval=1).json()
    assert wide["adjusted_end_ts"] == now - 7 * 86400 + (5000 // 11 - 1) * 60
    assert _get(alice, f"/series/KXHIGHNY/events/{event}/candlesticks", start_ts=0, end_ts=1,
                period_interval=1).status_code == 404
    assert _get(alice, f"/series/KXBTCD/events/{event}/candlesticks", start_ts=0, end_ts=1,
                period_interval=7).status_code == 400


def test_event_metadata(server, alice):
    event = _event(server, "KXHIGHNY")
    body = _get(alice, f"/events/{event}/metadata").json()
    assert set(body) >= {"image_url", "market_details", "settlement_sources"}
    assert [d["market_ticker"] for d in body["market_details"]] == list(server.exchange.events[event].market_tickers)
    assert all(d["color_code"].startswith("#") for d in body["market_details"])
    assert body["settlement_sources"][0]["name"] == "National Weather Service"
    assert _get(alice, "/events/NOPE/metadata").status_code == 404


@pytest.mark.parametrize("series", ["KXBTCD", "KXHIGHNY"])
def test_forecast_percentiles_are_ordered(server, alice, series):
    event = _event(server, series)
    now = server.clock.now_ms() // 1000
    r = alice.get(f"/series/{series}/events/{event}/forecast_percentile_history",
                  params={"percentiles": ["1000", "5000", "9000"], "start_ts": now - 3600, "end_ts": now + 3600,
                          "period_interval": 60})
    points = r.json()["forecast_history"]
    assert r.status_code == 200 and len(points) == 1 and points[0]["event_ticker"] == event
    values = [p["raw_numerical_forecast"] for p in points[0]["percentile_points"]]
    assert [p["percentile"] for p in points[0]["percentile_points"]] == [1000, 5000, 9000]
    assert values == sorted(values) and values[0] < values[-1]
    if series == "KXBTCD":  # the median sits near the simulated index
        assert abs(values[1] - server.exchange.world.spot) < 0.05 * server.exchange.world.spot
    past = alice.get(f"/series/{series}/events/{event}/forecast_percentile_history",
                     params={"percentiles": "5000", "start_ts": 0, "end_ts": 100, "period_interval": 60})
    assert past.json()["forecast_history"] == []
    bad = alice.get(f"/series/{series}/events/{event}/forecast_percentile_history",
                    params={"percentiles": "10000", "start_ts": 0, "end_ts": 100, "period_interval": 60})
    assert bad.status_code == 400


def test_milestones_and_live_data(server, alice):
    assert _get(alice, "/milestones").status_code == 400  # limit is required
    body = _get(alice, "/milestones", limit=500).json()
    assert len(body["milestones"]) == len(server.exchange.events) and body["cursor"] == ""
    first = body["milestones"][0]
    assert set(first) >= {"id", "category", "type", "start_date", "related_event_tickers", "title",
                          "notification_message", "details", "primary_event_tickers", "last_updated_ts"}
    assert _get(alice, f"/milestones/{first['id']}").json()["milestone"] == first
    assert _get(alice, "/milestones/nope").status_code == 404
    btc = _get(alice, "/milestones", limit=100, type="crypto_price").json()["milestones"]
    assert btc and all(m["category"] == "Crypto" for m in btc)
    event = btc[0]["related_event_tickers"][0]
    assert [m["id"] for m in _get(alice, "/milestones", limit=5, related_event_ticker=event).json()["milestones"]] \
        == [btc[0]["id"]]
    live = _get(alice, f"/live_data/milestone/{btc[0]['id']}").json()["live_data"]
    assert live["type"] == "crypto_price" and live["milestone_id"] == btc[0]["id"]
    assert live["details"]["price"] == round(server.exchange.world.spot, 2)
    assert _get(alice, f"/live_data/crypto_price/milestone/{btc[0]['id']}").status_code == 200
    assert _get(alice, f"/live_data/football/milestone/{btc[0]['id']}").status_code == 404
    batch = _get(alice, "/live_data/batch", milestone_ids=[btc[0]["id"], "nope"]).json()["live_datas"]
    assert [d["milestone_id"] for d in batch] == [btc[0]["id"]]
    assert _get(alice, f"/live_data/events/{event}").json()["live_data"]["is_historical"] is False
    assert _get(alice, f"/live_data/milestone/{btc[0]['id']}/game_stats").json() == {}
    crypto = _get(alice, "/milestones", limit=100, type="crypto_price").json()["milestones"]
    for series in ("KXBTCD", "KXBTC15M"):  # both settle on the bitcoin index
        listed = _get(alice, "/events", with_milestones="true", series_ticker=series).json()
        assert listed["milestones"] and {m["id"] for m in listed["milestones"]} == {
            m["id"] for m in crypto if m["related_event_tickers"][0].startswith(series + "-")}
    assert "milestones" not in _get(alice, "/events").json()


def test_weather_index_peaks_at_the_simulated_high(server, alice):
    event = _event(server, "KXHIGHNY")
    truth = server.exchange.world.temps[event][0]
    now = server.clock.now_ms()
    body = _get(alice, "/live_data/weather/NYC", **{"from": now - 86_400_000, "to": now + 3_600_000}).json()
    points = body["timeseries"]
    assert body["city"] == "nyc" and body["units"] == "F" and points
    assert all(p["t"] <= now and p["t"] % 60_000 == 0 and p["status"] == "ok" for p in points)
    assert max(p["v"] for p in points) <= round(truth, 2) + 0.01
    detailed = _get(alice, "/live_data/weather/nyc", last_sec=600, detailed="true").json()["timeseries"]
    assert len(detailed) >= 9 and detailed[0]["stations"][0]["station_id"] == "KNYC"
    assert _get(alice, "/live_data/weather/miami").status_code == 400
    assert _get(alice, "/live_data/weather/nyc", last_sec=60, to=now).status_code == 400
    assert _get(alice, "/live_data/weather/nyc", **{"from": now, "to": now - 1}).status_code == 400
    cal = _get(alice, "/live_data/weather/nyc/calibrations").json()
    assert cal["calibrations"][0]["stations"] == [{"station_id": "KNYC", "weight": 1.0, "offset_c": 0.0}]


def test_search_targets_incentives_and_collections(server, alice):
    tags = _get(alice, "/search/tags_by_categories").json()["tags_by_categories"]
    assert tags == {"Crypto": ["BTC", "Hourly", "15 min"],
                    "Climate and Weather": ["Weather", "Daily temperature", "Rain"]}
    assert _get(alice, "/search/filters_by_sport").json() == {"filters_by_sports": {}, "sport_ordering": []}
    targets = _get(alice, "/structured_targets").json()
    assert [t["name"] for t in targets["structured_targets"]] == ["Bitcoin", "Central Park, New York"]
    one = targets["structured_targets"][1]
    assert _get(alice, f"/structured_targets/{one['id']}").json()["structured_target"] == one
    assert _get(alice, "/structured_targets", ids=[one["id"]]).json()["structured_targets"] == [one]
    assert _get(alice, "/structured_targets", page_size=1).json()["cursor"] == "1"
    assert _get(alice, "/structured_targets", page_size=0).status_code == 400
    assert _get(alice, "/structured_targets/nope").status_code == 404
    assert _get(alice, "/incentive_programs", status="active").json() == {"incentive_programs": []}
    assert _get(alice, "/incentive_programs", status="soon").status_code == 400
    assert _get(alice, "/multivariate_event_collections").json() == {"multivariate_contracts": [], "cursor": ""}
    assert _get(alice, "/multivariate_event_collections/KXMVE").status_code == 404


def test_account_usage_level(server, alice, bob, btc):
    progress = alice.get("/account/api_usage_level/volume_progress").json()["volume_progress"][0]
    assert progress["trailing_30d_volume_fp"] == "0.00" and progress["goals"] == []
    r = alice.post("/account/api_usage_level/upgrade")
    assert r.status_code == 403  # no order yet
    bob.post("/portfolio/events/orders", json=order(btc, "ask", "0.40", "3"))
    alice.post("/portfolio/events/orders", json=order(btc, "bid", "0.40", "3"))
    assert alice.post("/account/api_usage_level/upgrade").status_code == 201
    volume = alice.get("/account/api_usage_level/volume_progress").json()["volume_progress"][0]
    assert Decimal(volume["trailing_30d_volume_fp"]) == 3


@pytest.mark.parametrize("method,path", [
    ("GET", "/fcm/subtraders"), ("POST", "/fcm/subtraders"), ("GET", "/fcm/orders"), ("GET", "/fcm/positions"),
    ("PUT", "/fcm/subtraders/event_contract_daily_cap"), ("GET", "/communications/id"),
    ("POST", "/communications/rfqs"), ("GET", "/communications/quotes"),
    ("PUT", "/communications/rfqs/r1/quotes/q1/accept"), ("POST", "/communications/block-trade-proposals"),
])
def test_permission_denied_families(alice, method, path):
    r = alice.request(method, path, json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert requests.request(method, alice.base_url + path, timeout=10).status_code == 401  # signed first
