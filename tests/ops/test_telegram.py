"""The Telegram channel against misbehaving loopback servers (429 with and without retry_after, 401, 400 chat not
found, 403, another 400, 500 storms, a server that hangs, nothing listening) and against the simulator's stub of
the Bot API (the per-chat limit it enforces, its error shapes).  The pacing's clock and sleep are injected where
a test would otherwise wait; no timing is asserted beyond "bounded"."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from kalshi_trading.ops.notify.channel import Failure, Limits
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.ops.notify.telegram import ChatPacing, TelegramBot, TelegramChannel
from kalshi_trading.sim.routes_control import TOKEN_HEADER
from kalshi_trading.store.alerts import MessageKind, Severity
from tests.e2e.conftest import sim  # noqa: F401  (the simulator fixture)
from tests.ops.loopback import HANG, Answer, Scripted

TOKEN = "5550001:AAH-secretPartOfTheBotToken_abcdefgh"
SECRET_PART = TOKEN.split(":", 1)[1]


class FakeTime:
    """A clock that moves only when slept on (the pacing's and retries' waits, recorded)."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def alert(text="daily loss 12.50 > 10.00 & halted", title="HALTED") -> Message:
    return Message(MessageKind.ALERT, Severity.CRITICAL, text, "default", rule="halted", title=title)


def channel(url: str, *, fake: FakeTime | None = None, limits: Limits | None = None, chat=42) -> TelegramChannel:
    fake = fake or FakeTime()
    bot = TelegramBot(TOKEN, url, limits=limits or Limits(), pacing=ChatPacing(clock=fake.clock), sleep=fake.sleep,
                      clock=fake.clock)
    return TelegramChannel(bot, chat)


@pytest.fixture
def server():
    s = Scripted()
    yield s
    s.stop()


def err(status: int, description: str, retry_after: int | None = None) -> Answer:
    body = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Answer(status, body)


def test_a_message_goes_as_html_with_previews_off_to_the_bots_path(server):
    delivery = channel(server.url).send(alert())
    assert delivery.ok
    (seen,) = server.seen
    assert seen.path == f"/bot{TOKEN}/sendMessage" and seen.method == "POST"
    body = seen.json()
    assert body == {"chat_id": 42, "text": "<b>HALTED</b>\ndaily loss 12.50 &gt; 10.00 &amp; halted",
                    "parse_mode": "HTML", "link_preview_options": {"is_disabled": True},
                    "disable_notification": False}


@pytest.mark.parametrize("answer,waited", [
    (err(429, "Too Many Requests: retry after 3", 3), 3),  # parameters.retry_after
    (err(429, "Too Many Requests: retry after 7"), 7),  # no parameters: the description's number
    (err(429, "Too Many Requests"), 1),  # neither: back off
])
def test_a_429_is_honoured_then_the_message_goes(server, answer, waited):
    fake = FakeTime()
    server.add(answer)
    delivery = channel(server.url, fake=fake).send(alert())
    assert delivery.ok and len(server.seen) == 2
    assert sum(fake.slept) >= waited  # nothing was sent to the chat before the time it asked for


def test_a_429_longer_than_the_messages_deadline_fails_it_and_holds_the_chat(server):
    fake = FakeTime()
    server.add(err(429, "Too Many Requests: retry after 300", 300))
    ch = channel(server.url, fake=fake, limits=Limits(deadline=30))
    first = ch.send(alert())
    assert not first.ok and first.failure is Failure.UNREACHABLE and "rate limited" in first.reason
    second = ch.send(alert())  # the chat is still held: refused without asking the server again
    assert not second.ok and len(server.seen) == 1


@pytest.mark.parametrize("answer,words", [
    (err(401, "Unauthorized"), "401 Unauthorized"),
    (err(404, "Not Found"), "404 Not Found"),
    (err(400, "Bad Request: chat not found"), "chat not found"),
    (err(403, "Forbidden: bot was blocked by the user"), "blocked"),
    (err(403, "Forbidden: bot is not a member of the channel chat"), "not a member"),
])
def test_configuration_errors_are_not_retried(server, answer, words):
    server.add(answer)
    delivery = channel(server.url).send(alert())
    assert not delivery.ok and delivery.failure is Failure.CONFIG and words in delivery.reason
    assert len(server.seen) == 1
    assert SECRET_PART not in delivery.reason


def test_a_400_about_the_message_fails_only_that_message(server):
    server.add(err(400, "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 3"))
    delivery = channel(server.url).send(alert())
    assert not delivery.ok and delivery.failure is Failure.REFUSED and len(server.seen) == 1


def test_a_500_storm_is_retried_within_the_limits_then_given_up(server):
    server.default = err(500, "Internal Server Error")
    delivery = channel(server.url, limits=Limits(attempts=4)).send(alert())
    assert not delivery.ok and delivery.failure is Failure.UNREACHABLE and "500" in delivery.reason
    assert len(server.seen) == 4


def test_a_storm_that_passes_delivers(server):
    server.add(err(502, "Bad Gateway"), Answer(503, b"<html>busy</html>"), err(500, "Internal Server Error"))
    delivery = channel(server.url, limits=Limits(attempts=4)).send(alert())
    assert delivery.ok and len(server.seen) == 4


def test_a_server_that_hangs_costs_at_most_the_deadline(server):
    server.default = HANG  # type: ignore[assignment]
    started = time.monotonic()
    delivery = TelegramChannel(TelegramBot(TOKEN, server.url, limits=Limits(attempts=5, attempt_deadline=0.3,
                                                                             deadline=1.0)), 42).send(alert())
    assert not delivery.ok and delivery.failure is Failure.UNREACHABLE and "no answer" in delivery.reason
    assert time.monotonic() - started < 15  # bounded by the deadline (generously: a loaded machine)
    assert SECRET_PART not in delivery.reason


def test_nothing_listening_is_unreachable_and_the_reason_holds_no_token():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    delivery = channel(f"http://127.0.0.1:{port}", limits=Limits(attempts=2)).send(alert())
    assert not delivery.ok and delivery.failure is Failure.UNREACHABLE and "cannot connect" in delivery.reason
    assert SECRET_PART not in delivery.reason and TOKEN not in delivery.reason


def test_a_long_digest_goes_in_parts_in_order(server):
    text = "\n".join(f"line {i} " + "x" * 80 for i in range(200))
    delivery = channel(server.url).send(Message(MessageKind.DIGEST, Severity.INFO, text, "pipeline",
                                                title="digest"))
    assert delivery.ok and delivery.reason == f"{len(server.seen)} parts" and len(server.seen) > 3
    sent = "".join(s.json()["text"] for s in server.seen)
    assert sent == "<b>digest</b>\n" + text


# -- against the simulator's stub ---------------------------------------------------------------------------------

def _stub(server):
    root = server.base_url[: -len("/trade-api/v2")]

    def control(method: str, path: str, **kw):
        return requests.request(method, server.base_url + "/sim/control/telegram" + path, timeout=10,
                                headers={TOKEN_HEADER: server.control_token}, **kw)
    return root + "/ext/telegram", control


def test_the_stubs_per_chat_limit_holds_and_our_pacing_keeps_under_it(sim):  # noqa: F811
    api, control = _stub(sim)
    control("POST", "/bots", json={"token": TOKEN, "chats": [42]}).raise_for_status()
    burst = [requests.post(f"{api}/bot{TOKEN}/sendMessage", json={"chat_id": 42, "text": f"raw {i}"}, timeout=10)
             for i in range(6)]
    limited = [r.json() for r in burst if r.status_code == 429]
    assert limited and limited[0]["parameters"]["retry_after"] >= 1  # the stub enforces the limit
    assert limited[0]["description"].startswith("Too Many Requests: retry after")
    before = control("GET", "/messages").json()["refused"].get("429", 0)
    time.sleep(3.1)  # the stub's bucket refills
    ours = TelegramChannel(TelegramBot(TOKEN, api), 42)
    assert all(ours.send(alert(text=f"paced {i}")).ok for i in range(6))
    after = control("GET", "/messages").json()
    assert after["refused"].get("429", 0) == before  # never once refused: our pacing kept under the limit
    texts = [m["text"] for m in after["messages"] if m["text"].startswith("HALTED")]
    assert texts == [f"HALTED\npaced {i}" for i in range(6)]


def test_the_stubs_refusals_reach_the_channel_as_configuration_errors(sim):  # noqa: F811
    api, control = _stub(sim)
    control("POST", "/bots", json={"token": TOKEN, "chats": [42]}).raise_for_status()
    unknown = TelegramChannel(TelegramBot("5550002:" + "Z" * 35, api), 42).send(alert())
    assert unknown.failure is Failure.CONFIG and "401 Unauthorized" in unknown.reason
    nowhere = TelegramChannel(TelegramBot(TOKEN, api), 777).send(alert())
    assert nowhere.failure is Failure.CONFIG and "chat not found" in nowhere.reason
    control("POST", "/failures", json={"status": 429, "description": "Too Many Requests: retry after 1",
                                       "count": 1}).raise_for_status()
    retried = TelegramChannel(TelegramBot(TOKEN, api), 42).send(alert(text="after a bare 429"))
    assert retried.ok
