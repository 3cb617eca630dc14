"""The notifier: a bounded queue drained by one sender thread (implements `message.Sink`), and its builder.

`submit` never blocks and never raises: it puts the message in the queue and returns; the sender thread delivers
it to every channel in turn, each within that channel's limits (channel.py), so a hung or failing service costs
the sender time but never the bot.  Every outcome is an `AlertEvent` per channel in the store's `alerts()`:
SENT, FAILED (with the reason), DROPPED (the queue was full), SUPPRESSED (a rule's cooldown held it back).  A
store failure is logged, never raised: a notifier failure never stops trading.

When the queue is full (`capacity` messages):
- a digest or notice arriving pushes out the oldest digest or notice waiting (recorded DROPPED); when only alerts
  wait, the newcomer itself is DROPPED;
- an alert arriving pushes out the oldest digest or notice likewise, and when only alerts wait it still goes in:
  alerts are never dropped.  They are bounded all the same: past `capacity + alert_overflow` waiting messages an
  alert is merged into the waiting alert of the same source and rule (sent as one message saying how many it
  stands for, with the latest text); only an alert of a (source, rule) pair not waiting yet adds an entry, and
  there are only so many rules.
A channel that refuses our configuration (a wrong token, an unknown chat: `Failure.CONFIG`) is disabled for the
rest of the run: logged once, and every later message is recorded FAILED with that reason.  A channel unreachable
for `rest_after` messages in a row is rested (its messages recorded FAILED without trying) for a while that
doubles up to `MAX_REST_S`, then tried again.  `close(timeout)` sends what it can within `timeout`; what is left
is recorded FAILED ("not sent before the shutdown").
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from kalshi_trading.errors import ConfigError, StorageError
from kalshi_trading.ops.notify.channel import Channel, Delivery, Failure, Limits
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.store.alerts import AlertEvent, AlertStore, DeliveryStatus, MessageKind, Severity

if TYPE_CHECKING:
    from kalshi_trading.config import Settings

log = logging.getLogger(__name__)

CAPACITY = 100
ALERT_OVERFLOW = 400
MAX_RECORDS = 10_000  # DROPPED / SUPPRESSED records waiting for the sender thread
REST_AFTER = 3
FIRST_REST_S = 30.0
MAX_REST_S = 600.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Item:
    """A message waiting, the channels it is for, and the alerts merged into it (see the module docstring)."""

    message: Message
    channels: tuple[str, ...]
    merged: int = 0
    latest: str = ""

    def final(self) -> Message:
        if not self.merged:
            return self.message
        return replace(self.message, text=f"{self.message.text}\n\n… and {self.merged} more alert(s) of this rule "
                                          f"while the notifier was backed up; the latest:\n{self.latest}")


@dataclass
class _Health:
    """One channel's standing: disabled (why), or resting after failures in a row (until when)."""

    disabled: str | None = None
    failures: int = 0
    rest_until: float = 0.0
    rest: float = FIRST_REST_S
    sent: int = 0
    failed: int = 0


@dataclass
class DispatchStats:
    """Counts for a report (`kalshi notify test`, the end of a run)."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    merged: int = 0
    disabled: dict[str, str] = field(default_factory=dict)


class Dispatcher:
    """The `Sink` of a running bot or pipeline: a bounded queue and one sender thread over its channels."""

    def __init__(self, channels: Sequence[Channel], alerts: AlertStore | None, *, capacity: int = CAPACITY,
                 alert_overflow: int = ALERT_OVERFLOW, rest_after: int = REST_AFTER,
                 now: Callable[[], datetime] = utc_now, clock: Callable[[], float] = time.monotonic,
                 on_close: Callable[[], None] | None = None):
        self.channels = {c.name: c for c in channels}
        self.alerts = alerts
        self.capacity = capacity
        self.alert_overflow = alert_overflow
        self.rest_after = rest_after
        self.now = now
        self.clock = clock
        self.stats = DispatchStats()
        self._health = {name: _Health() for name in self.channels}
        self._queue: deque[_Item] = deque()
        self._records: deque[AlertEvent] = deque()
        self._cond = threading.Condition()
        self._store_lock = threading.Lock()
        self._closing = False
        self._abandon = False
        self._busy = False
        self._on_close = on_close
        self._store_warned = 0.0
        self._thread = threading.Thread(target=self._run, name="notify-sender", daemon=True)

    def start(self) -> "Dispatcher":
        self._thread.start()
        return self

    # -- the Sink ------------------------------------------------------------------------------------------------

    def submit(self, message: Message) -> None:
        """Queue `message` for every channel (a REPLY for Telegram only); returns at once, never raises."""
        channels = ("telegram",) if message.kind is MessageKind.REPLY else tuple(self.channels)
        channels = tuple(c for c in channels if c in self.channels)
        if not channels:
            return
        with self._cond:
            if self._closing:
                self._note(message, channels, DeliveryStatus.DROPPED, "the notifier is shutting down")
                return
            if len(self._queue) >= self.capacity and not self._make_room(message, channels):
                return
            self._queue.append(_Item(message, channels))
            self._cond.notify()

    def reply(self, text: str, title: str = "", source: str = "telegram") -> None:
        """An answer to a Telegram command (kind REPLY: Telegram only)."""
        self.submit(Message(MessageKind.REPLY, Severity.INFO, text, source, title=title))

    def suppressed(self, message: Message, reason: str) -> None:
        """Record, per channel, a message an alert rule held back (not sent)."""
        with self._cond:
            self._note(message, tuple(self.channels), DeliveryStatus.SUPPRESSED, reason)
            self._cond.notify()

    def _make_room(self, message: Message, channels: tuple[str, ...]) -> bool:
        """Called full, under the lock: push out the oldest digest or notice, or decide about `message` (False:
        it was dropped or merged, not to be appended)."""
        victim = next((item for item in self._queue if not item.message.is_alert), None)
        if victim is not None:
            self._queue.remove(victim)
            self._dropped(victim.message, victim.channels)
            return True
        if not message.is_alert:
            self._dropped(message, channels)
            return False
        if len(self._queue) < self.capacity + self.alert_overflow:
            return True
        twin = next((item for item in reversed(self._queue) if item.message.source == message.source
                     and item.message.rule == message.rule), None)
        if twin is None:
            return True  # a (source, rule) pair not waiting yet: bounded by the rules there are
        twin.merged += 1
        twin.latest = message.text
        self.stats.merged += 1
        return False

    def _dropped(self, message: Message, channels: tuple[str, ...]) -> None:
        self.stats.dropped += 1
        log.warning("notifier queue full: dropped a %s (%s)", message.kind.value, message.title or message.rule or "-")
        self._note(message, channels, DeliveryStatus.DROPPED, f"the send queue was full ({self.capacity} waiting); "
                                                             "the oldest digest or notice is dropped")

    def _note(self, message: Message, channels: Iterable[str], status: DeliveryStatus, reason: str) -> None:
        """Queue records for the sender thread to write (under the lock)."""
        for channel in channels:
            if len(self._records) >= MAX_RECORDS:
                log.warning("notifier: too many records waiting; one %s record of %s not stored", status.value,
                            channel)
                continue
            self._records.append(self._event(message, channel, status, reason))

    def _event(self, message: Message, channel: str, status: DeliveryStatus, reason: str) -> AlertEvent:
        text = f"{message.title}\n{message.text}" if message.title and message.text else message.title or message.text
        return AlertEvent(at=self.now(), source=message.source, kind=message.kind, severity=message.severity,
                          channel=channel, status=status, text=text, rule=message.rule, reason=reason)

    # -- the sender thread ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._queue or self._records or self._closing):
                    self._cond.wait()
                if self._abandon or (self._closing and not self._queue and not self._records):
                    self._busy = False
                    self._cond.notify_all()
                    return
                records = list(self._records)
                self._records.clear()
                item = self._queue.popleft() if self._queue else None
                self._busy = item is not None
            self._store(records)
            if item is not None:
                try:
                    self._deliver(item)
                except Exception:  # noqa: BLE001 - the sender thread's top level: log, record, keep serving
                    log.exception("notifier: delivering a %s failed", item.message.kind.value)
                    self._store([self._event(item.message, c, DeliveryStatus.FAILED, "internal error (see the log)")
                                 for c in item.channels])
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _deliver(self, item: _Item) -> None:
        message = item.final()
        events = []
        for name in item.channels:
            status, reason = self._send_one(name, message)
            events.append(self._event(message, name, status, reason))
        self._store(events)

    def _send_one(self, name: str, message: Message) -> tuple[DeliveryStatus, str]:
        health = self._health[name]
        if health.disabled is not None:
            health.failed += 1
            self.stats.failed += 1
            return DeliveryStatus.FAILED, f"channel disabled for this run: {health.disabled}"
        if self.clock() < health.rest_until:
            health.failed += 1
            self.stats.failed += 1
            return DeliveryStatus.FAILED, (f"channel resting after {health.failures} failures in a row; tried again "
                                           f"in {health.rest_until - self.clock():.0f} s")
        delivery = self.channels[name].send(message)
        self._account(name, health, delivery)
        return (DeliveryStatus.SENT if delivery.ok else DeliveryStatus.FAILED), delivery.reason

    def _account(self, name: str, health: _Health, delivery: Delivery) -> None:
        if delivery.ok:
            health.sent += 1
            self.stats.sent += 1
            health.failures, health.rest = 0, FIRST_REST_S
            return
        health.failed += 1
        self.stats.failed += 1
        if delivery.failure is Failure.CONFIG:
            health.disabled = delivery.reason
            self.stats.disabled[name] = delivery.reason
            log.error("notifier: %s refused the configuration and is disabled for this run: %s", name,
                      delivery.reason)
            return
        log.warning("notifier: %s failed: %s", name, delivery.reason)
        if delivery.failure is Failure.UNREACHABLE:
            health.failures += 1
            if health.failures >= self.rest_after:
                health.rest_until = self.clock() + health.rest
                log.warning("notifier: %s unreachable %d times in a row; resting it for %.0f s", name,
                            health.failures, health.rest)
                health.rest = min(health.rest * 2, MAX_REST_S)

    def _store(self, events: Sequence[AlertEvent]) -> None:
        if not events or self.alerts is None:
            return
        with self._store_lock:
            for event in events:
                try:
                    self.alerts.record(event)
                except StorageError as exc:
                    if self.clock() - self._store_warned > 60 or not self._store_warned:
                        self._store_warned = self.clock()
                        log.warning("notifier: cannot record an alert event (%s); messages are still sent", exc)

    # -- shutdown ------------------------------------------------------------------------------------------------

    def disabled(self) -> dict[str, str]:
        """The channels disabled for this run, and why."""
        return dict(self.stats.disabled)

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking messages, send what can be sent within `timeout`, record the rest FAILED, close."""
        deadline = self.clock() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            while (self._queue or self._records or self._busy) and self._thread.is_alive():
                left = deadline - self.clock()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
            self._abandon = True
            left_over = list(self._queue)
            records = list(self._records)
            self._queue.clear()
            self._records.clear()
            self._cond.notify_all()
        reason = f"not sent before the shutdown ({timeout:g} s to drain)"
        records += [self._event(item.final(), c, DeliveryStatus.FAILED, reason)
                    for item in left_over for c in item.channels]
        if left_over:
            log.warning("notifier: %d message(s) not sent before the shutdown", len(left_over))
        self._store(records)
        self._thread.join(max(0.0, min(1.0, deadline - self.clock())))
        if not self._thread.is_alive():
            for channel in self.channels.values():
                channel.close()
        with self._store_lock:  # a sender still stuck in a send records nothing into a closed store
            self.alerts = None
        if self._on_close is not None:
            self._on_close()


def channels_for(settings: Settings, limits: Limits | None = None) -> list[Channel]:
    """The configured channels (Telegram, the webhook), none when nothing is configured."""
    from kalshi_trading.ops.notify.telegram import TelegramChannel
    from kalshi_trading.ops.notify.webhook import WebhookChannel

    notify = settings.notify
    out: list[Channel] = []
    if notify.telegram:
        out.append(TelegramChannel.from_settings(notify, limits))
    if notify.webhook:
        out.append(WebhookChannel.from_settings(notify, limits))
    return out


def open_alerts(settings: Settings) -> tuple[AlertStore | None, Callable[[], None]]:
    """The alert events of a store of the notifier's own (its own connections: it records from its thread), and
    how to close it; (None, no-op) when the store cannot be used (logged: sending goes on)."""
    from kalshi_trading.store import open_store

    try:
        store = open_store(settings.store_url_text, env=settings.env)
    except (ConfigError, StorageError) as exc:
        log.warning("notifier: the store cannot be used (%s); alert events are not recorded", exc)
        return None, lambda: None
    try:
        return store.alerts(), store.close
    except StorageError as exc:
        log.warning("notifier: alert events cannot be recorded (%s); messages are still sent", exc)
        store.close()
        return None, lambda: None


def build_dispatcher(settings: Settings, *, limits: Limits | None = None, capacity: int = CAPACITY) -> \
        Dispatcher | None:
    """A started dispatcher over the configured channels, recording into the settings' store; None when no
    channel is configured."""
    channels = channels_for(settings, limits)
    if not channels:
        return None
    alerts, close_store = open_alerts(settings)
    return Dispatcher(channels, alerts, capacity=capacity, on_close=close_store).start()
