"""The notifier's queue and sender thread, with real channels against loopback servers and a real SQLite alert store:
a full queue drops the oldest digest (recorded DROPPED) and never an alert (past the overflow bound alerts of one
rule merge); `submit` returns at once even while the channel hangs; a configuration error disables the channel
once; a store that fails is logged and sending goes on; `close` drains, and records what it could not send."""

from __future__ import annotations

import logging

import pytest

from kalshi_trading.ops.notify.channel import Limits
from kalshi_trading.ops.notify.dispatch import Dispatcher
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.ops.notify.telegram import TelegramBot, TelegramChannel
from kalshi_trading.ops.notify.webhook import WebhookChannel
from kalshi_trading.store import open_store
from kalshi_trading.store.alerts import DeliveryStatus, MessageKind, Severity
from tests.ops.loopback import GATE, HANG, Answer, Scripted

TOKEN = "5550001:AAH-secretPartOfTheBotToken_abcdefgh"


def digest(i: int) -> Message:
    return Message(MessageKind.DIGEST, Severity.INFO, f"digest {i}", "pipeline")


def alert(i: int, rule: str = "halted") -> Message:
    return Message(MessageKind.ALERT, Severity.CRITICAL, f"alert {i}", "default", rule=rule, title="HALTED")


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite://{tmp_path}/store/", env="sim")
    yield s
    s.close()


@pytest.fixture
def server():
    s = Scripted(Answer(200, b"ok"))
    yield s
    s.stop()


def webhook(server, **limits) -> WebhookChannel:
    return WebhookChannel(server.url + "/hook", limits=Limits(**limits) if limits else None)


def statuses(store) -> list[tuple[str, str, str]]:
    return [(e.text, e.channel, e.status.value) for e in store.alerts().events()]


def wait_for(predicate, timeout: float = 20.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def test_a_queue_full_of_digests_drops_the_oldest_and_records_it(server, store):
    server.add(GATE)  # the first message holds the sender until released
    d = Dispatcher([webhook(server)], store.alerts(), capacity=3).start()
    d.submit(digest(0))
    wait_for(lambda: len(server.seen) == 1)  # in flight: out of the queue
    for i in range(1, 6):
        d.submit(digest(i))
    server.release.set()
    d.close(10)
    got = statuses(store)
    assert ("digest 1", "webhook", "dropped") in got and ("digest 2", "webhook", "dropped") in got
    sent = [text for text, _, status in got if status == "sent"]
    assert sent == ["digest 0", "digest 3", "digest 4", "digest 5"]
    assert d.stats.dropped == 2
    reasons = {e.reason for e in store.alerts().events(status=DeliveryStatus.DROPPED)}
    assert reasons == {"the send queue was full (3 waiting); the oldest digest or notice is dropped"}


def test_alerts_are_never_dropped_and_a_digest_meeting_a_queue_of_alerts_is(server, store):
    server.add(GATE)
    d = Dispatcher([webhook(server)], store.alerts(), capacity=3).start()
    d.submit(digest(0))
    wait_for(lambda: len(server.seen) == 1)
    d.submit(digest(1))
    for i in range(6):
        d.submit(alert(i))  # the one that finds the queue full pushes out digest 1; the rest go in past it
    d.submit(digest(2))  # only alerts wait: this digest is dropped
    server.release.set()
    d.close(20)
    got = statuses(store)
    assert [t for t, _, s in got if s == "sent"] == ["digest 0"] + [f"HALTED\nalert {i}" for i in range(6)]
    assert {t for t, _, s in got if s == "dropped"} == {"digest 1", "digest 2"}


def test_past_the_overflow_bound_alerts_of_one_rule_merge_and_a_new_rule_still_goes_in(server, store):
    server.add(GATE)
    d = Dispatcher([webhook(server)], store.alerts(), capacity=2, alert_overflow=2).start()
    d.submit(alert(0))
    wait_for(lambda: len(server.seen) == 1)
    for i in range(1, 7):
        d.submit(alert(i))  # 4 fit (capacity + overflow); alerts 5 and 6 merge into alert 4
    d.submit(alert(7, rule="store_down"))  # another rule: its own entry
    server.release.set()
    d.close(20)
    sent = [e.text for e in store.alerts().events(status=DeliveryStatus.SENT)]
    assert len(sent) == 6 and d.stats.merged == 2 and d.stats.dropped == 0
    assert "and 2 more alert(s) of this rule" in sent[4] and sent[4].endswith("alert 6")
    assert sent[5] == "HALTED\nalert 7"


def test_submit_returns_at_once_while_the_channel_hangs(server, store):
    server.default = HANG  # type: ignore[assignment]
    d = Dispatcher([webhook(server, attempt_deadline=30, deadline=60)], store.alerts(), capacity=50).start()
    d.submit(alert(0))
    wait_for(lambda: len(server.seen) == 1)
    for i in range(1, 1001):
        d.submit(digest(i) if i % 2 else alert(i))
    assert len(server.seen) == 1 and not server.release.is_set()  # every submit returned with the sender stuck
    d.close(0.5)  # gives up on the stuck send; what waits is recorded as not sent
    failed = store.alerts().events(status=DeliveryStatus.FAILED, limit=5000)
    assert failed and all(e.reason.startswith("not sent before the shutdown") for e in failed)
    assert not any(e.kind is MessageKind.ALERT for e in store.alerts().events(status=DeliveryStatus.DROPPED,
                                                                               limit=5000))


def test_a_configuration_error_disables_the_channel_once(server, store, caplog):
    server.add(Answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"}))
    telegram = TelegramChannel(TelegramBot(TOKEN, server.url), 42)
    d = Dispatcher([telegram], store.alerts()).start()
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            d.submit(alert(i))
        d.close(10)
    events = store.alerts().events()
    assert [e.status for e in events] == [DeliveryStatus.FAILED] * 3
    assert events[0].reason == "Bot API refused: 401 Unauthorized"
    assert all(e.reason == "channel disabled for this run: Bot API refused: 401 Unauthorized" for e in events[1:])
    assert len(server.seen) == 1 and caplog.text.count("disabled for this run") == 1
    assert d.disabled() == {"telegram": "Bot API refused: 401 Unauthorized"}


def test_an_unreachable_channel_is_rested_after_a_streak(server, store):
    server.default = Answer(500, b"down")
    d = Dispatcher([webhook(server, attempts=1)], store.alerts(), rest_after=2).start()
    for i in range(4):
        d.submit(alert(i))
    d.close(20)
    reasons = [e.reason for e in store.alerts().events()]
    assert len(server.seen) == 2 and all(r.startswith("channel resting after 2 failures") for r in reasons[2:])


def test_a_failing_store_is_logged_and_sending_goes_on(server, tmp_path, caplog):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "alerts.sqlite").write_bytes(b"this is not a database, it is " * 10)
    store = open_store(f"sqlite://{broken}/", env="sim")
    try:
        d = Dispatcher([webhook(server)], store.alerts()).start()
        with caplog.at_level(logging.WARNING):
            d.submit(alert(0))
            d.submit(alert(1))
            d.close(10)
    finally:
        store.close()
    assert len(server.seen) == 2  # both sent
    assert caplog.text.count("cannot record an alert event") == 1  # logged (once a minute), never raised


def test_replies_go_to_telegram_only_and_suppressed_messages_are_recorded_not_sent(server, store):
    hook_server, server = server, Scripted()  # the Bot API's answers by default
    try:
        telegram = TelegramChannel(TelegramBot(TOKEN, server.url), 42)
        d = Dispatcher([telegram, webhook(hook_server)], store.alerts()).start()
        d.reply("risk ACTIVE", title="/status")
        d.suppressed(alert(9, rule="api_errors"), "within the rule's cooldown (10 min)")
        d.submit(alert(1))
        d.close(10)
    finally:
        server.stop()
    assert [s.path for s in server.seen] == [f"/bot{TOKEN}/sendMessage"] * 2
    assert [s.json()["text"] for s in hook_server.seen] == ["HALTED\nalert 1"]
    got = [(e.kind.value, e.channel, e.status.value) for e in store.alerts().events()]
    assert ("reply", "telegram", "sent") in got and ("reply", "webhook", "sent") not in got
    assert ("alert", "telegram", "suppressed") in got and ("alert", "webhook", "suppressed") in got
    assert got.count(("alert", "webhook", "sent")) == 1
