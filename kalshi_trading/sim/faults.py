"""Fault injection, off by default: `latency=0.05,error_before=0.1,error_after=0.1,drop_after=0.05,
throttle=0.1,seed=1` (constructor string or env KALSHI_SIM_FAULTS).

The WebSocket feed has its own: `ws_drop` (fraction of order book deltas not sent: a sequence gap),
`ws_dup` (sent twice, same seq), `ws_close` (fraction of deltas after which the connection drops).

The loopback copies of outside sources (`/ext/<source>/...`, see `routes_outside`) have theirs, per source, in
the same string: `ext.<source>.<kind>=<value>` with `<source>` one of `EXT_SOURCES` or `*` (every source) and
`<kind>` one of `latency` (seconds), `status` (an HTTP status answered instead, in the source's error
envelope), `rate` (the fraction of requests given that status; 1 by default), `garbage` (the fraction of
answers whose body is replaced by garbage), `drop` (the fraction whose connection closes with no answer).
E.g. `ext.*.latency=0.1,ext.kraken.status=503,ext.kraken.rate=0.5`.  They can also be changed while the
server runs (`SimServer.set_source_faults`, or the control route `POST /trade-api/v2/sim/control/faults`).
The exchange's own faults never apply to the `/ext` routes, nor these to the exchange's."""

from __future__ import annotations

import math
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KNOWN = ("latency", "error_before", "error_after", "drop_after", "throttle", "ws_drop", "ws_dup", "ws_close", "seed")
EXT_SOURCES = ("open-meteo-ensemble", "open-meteo", "coinbase", "coinbase-advanced", "kraken", "bitstamp",
               "cryptocom", "telegram")
EVERY_SOURCE = "*"
EXT_KINDS = ("latency", "status", "rate", "garbage", "drop")
GARBAGE_KINDS = 3  # not JSON at all, JSON cut short, JSON of the wrong shape (routes_outside renders them)
MAX_LATENCY_S = 60.0


@dataclass(frozen=True)
class SourceFaults:
    """The faults of one outside source (see the module docstring)."""

    latency: float = 0.0
    status: int = 0  # 0 = none
    rate: float = 1.0
    garbage: float = 0.0
    drop: float = 0.0

    @classmethod
    def build(cls, values: dict) -> "SourceFaults":
        """Checked settings from a dict of kinds (unknown kinds and values out of range raise ValueError)."""
        unknown = sorted(set(values) - set(EXT_KINDS))
        if unknown:
            raise ValueError(f"unknown source fault {unknown[0]!r}; known: {', '.join(EXT_KINDS)}")
        out: dict[str, Any] = {}
        for kind, raw in values.items():
            if isinstance(raw, bool):
                raise ValueError(f"source fault {kind} must be a number")
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"source fault {kind} must be a number, not {raw!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"source fault {kind} must be a finite number")
            if kind == "latency" and not 0 <= value <= MAX_LATENCY_S:
                raise ValueError(f"source fault latency must be within 0..{MAX_LATENCY_S:g} seconds")
            if kind == "status" and not (value == 0 or (value == int(value) and 400 <= value <= 599)):
                raise ValueError("source fault status must be an HTTP error status (400..599), or 0 for none")
            if kind in ("rate", "garbage", "drop") and not 0 <= value <= 1:
                raise ValueError(f"source fault {kind} must be a fraction within 0..1")
            out[kind] = int(value) if kind == "status" else value
        return cls(**out)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SourceDecision:
    """What to do to one request to an outside source."""

    latency: float = 0.0
    status: int | None = None
    garbage: int | None = None  # which garbage body, 0..GARBAGE_KINDS-1
    drop: bool = False


def _parse_ext(name: str, raw: str, into: dict[str, dict]) -> None:
    parts = name.split(".")
    if len(parts) != 3 or parts[1] not in (*EXT_SOURCES, EVERY_SOURCE) or parts[2] not in EXT_KINDS:
        raise ValueError(f"bad source fault {name!r}: use ext.<source>.<kind> with a source among "
                         f"{', '.join(EXT_SOURCES)} or *, and a kind among {', '.join(EXT_KINDS)}")
    into.setdefault(parts[1], {})[parts[2]] = raw.strip()


@dataclass(frozen=True)
class FaultSpec:
    latency: float = 0.0  # seconds added to every response
    error_before: float = 0.0  # fraction answered 5xx before processing
    error_after: float = 0.0  # fraction processed, then answered 5xx
    drop_after: float = 0.0  # fraction processed, then the connection closed with no answer
    throttle: float = 0.0  # fraction answered 429 before processing
    ws_drop: float = 0.0  # fraction of WS order book deltas dropped (seq still advances)
    ws_dup: float = 0.0  # fraction of WS order book deltas sent twice
    ws_close: float = 0.0  # fraction of WS order book deltas after which the connection is dropped
    seed: int = 0
    ext: tuple[tuple[str, SourceFaults], ...] = field(default=())  # (source or "*", its faults)

    @classmethod
    def parse(cls, text: str | None) -> "FaultSpec":
        if not text or not text.strip():
            return cls()
        values: dict = {}
        ext: dict[str, dict] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if sep and name.startswith("ext."):
                _parse_ext(name, raw, ext)
                continue
            if not sep or name not in KNOWN:
                raise ValueError(f"bad fault setting {part!r}; known: {', '.join(KNOWN)}")
            try:
                values[name] = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise ValueError(f"bad fault value {part!r}") from None
            if name not in ("seed", "latency") and not 0 <= values[name] <= 1:
                raise ValueError(f"fault fraction {part!r} must be within 0..1")
        values["ext"] = tuple((source, SourceFaults.build(kinds)) for source, kinds in sorted(ext.items()))
        return cls(**values)

    @property
    def http_active(self) -> bool:
        return any((self.latency, self.error_before, self.error_after, self.drop_after, self.throttle))

    @property
    def ws_active(self) -> bool:
        return any((self.ws_drop, self.ws_dup, self.ws_close))

    @property
    def active(self) -> bool:
        return self.http_active or self.ws_active or bool(self.ext)


class Faults:
    """Decides, per request, which fault (if any) to inject.  Thread-safe and seeded."""

    def __init__(self, spec: FaultSpec):
        self.spec = spec
        self._rng = random.Random(spec.seed)
        self._lock = threading.Lock()

    def before(self) -> str | None:
        """`throttle`, `error` or None, decided before the request is processed."""
        s = self.spec
        with self._lock:
            roll = self._rng.random()
        if roll < s.throttle:
            return "throttle"
        if roll < s.throttle + s.error_before:
            return "error"
        return None

    def after(self) -> str | None:
        """`error`, `drop` or None, decided after the request was processed."""
        s = self.spec
        with self._lock:
            roll = self._rng.random()
        if roll < s.error_after:
            return "error"
        if roll < s.error_after + s.drop_after:
            return "drop"
        return None


class SourceFaultsTable:
    """The outside sources' faults, changeable while serving; decides per request.  Thread-safe and seeded."""

    def __init__(self, settings: tuple[tuple[str, SourceFaults], ...] = (), seed: int = 0):
        self._settings: dict[str, SourceFaults] = dict(settings)
        self._rng = random.Random(f"ext-faults:{seed}")
        self._lock = threading.Lock()

    def set(self, source: str, faults: SourceFaults | None) -> None:
        """Replace the faults of `source` (or `*`); None clears them."""
        if source not in (*EXT_SOURCES, EVERY_SOURCE):
            raise ValueError(f"unknown source {source!r}; known: {', '.join(EXT_SOURCES)} or *")
        with self._lock:
            if faults is None or faults == SourceFaults():
                self._settings.pop(source, None)
            else:
                self._settings[source] = faults

    def clear(self) -> None:
        with self._lock:
            self._settings.clear()

    def settings(self) -> dict[str, SourceFaults]:
        with self._lock:
            return dict(self._settings)

    def decide(self, source: str) -> SourceDecision:
        """The faults of one request to `source` (its own settings, else those of `*`)."""
        with self._lock:
            spec = self._settings.get(source) or self._settings.get(EVERY_SOURCE)
            if spec is None:
                return SourceDecision()
            drop, status, garbage, which = (self._rng.random() for _ in range(4))
        if spec.drop and drop < spec.drop:
            return SourceDecision(spec.latency, drop=True)
        if spec.status and status < spec.rate:
            return SourceDecision(spec.latency, status=spec.status)
        if spec.garbage and garbage < spec.garbage:
            return SourceDecision(spec.latency, garbage=int(which * GARBAGE_KINDS))
        return SourceDecision(spec.latency)
