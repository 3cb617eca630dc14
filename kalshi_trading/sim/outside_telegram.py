"""A loopback Telegram Bot API (data-sources.md §3), at `/ext/telegram/bot<TOKEN>/<method>`:

    sendMessage   chat_id, text, parse_mode (HTML parsed the way Telegram does: <b> <i> <u> <s> <code> <pre> <a>
                  <blockquote> <tg-spoiler>, entities &lt; &gt; &amp; &quot; &#N;), link_preview_options
    getUpdates    long polling: `offset` confirms (forgets) earlier updates, `timeout` seconds of waiting, answered
                  at once when an update arrives; a newer poll of the same bot ends an older one with 409
    getMe         the bot

Parameters come as JSON, a form or the query string, as Telegram takes them.  Answers are the Bot API's: `{"ok":
true, "result": ...}`, or `{"ok": false, "error_code": n, "description": "..."}` with, for a 429, `"parameters":
{"retry_after": s}`.  401 "Unauthorized" for a token no bot has; 404 "Not Found" for an unknown method; 400
"Bad Request: chat not found" for a chat the bot does not know; 400 for an empty or too long text (over 4096
UTF-16 units after entity parsing) or HTML it cannot parse; 429 past a chat's limit (about one message a second,
a short burst allowed; groups 20 a minute).

Which bots and chats exist: a bot is known once registered (control route) or once someone "writes" to it (an
injected message, as a person starting a bot); a chat, once registered for the bot or once it wrote to it.  The
control routes (`routes_control`, token-checked) register bots, inject incoming messages from any chat id, read
the messages the bots sent, and script failures (e.g. the next answer a 429 without `parameters`).  Tokens are
never logged (the server's access log masks `/bot<TOKEN>/`).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

MAX_TEXT = 4096
MAX_POLL_S = 50.0
CHAT_RATE, CHAT_BURST = 1.0, 3.0  # per chat: one a second, a burst of three
GROUP_RATE, GROUP_BURST = 20 / 60, 20.0  # per group (a negative chat id): twenty a minute
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}")
_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji", "code",
         "pre", "blockquote"}
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _error(status: int, description: str, retry_after: int | None = None) -> tuple[int, dict]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, body


def error_body(status: int, message: str) -> dict:
    """An injected fault (faults.SourceFaults) in the Bot API's envelope."""
    return _error(status, message)[1]


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def parse_html(text: str) -> str:
    """The text a Telegram client shows for `text` in HTML mode; ValueError (Telegram's description) when the
    HTML cannot be parsed."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        offset = len(text[:i].encode())
        if ch == "<":
            end = text.find(">", i)
            if end < 0:
                raise ValueError(f"Can't find end of the tag starting at byte offset {offset}")
            inner = text[i + 1:end].strip()
            closing = inner.startswith("/")
            name = inner.lstrip("/").split(" ", 1)[0].lower()
            if name not in _TAGS:
                kind = "end" if closing else "start"
                raise ValueError(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1] != name:
                    raise ValueError(f'Unmatched end tag at byte offset {offset}, expected '
                                     f'"</{stack[-1] if stack else ""}>", found "</{name}>"')
                stack.pop()
            else:
                stack.append(name)
            i = end + 1
        elif ch == "&":
            end = text.find(";", i, i + 12)
            name = text[i + 1:end] if end > 0 else ""
            if name in _ENTITIES:
                out.append(_ENTITIES[name])
            elif name.startswith("#") and name[1:].isdigit() and 0 < int(name[1:]) < 0x110000:
                out.append(chr(int(name[1:])))
            else:
                raise ValueError(f"Character '&' is reserved and must be escaped with the preceding '\\' "
                                 f"(byte offset {offset})")
            i = end + 1
        elif ch == ">":
            raise ValueError(f"Character '>' is reserved and must be escaped (byte offset {offset})")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 when a message may go now (one taken), else seconds until one may."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class _Bot:
    bot_id: int
    token: str
    chats: dict[int, dict] = field(default_factory=dict)  # chat id -> chat object
    updates: list[dict] = field(default_factory=list)
    next_update: int = 1
    poll_generation: int = 0
    buckets: dict[int, _Bucket] = field(default_factory=dict)


@dataclass
class Sent:
    """A message a bot sent (what the control route shows)."""

    bot_id: int
    chat_id: int
    message_id: int
    date: int
    text: str
    html: str | None
    parse_mode: str | None
    link_preview_disabled: bool


class TelegramStub:
    """Bots, chats, updates and sent messages; safe for the server's threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.clock = clock
        self.wall = wall
        self._bots: dict[str, _Bot] = {}
        self._cond = threading.Condition()
        self.sent: list[Sent] = []
        self.refused: dict[int, int] = {}  # HTTP status -> answers refused with it (429s, 400s...)
        self._scripted: list[tuple[str, int, str, int | None]] = []  # (method, status, description, retry_after)
        self._next_message = 1
        self._channel_ids = 1_000_000_000_000

    # -- control -------------------------------------------------------------------------------------------------

    def register(self, token: str, chats: Iterable[Any] = ()) -> dict:
        """Make `token` a bot (if it is not one yet) knowing `chats` (ids or @channel names)."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise ValueError("token must look like a Bot API token (digits, a colon, 20+ letters, digits, - _)")
        with self._cond:
            bot = self._bot_for(token)
            for chat in chats:
                self._chat(bot, chat)
            return {"bot_id": bot.bot_id, "chats": sorted(bot.chats)}

    def _bot_for(self, token: str) -> _Bot:
        bot = self._bots.get(token)
        if bot is None:
            bot = self._bots[token] = _Bot(int(token.split(":", 1)[0]), token)
        return bot

    def _chat(self, bot: _Bot, chat: Any, username: str | None = None) -> dict:
        obj: dict[str, Any]
        if isinstance(chat, str) and chat.startswith("@") and len(chat) > 1:
            found = next((c for c in bot.chats.values() if c.get("username", "").lower() == chat[1:].lower()), None)
            if found is not None:
                return found
            self._channel_ids += 1
            obj = {"id": -self._channel_ids, "type": "channel", "title": chat[1:], "username": chat[1:]}
        elif isinstance(chat, int) and not isinstance(chat, bool) and chat != 0:
            if chat in bot.chats:
                return bot.chats[chat]
            if chat > 0:
                obj = {"id": chat, "type": "private", "first_name": "Sim", "username": username or f"user{chat}"}
            else:
                obj = {"id": chat, "type": "supergroup" if str(chat).startswith("-100") else "group",
                       "title": f"group {chat}"}
        else:
            raise ValueError(f"a chat is a non-zero integer id or an @channel name, not {chat!r}")
        bot.chats[obj["id"]] = obj
        return obj

    def inject(self, token: str | None, chat: Any, text: str, username: str | None = None) -> dict:
        """An incoming message from `chat` to the bot (the only bot when `token` is None); returns the update."""
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty string")
        with self._cond:
            if token is None:
                if len(self._bots) != 1:
                    raise ValueError(f"name the bot's token ({len(self._bots)} bots exist)")
                bot = next(iter(self._bots.values()))
            else:
                self.register(token)
                bot = self._bots[token]
            obj = self._chat(bot, chat, username)
            kind = "channel_post" if obj["type"] == "channel" else "message"
            message: dict[str, Any] = {"message_id": self._message_id(), "chat": obj, "date": int(self.wall()),
                                       "text": text}
            if kind == "message":
                sender = obj["id"] if obj["id"] > 0 else 424242
                message["from"] = {"id": sender, "is_bot": False, "first_name": "Sim",
                                   "username": username or f"user{sender}"}
            if text.startswith("/"):
                message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
            update = {"update_id": bot.next_update, kind: message}
            bot.next_update += 1
            bot.updates.append(update)
            self._cond.notify_all()
            return update

    def script(self, method: str, status: int, description: str, retry_after: int | None, count: int) -> None:
        """The next `count` calls of `method` answer this error (a 429 without `retry_after` has no parameters)."""
        if not 400 <= status <= 599 or count < 1 or count > 1000:
            raise ValueError("status must be 400..599 and count 1..1000")
        with self._cond:
            self._scripted += [(method, status, description, retry_after)] * count

    def messages(self, chat_id: int | None = None) -> list[dict]:
        with self._cond:
            return [vars(m).copy() for m in self.sent if chat_id is None or m.chat_id == chat_id]

    def reset(self) -> None:
        with self._cond:
            self._bots.clear()
            self.sent.clear()
            self.refused.clear()
            self._scripted.clear()
            self._cond.notify_all()

    # -- the Bot API ---------------------------------------------------------------------------------------------

    def _message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    def call(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        """One Bot API request (`params` already merged from the query, form or JSON body)."""
        with self._cond:
            bot = self._bots.get(token)
            if bot is None:
                return self._refuse(*_error(401, "Unauthorized"))
            scripted = next((s for s in self._scripted if s[0] == method), None)
            if scripted is not None:
                self._scripted.remove(scripted)
                return self._refuse(*_error(scripted[1], scripted[2], scripted[3]))
            if method == "getMe":
                return 200, {"ok": True, "result": {"id": bot.bot_id, "is_bot": True, "first_name": "Sim bot",
                                                    "username": f"sim{bot.bot_id}_bot"}}
            if method == "sendMessage":
                return self._send(bot, params)
        if method == "getUpdates":
            return self._updates(bot, params)
        return self._refuse(*_error(404, "Not Found"))

    def _refuse(self, status: int, body: dict) -> tuple[int, dict]:
        self.refused[status] = self.refused.get(status, 0) + 1
        return status, body

    def _send(self, bot: _Bot, params: dict[str, Any]) -> tuple[int, dict]:
        chat_id, text, mode = params.get("chat_id"), params.get("text"), params.get("parse_mode")
        if chat_id in (None, ""):
            return self._refuse(*_error(400, "Bad Request: chat_id is empty"))
        chat = self._known_chat(bot, chat_id)
        if chat is None:
            return self._refuse(*_error(400, "Bad Request: chat not found"))
        if not isinstance(text, str) or not text.strip():
            return self._refuse(*_error(400, "Bad Request: message text is empty"))
        shown = text
        html = isinstance(mode, str) and mode.upper() == "HTML"
        if html:
            try:
                shown = parse_html(text)
            except ValueError as exc:
                return self._refuse(*_error(400, f"Bad Request: can't parse entities: {exc}"))
        if not shown.strip():
            return self._refuse(*_error(400, "Bad Request: message text is empty"))
        if utf16_len(shown) > MAX_TEXT:
            return self._refuse(*_error(400, "Bad Request: message is too long"))
        wait = self._rate(bot, chat["id"])
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            return self._refuse(*_error(429, f"Too Many Requests: retry after {seconds}", seconds))
        previews = params.get("link_preview_options")
        disabled = isinstance(previews, dict) and previews.get("is_disabled") is True
        sent = Sent(bot.bot_id, chat["id"], self._message_id(), int(self.wall()), shown,
                    text if html else None, mode if isinstance(mode, str) else None, disabled)
        self.sent.append(sent)
        return 200, {"ok": True, "result": {
            "message_id": sent.message_id, "from": {"id": bot.bot_id, "is_bot": True, "first_name": "Sim bot"},
            "chat": chat, "date": sent.date, "text": shown}}

    def _known_chat(self, bot: _Bot, chat_id: Any) -> dict | None:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            return next((c for c in bot.chats.values() if c.get("username", "").lower() == chat_id[1:].lower()),
                        None)
        try:
            return bot.chats.get(int(chat_id))
        except (TypeError, ValueError):
            return None

    def _rate(self, bot: _Bot, chat_id: int) -> float:
        now = self.clock()
        rate, burst = (GROUP_RATE, GROUP_BURST) if chat_id < 0 else (CHAT_RATE, CHAT_BURST)
        bucket = bot.buckets.setdefault(chat_id, _Bucket(rate, burst, burst, now))
        return bucket.take(now)

    def _updates(self, bot: _Bot, params: dict[str, Any]) -> tuple[int, dict]:
        try:
            offset = int(params["offset"]) if params.get("offset") not in (None, "") else None
            timeout = float(params.get("timeout") or 0)
            limit = int(params.get("limit") or 100)
        except (TypeError, ValueError):
            return self._refuse(*_error(400, "Bad Request: wrong parameter type"))
        deadline = self.clock() + max(0.0, min(timeout, MAX_POLL_S))
        with self._cond:
            bot.poll_generation += 1
            mine = bot.poll_generation
            self._cond.notify_all()  # an older poll of this bot ends (409)
            while True:
                if self._bots.get(bot.token) is not bot:
                    return self._refuse(*_error(401, "Unauthorized"))
                if bot.poll_generation != mine:
                    return self._refuse(*_error(409, "Conflict: terminated by other getUpdates request; make sure "
                                                     "that only one bot instance is running"))
                if offset is not None:
                    first = bot.updates[-1]["update_id"] + 1 + offset if offset < 0 and bot.updates else offset
                    bot.updates = [u for u in bot.updates if u["update_id"] >= first]
                found = bot.updates[:max(1, min(limit, 100))]
                left = deadline - self.clock()
                if found or left <= 0:
                    return 200, {"ok": True, "result": found}
                self._cond.wait(min(left, 1.0))


def params_of(query: str, raw: bytes, content_type: str) -> dict[str, Any] | None:
    """A Bot API call's parameters from the query string and the body (JSON or a form); None: not parseable."""
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if not raw:
        return params
    if "json" in content_type:
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        params.update(body)
        return params
    try:
        form = parse_qs(raw.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    params.update({k: v[-1] for k, v in form.items()})
    for key in ("link_preview_options", "allowed_updates"):
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass
    return params


def serve(stub: TelegramStub, method: str, rest: str, query: str, raw: bytes, content_type: str) -> tuple[int, dict]:
    """`rest` is the path after /ext/telegram: `/bot<TOKEN>/<method>`."""
    match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", rest)
    if match is None:
        return _error(404, "Not Found")
    if method not in ("GET", "POST"):
        return _error(405, "Method Not Allowed")
    params = params_of(query, raw, content_type)
    if params is None:
        return _error(400, "Bad Request: the request body is not valid JSON or form data")
    return stub.call(match.group(1), match.group(2), params)
