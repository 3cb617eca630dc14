"""The webhook channel against a loopback server: the JSON body (Slack `text`, Discord `content`, the structured
fields), the HMAC signature verified here independently (hashlib, not our code) and by `verify`, retries of
5xx/429/timeouts within the limits, 401/403/404/410 as configuration errors, another 4xx as a refusal of the one
message, a server that hangs bounded by the deadline, and the URL's secret path never in a reason."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from kalshi_trading.ops.notify.channel import Failure, Limits
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.ops.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel, verify
from kalshi_trading.store.alerts import MessageKind, Severity
from tests.ops.loopback import HANG, Answer, Scripted

SECRET = "whsec_0123456789abcdef"
PATH = "/services/T0001/B0002/pathIsASecret"


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def server():
    s = Scripted(Answer(200, b"ok"))
    yield s
    s.stop()


def hook(server, secret: str | None = SECRET, limits: Limits | None = None, fake: FakeTime | None = None):
    fake = fake or FakeTime()
    return WebhookChannel(server.url + PATH, secret, limits=limits or Limits(), sleep=fake.sleep, clock=fake.clock,
                          wall=lambda: 1_764_518_400.25)


def halt() -> Message:
    return Message(MessageKind.ALERT, Severity.CRITICAL, "daily loss 12.50 > 10.00 & <cancelled>", "east",
                   rule="halted", title="east: HALTED")


def test_the_body_has_slack_and_discord_text_and_the_structured_fields(server):
    assert hook(server).send(halt()).ok
    (seen,) = server.seen
    assert seen.path == PATH and seen.headers["Content-Type"] == "application/json"
    assert seen.json() == {
        "text": "east: HALTED\ndaily loss 12.50 &gt; 10.00 &amp; &lt;cancelled&gt;",
        "content": "east: HALTED\ndaily loss 12.50 > 10.00 & <cancelled>",
        "title": "east: HALTED", "message": "daily loss 12.50 > 10.00 & <cancelled>", "kind": "alert",
        "severity": "critical", "rule": "halted", "source": "east", "time": "2025-11-30T16:00:00.250000Z"}


def test_discords_content_is_cut_to_its_limit(server):
    long = Message(MessageKind.DIGEST, Severity.INFO, "x" * 5000, "pipeline", title="digest")
    assert hook(server).send(long).ok
    body = server.seen[0].json()
    assert len(body["content"]) == 2000 and body["content"].endswith("…") and len(body["text"]) == 5007


def test_the_signature_verifies_independently_over_timestamp_and_exact_body(server):
    assert hook(server).send(halt()).ok
    seen = server.seen[0]
    stamp = seen.headers[TIMESTAMP_HEADER]
    assert stamp == "1764518400"
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + seen.body, hashlib.sha256).hexdigest()
    assert seen.headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert verify(SECRET, seen.headers, seen.body, now=1_764_518_400 + 60)
    assert not verify(SECRET, seen.headers, seen.body + b" ", now=1_764_518_400)  # a changed body
    assert not verify("another secret", seen.headers, seen.body, now=1_764_518_400)
    assert not verify(SECRET, seen.headers, seen.body, now=1_764_518_400 + 3600)  # a replay an hour later


def test_without_a_secret_nothing_is_signed(server):
    assert hook(server, secret=None).send(halt()).ok
    assert TIMESTAMP_HEADER not in server.seen[0].headers and SIGNATURE_HEADER not in server.seen[0].headers


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_a_refused_configuration_is_not_retried(server, status):
    server.add(Answer(status, {"error": "no such webhook"}))
    delivery = hook(server).send(halt())
    assert delivery.failure is Failure.CONFIG and f"HTTP {status}" in delivery.reason and len(server.seen) == 1
    assert "pathIsASecret" not in delivery.reason and "/…" in delivery.reason


def test_another_4xx_refuses_only_this_message(server):
    server.add(Answer(400, {"error": "invalid_payload"}))
    delivery = hook(server).send(halt())
    assert delivery.failure is Failure.REFUSED and "invalid_payload" in delivery.reason and len(server.seen) == 1


def test_a_500_storm_is_retried_with_back_off_then_given_up(server):
    fake = FakeTime()
    server.default = Answer(500, b"oops")
    delivery = hook(server, limits=Limits(attempts=4, base_delay=0.5, max_delay=8), fake=fake).send(halt())
    assert delivery.failure is Failure.UNREACHABLE and "after 4 attempts" in delivery.reason
    assert len(server.seen) == 4 and fake.slept == [0.5, 1.0, 2.0]


def test_a_429_waits_what_retry_after_says(server):
    fake = FakeTime()
    server.add(Answer(429, b"slow down", (("Retry-After", "5"),)))
    assert hook(server, fake=fake).send(halt()).ok and fake.slept == [5.0] and len(server.seen) == 2


def test_a_server_that_hangs_never_blocks_beyond_the_deadline(server):
    server.default = HANG  # type: ignore[assignment]
    started = time.monotonic()
    channel = WebhookChannel(server.url + PATH, SECRET, limits=Limits(attempts=10, attempt_deadline=0.3,
                                                                       deadline=1.0, base_delay=0.1))
    delivery = channel.send(halt())
    assert delivery.failure is Failure.UNREACHABLE and "no answer" in delivery.reason
    assert time.monotonic() - started < 15  # bounded by the deadline (generously: a loaded machine)
    assert "pathIsASecret" not in delivery.reason


def test_a_reason_never_shows_the_urls_path_or_the_secret(server):
    channel = hook(server)
    text = f"GET {server.url}{PATH} failed; url: {PATH} (signed with {SECRET})"
    assert channel.scrub(text) == f"GET http://127.0.0.1:{server.url.rsplit(':', 1)[1]}/… failed; url: /… " \
                                  "(signed with ***)"
