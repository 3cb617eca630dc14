"""One outside-source request per call: HTTP GET, JSON, and every way it can go wrong turned into a `SourceHealth`.

Nothing here raises out of a collector for a source's fault: a network error, a timeout, HTTP 4xx/5xx, a body that
is not JSON, an error envelope or a body of the wrong shape becomes `SourceProblem`, which `run_source` turns into
a `SourceHealth` (logged once, with the reason) while the cycle goes on without that source.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping, Sequence, TypeVar

import requests

from kalshi_trading.signals.types import SourceHealth, SourceStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
_REASON_CHARS = 160  # a reason is one short line


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SourceProblem(Exception):
    """Why one source gave nothing usable this cycle; caught by `run_source`, never raised out of a collector."""

    def __init__(self, status: SourceStatus, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = _one_line(reason)


def garbage(reason: str) -> SourceProblem:
    """A body that is not in the documented shape."""
    return SourceProblem(SourceStatus.GARBAGE, reason)


def failed(reason: str) -> SourceProblem:
    """A source that answered with an error (or not at all)."""
    return SourceProblem(SourceStatus.FAILED, reason)


@dataclass(frozen=True)
class Fetched:
    """A JSON body and when it arrived."""

    body: Any
    received_at: datetime
    latency_ms: int


def get_json(session: requests.Session, url: str, params: Mapping[str, str] | None, timeout: float,
             clock: Clock = utcnow) -> Fetched:
    """GET `url` and parse its JSON body; raises `SourceProblem` for a network error, a timeout, HTTP >= 400
    (with the error envelope's reason when there is one) or a body that is not JSON."""
    t0 = time.perf_counter()
    try:
        resp = session.get(url, params=params, timeout=timeout)
    except requests.Timeout:
        raise failed(f"timed out after {timeout:g} s") from None
    except requests.RequestException as exc:
        raise failed(f"network error: {type(exc).__name__}: {exc}") from None
    latency_ms = round((time.perf_counter() - t0) * 1000)
    if resp.status_code >= 400:
        detail = envelope_reason(_json_or_none(resp))
        raise failed(f"HTTP {resp.status_code}" + (f": {detail}" if detail else ""))
    body = _json_or_none(resp)
    if body is None:
        raise garbage(f"HTTP {resp.status_code} but the body is not JSON: {resp.text[:60]!r}")
    return Fetched(body, clock(), latency_ms)


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:  # requests' JSONDecodeError is a ValueError
        return None


def envelope_reason(body: Any) -> str | None:
    """The reason an error envelope gives: Open-Meteo `reason`, Crypto.com `message`, Kraken's `error` list."""
    if not isinstance(body, dict):
        return None
    for key in ("reason", "message", "description"):
        if isinstance(body.get(key), str) and body[key]:
            return str(body[key])
    err = body.get("error")
    if isinstance(err, list) and err:
        return "; ".join(str(e) for e in err)
    if isinstance(err, str) and err:
        return err
    return None


def run_source(source: str, fetch: Callable[[], T], clock: Clock = utcnow,
               stale: Callable[[T], str | None] | None = None) -> tuple[T | None, SourceHealth]:
    """Run one source's fetch-and-parse; its value and an OK health, or None and a health saying why not.

    `stale(value)` may name a reason the value is too old (then the value is dropped with status STALE).
    A parser that trips over a shape it did not foresee (KeyError, IndexError, TypeError, ValueError,
    ArithmeticError) is the source's garbage, not our crash.
    """
    t0 = time.perf_counter()
    try:
        value = fetch()
    except SourceProblem as exc:
        return None, _problem(source, exc.status, exc.reason, t0, clock)
    except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
        return None, _problem(source, SourceStatus.GARBAGE, f"unexpected shape: {type(exc).__name__}: {exc}",
                              t0, clock)
    latency_ms = _ms_since(t0)
    why_stale = stale(value) if stale is not None else None
    if why_stale is not None:
        return None, _problem(source, SourceStatus.STALE, why_stale, t0, clock)
    return value, SourceHealth(source, SourceStatus.OK, clock(), latency_ms)


def downgrade(health: SourceHealth, status: SourceStatus, reason: str) -> SourceHealth:
    """An answer that was in shape but of no use after all (e.g. no members): the same source, not OK, logged."""
    reason = _one_line(reason)
    log.warning("%s skipped this cycle (%s): %s", health.source, status.value, reason)
    return SourceHealth(health.source, status, health.at, health.latency_ms, reason)


def _problem(source: str, status: SourceStatus, reason: str, t0: float, clock: Clock) -> SourceHealth:
    reason = _one_line(reason)
    log.warning("%s skipped this cycle (%s): %s", source, status.value, reason)
    return SourceHealth(source, status, clock(), _ms_since(t0), reason)


def _ms_since(t0: float) -> int:
    return round((time.perf_counter() - t0) * 1000)


def _one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _REASON_CHARS else flat[: _REASON_CHARS - 3] + "..."


def fan_out(jobs: Sequence[Callable[[], T]], pool: Executor | None) -> list[T]:
    """Run the jobs on `pool` all at once (None: one after another, the sequential alternative); results in order."""
    if pool is None:
        return [job() for job in jobs]
    futures = [pool.submit(job) for job in jobs]
    return [f.result() for f in futures]


# --- shape checks: a wrong shape is the source's garbage, said precisely ---------------------------------------


def obj(value: Any, where: str) -> dict[str, Any]:
    """`value` as a JSON object, or garbage naming `where`."""
    if not isinstance(value, dict):
        raise garbage(f"{where} is not an object")
    return value


def items(value: Any, where: str) -> list[Any]:
    """`value` as a JSON array, or garbage naming `where`."""
    if not isinstance(value, list):
        raise garbage(f"{where} is not a list")
    return value


def field(container: Mapping[str, Any], key: str, where: str) -> Any:
    """`container[key]`, or garbage naming the missing field."""
    if key not in container:
        raise garbage(f"{where} has no '{key}'")
    return container[key]


def price(value: Any, where: str) -> Decimal:
    """A positive finite price from a decimal string (a JSON number is accepted too); garbage otherwise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise garbage(f"{where} is not a number: {value!r}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise garbage(f"{where} is not a number: {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise garbage(f"{where} is not a positive price: {value!r}")
    return d


def optional_price(value: Any, where: str) -> Decimal | None:
    """`price`, with null / empty string as None."""
    if value is None or value == "":
        return None
    return price(value, where)


def epoch_time(value: Any, where: str, millis: bool) -> datetime:
    """Epoch seconds (or milliseconds) as a number or a digit string -> aware UTC."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise garbage(f"{where} is not a timestamp: {value!r}")
    try:
        n = float(str(value).strip())
    except ValueError:
        raise garbage(f"{where} is not a timestamp: {value!r}") from None
    if n != n or n <= 0 or n > 1e17:
        raise garbage(f"{where} is not a timestamp: {value!r}")
    try:
        return datetime.fromtimestamp(n / 1000.0 if millis else n, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise garbage(f"{where} is out of range: {value!r}") from None


def iso_time(value: Any, where: str) -> datetime:
    """ISO 8601 with `Z` or an offset -> aware UTC."""
    if not isinstance(value, str):
        raise garbage(f"{where} is not a time string: {value!r}")
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise garbage(f"{where} is not an ISO time: {value!r}") from None
    if ts.tzinfo is None:
        raise garbage(f"{where} has no time zone: {value!r}")
    return ts.astimezone(timezone.utc)
