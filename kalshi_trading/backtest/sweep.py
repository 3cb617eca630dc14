"""Parameter sweeps: `--sweep key=a,b,c` (several: their grid), every combination checked before any run starts,
then the runs in parallel processes.

Keys are the bot configuration's (`auto/botconfig.py`): a global key (`max_orders_per_minute`, `loop_interval_ms`,
`max_daily_loss`, ...) sets that key; a market key (`min_spread`, `quote_size`, `max_inventory_yes`, ...) is set in
`[defaults]` and in every `[markets."T"]` table, so it applies to every market.  Two more: `latency` (`50ms`,
`0.2s`, `500us`; a bare number is milliseconds) and `queue` (`conservative`, `probabilistic`, `touch`).  Each
combination's configuration is validated by `BotConfig.from_mapping`, the same check a configuration file gets;
the first bad value stops everything with a `UsageError` (exit 2) naming the key and the value.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields, replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kalshi_trading.auto.botconfig import BotConfig, MarketConfig
from kalshi_trading.backtest.engine import BacktestSpec, run_backtest, strategy_for
from kalshi_trading.backtest.markets import default_info
from kalshi_trading.backtest.matching import QueueModel
from kalshi_trading.errors import ConfigError, KalshiError, UsageError

GLOBAL_KEYS = ("strategy", "trading_enabled", "max_total_exposure", "max_daily_loss", "loop_interval_ms",
               "max_orders_per_minute")
MARKET_KEYS = tuple(f.name for f in fields(MarketConfig))
RUN_KEYS = ("latency", "queue")
KEYS = GLOBAL_KEYS + MARKET_KEYS + RUN_KEYS
MAX_RUNS = 1000
MAX_LATENCY = timedelta(seconds=60)
_LATENCY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(us|ms|s)?")
_UNIT_US = {"us": 1, "ms": 1000, "s": 1_000_000, None: 1000}


def parse_latency(text: str) -> timedelta:
    """`50ms`, `0.2s`, `500us`, or a bare number of milliseconds; 0 to 60 s, to the microsecond."""
    m = _LATENCY.fullmatch(str(text).strip().lower())
    if m is None:
        raise UsageError(f"latency {text!r} not understood: write e.g. 50ms, 0.2s or 500us (0 to 60 s)")
    micros = Decimal(m.group(1)) * _UNIT_US[m.group(2)]
    if micros != micros.to_integral_value() or micros > MAX_LATENCY // timedelta(microseconds=1):
        raise UsageError(f"latency {text!r} must be whole microseconds from 0 to 60 s")
    return timedelta(microseconds=int(micros))


def parse_queue(text: str) -> QueueModel:
    try:
        return QueueModel(str(text).strip().lower())
    except ValueError:
        raise UsageError(f"queue model {text!r} is not one of {', '.join(q.value for q in QueueModel)}") from None


def config_document(config: BotConfig) -> dict[str, Any]:
    """A configuration as the plain mapping a file would hold (what `BotConfig.from_mapping` reads back)."""
    def market(m: MarketConfig) -> dict[str, Any]:
        return {f.name: getattr(m, f.name) for f in fields(MarketConfig)}

    return {"strategy": config.strategy, "trading_enabled": config.trading_enabled,
            "max_total_exposure": config.max_total_exposure, "max_daily_loss": config.max_daily_loss,
            "loop_interval_ms": config.loop_interval_ms, "max_orders_per_minute": config.max_orders_per_minute,
            "defaults": market(config.defaults), "markets": {t: market(m) for t, m in config.markets.items()}}


def parse_sweeps(items: list[str]) -> list[tuple[str, list[str]]]:
    """`key=a,b,c` items as (key, values), each key known and named once, each list non-empty."""
    out: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--sweep {item!r}: write key=value1,value2,... (e.g. min_spread=0.02,0.03)")
        if key not in KEYS:
            raise UsageError(f"--sweep {key!r} is not a configuration key, latency or queue; use one of "
                             f"{', '.join(KEYS)}")
        if any(key == k for k, _ in out):
            raise UsageError(f"--sweep {key} is given twice; list all its values once: {key}=a,b,c")
        parts = [v.strip() for v in text.split(",")]
        if not text.strip() or any(not v for v in parts):
            raise UsageError(f"--sweep {item!r}: an empty value; write {key}=value1,value2,...")
        out.append((key, parts))
    runs = 1
    for _, values in out:
        runs *= len(values)
    if runs > MAX_RUNS:
        raise UsageError(f"--sweep asks for {runs} runs; at most {MAX_RUNS}")
    return out


def _typed(text: str) -> Any:
    """A command-line value as a configuration file would hold it: true/false, a whole number, a decimal, a name."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    try:
        return Decimal(text) if re.fullmatch(r"[0-9]*\.[0-9]+|[0-9]+\.", text) else text
    except InvalidOperation:
        return text


def expand(base: BacktestSpec, sweeps: list[tuple[str, list[str]]]) -> list[BacktestSpec]:
    """Every combination as a spec, each checked (configuration, latency, queue, strategy) before any runs."""
    specs = []
    keys = [k for k, _ in sweeps]
    for combo in itertools.product(*(values for _, values in sweeps)):
        spec = base
        doc: dict[str, Any] = {**base.config, "defaults": dict(base.config.get("defaults", {})),
                               "markets": {t: dict(m) for t, m in base.config.get("markets", {}).items()}}
        for key, value in zip(keys, combo, strict=True):
            try:
                if key == "latency":
                    spec = replace(spec, latency=parse_latency(value))
                elif key == "queue":
                    spec = replace(spec, queue=parse_queue(value))
                elif key in MARKET_KEYS:
                    doc["defaults"][key] = _typed(value)
                    for table in doc["markets"].values():
                        table[key] = _typed(value)
                else:
                    doc[key] = _typed(value)
                    if key == "strategy":
                        spec = replace(spec, strategy=value)
            except UsageError as exc:
                raise UsageError(f"--sweep {key}={value}: {exc}") from None
        try:
            BotConfig.from_mapping(doc, source="--sweep")
        except ConfigError as exc:
            raise UsageError(f"--sweep {_blame(keys, combo, str(exc))}: {exc}") from None
        spec = replace(spec, config=doc, label=dict(zip(keys, combo, strict=True)))
        strategy_for(spec, {t: spec.markets.get(t) or default_info(t) for t in spec.tickers})
        specs.append(spec)
    return specs


def _blame(keys: list[str], values: tuple[str, ...], message: str) -> str:
    """The `key=value` the configuration check complained about (all of them when it names none)."""
    named = [f"{k}={v}" for k, v in zip(keys, values, strict=True) if k in message]
    return named[0] if named else ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))


def _one(spec: BacktestSpec) -> dict[str, Any]:
    """One run in a worker process: its report, or the error it stopped with (message and kind)."""
    from kalshi_trading.backtest.report import build_report

    try:
        return build_report(run_backtest(spec))
    except KalshiError as exc:
        return {"error": str(exc), "usage": isinstance(exc, UsageError)}


def run_sweep(specs: list[BacktestSpec], workers: int | None = None) -> list[dict[str, Any]]:
    """The runs in parallel processes (min(cores, runs) of them), their reports in the order of `specs`."""
    n = workers or min(os.cpu_count() or 1, len(specs))
    if n <= 1 or len(specs) == 1:
        reports = [_one(spec) for spec in specs]
    else:
        # spawned workers: a fork would copy whatever threads the parent runs (a test's simulator) mid-lock
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
            reports = list(pool.map(_one, specs))
    for spec, report in zip(specs, reports, strict=True):
        if "error" in report:
            where = ", ".join(f"{k}={v}" for k, v in spec.label.items())
            message = f"the run with {where} stopped: {report['error']}"
            raise UsageError(message) if report["usage"] else ConfigError(message)
    return reports
