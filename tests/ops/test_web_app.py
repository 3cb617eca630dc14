"""The dashboard's application over HTTP (Starlette's test client, the real app and board): the Host check on
loopback, the token everywhere else, and every refusal of the kill switch before it runs (no token, a wrong one,
not JSON, not confirmed, another site, GET); what the switch itself does is tested on the simulator
(test_dashboard_kill.py)."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():  # Starlette 1.x asks for httpx2 under its test client; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from kalshi_trading.errors import ExchangeUnavailable
from kalshi_trading.ops.web.app import WebConfig, build_app
from kalshi_trading.ops.web.auth import host_name, is_loopback, token_matches
from kalshi_trading.ops.web.board import Board, Section
from kalshi_trading.ops.web.sections import Note, SectionDoc, Source

TOKEN = "t0ken-" + "x" * 30
LOOPBACK = "http://127.0.0.1:8050"


class Switch:
    """The kill switch's stand-in: counts its runs (its own effects are the simulator tests')."""

    def __init__(self, fails: bool = False):
        self.runs = 0
        self.fails = fails

    def __call__(self):
        self.runs += 1
        if self.fails:
            raise ExchangeUnavailable("exchange down")
        return {"cancelled_count": 0, "bots": [], "problems": []}


@pytest.fixture
def make():
    boards = []

    def build(require_token: bool = False, switch=None, env: str = "SIM"):
        board = Board([Section("portfolio", "Portfolio <&>", lambda: SectionDoc("s", (Note("n", "<b>hi</b>"),)),
                               (Source.STORE,))], refresh=600)
        board.start()
        boards.append(board)
        app = build_app(board, WebConfig(env, TOKEN, require_token, 500), switch)
        return TestClient(app, base_url=LOOPBACK)

    yield build
    for board in boards:
        board.stop()


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("LocalHost", True),
                                            ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
                                            ("localhost.example.com", False), ("", False)])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("header, name", [("127.0.0.1:8050", "127.0.0.1"), ("localhost", "localhost"),
                                          ("[::1]:8050", "::1"), ("::1", "::1"), ("evil.example:80", "evil.example")])
def test_host_name(header, name):
    assert host_name(header) == name


def test_token_matches_only_the_token():
    assert token_matches(TOKEN, TOKEN)
    for wrong in (None, "", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), " " + TOKEN):
        assert not token_matches(wrong, TOKEN)


def test_loopback_pages_and_the_host_check(make):
    http = make()
    home = http.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/portfolio"
    page = http.get("/portfolio")
    assert page.status_code == 200 and '<meta name="dashboard-token" content="">' in page.text
    assert "Portfolio &lt;&amp;&gt;" in page.text and "<&>" not in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert http.get("/nothing").status_code == 404 and http.get("/api/section/nothing").status_code == 404
    for host in ("evil.example", "127.0.0.1.evil.example", "evil.example:8050"):
        assert http.get("/portfolio", headers={"Host": host}).status_code == 403
    snap = http.get("/api/section/portfolio").json()
    while snap["version"] == 0:  # read once at the start, then not again for 600 s
        snap = http.get("/api/section/portfolio").json()
    assert snap["blocks"] == [{"kind": "note", "id": "n", "text": "<b>hi</b>", "tone": "info"}]
    again = http.get(f"/api/section/portfolio?since={snap['version']}").json()
    assert again == {"section": "portfolio", "version": 1, "unchanged": True, "now": again["now"]}


def test_the_kill_switch_refuses_before_running(make):
    switch = Switch()
    http = make(switch=switch)
    ok = {"X-Dashboard-Token": TOKEN}
    assert http.get("/api/kill").status_code == 405
    refusals = [
        ({"json": {"confirm": True}}, 403),                                          # no token
        ({"json": {"confirm": True}, "headers": {"X-Dashboard-Token": TOKEN[:-1]}}, 403),
        ({"json": {"confirm": True, "token": "nope"}}, 403),
        ({"json": {}, "headers": ok}, 400),                                          # not confirmed
        ({"json": {"confirm": "true"}, "headers": ok}, 400),
        ({"json": ["confirm"], "headers": ok}, 400),
        ({"content": b"{not json", "headers": {**ok, "Content-Type": "application/json"}}, 400),
        ({"content": b'{"confirm": true, "pad": "' + b"x" * 5000 + b'"}',
          "headers": {**ok, "Content-Type": "application/json"}}, 400),
        ({"data": {"confirm": "true", "token": TOKEN}}, 415),                         # a form: not JSON
        ({"content": b'{"confirm": true}', "headers": {**ok, "Content-Type": "text/plain"}}, 415),
        ({"json": {"confirm": True}, "headers": {**ok, "Origin": "http://evil.example"}}, 403),
        ({"json": {"confirm": True}, "headers": {**ok, "Cookie": f"token={TOKEN}", "X-Dashboard-Token": ""}}, 403),
    ]
    for kwargs, status in refusals:
        answer = http.post("/api/kill", **kwargs)
        assert answer.status_code == status, (kwargs, answer.text)
        assert "error" in answer.json()
    assert switch.runs == 0
    assert http.post("/api/kill", json={"confirm": True}, headers={**ok, "Origin": LOOPBACK}).status_code == 200
    assert http.post("/api/kill", json={"confirm": True, "token": TOKEN}).status_code == 200
    assert switch.runs == 2


def test_a_kill_switch_that_fails_says_why(make):
    http = make(switch=Switch(fails=True))
    answer = http.post("/api/kill", json={"confirm": True}, headers={"X-Dashboard-Token": TOKEN})
    assert answer.status_code == 502 and answer.json() == {"error": "exchange down"}
    assert make(switch=None).post("/api/kill", json={"confirm": True},
                                  headers={"X-Dashboard-Token": TOKEN}).status_code == 404


def test_with_a_token_required_the_page_carries_it(make):
    http = make(require_token=True)
    assert http.get("/portfolio").status_code == 401
    page = http.get(f"/portfolio?token={TOKEN}")
    assert page.status_code == 200 and f'<meta name="dashboard-token" content="{TOKEN}">' in page.text
    assert f'href="/portfolio?token={TOKEN}"' in page.text
    assert http.get("/", params={"token": TOKEN}, follow_redirects=False).headers["location"] == \
        f"/portfolio?token={TOKEN}"
    assert http.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert http.get("/api/health", headers={"Host": "evil.example", "X-Dashboard-Token": TOKEN}).status_code == 200
