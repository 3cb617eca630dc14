"""Fault injection, off by default: `latency=0.05,error_before=0.1,error_after=0.1,drop_after=0.05,
throttle=0.1,seed=1` (constructor string or env KALSHI_SIM_FAULTS).

The WebSocket feed has its own: `ws_drop` (fraction of order book deltas not sent: a sequence gap),
`ws_dup` (sent twice, same seq), `ws_close` (fraction of deltas after which the connection drops)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

KNOWN = ("latency", "error_before", "error_after", "drop_after", "throttle", "ws_drop", "ws_dup", "ws_close", "seed")


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

    @classmethod
    def parse(cls, text: str | None) -> "FaultSpec":
        if not text or not text.strip():
            return cls()
        values: dict = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in KNOWN:
                raise ValueError(f"bad fault setting {part!r}; known: {', '.join(KNOWN)}")
            try:
                values[name] = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise ValueError(f"bad fault value {part!r}") from None
            if name not in ("seed", "latency") and not 0 <= values[name] <= 1:
                raise ValueError(f"fault fraction {part!r} must be within 0..1")
        return cls(**values)

    @property
    def http_active(self) -> bool:
        return any((self.latency, self.error_before, self.error_after, self.drop_after, self.throttle))

    @property
    def ws_active(self) -> bool:
        return any((self.ws_drop, self.ws_dup, self.ws_close))

    @property
    def active(self) -> bool:
        return self.http_active or self.ws_active


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
