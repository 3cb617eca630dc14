"""`kalshi notify test` (a test message to each configured channel) and `kalshi alerts` (the stored alert events).

Thin: the channels and the alert store do the work (`ops/notify/`, `store.alerts()`); this renders.
"""

from __future__ import annotations

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.render import echo, emit_json, env_badge, iso, style, table
from kalshi_trading.config import Settings

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table.")
NOTIFY_HELP = """Notifications: send a test message to each configured channel.

Channels are configured in .env: KALSHI_TELEGRAM_BOT_TOKEN with KALSHI_TELEGRAM_CHAT_ID (and
KALSHI_TELEGRAM_API_BASE for a stand-in such as the simulator's stub), KALSHI_WEBHOOK_URL (with
KALSHI_WEBHOOK_SECRET to sign each POST).  `kalshi auto` and `kalshi pipeline run` send through them.

Example:  kalshi notify test
"""

notify_app = typer.Typer(help=NOTIFY_HELP, no_args_is_help=True)


def notify_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """`kalshi config check`'s lines for the channels, secrets masked (the token's secret part, the webhook's path,
    the signing secret never shown)."""
    from kalshi_trading.ops.notify.telegram import mask_token

    notify = settings.notify
    rows = []
    if notify.telegram and notify.telegram_token:
        commands = "on" if notify.telegram_commands else "off"
        rows.append(("telegram", True, f"bot {mask_token(notify.telegram_token)} to chat {notify.telegram_chat_id} "
                                       f"via {notify.telegram_api_base}; commands {commands}"))
    if notify.webhook:
        signed = "signed (HMAC-SHA256)" if notify.webhook_secret else "not signed"
        rows.append(("webhook", True, f"{notify.shown_webhook}, {signed}"))
    if not rows:
        rows.append(("notifications", True, "none configured (KALSHI_TELEGRAM_BOT_TOKEN with "
                                            "KALSHI_TELEGRAM_CHAT_ID, or KALSHI_WEBHOOK_URL)"))
    return rows


@notify_app.command("test")
def notify_test(ctx: typer.Context, json_output: bool = JSON_OPTION) -> None:
    """Send a test message to each configured channel (Telegram, webhook) and report each one.

    Each outcome is recorded in the store's alert events (`kalshi alerts`).  Exit 3 when a channel refuses the
    configuration (a wrong token, a chat that does not exist, a webhook answering 401/403/404), 6 when one cannot be
    reached (after its retries), 4 when one refuses the message itself.

    Example:  kalshi notify test
    Example:  kalshi notify test --json
    """
    from datetime import datetime, timezone

    from kalshi_trading.errors import ConfigError, RejectedError, StorageError, TransientError
    from kalshi_trading.ops.notify.channel import Failure, Limits
    from kalshi_trading.ops.notify.dispatch import channels_for
    from kalshi_trading.ops.notify.message import Message
    from kalshi_trading.store.alerts import AlertEvent, DeliveryStatus, MessageKind, Severity

    app_ctx = ctx.find_root().obj
    settings = app_ctx.settings
    channels = channels_for(settings, Limits(attempts=3, deadline=20.0))
    if not channels:
        raise ConfigError("no notification channel is configured", "KALSHI_TELEGRAM_BOT_TOKEN",
                          "set KALSHI_TELEGRAM_BOT_TOKEN and KALSHI_TELEGRAM_CHAT_ID, or KALSHI_WEBHOOK_URL")
    now = datetime.now(timezone.utc)
    message = Message(MessageKind.ALERT, Severity.INFO, f"A test message from kalshi-trading ({settings.env_label}) "
                      f"at {now:%Y-%m-%d %H:%M:%S} UTC: this channel works.", "manual", rule="test",
                      title="kalshi notify test")
    results = []
    for channel in channels:
        try:
            delivery = channel.send(message)
        finally:
            channel.close()
        results.append((channel.name, delivery))
    try:
        alerts = app_ctx.store.alerts()
        for name, delivery in results:
            alerts.record(AlertEvent(at=now, source="manual", kind=message.kind, severity=message.severity,
                                     channel=name, status=DeliveryStatus.SENT if delivery.ok else DeliveryStatus.FAILED,
                                     text=f"{message.title}\n{message.text}", rule="test", reason=delivery.reason))
    except StorageError as exc:
        echo(style(f"warning: the outcome was not recorded: {exc}", fg="yellow", err=True), err=True)
    if json_output:
        emit_json({"environment": settings.env, "channels": [
            {"channel": name, "ok": d.ok, "failure": d.failure.value if d.failure else None, "reason": d.reason}
            for name, d in results]})
    else:
        echo(f"{env_badge(settings.env_label)} notification test")
        echo(table([(name, style("sent", fg="green") if d.ok else style("FAILED", fg="red"), d.reason or "-")
                    for name, d in results], ["channel", "result", "detail"]))
    failures = {d.failure for _, d in results if not d.ok}
    failed = "; ".join(f"{name}: {d.reason}" for name, d in results if not d.ok)
    if Failure.CONFIG in failures:
        raise ConfigError(f"a channel refused the configuration: {failed}", fix="check the token, chat id or URL")
    if Failure.UNREACHABLE in failures:
        raise TransientError(f"a channel could not be reached: {failed}")
    if Failure.REFUSED in failures:
        raise RejectedError(f"a channel refused the test message: {failed}")


def alerts_cmd(ctx: typer.Context,
               limit: int = typer.Option(20, "--limit", "-n", parser=ranges.whole(*ranges.LINES),
                                         help="The newest N events (1 to 100000)."),
               json_output: bool = JSON_OPTION) -> None:
    """The alert events: every message the notifiers sent, failed, dropped or held back.

    One line per message and channel, oldest first: when, who spoke (a bot's name, pipeline, manual), what kind,
    how severe, the channel, what became of it (sent, failed, dropped, suppressed) and why.

    Example:  kalshi alerts
    Example:  kalshi alerts --limit 50 --json
    """
    app_ctx = ctx.find_root().obj
    events = app_ctx.store.alerts().events(limit=limit)
    env = app_ctx.settings.env_label
    if json_output:
        emit_json({"environment": env.lower(), "events": events})
        return
    echo(f"{env_badge(env)} alert events (newest {limit})")
    echo(table([(e.id, iso(e.at), e.source, e.kind.value, e.severity.value, e.channel, _status(e.status.value),
                 e.rule or "-", _short(e.text), _short(e.reason) or "-") for e in events],
               ["id", "time", "source", "kind", "severity", "channel", "status", "rule", "text", "reason"]))


def _status(value: str) -> str:
    colour = {"sent": "green", "failed": "red", "dropped": "yellow", "suppressed": None}.get(value)
    return style(value, fg=colour) if colour else value


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
    app.command("alerts")(alerts_cmd)
