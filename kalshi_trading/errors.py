"""One error tree, organised by what the caller should do about it.

- ConfigError: fix the configuration and rerun.
- UsageError: the input is wrong (refused before any I/O).
- ApiError and its children: what the exchange (or the network to it) said.
  TransientError is retried by the client; RejectedError carries the exchange's code.
- RiskDenied: a risk rule refused an order, with the rule's reason.

Exit codes are mapped from these in exactly one place, the CLI's top level.
"""

from __future__ import annotations


class KalshiError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(KalshiError):
    """A configuration mistake: names the variable and the fix."""

    def __init__(self, message: str, variable: str | None = None, fix: str | None = None):
        self.variable = variable
        self.fix = fix
        text = message
        if variable and variable not in message:
            text = f"{variable}: {message}"
        if fix:
            text = f"{text} (fix: {fix})"
        super().__init__(text)


class UsageError(KalshiError):
    """Bad input from the user or caller, refused before anything was sent."""


class StorageError(KalshiError):
    """Local storage is unusable (unreadable, read-only, damaged, not a directory): names the path and the reason."""

    def __init__(self, message: str, path: object = None):
        self.path = path
        super().__init__(f"{message} [{path}]" if path is not None and str(path) not in message else message)


class JournalError(StorageError):
    """The journal file is unusable (corrupt, foreign, or locked); it is never overwritten."""


class RecordingError(StorageError):
    """A market-data recording cannot be replayed (damaged file, unknown record, newer format): names file and line."""


class RiskDenied(KalshiError):
    """A risk rule refused an order."""

    def __init__(self, rule: str, reason: str):
        self.rule = rule
        self.reason = reason
        super().__init__(f"denied by {rule}: {reason}")


class StrategyHalted(RiskDenied):
    """The bot's strategy failed while deciding: the bot cancelled its orders and halted (a risk halt: exit 5)."""

    def __init__(self, reason: str):
        self.rule = "strategy"
        self.reason = reason
        KalshiError.__init__(self, reason)


class ApiError(KalshiError):
    """Something the exchange, or the way to it, answered.  Parsed once into fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: object = None,
        method: str | None = None,
        path: str | None = None,
    ):
        self.status = status
        self.code = code
        self.details = details
        self.method = method
        self.path = path
        self.message = message
        self.attempt = 1  # which attempt of a retried request failed like this; set by the transport
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.details not in (None, "", {}, []):
            text = f"{text} ({self.details})"
        if self.method and self.path:
            text = f"{text} [{self.method} {self.path}]"
        return text


class TransientError(ApiError):
    """Worth retrying: timeouts, connection failures, 5xx."""


class RequestNotSent(TransientError):
    """The connection was never made, so the exchange cannot have seen the request."""


class ExchangeUnavailable(TransientError):
    """Retries ran out, or the exchange says it is down (503)."""


class RateLimited(TransientError):
    """HTTP 429: the exchange's token bucket is empty."""


class AuthenticationError(ApiError):
    """HTTP 401/403: key id, key or clock is wrong, or the key lacks a scope."""


class RejectedError(ApiError):
    """The exchange refused the request (4xx) with a code: invalid_price, insufficient_balance..."""


class NotFoundError(RejectedError):
    """HTTP 404: unknown ticker, order, or an order that is already gone."""


class ConflictError(RejectedError):
    """HTTP 409: e.g. order_already_exists for a reused client_order_id."""


class ResponseFormatError(ApiError):
    """A response we cannot read: not JSON, or a required field missing."""
