"""The generic webhook channel: one JSON POST per message to `KALSHI_WEBHOOK_URL`.

The body (UTF-8 JSON):

    {"text": "HALTED\\ndaily loss ...",      Slack (incoming webhooks): `&`, `<`, `>` escaped as Slack wants
     "content": "HALTED\\ndaily loss ...",   Discord: the plain text, cut to Discord's 2000 characters
     "title": "HALTED", "message": "daily loss ...", "kind": "alert", "severity": "critical",
     "rule": "halted", "source": "default", "time": "2026-11-30T16:00:00.123456Z"}

Signature.  When `KALSHI_WEBHOOK_SECRET` is set, every POST carries

    X-Kalshi-Timestamp: 1764518400                      (Unix seconds when it was signed)
    X-Kalshi-Signature: sha256=<hex>                    HMAC-SHA256(secret, timestamp + "." + raw body bytes)

To verify: recompute the HMAC over the timestamp header, a dot, and the exact bytes received (before any JSON
parsing), compare in constant time (`hmac.compare_digest`), and refuse a timestamp more than a few minutes from
your clock (a replay).  `verify()` below does exactly that.

Answers: 2xx is sent; 401, 403, 404 and 410 (a deleted Slack/Discord webhook) are configuration errors (not
retried; the channel is disabled for the run); another 4xx refuses only this message; 429 (honouring Retry-After),
5xx, timeouts and broken connections are retried with back-off within the channel's limits, each attempt and the
whole within a deadline, so a server that hangs costs at most that.  The URL's path may itself be a secret (Slack
and Discord put the key there): reasons and logs show `scheme://host/…` only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from kalshi_trading.notify_settings import NotifySettings, shown_url
from kalshi_trading.ops.notify.channel import Delivery, Failure, Limits
from kalshi_trading.ops.notify.http import Answer, Poster, Unreachable, backoff, one_line
from kalshi_trading.ops.notify.message import Message

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Kalshi-Timestamp"
SIGNATURE_HEADER = "X-Kalshi-Signature"
DISCORD_LIMIT = 2000
TOLERANCE_S = 300
_CONFIG_STATUSES = (401, 403, 404, 410)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of `timestamp.body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None,
           tolerance: float = TOLERANCE_S) -> bool:
    """Whether a received POST is ours: the signature matches and the timestamp is within `tolerance` seconds."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp, given = lowered.get(TIMESTAMP_HEADER.lower(), ""), lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), given)


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(message: Message, at: datetime) -> dict[str, Any]:
    """The JSON body for `message` (see the module docstring)."""
    plain = f"{message.title}\n{message.text}" if message.title and message.text else message.title or message.text
    content = plain if len(plain) <= DISCORD_LIMIT else plain[: DISCORD_LIMIT - 1] + "…"
    return {"text": _slack(plain), "content": content, "title": message.title, "message": message.text,
            "kind": message.kind.value, "severity": message.severity.value, "rule": message.rule,
            "source": message.source, "time": at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def _retry_after(answer: Answer) -> float | None:
    value = (answer.headers.get("Retry-After") or "").strip()
    return float(value) if value.isdigit() else None


class WebhookChannel:
    """JSON POSTs to one URL (implements `channel.Channel`)."""

    name = "webhook"

    def __init__(self, url: str, secret: str | None = None, *, limits: Limits | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        self._url = url
        self._secret = secret
        self.shown = shown_url(url)
        self.limits = limits or Limits()
        self.sleep = sleep
        self.clock = clock
        self.wall = wall
        self.poster = Poster(scrub=self.scrub, read_timeout=self.limits.attempt_deadline)

    @classmethod
    def from_settings(cls, notify: NotifySettings, limits: Limits | None = None) -> "WebhookChannel":
        assert notify.webhook_url is not None, "the webhook is configured"
        return cls(notify.webhook_url, notify.webhook_secret, limits=limits)

    def scrub(self, text: str) -> str:
        """`text` with the URL, its path alone (an error may name only that) and the secret replaced."""
        parts = urlsplit(self._url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        for secret, shown in ((self._url, self.shown), (tail if tail.strip("/") else "", "/…"), (self._secret, "***")):
            if secret:
                text = text.replace(secret, shown)
        return text

    def headers(self, body: bytes) -> dict[str, str]:
        """The signature headers (none without a secret)."""
        if not self._secret:
            return {}
        stamp = str(int(self.wall()))
        return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(self._secret, stamp, body)}

    def send(self, message: Message) -> Delivery:
        """POST `message`; retried within the limits (see the module docstring)."""
        body = json.dumps(payload(message, datetime.fromtimestamp(self.wall(), timezone.utc)),
                          ensure_ascii=False).encode()
        until = self.clock() + self.limits.deadline
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            try:
                answer = self.poster.post(self._url, body, self.headers(body),
                                          seconds=min(self.limits.attempt_deadline, until - self.clock()))
            except Unreachable as exc:
                reason = f"unreachable: {exc}"
            else:
                if 200 <= answer.status < 300:
                    return Delivery.sent()
                reason = f"{self.shown} answered HTTP {answer.status}{self._detail(answer)}"
                if answer.status in _CONFIG_STATUSES:
                    return Delivery.failed(Failure.CONFIG, self.scrub(reason))
                if 400 <= answer.status < 500 and answer.status != 429:
                    return Delivery.failed(Failure.REFUSED, self.scrub(reason))
                wait = _retry_after(answer) if answer.status == 429 else None
            pause = wait if wait is not None else backoff(attempt, self.limits.base_delay, self.limits.max_delay)
            if attempt >= self.limits.attempts or self.clock() + pause >= until:
                tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                return Delivery.failed(Failure.UNREACHABLE, self.scrub(one_line(reason + tries, 300)))
            log.info("webhook %s: %s; retrying in %.1f s", self.shown, self.scrub(reason), pause)
            self.sleep(pause)

    @staticmethod
    def _detail(answer: Answer) -> str:
        text = answer.body[:120].decode("utf-8", "replace").strip()
        return f": {one_line(text, 120)}" if text else ""

    def close(self) -> None:
        self.poster.close()
