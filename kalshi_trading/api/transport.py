"""HTTP transport: one `requests.Session`, signing, rate limiting, retries, logging, error parsing.

It knows nothing of endpoints; `client.py` does.  Errors are parsed once, here, into the tree of
`kalshi_trading.errors`.
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
from kalshi_trading.api.ratelimit import RateLimiter
from kalshi_trading.api.retry import RetryPolicy, parse_retry_after
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


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    attempts: int


def parse_body(text: str) -> Any:
    """JSON with every non-integer number as Decimal, so no float ever reaches money."""
    if not text:
        return None
    return json.loads(text, parse_float=Decimal)


def error_fields(body: Any, raw: str) -> tuple[str | None, str, Any]:
    """(code, message, details) from any of the reference's error shapes."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):  # nested {"error": {code, message, details}}
            return inner.get("code"), str(inner.get("message") or inner.get("code") or ""), inner.get("details")
        if isinstance(inner, str):  # the bare 429 {"error": "too many requests"}
            return None, inner, None
        if "code" in body or "message" in body:  # flat {code, message, details}
            return body.get("code"), str(body.get("message") or body.get("code") or ""), body.get("details")
        if "msg" in body:  # query validation {"msg": "..."}
            return None, str(body["msg"]), None
    snippet = (raw or "").strip().replace("\n", " ")[:200]
    return None, snippet or "no error body", None


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
    """Sends one logical request, retrying what is safe to retry."""

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
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self.session = session or requests.Session()
        adapter = adapter or HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
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
        errors are raised at once.  The error of the last attempt is raised when retries run out.
        """
        url = self.base_url + route
        params = {k: v for k, v in (params or {}).items() if v is not None}
        data = json.dumps(body, default=_json_default) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            if self.limiter is not None:
                self.limiter.acquire(method, route, cost_items)
            try:
                status, payload, raw, retry_after = self._send(method, url, params, data, headers, route, attempt)
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
            if attempt >= self.retry.max_attempts or self._clock() - started + delay > self.retry.max_total:
                raise error
            log.info("retrying %s %s in %.2fs after %s", method, route, delay, error.code or error.message)
            self._sleep(delay)

    def _send(self, method, url, params, data, headers, route, attempt):
        t0 = time.perf_counter()
        try:
            # Prepared directly (not via Session.request) so the per-call cost is signing plus the socket;
            # the auth object signs here, once per attempt.
            prepared = requests.Request(
                method, url, params=params, data=data,
                headers={**self._base_headers, **headers} if headers else self._base_headers, auth=self.auth,
            ).prepare()
            resp = self._adapter.send(prepared, timeout=self.timeout, **self._send_kwargs)
        except requests.ConnectTimeout:
            log.info("%s %s -> connect timeout attempt %d", method, route, attempt)
            raise RequestNotSent("could not connect (timed out)", method=method, path=route) from None
        except requests.Timeout as exc:
            ms = (time.perf_counter() - t0) * 1000
            log.info("%s %s -> timeout %.0fms attempt %d", method, route, ms, attempt)
            raise TransientError(f"timed out ({type(exc).__name__})", method=method, path=route) from None
        except requests.ConnectionError as exc:
            ms = (time.perf_counter() - t0) * 1000
            if _never_connected(exc):
                log.info("%s %s -> cannot connect attempt %d", method, route, attempt)
                raise RequestNotSent(f"cannot connect: {_short(exc)}", method=method, path=route) from None
            log.info("%s %s -> connection error %.0fms attempt %d", method, route, ms, attempt)
            raise TransientError(f"connection failed: {_short(exc)}", method=method, path=route) from None
        ms = (time.perf_counter() - t0) * 1000
        log.info("%s %s -> %d %.0fms attempt %d", method, route, resp.status_code, ms, attempt)
        raw = resp.text
        if log.isEnabledFor(logging.DEBUG):
            log.debug("request body %s; response body %s", data, raw[:2000])
        try:
            payload = parse_body(raw)
        except ValueError:
            if resp.status_code < 400:
                raise ResponseFormatError(
                    f"response is not JSON: {raw[:120]!r}", status=resp.status_code, method=method, path=route
                ) from None
            payload = None
        return resp.status_code, payload, raw, parse_retry_after(resp.headers.get("Retry-After"))


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
