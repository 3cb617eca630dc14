"""Long polling `getUpdates` in a thread; commands only from the configured chat.

Each update's message (or channel post) is taken when its chat is the configured one (its id, or its @username
for a channel); anything else is ignored and logged with the chat id only, never the text (it could hold a
secret someone pasted).  Messages older than the run (sent while nothing was listening) are skipped too: a
/halt typed an hour ago is not carried out now.  The answer goes back through the notifier (kind REPLY).

The poller holds its own `TelegramBot` (its own session: a long poll keeps a connection busy).  A token the API
refuses (401) stops the polling, logged once; anything else (timeouts, 5xx, 409 "terminated by other getUpdates
request") is retried with a back-off of up to a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Protocol

from kalshi_trading.ops.control.commands import Commands
from kalshi_trading.ops.notify.channel import Failure
from kalshi_trading.ops.notify.http import Unreachable, backoff
from kalshi_trading.ops.notify.telegram import ApiRefusal, TelegramBot

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 10
STALE_S = 60.0  # a message this much older than the run's start is from before it


class Replier(Protocol):
    def reply(self, text: str, title: str = "", source: str = "telegram") -> None: ...


def chat_matches(chat: Any, configured: int | str) -> bool:
    """Whether an update's `chat` object is the configured chat (id, or @username for a channel)."""
    if not isinstance(chat, dict):
        return False
    if isinstance(configured, str) and configured.startswith("@"):
        name = chat.get("username")
        return isinstance(name, str) and "@" + name.lower() == configured.lower()
    chat_id = chat.get("id")
    return isinstance(chat_id, int) and not isinstance(chat_id, bool) and chat_id == configured


class TelegramControl:
    """The polling thread: `start()`, `stop()`."""

    def __init__(self, bot: TelegramBot, chat: int | str, commands: Commands, replier: Replier, *,
                 poll_timeout: int = POLL_TIMEOUT_S, wall: Callable[[], float] = time.time):
        self.bot = bot
        self.chat = chat
        self.commands = commands
        self.replier = replier
        self.poll_timeout = poll_timeout
        self.wall = wall
        self.started_at = wall()
        self.handled = 0
        self.ignored = 0
        self.stopped_because: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telegram-control", daemon=True)

    def start(self) -> "TelegramControl":
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling (a long poll in flight is abandoned; the thread is a daemon)."""
        self._stop.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.bot.close()

    def _run(self) -> None:
        offset: int | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                updates = self.bot.get_updates(offset, self.poll_timeout)
            except ApiRefusal as exc:
                if exc.failure is Failure.CONFIG:
                    self.stopped_because = self.bot.scrub(str(exc))
                    log.error("telegram commands: the Bot API refused the token (%s); not polling any more",
                              self.stopped_because)
                    return
                failures += 1
                log.warning("telegram commands: getUpdates failed (%s)", self.bot.scrub(str(exc)))
            except Unreachable as exc:
                failures += 1
                log.warning("telegram commands: getUpdates unreachable (%s)", exc)
            else:
                failures = 0
                for update in updates:
                    update_id = update.get("update_id")
                    if isinstance(update_id, int) and not isinstance(update_id, bool):
                        offset = update_id + 1
                    if self._stop.is_set():
                        return
                    self._take(update)
                continue
            self._stop.wait(backoff(failures, 1.0, 60.0))

    def _take(self, update: dict[str, Any]) -> None:
        message = update.get("message") or update.get("channel_post")
        if not isinstance(message, dict):
            return
        chat = message.get("chat")
        if not isinstance(chat, dict) or not chat_matches(chat, self.chat):
            self.ignored += 1
            chat_id = chat.get("id") if isinstance(chat, dict) else None
            log.warning("telegram commands: ignored a message from chat %s (not the configured chat)", chat_id)
            return
        text = message.get("text")
        if not isinstance(text, str):
            return
        date = message.get("date")
        if isinstance(date, (int, float)) and date < self.started_at - STALE_S:
            self.ignored += 1
            log.warning("telegram commands: skipped a message sent before this run (at %s)", date)
            return
        sender = message.get("from")
        who = f"telegram chat {chat.get('id')}" + (f" (@{sender['username']})" if isinstance(sender, dict)
                                                   and isinstance(sender.get("username"), str) else "")
        reply = self.commands.handle(text, who)
        self.handled += 1
        self.replier.reply(reply.text, title=reply.title, source=self.commands.target.source)
