"""The simulator's refusal: an HTTP status plus the reference's error code (section 9)."""

from __future__ import annotations

from kalshi_trading.errors import KalshiError


class SimError(KalshiError):
    """Raised inside the engine; the server turns it into `{"error": {code, message, details}}`."""

    def __init__(self, status: int, code: str, message: str, details: str = ""):
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        super().__init__(f"{status} {code}: {message}" + (f" ({details})" if details else ""))

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def bad_request(message: str, code: str = "bad_request", details: str = "") -> SimError:
    return SimError(400, code, message, details)


def not_found(message: str = "not found", details: str = "") -> SimError:
    return SimError(404, "not_found", message, details)
