"""The simulator's batch reads validate like the exchange's: `GET /markets/orderbooks` takes 1 to 100 tickers in
the repeated (`tickers=A&tickers=B`) or comma (`tickers=A,B`) form, 404s an unknown one, caps depth at 100;
`GET /markets?tickers=` filters to the tickers it knows, in either form."""

from __future__ import annotations

import requests

from tests.e2e.positions import ensure_markets


def _books(base: str, params):
    return requests.get(base + "/markets/orderbooks", params=params, timeout=10)


def test_orderbooks_forms_and_limits(server, alice):
    base = alice.base_url
    tickers = ensure_markets(server, 101)
    repeated = _books(base, [("tickers", t) for t in tickers[:3]])
    comma = _books(base, {"tickers": ",".join(tickers[:3])})
    mixed = _books(base, [("tickers", f"{tickers[0]},{tickers[1]}"), ("tickers", tickers[2])])
    assert repeated.status_code == comma.status_code == mixed.status_code == 200
    assert repeated.json() == comma.json() == mixed.json()
    assert [b["ticker"] for b in repeated.json()["orderbooks"]] == tickers[:3]
    assert set(repeated.json()["orderbooks"][0]["orderbook_fp"]) == {"yes_dollars", "no_dollars"}
    assert _books(base, [("tickers", t) for t in tickers[:100]]).status_code == 200
    for too_many in ([("tickers", t) for t in tickers], {"tickers": ",".join(tickers)}):
        answer = _books(base, too_many)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_parameters"
    for nothing in ({}, {"tickers": ""}, {"tickers": ","}):
        assert _books(base, nothing).status_code == 400
    unknown = _books(base, [("tickers", tickers[0]), ("tickers", "NO-SUCH-1")])
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert _books(base, {"tickers": tickers[0], "depth": 101}).status_code == 400


def test_markets_by_tickers_in_both_forms(server, alice):
    base = alice.base_url
    tickers = ensure_markets(server, 3)

    def listed(params) -> list[str]:
        answer = requests.get(base + "/markets", params=params, timeout=10)
        assert answer.status_code == 200
        return sorted(m["ticker"] for m in answer.json()["markets"])

    assert listed({"tickers": ",".join(tickers)}) == tickers
    assert listed([("tickers", t) for t in tickers]) == tickers
    assert listed({"tickers": f"{tickers[0]},NO-SUCH-1"}) == [tickers[0]]  # a filter: unknown ones are left out
