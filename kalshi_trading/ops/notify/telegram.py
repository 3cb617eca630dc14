"""The Telegram channel: a small Bot API client (`sendMessage`, `getUpdates`) on its own `requests` session.

`POST {KALSHI_TELEGRAM_API_BASE}/bot<TOKEN>/<method>` with a JSON body; answers `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": n, "description": "...", "parameters": {"retry_after": s}}` (data-sources.md §3).

- Messages go as HTML (`parse_mode`), our plain text escaped, the title bold, link previews off, split under 4096
  characters (`text.py`); the parts of one message go in order.
- A per-chat pacing of about one message a second (Telegram's limit), so a burst of parts or alerts is spread out
  rather than refused; a 429 honours `parameters.retry_after` (or "retry after N" in the description, or backs
  off), and the chat is then left alone until that time.
- 401 (and 404: a malformed token's path), 403 (blocked, not a member) and a 400 about the chat ("chat not found")
  are configuration errors: not retried; the dispatcher disables the channel for the run with the reason.  Another
  400 (about this message's content) fails only this message.  Timeouts, broken connections and 5xx are retried
  with back-off within the message's limits.
- The token is a secret: every reason, log line and exception text goes through `scrub`, which replaces it (and
  hence any URL holding it) with a masked form.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any, Callable

from kalshi_trading.notify_settings import NotifySettings
from kalshi_trading.ops.notify import text as fmt
from kalshi_trading.ops.notify.channel import Delivery, Failure, Limits
from kalshi_trading.ops.notify.http import Poster, Unreachable, backoff, one_line
from kalshi_trading.ops.notify.message import Message

log = logging.getLogger(__name__)

CHAT_INTERVAL = 1.05  # seconds between two messages to one chat (Telegram: about one a second)
_RETRY_AFTER = re.compile(r"retry after (\d+)", re.I)
_CHAT_PROBLEM = re.compile(r"chat|peer|user not found|group|channel", re.I)


def mask_token(token: str) -> str:
    """The bot's id (public) and the secret part hidden: `123456:…`."""
    bot_id, _, _ = token.partition(":")
    return f"{bot_id}:…" if bot_id.isdigit() else "…"


class ApiRefusal(Exception):
    """The Bot API answered `ok: false` (or an HTTP error): its code, description and retry_after."""

    def __init__(self, status: int, description: str, retry_after: float | None = None):
        super().__init__(status, description, retry_after)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.status} {self.description}"

    @property
    def failure(self) -> Failure | None:
        """CONFIG, REFUSED, or None (worth retrying: 429, 5xx)."""
        if self.status in (401, 403, 404):
            return Failure.CONFIG
        if self.status == 400:
            return Failure.CONFIG if _CHAT_PROBLEM.search(self.description) else Failure.REFUSED
        if self.status == 429 or self.status >= 500:
            return None
        return Failure.REFUSED


def refusal(status: int, body: Any) -> ApiRefusal:
    """The Bot API's error envelope (or whatever came back) as an `ApiRefusal`."""
    if isinstance(body, dict):
        code = body.get("error_code")
        status = code if isinstance(code, int) and not isinstance(code, bool) and code >= 400 else status
        description = one_line(str(body.get("description") or f"HTTP {status}"), 160)
        params = body.get("parameters")
        wait = params.get("retry_after") if isinstance(params, dict) else None
        if not isinstance(wait, (int, float)) or isinstance(wait, bool) or wait < 0:
            found = _RETRY_AFTER.search(description)
            wait = int(found.group(1)) if found else None
        return ApiRefusal(status, description, float(wait) if wait is not None else None)
    return ApiRefusal(status if status >= 400 else 502, f"HTTP {status}, not a Bot API answer")


class ChatPacing:
    """When each chat may get its next message (one per `interval` seconds; later after a 429)."""

    def __init__(self, interval: float = CHAT_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, chat: str) -> float:
        """Seconds until `chat` may be sent to."""
        with self._lock:
            return max(0.0, self._next.get(chat, 0.0) - self.clock())

    def sent(self, chat: str) -> None:
        with self._lock:
            self._next[chat] = max(self._next.get(chat, 0.0), self.clock() + self.interval)

    def hold(self, chat: str, seconds: float) -> None:
        """A 429: nothing to `chat` for `seconds`."""
        with self._lock:
            self._next[chat] = max(self._next.get(chat, 0.0), self.clock() + seconds)


class TelegramBot:
    """The Bot API for one token (one session; one thread at a time per instance)."""

    def __init__(self, token: str, api_base: str, *, limits: Limits | None = None,
                 pacing: ChatPacing | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self._token = token
        self.api_base = api_base.rstrip("/")
        self.limits = limits or Limits()
        self.pacing = pacing or ChatPacing(clock=clock)
        self.sleep = sleep
        self.clock = clock
        self.poster = Poster(scrub=self.scrub, read_timeout=self.limits.attempt_deadline)

    def scrub(self, text: str) -> str:
        """`text` without the token (a URL that holds it shows it masked)."""
        return text.replace(self._token, mask_token(self._token)) if self._token else text

    @property
    def where(self) -> str:
        """The method URL's root, token masked (for messages)."""
        return f"{self.api_base}/bot{mask_token(self._token)}"

    def call(self, method: str, payload: dict[str, Any], seconds: float) -> Any:
        """One attempt: the method's `result`, or `ApiRefusal` / `Unreachable`."""
        url = f"{self.api_base}/bot{self._token}/{method}"
        answer = self.poster.post(url, json.dumps(payload, ensure_ascii=False).encode(), seconds=seconds)
        body = answer.json()
        if answer.status == 200 and isinstance(body, dict) and body.get("ok") is True and "result" in body:
            return body["result"]
        raise refusal(answer.status, body)

    def send_text(self, chat: int | str, html: str, *, until: float) -> Any:
        """sendMessage of one part, paced per chat, retried (429, 5xx, no answer) until the monotonic time
        `until`; raises the last `ApiRefusal` / `Unreachable`."""
        key = str(chat)
        payload = {"chat_id": chat, "text": html, "parse_mode": "HTML",
                   "link_preview_options": {"is_disabled": True}, "disable_notification": False}
        attempt = 0
        while True:
            attempt += 1
            wait = self.pacing.wait(key)
            if self.clock() + wait >= until:
                raise Unreachable(f"the chat is rate limited for another {wait:.0f} s (past this message's "
                                  "deadline)")
            if wait:
                self.sleep(wait)
            try:
                result = self.call("sendMessage", payload, min(self.limits.attempt_deadline, until - self.clock()))
            except ApiRefusal as exc:
                if exc.failure is not None:
                    raise
                if exc.status == 429:
                    self.pacing.hold(key, exc.retry_after if exc.retry_after is not None
                                     else backoff(attempt, 1.0, 60.0))
                last: Exception = exc
            except Unreachable as exc:
                last = exc
            else:
                self.pacing.sent(key)
                return result
            if attempt >= self.limits.attempts or self.clock() >= until:
                raise last
            pause = backoff(attempt, self.limits.base_delay, self.limits.max_delay)
            if self.clock() + pause >= until:
                raise last
            log.info("telegram: %s; retrying in %.1f s", self.scrub(str(last)), pause)
            self.sleep(pause)

    def get_updates(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """Long polling: updates from `offset` on, waiting up to `timeout` seconds for one to arrive."""
        payload: dict[str, Any] = {"timeout": timeout, "allowed_updates": ["message", "channel_post"]}
        if offset is not None:
            payload["offset"] = offset
        result = self.call("getUpdates", payload, timeout + self.limits.attempt_deadline)
        if not isinstance(result, list):
            raise ApiRefusal(502, "getUpdates answered something that is not a list")
        return [u for u in result if isinstance(u, dict)]

    def close(self) -> None:
        self.poster.close()


class TelegramChannel:
    """Messages to the configured chat (implements `channel.Channel`)."""

    name = "telegram"

    def __init__(self, bot: TelegramBot, chat: int | str):
        self.bot = bot
        self.chat = chat

    @classmethod
    def from_settings(cls, notify: NotifySettings, limits: Limits | None = None) -> "TelegramChannel":
        assert notify.telegram_token is not None and notify.chat is not None, "Telegram is configured"
        return cls(TelegramBot(notify.telegram_token, notify.telegram_api_base, limits=limits), notify.chat)

    def send(self, message: Message) -> Delivery:
        """Every part of `message`, in order; the first part that fails fails the message."""
        pieces = [p for p in fmt.parts(message) if p.strip()]
        until = self.bot.clock() + self.bot.limits.deadline + CHAT_INTERVAL * len(pieces)
        for number, piece in enumerate(pieces, start=1):
            try:
                self.bot.send_text(self.chat, piece, until=until)
            except ApiRefusal as exc:
                return Delivery.failed(exc.failure or Failure.UNREACHABLE,
                                       self._reason(f"Bot API refused: {exc}", number, len(pieces)))
            except Unreachable as exc:
                return Delivery.failed(Failure.UNREACHABLE, self._reason(f"unreachable: {exc}", number, len(pieces)))
        return Delivery.sent(f"{len(pieces)} parts" if len(pieces) > 1 else "")

    def _reason(self, what: str, number: int, count: int) -> str:
        where = f" (part {number} of {count})" if count > 1 else ""
        return self.bot.scrub(one_line(what + where, 300))

    def close(self) -> None:
        self.bot.close()
