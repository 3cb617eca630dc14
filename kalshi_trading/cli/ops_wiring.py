"""The CLI's one seam to `ops/`: alert rules, digests and `/metrics` around `kalshi auto` and `kalshi pipeline run`.

Each command makes one call here (`bot_ops`, `pipeline_ops`) and passes one callback on; the options below are
declared once and shared.  The `[alerts]` table is read from the command's `--config` file before anything trades
(a bad value: ConfigError, exit 3).  `/metrics` binds to 127.0.0.1 unless `--metrics-host` says otherwise; a
non-loopback address is refused (exit 2) without `--metrics-allow-remote`, because the endpoint has no
authentication and shows positions and P&L.  A busy port is a ConfigError (exit 3).

`trade_notice_hook`: the manual trader's fill and settlement notices (KALSHI_TRADE_NOTICES=on), given to the
portfolio service, whose journal sync every syncing command runs (`sync`, `portfolio`, `pnl`, `history`).

`sink`: where messages go besides the log (the channel dispatcher); None until one is configured.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from kalshi_trading.auto.runner import BotRun
    from kalshi_trading.trading.sync import SyncResult
    from kalshi_trading.ops.notify.message import Sink
    from kalshi_trading.ops.runtime import BotOps, LoggingSink, MetricsPlace, PipelineOps
    from kalshi_trading.signals.pipeline import Pipeline

METRICS_PORT = typer.Option(None, "--metrics-port", parser=ranges.whole(*ranges.PORT),
                            help="Serve Prometheus metrics at http://HOST:PORT/metrics (0 to 65535; 0 = any free "
                                 "port, printed). Needs the `metrics` extra.")
METRICS_HOST = typer.Option("127.0.0.1", "--metrics-host",
                            help="Address for --metrics-port (default 127.0.0.1; others need "
                                 "--metrics-allow-remote).")
METRICS_ALLOW_REMOTE = typer.Option(False, "--metrics-allow-remote",
                                    help="Allow --metrics-host to be a non-loopback address (the endpoint has no "
                                         "authentication: put it behind a firewall).")


def metrics_place(params: Mapping[str, Any]) -> Optional[MetricsPlace]:
    """Where to serve `/metrics` from the command's options (None: not asked for)."""
    port = params.get("metrics_port")
    host = str(params.get("metrics_host") or "127.0.0.1").strip()
    if port is None:
        if host != "127.0.0.1" or params.get("metrics_allow_remote"):
            raise UsageError("--metrics-host and --metrics-allow-remote apply to --metrics-port: add it")
        return None
    if not is_loopback(host) and not params.get("metrics_allow_remote"):
        raise UsageError(f"refusing to serve /metrics on {host!r}: it is not a loopback address and the endpoint "
                         "has no authentication (positions, P&L); pass --metrics-allow-remote to do it anyway")
    try:
        import prometheus_client  # noqa: F401  (checked before trading, used after)
    except ImportError:
        raise ConfigError("--metrics-port needs prometheus-client", "--metrics-port",
                          "pip install 'kalshi-trading[metrics]'") from None
    from kalshi_trading.ops.runtime import MetricsPlace

    return MetricsPlace(host, port)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`; anything else (a name included) may be reachable from elsewhere."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _settings(params: Mapping[str, Any]):
    from kalshi_trading.ops.settings import load_settings

    config = params.get("config")
    return load_settings(Path(config) if config is not None else None)


def _announce(server) -> None:
    if server is not None:
        from kalshi_trading.cli.render import echo

        echo(f"metrics: {server.url}", err=True)


def bot_ops(app_ctx, run: BotRun, params: Mapping[str, Any], *, bot: str, sink: Optional[Sink] = None) -> BotOps:
    """Alert rules, digests and metrics around `run`, stopped when the command ends.  Returns the ops, whose
    `status(line)` is the run's status callback."""
    from kalshi_trading.ops.runtime import BotOps

    settings = _settings(params)
    place = metrics_place(params)
    ops = BotOps(run, bot=bot, env=app_ctx.settings.env_label, settings=settings, sink=sink, store=app_ctx.store,
                 metrics=place)
    app_ctx.on_close(ops.close)
    _announce(ops.server)
    return ops


def pipeline_ops(app_ctx, pipeline: Pipeline, params: Mapping[str, Any], *, mode: str,
                 sink: Optional[Sink] = None) -> PipelineOps:
    """Digests, alert rules and metrics around a pipeline run, stopped when the command ends.  Returns the ops,
    whose `on_cycle(line)` is the run's per-cycle callback."""
    from kalshi_trading.ops.runtime import PipelineOps

    settings = _settings(params)
    place = metrics_place(params)
    ops = PipelineOps(pipeline, mode=mode, settings=settings, sink=sink, store=app_ctx.store, metrics=place)
    app_ctx.on_close(ops.close)
    _announce(ops.server)
    return ops


def trade_notice_hook(app_ctx) -> Optional[Callable[[SyncResult], None]]:
    """With KALSHI_TRADE_NOTICES=on: what a journal sync (any command's) does with its new fills and settlements —
    one notice each kind, to the log and to the configured channels (a notifier built at the first notice, closed
    when the command ends).  None when off."""
    if not app_ctx.settings.trade_notices:
        return None
    return TradeNotices(app_ctx)


class TradeNotices:
    """The manual trader's notices after each journal sync (see `trade_notice_hook`)."""

    def __init__(self, app_ctx):
        self.app_ctx = app_ctx
        self.out: Optional[LoggingSink] = None

    def __call__(self, result: SyncResult) -> None:
        from kalshi_trading.ops.digest import trade_notices

        messages = trade_notices(result.fills, result.settlements, env=self.app_ctx.settings.env_label)
        if messages and self.out is None:
            from kalshi_trading.ops.notify.dispatch import build_dispatcher
            from kalshi_trading.ops.runtime import LoggingSink

            dispatcher = build_dispatcher(self.app_ctx.settings)
            if dispatcher is not None:
                self.app_ctx.on_close(dispatcher.close)  # sends what waits, before the client stops
            self.out = LoggingSink(dispatcher)
        for message in messages:
            assert self.out is not None, "built with the first notice"
            self.out.submit(message)
