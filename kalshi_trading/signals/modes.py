"""Engine modes (where orders go) and bot modes (what the pipeline may do), and the gate into production.

Engine modes: `simulate` records attempts only (fills modelled against the book at that moment); `sim` and `demo`
send real orders through the executor to that exchange; `live` sends them to production.

Bot modes: `demo_safe` (the default: the simulator or demo, auto-orders on), `live_safe` (production data, no
orders: signals and paper attempts only), `live_auto` (production auto-orders).  Entering `live_auto` needs an
explicit confirmation, is logged, and is refused without production keys.

Key bundles never cross: each environment's settings carry that environment's key (`config.load_settings` refuses a
production URL outside `prod`), and the modes below only pair paper modes with sim/demo settings and `live` with prod
settings, so a paper run never signs with production keys and a live run never with demo ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Mapping

from kalshi_trading.errors import ConfigError, UsageError

log = logging.getLogger(__name__)

CONFIRM_VARIABLE = "KALSHI_CONFIRM_LIVE_AUTO"
CONFIRM_FLAG = "--confirm-live-auto"
CONFIRM_WORD = "live"


class EngineMode(StrEnum):
    SIMULATE = "simulate"
    SIM = "sim"
    DEMO = "demo"
    LIVE = "live"

    @property
    def sends_orders(self) -> bool:
        return self is not EngineMode.SIMULATE


class BotMode(StrEnum):
    DEMO_SAFE = "demo_safe"
    LIVE_SAFE = "live_safe"
    LIVE_AUTO = "live_auto"


# which environments and engine modes each bot mode allows (the first engine mode is its default)
_ALLOWED: dict[BotMode, tuple[frozenset[str], tuple[EngineMode, ...]]] = {
    BotMode.DEMO_SAFE: (frozenset({"sim", "demo"}), (EngineMode.SIMULATE, EngineMode.SIM, EngineMode.DEMO)),
    BotMode.LIVE_SAFE: (frozenset({"prod"}), (EngineMode.SIMULATE,)),
    BotMode.LIVE_AUTO: (frozenset({"prod"}), (EngineMode.LIVE, EngineMode.SIMULATE)),
}
_ENV_OF_MODE = {EngineMode.SIM: "sim", EngineMode.DEMO: "demo", EngineMode.LIVE: "prod"}


def parse_engine_mode(text: str, variable: str = "--mode") -> EngineMode:
    try:
        return EngineMode(text.strip().lower())
    except ValueError:
        raise UsageError(f"{variable} must be one of {', '.join(m.value for m in EngineMode)}, not {text!r}") \
            from None


def parse_bot_mode(text: str, variable: str = "--bot-mode") -> BotMode:
    try:
        return BotMode(text.strip().lower())
    except ValueError:
        raise UsageError(f"{variable} must be one of {', '.join(m.value for m in BotMode)}, not {text!r}") \
            from None


@dataclass(frozen=True)
class RunModes:
    bot: BotMode
    engine: EngineMode
    env: str


def resolve_modes(bot: BotMode, engine: EngineMode | None, env: str) -> RunModes:
    """The modes of one run, checked against the environment of the settings (whose keys it will use)."""
    envs, engines = _ALLOWED[bot]
    if env not in envs:
        need = " or ".join(sorted(envs))
        raise ConfigError(f"bot mode {bot.value} runs on {need}, but KALSHI_ENV is {env}", "KALSHI_ENV",
                          f"set KALSHI_ENV={sorted(envs)[0]} (with that environment's keys) or choose another "
                          "--bot-mode")
    engine = engine or engines[0]
    if engine not in engines:
        raise ConfigError(f"engine mode {engine.value} is not allowed in bot mode {bot.value}", "--mode",
                          f"use one of {', '.join(m.value for m in engines)}")
    wanted = _ENV_OF_MODE.get(engine)
    if wanted is not None and wanted != env:
        raise ConfigError(f"engine mode {engine.value} sends orders to {wanted}, but KALSHI_ENV is {env}", "--mode",
                          f"set KALSHI_ENV={wanted} with its own keys, or use --mode simulate")
    return RunModes(bot, engine, env)


def confirm_live_auto(modes: RunModes, *, has_prod_keys: bool, limits: str, flag: bool,
                      environ: Mapping[str, str], ask: Callable[[str], str] | None) -> str:
    """Gate `live_auto`: production keys, then the flag and the variable together, or an interactive answer.

    Returns how it was confirmed (logged); raises ConfigError without keys and UsageError without confirmation."""
    if modes.bot is not BotMode.LIVE_AUTO:
        return "not needed"
    if not has_prod_keys:
        raise ConfigError("live_auto needs production keys", "KALSHI_API_KEY_ID",
                          "set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH for production")
    variable = environ.get(CONFIRM_VARIABLE, "").strip().lower()
    if flag and variable in ("1", "yes", "true"):
        how = f"{CONFIRM_FLAG} and {CONFIRM_VARIABLE}"
    elif flag or variable:
        missing = CONFIRM_VARIABLE + "=yes" if flag else CONFIRM_FLAG
        raise UsageError(f"live_auto needs both {CONFIRM_FLAG} and {CONFIRM_VARIABLE}=yes; {missing} is missing")
    elif ask is not None:
        answer = ask(f"Enter live_auto: automatic orders with REAL MONEY on PROD ({limits}). "
                     f"Type {CONFIRM_WORD!r} to confirm")
        if answer.strip().lower() != CONFIRM_WORD:
            raise UsageError("live_auto was not confirmed; nothing was started")
        how = "interactive confirmation"
    else:
        raise UsageError(f"live_auto needs a confirmation: answer the prompt on a terminal, or pass {CONFIRM_FLAG} "
                         f"with {CONFIRM_VARIABLE}=yes")
    log.warning("entering live_auto on PROD (%s), confirmed by %s", limits, how)
    return how
