"""The alert rules: small objects that look at a snapshot of a running bot or pipeline and say which conditions hold.

Rules (settings: `ops/settings.py`, the `[alerts]` table):

  halted       the bot is HALTED; names the rule that halted it (daily_loss, strategy, manual)   critical
  daily_pnl    P&L today (realized net of fees + unrealized) at or below a threshold             warning
  api_errors   at least N API errors within a window of exchange time (by call and error class)  warning
  no_fills     the bot is quoting and has had no fill for N hours (since its last fill or start)  warning
  source_down  an outside source (or the whole cycle) down N pipeline cycles in a row             warning
  store        the store does not answer its check (`Store.check()`), or the run ended on it      critical

A rule speaks when its condition starts (one message per episode, per key: each source is its own episode); it is
silent while the condition holds, and re-arms when the condition clears.  A new episode within the rule's cooldown of
its last message is not sent: it goes to `Sink.suppressed` once, with the reason; if it still holds when the
cooldown ends, it is sent then.  A switched-off rule is never evaluated.  Time is the snapshot's (the injected clock:
exchange time in the simulator); rules never read a clock of their own.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Mapping, Protocol, Sequence, TypeVar

from kalshi_trading.ops.notify.message import Message, Sink
from kalshi_trading.ops.settings import AlertSettings
from kalshi_trading.signals.types import SourceHealth, SourceStatus
from kalshi_trading.store.alerts import MessageKind, Severity

log = logging.getLogger(__name__)

HEALTHY = (SourceStatus.OK, SourceStatus.SKIPPED)
CYCLE_SOURCE = "cycle"  # the pseudo-source of a pipeline cycle that failed as a whole (discovery, the exchange)


@dataclass(frozen=True)
class BotSnapshot:
    """What the alert rules, digests and metrics read of a running bot, taken on the loop's thread between passes."""

    at: datetime                      # exchange time
    bot: str
    env: str
    started: datetime                 # exchange time trading began
    risk_state: str                   # active | reducing | halted
    risk_reason: str
    risk_rule: str                    # the rule that halted it ("" unless halted)
    max_daily_loss: Decimal
    pnl_today: Decimal                # realized today (net of fees) + unrealized: what the loss limit sees
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    exposure: Decimal
    positions: Mapping[str, Decimal]
    markets: tuple[str, ...]
    working: int                      # working orders
    fills: int
    volume: Decimal
    last_fill: datetime | None
    placed: int
    amended: int
    cancelled: int
    rejected: int
    api_errors: int
    api_error_kinds: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @property
    def net(self) -> Decimal:
        return self.realized + self.unrealized - self.fees

    @property
    def quoting(self) -> bool:
        return self.working > 0


@dataclass(frozen=True)
class CycleSnapshot:
    """One pipeline cycle as the rules see it."""

    at: datetime
    cycle_id: int
    status: str                       # ok | degraded | failed
    health: tuple[SourceHealth, ...]
    error: str | None = None


@dataclass(frozen=True)
class StoreProbe:
    """One check of the store: `problem` is None when it answered."""

    at: datetime
    location: str                     # the masked URL
    problem: str | None = None


@dataclass(frozen=True)
class Finding:
    """A condition that holds now: `key` tells episodes of one rule apart (a source's name; "" for most rules)."""

    text: str
    key: str = ""
    title: str = ""


S = TypeVar("S", contravariant=True)


class AlertRule(Protocol[S]):
    """A rule over one kind of snapshot: the conditions that hold now."""

    name: str
    severity: Severity

    def check(self, snap: S) -> list[Finding]: ...


# --- the bot's rules ---------------------------------------------------------------------------------------
class HaltedRule:
    name = "halted"
    severity = Severity.CRITICAL

    def check(self, snap: BotSnapshot) -> list[Finding]:
        if snap.risk_state != "halted":
            return []
        rule = snap.risk_rule or "unknown"
        return [Finding(f"bot {snap.bot} [{snap.env}] HALTED by rule {rule}: {snap.risk_reason}. Every order was "
                        f"cancelled; it trades again only after `kalshi auto resume`. P&L today "
                        f"{money(snap.pnl_today)}.", title=f"{snap.bot}: HALTED ({rule})")]


class DailyPnlRule:
    """P&L today at or below `below` (default: half of the bot's max_daily_loss below zero)."""

    name = "daily_pnl"
    severity = Severity.WARNING

    def __init__(self, below: Decimal | None = None):
        self.below = below

    def threshold(self, snap: BotSnapshot) -> Decimal:
        return self.below if self.below is not None else -(snap.max_daily_loss / 2).quantize(Decimal("0.01"))

    def check(self, snap: BotSnapshot) -> list[Finding]:
        limit = self.threshold(snap)
        if snap.pnl_today > limit:
            return []
        return [Finding(f"bot {snap.bot} [{snap.env}]: P&L today {money(snap.pnl_today)} is at or below the alert "
                        f"threshold {money(limit)} (the loss limit halts at {money(-snap.max_daily_loss)}); "
                        f"exposure {money(snap.exposure)}, risk {snap.risk_state}.",
                        title=f"P&L today {money(snap.pnl_today)}: {snap.bot}")]


class ApiErrorsRule:
    """At least `count` API errors within `window` of exchange time (the window's start is the newest snapshot at or
    before now - window, or the first one seen)."""

    name = "api_errors"
    severity = Severity.WARNING

    def __init__(self, count: int, window: timedelta):
        self.count = count
        self.window = window
        self._seen: deque[BotSnapshot] = deque()

    def check(self, snap: BotSnapshot) -> list[Finding]:
        self._seen.append(snap)
        while len(self._seen) > 1 and self._seen[1].at <= snap.at - self.window:
            self._seen.popleft()
        base = self._seen[0]
        errors = snap.api_errors - base.api_errors
        if errors < self.count:
            return []
        kinds = {k: n - base.api_error_kinds.get(k, 0) for k, n in snap.api_error_kinds.items()}
        detail = ", ".join(f"{call} {error} x{n}" for (call, error), n in sorted(kinds.items(), key=lambda kv: -kv[1])
                           if n > 0) or "-"
        return [Finding(f"bot {snap.bot} [{snap.env}]: {errors} API errors within {span(self.window)} "
                        f"(threshold {self.count}): {detail}.", title=f"API errors: {snap.bot}")]


class NoFillsRule:
    """Quoting now, and no fill for `after` since the last fill (or since trading began, if later)."""

    name = "no_fills"
    severity = Severity.WARNING

    def __init__(self, after: timedelta):
        self.after = after

    def check(self, snap: BotSnapshot) -> list[Finding]:
        since = snap.started if snap.last_fill is None else max(snap.last_fill, snap.started)
        if not snap.quoting or snap.at - since < self.after:
            return []
        last = "none since the start" if snap.last_fill is None else snap.last_fill.isoformat()
        return [Finding(f"bot {snap.bot} [{snap.env}] has quoted {', '.join(snap.markets)} with no fill for "
                        f"{span(snap.at - since)} (last fill: {last}; {snap.working} orders working).",
                        title=f"no fills for {span(self.after)}: {snap.bot}")]


# --- the pipeline's and the store's ------------------------------------------------------------------------
class SourceDownRule:
    """A source down (failed, garbage or stale) in `cycles` consecutive cycles; a cycle that failed as a whole counts
    as the `cycle` source down."""

    name = "source_down"
    severity = Severity.WARNING

    def __init__(self, cycles: int):
        self.cycles = cycles
        self.streaks: dict[str, int] = {}
        self.reasons: dict[str, str] = {}

    def check(self, snap: CycleSnapshot) -> list[Finding]:
        down = {h.source: f"{h.status.value}: {h.reason or '-'}" for h in snap.health if h.status not in HEALTHY}
        if snap.status == "failed":
            down[CYCLE_SOURCE] = f"cycle failed: {snap.error or '-'}"
        up = {h.source for h in snap.health if h.status in HEALTHY}
        for source in list(self.streaks):
            if source not in down and (source in up or source == CYCLE_SOURCE):
                del self.streaks[source]  # a source not asked this cycle keeps its streak
        for source, why in down.items():
            self.streaks[source] = self.streaks.get(source, 0) + 1
            self.reasons[source] = why
        return [Finding(f"pipeline: source {source} down for {n} cycles in a row (cycle {snap.cycle_id}): "
                        f"{self.reasons[source]}", key=source, title=f"source down: {source}")
                for source, n in sorted(self.streaks.items()) if n >= self.cycles]


class StoreRule:
    name = "store"
    severity = Severity.CRITICAL

    def check(self, snap: StoreProbe) -> list[Finding]:
        if snap.problem is None:
            return []
        return [Finding(f"the store {snap.location} is unreachable: {snap.problem}", title="store unreachable")]


# --- the engine: episodes, cooldowns, the sink -------------------------------------------------------------
@dataclass
class _Episode:
    active: bool = False
    announced: bool = False
    suppressed: bool = False
    last_sent: datetime | None = None


class AlertEngine:
    """Runs the rules that are switched on over snapshots and hands what they find to a `Sink`.

    Not thread-safe: one thread (the run's alert thread, or a test) calls it."""

    def __init__(self, settings: AlertSettings, sink: Sink, source: str):
        self.settings = settings
        self.sink = sink
        self.source = source
        s = settings
        self.bot_rules: list[AlertRule[BotSnapshot]] = [
            r for r in (HaltedRule(), DailyPnlRule(s.daily_pnl_below), ApiErrorsRule(s.api_errors_count,
                        s.api_errors_window), NoFillsRule(s.no_fills_after)) if s.rule(r.name).enabled]
        self.cycle_rules: list[AlertRule[CycleSnapshot]] = [
            r for r in (SourceDownRule(s.source_down_cycles),) if s.rule(r.name).enabled]
        self.store_rules: list[AlertRule[StoreProbe]] = [r for r in (StoreRule(),) if s.rule(r.name).enabled]
        self._episodes: dict[tuple[str, str], _Episode] = {}

    def observe_bot(self, snap: BotSnapshot) -> list[Message]:
        return self._run(self.bot_rules, snap, snap.at)

    def observe_cycle(self, snap: CycleSnapshot) -> list[Message]:
        return self._run(self.cycle_rules, snap, snap.at)

    def observe_store(self, probe: StoreProbe) -> list[Message]:
        return self._run(self.store_rules, probe, probe.at)

    def _run(self, rules: Sequence[AlertRule[S]], snap: S, now: datetime) -> list[Message]:
        """Each rule's findings through its episodes; returns the messages sent (suppressed ones are not)."""
        sent = []
        for rule in rules:
            findings = {f.key: f for f in rule.check(snap)}
            for finding in findings.values():
                message = self._speak(rule, finding, now)
                if message is not None:
                    sent.append(message)
            for (name, key), episode in self._episodes.items():
                if name == rule.name and key not in findings and episode.active:
                    episode.active = False  # re-armed: the next time the condition holds is a new episode
        return sent

    def _speak(self, rule: AlertRule[S], finding: Finding, now: datetime) -> Message | None:
        episode = self._episodes.setdefault((rule.name, finding.key), _Episode())
        if not episode.active:
            episode.active, episode.announced, episode.suppressed = True, False, False
        if episode.announced:
            return None
        message = Message(MessageKind.ALERT, rule.severity, finding.text, self.source, rule=rule.name,
                          title=finding.title)
        cooldown = self.settings.rule(rule.name).cooldown
        if episode.last_sent is not None and now - episode.last_sent < cooldown:
            if not episode.suppressed:
                episode.suppressed = True
                reason = (f"within the {span(cooldown)} cooldown of rule {rule.name} (last sent "
                          f"{episode.last_sent.isoformat()}; sent at {(episode.last_sent + cooldown).isoformat()} "
                          "if it still holds)")
                self.sink.suppressed(message, reason)
            return None
        episode.announced, episode.last_sent = True, now
        self.sink.submit(message)
        return message


def money(amount: Decimal) -> str:
    """Dollars to the cent, signed: -$1.23, $0.40 (half-even, the exact value stays in the store)."""
    cents = amount.quantize(Decimal("0.01"))
    cents = abs(cents) if cents == 0 else cents  # never "-$0.00"
    return f"-${-cents}" if cents < 0 else f"${cents}"


def span(delta: timedelta) -> str:
    """A duration for people: 90 s, 15 min, 2 h, 1 d 3 h."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h" + (f" {rest // 60} min" if rest >= 60 else "")
    days, rest = divmod(seconds, 86_400)
    return f"{days} d" + (f" {rest // 3600} h" if rest >= 3600 else "")
