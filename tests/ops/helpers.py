"""Shared pieces of the ops tests: a Sink that keeps what it is given, snapshots with plain defaults, JSON log lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

from kalshi_trading.ops.alerts import BotSnapshot
from kalshi_trading.ops.notify.message import Message

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


@dataclass
class RecordingSink:
    """A Sink that keeps every message and every suppression (with its reason)."""

    sent: list[Message] = field(default_factory=list)
    held: list[tuple[Message, str]] = field(default_factory=list)

    def submit(self, message: Message) -> None:
        self.sent.append(message)

    def suppressed(self, message: Message, reason: str) -> None:
        self.held.append((message, reason))

    def rules(self) -> list[str]:
        return [m.rule for m in self.sent]


BASE = BotSnapshot(
    at=T0, bot="east", env="SIM", started=T0, risk_state="active", risk_reason="started", risk_rule="",
    max_daily_loss=D(10), pnl_today=D(0), realized=D(0), unrealized=D(0), fees=D(0), exposure=D(0), positions={},
    markets=("KXBTCD-T1",), working=2, fills=0, volume=D(0), last_fill=None, placed=0, amended=0, cancelled=0,
    rejected=0, api_errors=0)


def snap(minutes: float = 0, **changes) -> BotSnapshot:
    """BASE at T0 + `minutes`, with `changes`."""
    return replace(BASE, at=T0 + timedelta(minutes=minutes), **changes)


def json_lines(path: Path) -> list[dict]:
    """Every line of a JSON log file, parsed (a line that is not one JSON object fails the test)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
