"""The notification settings (part of `config.Settings`): the Telegram bot and its chat, a generic webhook.

    KALSHI_TELEGRAM_BOT_TOKEN   the bot's token from @BotFather (a secret: never logged, masked when shown)
    KALSHI_TELEGRAM_CHAT_ID     where messages go and the only chat commands are taken from: an integer chat id
                                (negative for groups) or @channelname
    KALSHI_TELEGRAM_API_BASE    the Bot API's root (default https://api.telegram.org; the simulator's stub is
                                http://127.0.0.1:PORT/ext/telegram)
    KALSHI_TELEGRAM_COMMANDS    on/off: take /status, /halt ... from the chat (default on when token and chat are set)
    KALSHI_WEBHOOK_URL          a JSON POST per message (Slack- and Discord-compatible `text`/`content`); its path
                                may itself be a secret (Slack, Discord), so it is shown as scheme://host/… only
    KALSHI_WEBHOOK_SECRET       signs each POST (HMAC-SHA256, see ops/notify/webhook.py); a secret

Every mistake is a `ConfigError` naming the variable, without echoing a secret.  Nothing here talks to the network.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from kalshi_trading.errors import ConfigError

DEFAULT_TELEGRAM_API = "https://api.telegram.org"
VARIABLES = ("KALSHI_TELEGRAM_BOT_TOKEN", "KALSHI_TELEGRAM_CHAT_ID", "KALSHI_TELEGRAM_API_BASE",
             "KALSHI_TELEGRAM_COMMANDS", "KALSHI_WEBHOOK_URL", "KALSHI_WEBHOOK_SECRET")
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}")
_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class NotifySettings:
    """Which channels are configured; secrets are kept out of `repr`."""

    telegram_token: str | None = field(default=None, repr=False)
    telegram_chat_id: str | None = None
    telegram_api_base: str = DEFAULT_TELEGRAM_API
    telegram_commands: bool = False
    webhook_url: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)

    @property
    def telegram(self) -> bool:
        return bool(self.telegram_token and self.telegram_chat_id)

    @property
    def webhook(self) -> bool:
        return bool(self.webhook_url)

    @property
    def configured(self) -> bool:
        """Whether any channel is configured."""
        return self.telegram or self.webhook

    @property
    def chat(self) -> int | str | None:
        """The chat id as the Bot API takes it: an integer, or the @channelname text."""
        chat = self.telegram_chat_id
        if chat is None or chat.startswith("@"):
            return chat
        return int(chat)

    @property
    def shown_webhook(self) -> str:
        """The webhook's scheme and host only (its path may be a secret)."""
        return shown_url(self.webhook_url) if self.webhook_url else "(none)"

    def secrets(self) -> tuple[str, ...]:
        """Every secret set (for scrubbing text that might carry one)."""
        return tuple(s for s in (self.telegram_token, self.webhook_secret, self.webhook_url) if s)


def shown_url(url: str) -> str:
    """`scheme://host[:port]/…`: enough to tell which server, nothing of a path that may hold a secret."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if _port(url) else ""
    tail = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{tail}"


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def _clean(text: str, name: str, secret: bool) -> None:
    """Refuse spaces and control characters (a value pasted with a newline or a quote) without echoing a secret."""
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        shown = "the value" if secret else repr(text[:60])
        raise ConfigError(f"{shown} contains spaces or control characters", name, "write it without them")


def _http_url(text: str, name: str, *, secret: bool) -> str:
    _clean(text, name, secret)
    shown = "the URL" if secret else repr(text[:80])
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{shown} is not a valid URL (bad port or brackets)", name,
                          "write it like https://host/path") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{shown} is not an http(s) URL", name, "write it like https://host/path")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("the URL carries a user name or password", name, "remove the user@ part of the URL")
    return text


def _switch(text: str | None, name: str) -> bool | None:
    if text is None:
        return None
    value = text.strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ConfigError(f"{text[:20]!r} is not on or off", name, "write on or off (1/0, true/false, yes/no)")


def load_notify(get: Callable[[str], str | None]) -> NotifySettings:
    """The notification settings from `get` (the environment over `.env`; None when unset or empty)."""
    token, chat = get("KALSHI_TELEGRAM_BOT_TOKEN"), get("KALSHI_TELEGRAM_CHAT_ID")
    if token is not None:
        _clean(token, "KALSHI_TELEGRAM_BOT_TOKEN", secret=True)
        if not _TOKEN.fullmatch(token):
            raise ConfigError("the value is not a Telegram bot token", "KALSHI_TELEGRAM_BOT_TOKEN",
                              "paste the token @BotFather gave (digits, a colon, then letters, digits, - and _)")
    if chat is not None and not _CHAT.fullmatch(chat):
        raise ConfigError(f"{chat[:40]!r} is not a chat id", "KALSHI_TELEGRAM_CHAT_ID",
                          "write the chat's integer id (negative for a group) or @channelname")
    if (token is None) != (chat is None):
        missing = "KALSHI_TELEGRAM_CHAT_ID" if chat is None else "KALSHI_TELEGRAM_BOT_TOKEN"
        raise ConfigError(f"Telegram needs both the bot token and the chat id; {missing} is not set", missing,
                          "set both, or neither (no Telegram messages)")
    base = get("KALSHI_TELEGRAM_API_BASE")
    base = _http_url(base, "KALSHI_TELEGRAM_API_BASE", secret=False).rstrip("/") if base else DEFAULT_TELEGRAM_API
    commands = _switch(get("KALSHI_TELEGRAM_COMMANDS"), "KALSHI_TELEGRAM_COMMANDS")
    if commands and token is None:
        raise ConfigError("Telegram commands need a bot and a chat", "KALSHI_TELEGRAM_COMMANDS",
                          "set KALSHI_TELEGRAM_BOT_TOKEN and KALSHI_TELEGRAM_CHAT_ID, or turn the commands off")
    webhook = get("KALSHI_WEBHOOK_URL")
    if webhook is not None:
        _http_url(webhook, "KALSHI_WEBHOOK_URL", secret=True)
    secret = get("KALSHI_WEBHOOK_SECRET")
    if secret is not None and webhook is None:
        raise ConfigError("KALSHI_WEBHOOK_SECRET is set but KALSHI_WEBHOOK_URL is not", "KALSHI_WEBHOOK_URL",
                          "set the webhook's URL, or remove the secret")
    return NotifySettings(telegram_token=token, telegram_chat_id=chat, telegram_api_base=base,
                          telegram_commands=commands if commands is not None else token is not None,
                          webhook_url=webhook, webhook_secret=secret)
