"""What runs beside a bot or a pipeline: the notifier and the Telegram control channel, wired by one call each from
the CLI (`attach_bot` for `kalshi auto`, `attach_pipeline` for `kalshi pipeline run`) and closed when the command
ends (through the `on_close` the CLI hands in: before the client and the simulator stop, so the last messages are
sent).  With no channel configured both return an `Ops` that does nothing.

The bot's `on_alert(level, message)` callback (halts, risk state changes, configuration reloads, lost leases)
keeps doing what it did (the CLI's red line on stderr) and also reaches the notifier as an ALERT, but for a halt:
that is the `halted` alert rule's (`ops/alerts.py`, run by `ops/runtime.py`), CRITICAL, naming the rule that
halted the bot, under the rule's cooldown, so it is said once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from kalshi_trading.ops.control.commands import Commands, ControlTarget
from kalshi_trading.ops.control.poller import TelegramControl
from kalshi_trading.ops.notify.dispatch import Dispatcher, build_dispatcher
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.store.alerts import MessageKind, Severity

if TYPE_CHECKING:
    from kalshi_trading.api.client import KalshiClient
    from kalshi_trading.auto.runner import BotRun
    from kalshi_trading.config import Settings
    from kalshi_trading.signals.modes import RunModes
    from kalshi_trading.signals.pipeline import Pipeline

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 10.0
# the loop's alert levels -> (severity, rule, title)
LEVELS: dict[str, tuple[Severity, str, str]] = {
    "halt": (Severity.CRITICAL, "halted", "HALTED"),
    "risk": (Severity.WARNING, "risk_state", "risk state changed"),
    "lease": (Severity.WARNING, "lease", "market dropped"),
    "config": (Severity.INFO, "config", "configuration"),
}


def alert_message(level: str, text: str, source: str) -> Message:
    """The loop's `on_alert(level, text)` as an ALERT message."""
    severity, rule, title = LEVELS.get(level, (Severity.WARNING, level or "alert", level or "alert"))
    return Message(MessageKind.ALERT, severity, text, source, rule=rule, title=f"{source}: {title}")


@dataclass
class Ops:
    """The notifier (None: no channel configured) and the control channel (None: commands off)."""

    sink: Dispatcher | None = None
    control: TelegramControl | None = None

    def alert_hook(self, previous: Callable[[str, str], None], source: str) -> Callable[[str, str], None]:
        """`previous` (e.g. the CLI's stderr line), then the notifier."""
        sink = self.sink
        if sink is None:
            return previous

        def on_alert(level: str, text: str) -> None:
            previous(level, text)
            if level != "halt":  # a halt is the `halted` alert rule's (ops/alerts.py): named, under its cooldown
                sink.submit(alert_message(level, text, source))
        return on_alert

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the control channel, then send what is waiting (within `timeout`)."""
        if self.control is not None:
            self.control.stop()
        if self.sink is not None:
            self.sink.close(timeout)


def start_ops(settings: Settings, target: Callable[[], ControlTarget]) -> Ops:
    """The notifier over the configured channels and, when Telegram commands are on, the control channel."""
    sink = build_dispatcher(settings)
    if sink is None:
        return Ops()
    notify = settings.notify
    control = None
    if notify.telegram and notify.telegram_commands:
        from kalshi_trading.ops.notify.telegram import TelegramBot

        assert notify.telegram_token is not None and notify.chat is not None, "Telegram is configured"
        bot = TelegramBot(notify.telegram_token, notify.telegram_api_base)
        control = TelegramControl(bot, notify.chat, Commands(target()), sink).start()
        log.info("telegram commands: listening to chat %s", notify.telegram_chat_id)
    return Ops(sink, control)


def attach_bot(run: BotRun, settings: Settings, *, bot: str, on_close: Callable[[Callable[[], None]], None]) -> Ops:
    """Wire the notifier and the control channel around `run` (before `run.prepare()`): its alerts reach the
    notifier, the commands act on it; closed through `on_close` when the command ends."""
    from kalshi_trading.ops.control.targets import BotTarget

    ops = start_ops(settings, lambda: BotTarget(run, bot=bot, env=settings.env))
    run.setup.on_alert = ops.alert_hook(run.setup.on_alert, bot)
    on_close(ops.close)
    return ops


def attach_pipeline(pipeline: Pipeline, settings: Settings, modes: RunModes, client: KalshiClient, *,
                    on_close: Callable[[Callable[[], None]], None]) -> Ops:
    """Wire the notifier and the control channel around a pipeline about to run; closed through `on_close`."""
    from kalshi_trading.ops.control.targets import PipelineTarget
    from kalshi_trading.store import open_store

    closers: list[Callable[[], None]] = []

    def target() -> ControlTarget:
        store = open_store(settings.store_url_text, env=settings.env)  # the control thread's own connections
        closers.append(store.close)
        return PipelineTarget(pipeline, modes, client, store.signals(),
                              has_prod_keys=bool(settings.api_key_id and settings.private_key_path))

    ops = start_ops(settings, target)

    def close() -> None:
        ops.close()
        for closer in closers:
            closer()
    on_close(close)
    return ops
