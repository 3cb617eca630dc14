"""The control protocol (`commands.ControlTarget`) for a running bot and for a running pipeline.

The bot (`kalshi auto`): every read and every change runs on the bot's own loop thread (`BotLoop.request`, served
in its housekeeping, within a second), so nothing here touches the loop's state from the polling thread.  /halt is
the risk engine's halt (every order of the bot cancelled, the bot HALTED until /resume or `kalshi auto resume`);
/resume its resume.  A bot's mode follows its environment for the run (sim and demo: demo_safe; prod:
live_auto), so /mode shows it and a change is refused with the reason.

The pipeline (`kalshi pipeline run`): /status reads the last cycle from the store (a store instance of its own);
positions and orders come from the exchange; /halt halts the engine's risk engine (no order is placed until
/resume; the pipeline's orders are immediate-or-cancel, so none rests); /mode switches between the modes the
environment allows (prod: live_safe <-> live_auto) when the run can place real orders at all (started in a mode
that sends them); otherwise it says to restart.
"""

from __future__ import annotations

import logging
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from kalshi_trading.auto.types import RiskState
from kalshi_trading.errors import ApiError, ConfigError, UsageError
from kalshi_trading.ops.control.commands import NotNow
from kalshi_trading.signals.modes import BotMode, EngineMode, RunModes, resolve_modes

if TYPE_CHECKING:
    from kalshi_trading.api.client import KalshiClient
    from kalshi_trading.auto.loop import BotLoop
    from kalshi_trading.auto.runner import BotRun
    from kalshi_trading.signals.pipeline import Pipeline
    from kalshi_trading.store.signals import SignalStore

log = logging.getLogger(__name__)

ANSWER_S = 10.0


def _num(value: Any) -> str:
    """A Decimal without trailing zeros (0.4100 -> 0.41, 2.00 -> 2, 10 stays 10); anything else as text."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "-"


def bot_mode_of(env: str) -> BotMode:
    """A bot's mode for its environment: production trades for real (live_auto); sim and demo are demo_safe."""
    return BotMode.LIVE_AUTO if env == "prod" else BotMode.DEMO_SAFE


class BotTarget:
    """The control protocol for a `BotRun` (its loop exists once `prepare()` has run)."""

    def __init__(self, run: BotRun, *, bot: str, env: str, answer_s: float = ANSWER_S):
        self.run = run
        self.source = bot
        self.env = env
        self.answer_s = answer_s

    def _ask(self, fn: Callable[[BotLoop], str]) -> str:
        loop = self.run.loop
        if loop is None:
            raise NotNow("the bot is still starting (recovering its state); try again in a moment")
        future = loop.request(fn)
        try:
            return future.result(self.answer_s)
        except FutureTimeout:
            future.cancel()
            raise NotNow(f"the bot's loop did not answer within {self.answer_s:g} s (busy, or stopping)") from None

    def _head(self) -> str:
        return f"bot {self.source} on {self.env.upper()}, mode {bot_mode_of(self.env).value}"

    def status(self) -> str:
        def read(loop: BotLoop) -> str:
            marks = loop.marks()
            last = loop.metrics.samples[-1][0] if loop.metrics.samples else None
            net = loop.ledger.realized() + loop.ledger.unrealized(marks) - loop.ledger.fees()
            closed = f" (closed: {', '.join(sorted(loop.closed))})" if loop.closed else ""
            return "\n".join([
                f"{self._head()}, strategy {self.run.setup.strategy.name}",
                f"risk {loop.risk.state.value.upper()}: {loop.risk.reason} (since {_when(loop.risk.since)})",
                f"markets: {', '.join(loop.tickers) or '-'}{closed}",
                f"last pass: {_when(last)} ({loop.metrics.timer_passes} passes, {loop.metrics.fills} fills, "
                f"{len(loop.ledger.orders)} working orders)",
                f"net P&L {net:+.4f}"])
        return self._ask(read)

    def positions(self) -> str:
        def read(loop: BotLoop) -> str:
            marks = loop.marks()
            rows = [f"{t}: {_num(p)} (mark {_num(marks.get(t, '-'))})"
                    for t, p in sorted(loop.ledger.positions().items()) if p]
            return "\n".join(rows) or "no positions"
        return self._ask(read)

    def pnl(self) -> str:
        def read(loop: BotLoop) -> str:
            ledger, marks = loop.ledger, loop.marks()
            realized, fees, unreal = ledger.realized(), ledger.fees(), ledger.unrealized(marks)
            return (f"realized {realized:+.4f}, unrealized {unreal:+.4f}, fees {fees:.4f}, net "
                    f"{realized + unreal - fees:+.4f}; today (net of fees) {ledger.realized_today:+.4f}")
        return self._ask(read)

    def orders(self) -> str:
        def read(loop: BotLoop) -> str:
            rows = [f"{o.ticker} {o.book_side.value} {_num(o.yes_price)} x {_num(o.remaining)}"
                    for o in sorted(loop.ledger.orders.values(), key=lambda o: (o.ticker, o.book_side.value))]
            return "\n".join(rows) or "no working orders"
        return self._ask(read)

    def mode(self) -> str:
        return f"{self._head()} (a bot's mode follows its environment)"

    def set_mode(self, mode: BotMode, who: str) -> str:
        current = bot_mode_of(self.env)
        if mode is current:
            return f"already {mode.value}"
        resolve_modes(mode, None, self.env)  # a mode this environment does not allow: ConfigError, with the fix
        raise UsageError(f"a running bot's mode follows its environment ({self.env}): restart it with the "
                         f"settings of {mode.value}; /halt stops its orders now")

    def halt(self, who: str) -> str:
        reason = f"halted from Telegram by {who}"

        def act(loop: BotLoop) -> str:
            before = loop.metrics.cancelled
            change = loop.risk.halt(reason)
            if change is not None:
                loop.on_state_change(change)  # cancels every order, saves the state, alerts
            else:
                loop.cancel_all("halt from Telegram (already halted)")
            n = loop.metrics.cancelled - before
            return (f"HALTED: {n} order(s) cancelled. The bot stays halted until /resume (or kalshi auto resume).")
        log.warning("%s: halting bot %s", reason, self.source)
        return self._ask(act)

    def resume(self, who: str) -> str:
        def act(loop: BotLoop) -> str:
            old = loop.risk.state
            if old is RiskState.ACTIVE:
                return "not halted: the bot is trading (ACTIVE)"
            change = loop.risk.resume(f"resumed from Telegram by {who}")
            if change is not None:
                loop.on_state_change(change)
            return f"risk state {old.value} -> {loop.risk.state.value}"
        return self._ask(act)


class PipelineTarget:
    """The control protocol for a running `Pipeline` (see the module docstring)."""

    source = "pipeline"

    def __init__(self, pipeline: Pipeline, modes: RunModes, client: KalshiClient, store: SignalStore, *,
                 has_prod_keys: bool):
        self.pipeline = pipeline
        self.modes = modes
        self.client = client
        self.store = store
        self.has_prod_keys = has_prod_keys

    def _head(self) -> str:
        engine = self.pipeline.engine
        return (f"pipeline on {self.modes.env.upper()}: bot mode {self.modes.bot.value}, engine {engine.mode.value}, "
                f"risk {engine.risk.state.value.upper()}")

    def status(self) -> str:
        cycles = self.store.cycles(limit=1)
        if not cycles:
            return self._head() + "\nno cycle recorded yet"
        c = cycles[0]
        return "\n".join([self._head(), f"last cycle {c.id}: {c.status.value}, started {_when(c.started)}, "
                                         f"{c.markets} markets, {c.signals} signals, {c.attempts} attempts"
                          + (f"; error: {c.error}" if c.error else "")])

    def positions(self) -> str:
        try:
            held = [p for p in self.client.get_positions().markets if p.position]
        except ApiError as exc:
            raise NotNow(f"the exchange did not answer: {exc}") from None
        return "\n".join(f"{p.ticker}: {_num(p.position)} (exposure {_num(p.market_exposure)})"
                         for p in held) or "no positions"

    def pnl(self) -> str:
        try:
            markets = self.client.get_positions().markets
        except ApiError as exc:
            raise NotNow(f"the exchange did not answer: {exc}") from None
        realized = sum((p.realized_pnl for p in markets), Decimal(0))
        fees = sum((p.fees_paid for p in markets), Decimal(0))
        return (f"realized {realized:+.4f}, fees {fees:.4f} (the exchange's figures for the account); "
                "paper results: kalshi paper report")

    def orders(self) -> str:
        try:
            resting = list(self.client.iter_orders(status="resting"))
        except ApiError as exc:
            raise NotNow(f"the exchange did not answer: {exc}") from None
        return "\n".join(f"{o.ticker} {o.book_side.value} {_num(o.yes_price)} x {_num(o.remaining_count)}"
                         for o in resting) or "no resting orders"

    def mode(self) -> str:
        return self._head()

    def set_mode(self, mode: BotMode, who: str) -> str:
        engine = self.pipeline.engine
        if mode is self.modes.bot:
            return f"already {mode.value}"
        wanted = resolve_modes(mode, EngineMode.LIVE if mode is BotMode.LIVE_AUTO else None, self.modes.env)
        if mode is BotMode.LIVE_AUTO and not self.has_prod_keys:
            raise ConfigError("live_auto needs production keys", "KALSHI_API_KEY_ID")
        if wanted.engine.sends_orders and engine.placer is None:
            raise UsageError(f"this run was started without real orders (engine {engine.mode.value}); restart it "
                             f"with --bot-mode {mode.value}")
        old = self.modes
        engine.mode = wanted.engine  # read by the engine at each attempt
        self.modes = wanted
        log.warning("pipeline mode %s -> %s (engine %s), changed from Telegram by %s", old.bot.value,
                    wanted.bot.value, wanted.engine.value, who)
        return f"mode {old.bot.value} -> {wanted.bot.value} (engine {wanted.engine.value})"

    def halt(self, who: str) -> str:
        change = self.pipeline.engine.risk.halt(f"halted from Telegram by {who}")
        log.warning("pipeline halted from Telegram by %s", who)
        state = "HALTED" if change is not None else "already HALTED"
        return (f"{state}: the pipeline places no more orders until /resume (its orders are immediate-or-cancel: "
                "none rests); signals and paper records go on")

    def resume(self, who: str) -> str:
        risk = self.pipeline.engine.risk
        if risk.state is RiskState.ACTIVE:
            return "not halted: the pipeline is trading (ACTIVE)"
        old = risk.state
        risk.resume(f"resumed from Telegram by {who}")
        return f"risk state {old.value} -> {risk.state.value}"
