"""HTTP transport: one `requests.Session`, signing, rate limiting, retries, logging, error parsing.

It knows nothing of endpoints; `client.py` does.  Errors are parsed once, here, into the tree of
`kalshi_trading.errors`.

Time: each attempt has one deadline, connect + read timeout, for connecting, sending, the headers and the
whole body (`deadline.py`); failed attempts are retried within one budget per request,
`RetryPolicy.budget(deadline)`, and the last attempt is cut short at the budget.  Size: a body over
`max_body` bytes is refused.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from kalshi_trading import __version__
from kalshi_trading.api.deadline import (
    BodyTooLarge,
    BodyUnreadable,
    Deadline,
    DeadlineAdapter,
    DeadlineExceeded,
    read_body,
)
from kalshi_trading.api.ratelimit import RateLimiter
from kalshi_trading.api.retry import RetryPolicy, parse_retry_after
from kalshi_trading.api.wire import one_line
from kalshi_trading.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    ExchangeUnavailable,
    NotFoundError,
    RateLimited,
    RejectedError,
    RequestNotSent,
    ResponseFormatError,
    TransientError,
)

log = logging.getLogger(__name__)

MAX_BODY = 16 * 2**20  # bytes; the largest real answer (a page of 1000 markets) is a few MiB


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    attempts: int


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_body(text: str) -> Any:
    """JSON with every non-integer number as Decimal, so no float ever reaches money.

    NaN and Infinity are refused; any unreadable text (nesting too deep included) raises ValueError.
    """
    if not text:
        return None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def error_fields(body: Any, raw: str) -> tuple[str | None, str, Any]:
    """(code, message, details) from any of the reference's error shapes."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):  # nested {"error": {code, message, details}}
            return _error_parts(inner)
        if isinstance(inner, str):  # the bare 429 {"error": "too many requests"}
            return None, one_line(inner), None
        if "code" in body or "message" in body:  # flat {code, message, details}
            return _error_parts(body)
        if "msg" in body:  # query validation {"msg": "..."}
            return None, one_line(body["msg"]), None
    return None, one_line(raw or "") or "no error body", None


def _error_parts(d: dict) -> tuple[str | None, str, Any]:
    code = one_line(d["code"], 80) if d.get("code") not in (None, "") else None
    details = d.get("details")
    details = None if details is None or details in ("", {}, []) else one_line(details)
    return code, one_line(d.get("message") or code or ""), details


def to_error(status: int, body: Any, raw: str, method: str, path: str) -> ApiError:
    code, message, details = error_fields(body, raw)
    kwargs = dict(status=status, code=code, details=details, method=method, path=path)
    if status in (401, 403):
        return AuthenticationError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    if status == 429:
        return RateLimited(message, **kwargs)
    if status == 503:
        return ExchangeUnavailable(message, **kwargs)
    if status >= 500:
        return TransientError(message, **kwargs)
    return RejectedError(message, **kwargs)


class Transport:
    """Sends one logical request, retrying what is safe to retry, each attempt within its deadline."""

    def __init__(
        self,
        base_url: str,
        auth: requests.auth.AuthBase | None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        adapter: HTTPAdapter | None = None,
        max_body: int = MAX_BODY,
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.max_body = max_body
        self._sleep = sleep
        self._clock = clock
        self.session = session or requests.Session()
        adapter = adapter or DeadlineAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": f"kalshi-trading/{__version__}", "Accept": "application/json"})
        # Proxy and CA-bundle settings come from the environment once, here, instead of on every request:
        # requests re-scans os.environ per call, which cost a quarter of a loopback round trip.
        self._send_kwargs = self.session.merge_environment_settings(self.base_url, {}, None, None, None)
        self._send_kwargs.pop("stream", None)
        # Sent through the adapter itself: the API sets no cookies and never redirects, so the session's
        # cookie-jar and redirect machinery (a third of requests' per-call cost) is skipped.
        self._adapter = adapter
        self._base_headers = dict(self.session.headers)

    @property
    def attempt_deadline(self) -> float:
        """Seconds one attempt may take in all: the connect timeout plus the read timeout."""
        return self.timeout[0] + self.timeout[1]

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        route: str,
        *,
        params: dict | None = None,
        body: Any = None,
        retry_on: Callable[[ApiError, int], bool] | None = None,
        cost_items: int = 1,
    ) -> Response:
        """Send `method route`; on a retryable failure wait and send again, re-signing each attempt.

        `retry_on(error, attempt)` decides for transient errors (default: retry them all).  Non-transient
        errors are raised at once.  The error of the last attempt is raised when retries run out: after
        `retry.max_attempts` attempts, or when the next one would start too close to the end of the budget.
        """
        url = self.base_url + route
        params = {k: v for k, v in (params or {}).items() if v is not None}
        data = json.dumps(body, default=_json_default) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        started = self._clock()
        budget_end = started + self.retry.budget(self.attempt_deadline)
        attempt = 0
        while True:
            attempt += 1
            if self.limiter is not None:
                self.limiter.acquire(method, route, cost_items)
            seconds = self.attempt_deadline if attempt == 1 else min(self.attempt_deadline,
                                                                      budget_end - self._clock())
            deadline = Deadline(seconds, self.timeout[1], self._clock)
            error: ApiError
            try:
                status, payload, raw, retry_after = self._send(method, url, params, data, headers, route, attempt,
                                                               deadline)
            except TransientError as exc:
                error, retry_after = exc, None
            else:
                if status < 400:
                    return Response(status, payload, attempt)
                error = to_error(status, payload, raw, method, route)
            error.attempt = attempt
            if not isinstance(error, TransientError):
                raise error
            if retry_on is not None and not retry_on(error, attempt):
                raise error
            delay = self.retry.delay(attempt, retry_after)
            # No attempt starts without at least the connect timeout before the budget ends.
            if attempt >= self.retry.max_attempts or self._clock() + delay + self.timeout[0] > budget_end:
                raise _gave_up(error, attempt, self._clock() - started)
            log.info("retrying %s %s in %.2fs after %s", method, route, delay, error.code or error.message)
            self._sleep(delay)

    def _send(self, method: str, url: str, params: dict, data: str | None, headers: dict[str, str] | None,
              route: str, attempt: int, deadline: Deadline) -> tuple[int, Any, str, float | None]:
        """One attempt: (status, JSON payload, text, Retry-After), or the TransientError it ended in."""
        t0 = time.perf_counter()
        try:
            resp, content = self._exchange(method, url, params, data, headers, route, deadline)
        except requests.ConnectTimeout:
            log.info("%s %s -> connect timeout attempt %d", method, route, attempt)
            raise RequestNotSent("could not connect (timed out)", method=method, path=route) from None
        except (requests.Timeout, DeadlineExceeded):
            ms = (time.perf_counter() - t0) * 1000
            log.info("%s %s -> timeout %.0fms attempt %d", method, route, ms, attempt)
            raise TransientError(self._timeout_message(deadline), method=method, path=route) from None
        except requests.ConnectionError as exc:
            ms = (time.perf_counter() - t0) * 1000
            if _never_connected(exc):
                log.info("%s %s -> cannot connect attempt %d", method, route, attempt)
                raise RequestNotSent(f"cannot connect: {_short(exc)}", method=method, path=route) from None
            log.info("%s %s -> connection error %.0fms attempt %d", method, route, ms, attempt)
            raise TransientError(f"connection failed: {_short(exc)}", method=method, path=route) from None
        except BodyUnreadable as exc:
            log.info("%s %s -> body unreadable attempt %d: %s", method, route, attempt, exc)
            raise TransientError(f"connection failed while reading the answer: {one_line(exc, 120)}",
                                 method=method, path=route) from None
        ms = (time.perf_counter() - t0) * 1000
        log.info("%s %s -> %d %.0fms attempt %d", method, route, resp.status_code, ms, attempt)
        payload, raw = self._decode(resp, content, method, route)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("request body %s; response body %s", data, raw[:2000])
        return resp.status_code, payload, raw, parse_retry_after(resp.headers.get("Retry-After"))

    def _exchange(self, method: str, url: str, params: dict, data: str | None, headers: dict[str, str] | None,
                  route: str, deadline: Deadline) -> tuple[requests.Response, bytes]:
        """The request on the wire and the whole (capped) body back, within `deadline`."""
        # Prepared directly (not via Session.request) so the per-call cost is signing plus the socket;
        # the auth object signs here, once per attempt.
        prepared = requests.Request(
            method, url, params=params, data=data,
            headers={**self._base_headers, **headers} if headers else self._base_headers, auth=self.auth,
        ).prepare()
        timeout = (min(self.timeout[0], deadline.seconds), min(self.timeout[1], deadline.seconds))
        if isinstance(self._adapter, DeadlineAdapter):
            resp = self._adapter.send_within(prepared, deadline, timeout=timeout, **self._send_kwargs)
        else:  # an adapter a caller supplied: the deadline is checked per chunk of the body only
            resp = self._adapter.send(prepared, stream=True, timeout=timeout, **self._send_kwargs)
        try:
            return resp, read_body(resp, deadline, self.max_body)
        except BodyTooLarge as exc:
            log.info("%s %s -> %s", method, route, exc)
            raise ResponseFormatError(str(exc), status=resp.status_code, method=method, path=route) from None

    def _timeout_message(self, deadline: Deadline) -> str:
        if not deadline.expired():
            return f"timed out: nothing received for {self.timeout[1]:g} s (read timeout)"
        if deadline.seconds < self.attempt_deadline:  # the last attempt, cut short by the request's budget
            budget = self.retry.budget(self.attempt_deadline)
            return f"no complete answer before the request's {budget:g} s budget ran out"
        return f"no complete answer within {deadline.seconds:g} s (connect + read timeout)"

    def _decode(self, resp: requests.Response, content: bytes, method: str, route: str) -> tuple[Any, str]:
        """(JSON payload, text) of a body; a success that is not JSON is a ResponseFormatError."""
        try:
            raw = content.decode(resp.encoding or "utf-8")
            payload = parse_body(raw)
        except (ValueError, LookupError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raw = content.decode("utf-8", "replace")
            if resp.status_code < 400:
                raise ResponseFormatError(f"response is not JSON: {one_line(repr(raw[:120]), 140)}",
                                          status=resp.status_code, method=method, path=route) from None
            payload = None
        return payload, raw


def _gave_up(error: TransientError, attempts: int, elapsed: float) -> TransientError:
    """The last attempt's error, its text saying how long was tried (`message` and class are unchanged)."""
    if attempts > 1:
        error.args = (f"{error} (gave up after {attempts} attempts in {elapsed:.1f} s)",)
    return error


def _never_connected(exc: requests.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError) or isinstance(exc.args[0] if exc.args else None, NewConnectionError)


def _short(exc: Exception) -> str:
    """The useful part of a requests/urllib3 connection error: the innermost reason, without object reprs."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    text = str(reason if reason is not None else exc)
    if text.startswith("<") and ">: " in text:  # "<urllib3...HTTPSConnection object at 0x..>: Failed to resolve ..."
        text = text.split(">: ", 1)[1]
    return text if len(text) < 160 else text[:157] + "..."


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
