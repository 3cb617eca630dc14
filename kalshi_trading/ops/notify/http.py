"""One JSON POST within a deadline, for the channels (Telegram, webhook): each on its own `requests` session.

The session's adapter is the exchange client's `DeadlineAdapter`: every socket operation of an attempt waits at
most the time left, so a server that accepts and never answers (or trickles one byte at a time) costs no more
than the attempt's deadline.  Failures come back as `Unreachable` (nothing usable came back: a refused
connection, a timeout, a broken body), with a one-line reason already scrubbed of the caller's secrets (a
requests error names the URL, and a Telegram URL holds the bot token).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import requests

from kalshi_trading.api.deadline import (BodyTooLarge, BodyUnreadable, Deadline, DeadlineAdapter, DeadlineExceeded,
                                         read_body)

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # an answer larger than this is not the service we talk to
Scrub = Callable[[str], str]


class Unreachable(Exception):
    """No usable answer: the connection failed, timed out, or broke while the body was read."""


@dataclass(frozen=True)
class Answer:
    """The service's HTTP status, its body, and the body as JSON (None when it is not JSON)."""

    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return None


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line, at most `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Poster:
    """A session posting JSON, each attempt within its own deadline."""

    def __init__(self, *, connect_timeout: float = 5.0, read_timeout: float = 10.0, scrub: Scrub = str,
                 user_agent: str = "kalshi-trading notifier"):
        self.timeout = (connect_timeout, read_timeout)
        self.scrub = scrub
        self.session = requests.Session()
        self.adapter = DeadlineAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)
        self.session.headers["User-Agent"] = user_agent

    def post(self, url: str, data: bytes, headers: Mapping[str, str] | None = None, *,
             seconds: float) -> Answer:
        """POST `data` (JSON) to `url`, the whole attempt within `seconds`; raises `Unreachable`."""
        seconds = max(seconds, 0.05)
        deadline = Deadline(seconds, self.timeout[1])
        prepared = requests.Request("POST", url, data=data, headers={
            "Content-Type": "application/json", **self.session.headers, **(headers or {})}).prepare()
        timeout = (min(self.timeout[0], seconds), min(self.timeout[1], seconds))
        started = time.monotonic()
        try:
            resp = self.adapter.send_within(prepared, deadline, timeout=timeout)
            body = read_body(resp, deadline, MAX_BODY)
        except (requests.Timeout, DeadlineExceeded, TimeoutError):
            raise Unreachable(f"no answer within {time.monotonic() - started:.1f} s") from None
        except requests.ConnectionError as exc:
            raise Unreachable(f"cannot connect: {self._reason(exc)}") from None
        except (BodyUnreadable, BodyTooLarge) as exc:
            raise Unreachable(f"bad answer: {self._reason(exc)}") from None
        except requests.RequestException as exc:
            raise Unreachable(f"request failed: {self._reason(exc)}") from None
        return Answer(resp.status_code, body, dict(resp.headers))

    def _reason(self, exc: BaseException) -> str:
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        text = str(reason) if reason is not None else str(exc)
        return one_line(self.scrub(f"{type(exc).__name__}: {text}"))

    def close(self) -> None:
        self.session.close()


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): doubling from `base`, at most `cap`."""
    return min(cap, base * (2 ** max(attempt - 1, 0)))
