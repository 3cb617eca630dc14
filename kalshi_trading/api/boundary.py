"""The client's side of the boundary: safe path segments, validated filters, endpoints named in format errors."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Iterator, TypeVar, cast
from urllib.parse import quote

from kalshi_trading import ids
from kalshi_trading.errors import ResponseFormatError, UsageError


def segment(value: str) -> str:
    """One URL path segment, percent-encoded: the second line of defence behind the `ids` validators."""
    if value in ("", ".", ".."):
        raise UsageError(f"{ids.show(value)} cannot be part of a request path")
    return quote(value, safe="")


def optional(check: Callable[[Any], str], value: Any) -> str | None:
    """A validated optional filter (None stays None)."""
    return None if value is None else check(value)


def named(exc: ResponseFormatError, endpoint: str) -> ResponseFormatError:
    """`exc`, naming `endpoint` ("GET /markets") unless it already names one."""
    if exc.path:
        return exc
    method, _, path = endpoint.partition(" ")
    return ResponseFormatError(exc.message, status=exc.status, method=method, path=path)


F = TypeVar("F", bound=Callable[..., Any])


def reads(endpoint: str) -> Callable[[F], F]:
    """Decorator: name `endpoint` in any ResponseFormatError raised while its answer is read."""
    def wrap(fn: F) -> F:
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
                try:
                    yield from fn(*args, **kwargs)
                except ResponseFormatError as exc:
                    raise named(exc, endpoint) from None
            return cast(F, generator)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except ResponseFormatError as exc:
                raise named(exc, endpoint) from None
        return cast(F, call)
    return wrap
