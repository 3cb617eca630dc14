"""The `[alerts]` table of the bot's (`kalshi auto --config`) or the pipeline's (`kalshi pipeline run --config`)
configuration file: which alert rules are on, their cooldowns and thresholds, and the digests.

```toml
[alerts]
cooldown = "15m"          # every rule's cooldown unless its own table sets one
digest_every = "1h"       # kalshi auto: a digest every hour of exchange time; "0" = none
cycle_digests = true      # kalshi pipeline run: a signal and an execution digest per cycle
actionable_only = false   # ... listing only the actionable signals (nothing sent for a quiet cycle)

[alerts.halted]           # the bot halted (names the rule that halted it)      critical
cooldown = "1m"
[alerts.daily_pnl]        # P&L today (realized net of fees + unrealized) at or below `below`
below = -5                # dollars; default: half of max_daily_loss below zero
[alerts.api_errors]       # at least `count` API errors within `window` (exchange time)
count = 10
window = "5m"
[alerts.no_fills]         # quoting, and no fill for `after` (exchange time)
after = "2h"
[alerts.source_down]      # an outside source (or the cycle itself) down `cycles` cycles in a row
cycles = 3
[alerts.store]            # the store does not answer its check, probed every `check_every` wall seconds
check_every = "1m"        # critical
```

Every table and key is optional; `enabled = false` in a rule's table switches it off.  Durations are a number of
seconds or text like "90s", "15m", "2h", "1d".  Every mistake is a `ConfigError` (exit 3) naming the key.  The
file's other tables belong to the bot or the pipeline; this module reads only `[alerts]`, once, at the start.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from kalshi_trading.errors import ConfigError

RULES = ("halted", "daily_pnl", "api_errors", "no_fills", "source_down", "store")
DEFAULT_COOLDOWN = timedelta(minutes=15)
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
MAX_DURATION = timedelta(days=30)
_TOP_KEYS = ("cooldown", "digest_every", "cycle_digests", "actionable_only") + RULES
_RULE_KEYS = {"halted": (), "daily_pnl": ("below",), "api_errors": ("count", "window"), "no_fills": ("after",),
              "source_down": ("cycles",), "store": ("check_every",)}


@dataclass(frozen=True)
class RuleSettings:
    """One rule: on or off, and the time within which it does not speak twice."""

    enabled: bool = True
    cooldown: timedelta = DEFAULT_COOLDOWN


def _rules_default() -> dict[str, RuleSettings]:
    rules = {name: RuleSettings() for name in RULES}
    rules["halted"] = RuleSettings(cooldown=timedelta(minutes=1))  # a halt needs a person: say it again soon
    return rules


@dataclass(frozen=True)
class AlertSettings:
    """The alert rules and digests of one run (defaults: every rule on)."""

    rules: Mapping[str, RuleSettings] = field(default_factory=_rules_default)
    daily_pnl_below: Decimal | None = None  # None: half of the bot's max_daily_loss below zero
    api_errors_count: int = 10
    api_errors_window: timedelta = timedelta(minutes=5)
    no_fills_after: timedelta = timedelta(hours=2)
    source_down_cycles: int = 3
    store_check_every: timedelta = timedelta(minutes=1)
    digest_every: timedelta | None = timedelta(hours=1)
    cycle_digests: bool = True
    actionable_only: bool = False
    source: str = "<defaults>"

    def rule(self, name: str) -> RuleSettings:
        return self.rules[name]


def parse_duration(value: Any, key: str, *, allow_zero: bool = False) -> timedelta:
    """A number of seconds, or text like "90s", "15m", "2h", "1d" (at most 30 days)."""
    fix = 'write a number of seconds or text like "90s", "15m", "2h" (at most 30 days)'
    if isinstance(value, bool):
        raise ConfigError(f"{value!r} is not a duration", key, fix)
    if isinstance(value, (int, Decimal)):
        seconds = Decimal(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip().lower())):
        seconds = Decimal(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ConfigError(f"{value!r} is not a duration", key, fix)
    if seconds < 0 or seconds > Decimal(MAX_DURATION.total_seconds()) or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{value!r} is out of range", key, fix if not allow_zero else fix + '; "0" = off')
    return timedelta(seconds=float(seconds))


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{value!r} is not true or false", key, "write true or false (no quotes)")
    return value


def _whole(value: Any, key: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value != int(value) \
            or not lo <= value <= hi:
        raise ConfigError(f"{value!r} is not a whole number from {lo} to {hi}", key, f"write a whole number {lo}..{hi}")
    return int(value)


def _dollars(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ConfigError(f"{value!r} is not a dollar amount", key, "write dollars, e.g. -25 or \"-25.00\"")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigError(f"{value!r} is not a dollar amount", key, "write dollars, e.g. -25 or \"-25.00\"") \
            from None
    if not amount.is_finite() or abs(amount) > 10_000_000 or amount != amount.quantize(Decimal("0.01")):
        raise ConfigError(f"{value!r} is not a dollar amount to the cent", key, "write dollars, e.g. -25.50")
    return amount


def _unknown(key: str, allowed: tuple[str, ...], where: str) -> ConfigError:
    import difflib

    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(allowed) or '(no keys)'}"
    return ConfigError(f"unknown key {key!r}", where, f"remove it or rename it; {hint}")


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{value!r} is not a table", key, f"write it as a [{key}] table")
    return value


def build_settings(table: Mapping[str, Any], source: str = "<config>") -> AlertSettings:
    """Validate an `[alerts]` table (numbers already Decimal or int)."""
    table = _table(table, "alerts")
    for key in table:
        if key not in _TOP_KEYS:
            raise _unknown(str(key), _TOP_KEYS, f"alerts.{key}")
    cooldown = parse_duration(table["cooldown"], "alerts.cooldown", allow_zero=True) if "cooldown" in table \
        else None
    rules = _rules_default()
    changes: dict[str, Any] = {"source": source}
    for name in RULES:
        where = f"alerts.{name}"
        values = _table(table.get(name, {}), where)
        rule = rules[name] if cooldown is None else replace(rules[name], cooldown=cooldown)
        for key, value in values.items():
            if key == "enabled":
                rule = replace(rule, enabled=_bool(value, f"{where}.enabled"))
            elif key == "cooldown":
                rule = replace(rule, cooldown=parse_duration(value, f"{where}.cooldown", allow_zero=True))
            elif key in _RULE_KEYS[name]:
                changes.update(_rule_value(name, key, value, f"{where}.{key}"))
            else:
                raise _unknown(str(key), ("enabled", "cooldown") + _RULE_KEYS[name], f"{where}.{key}")
        rules[name] = rule
    if "digest_every" in table:
        every = parse_duration(table["digest_every"], "alerts.digest_every", allow_zero=True)
        changes["digest_every"] = every if every > timedelta(0) else None
    for key in ("cycle_digests", "actionable_only"):
        if key in table:
            changes[key] = _bool(table[key], f"alerts.{key}")
    return AlertSettings(rules=rules, **changes)


def _rule_value(rule: str, key: str, value: Any, where: str) -> dict[str, Any]:
    if rule == "daily_pnl":
        return {"daily_pnl_below": _dollars(value, where)}
    if rule == "api_errors":
        return {"api_errors_count": _whole(value, where, 1, 100_000)} if key == "count" \
            else {"api_errors_window": parse_duration(value, where)}
    if rule == "no_fills":
        return {"no_fills_after": parse_duration(value, where)}
    if rule == "source_down":
        return {"source_down_cycles": _whole(value, where, 1, 10_000)}
    return {"store_check_every": parse_duration(value, where)}


def load_settings(path: Path | None) -> AlertSettings:
    """The `[alerts]` table of the configuration file at `path` (TOML or JSON by extension); the defaults without a
    file or without the table.  The file itself was validated by its owner (the bot's or the pipeline's parser)."""
    if path is None:
        return AlertSettings()
    suffix = path.suffix.lower()
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text, parse_float=Decimal) if suffix == ".toml" else json.loads(text,
                                                                                             parse_float=Decimal)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read its [alerts] table: {exc}", "--config",
                          "check the file (its own parser says more)") from None
    if not isinstance(data, Mapping) or "alerts" not in data:
        return AlertSettings(source=str(path))
    try:
        return build_settings(data["alerts"], str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
