"""`kalshi dashboard`: the web dashboard (Starlette + uvicorn, the optional extra `web`).

The command binds its socket, builds the sections (`dashboard_sections.py`, `dashboard_bots.py`) over the
services of this process's context, starts the board's thread (which owns those services: every read and the
kill switch run on it, and it closes them at the end), prints the address and the token, and serves until Ctrl-C
or SIGTERM (exit 0).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Optional

import typer

from kalshi_trading.cli import ranges
from kalshi_trading.cli.render import echo, style
from kalshi_trading.errors import ConfigError, UsageError

DASHBOARD_HELP = """Serve the web dashboard: portfolio, open orders, bots, signals, logs and alerts, live.

One page per concern, each updated in place every --refresh seconds, showing the numbers the commands show
(`kalshi portfolio`, `orders`, `auto status`, `paper report --calibration`, `logs --errors`) and when each was
last fresh; with the store or the exchange down, a page says what is stale and since when, never zeros.  It reads
through the store (KALSHI_STORE) and the exchange's API, so it works with every backend; /metrics serves
Prometheus' text format.

Read-only, but for the kill switch: it cancels every resting order of the account and halts every bot of the
store (a running bot halts within a second and stays HALTED until `kalshi auto resume`).  It asks for a
confirmation and the token printed at start (or kept in --token-file).  Bound to anything but loopback, every page
needs the token, so --token-file is then required; open http://HOST:PORT/?token=TOKEN.
Needs the `web` extra (Starlette, uvicorn, prometheus-client).

Example:  kalshi dashboard
Example:  kalshi dashboard --port 8051 --refresh 5
Example:  kalshi dashboard --host 0.0.0.0 --token-file ~/.config/kalshi/dashboard-token
"""

PAGES = (("portfolio", "Portfolio"), ("orders", "Open orders"), ("bots", "Bots"), ("signals", "Signals & paper"),
         ("logs", "Logs & errors"), ("alerts", "Alerts"))
REFRESH = (0.2, 300.0)
KILL_WAIT = 5.0  # seconds a running bot is given to confirm its halt


def dashboard(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback by default; anything else "
                                                         "needs --token-file)."),
    port: int = typer.Option(8050, "--port", parser=ranges.whole(*ranges.PORT),
                             help="TCP port, 0 to 65535; 0 picks a free one."),
    token_file: Optional[Path] = typer.Option(None, "--token-file",
                                              help="Keep the token in this file (mode 0600; made with a new token "
                                                   "if absent) instead of a new one each start."),
    refresh: float = typer.Option(2.0, "--refresh", parser=ranges.number(*REFRESH),
                                  help="Seconds between reads of a watched page's data, 0.2 to 300."),
    method: str = typer.Option("fifo", "--method", help="Lot accounting of the portfolio page: fifo or avg."),
) -> None:
    from kalshi_trading.ops.web.auth import is_loopback, new_token, read_token_file

    if method not in ("fifo", "avg"):
        raise UsageError("--method must be fifo or avg")
    loopback = is_loopback(host)
    if not loopback and token_file is None:
        raise UsageError(f"binding to {host} (not loopback) puts the dashboard on the network: every page then "
                         "needs a token; give one with --token-file PATH (made for you if absent)")
    _require_web_extra()
    app_ctx = ctx.obj
    settings = app_ctx.settings  # configuration errors (exit 3) before anything is bound
    warning = None
    if token_file is not None:
        token, warning = read_token_file(token_file.expanduser())
    else:
        token = new_token()
    if warning:
        echo(style(f"warning: {warning}", fg="yellow", err=True), err=True)
    sock = _bind(host, port)
    board = _board(app_ctx, refresh, method)
    app = _app(board, app_ctx, settings.env_label, token, not loopback, refresh)
    url = _url(host, sock.getsockname()[1])
    echo(f"[{settings.env_label}] dashboard at {url}  (Ctrl-C to stop)")
    if token_file is not None:
        echo(f"token: kept in {token_file} (the kill switch asks for it{'' if loopback else '; so does every page: '}"
             f"{'' if loopback else url + '?token=TOKEN'})")
    else:
        echo(f"kill-switch token: {token}")
    sys.stdout.flush()
    board.start()
    try:
        _serve(app, sock)
    finally:
        board.stop()
        sock.close()
    echo("stopped")


def _require_web_extra() -> None:
    import importlib.util

    for module in ("starlette", "uvicorn", "prometheus_client"):
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"the dashboard needs the {module} package, which is not installed", None,
                              "pip install 'kalshi-trading[web]'")


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (0: a free port); a refusal is a usage error naming the address."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"cannot bind {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _board(app_ctx, refresh: float, method: str):
    from typing import Callable

    from kalshi_trading.cli import dashboard_bots, dashboard_sections as sec
    from kalshi_trading.ops.web.board import Board, Section
    from kalshi_trading.ops.web.sections import SectionDoc, Source

    # what each always reads (bots and signals read the exchange only when there are bots or signals)
    both = (Source.STORE, Source.EXCHANGE)
    readers: dict[str, tuple[Callable[[], SectionDoc], tuple[Source, ...]]] = {
        "portfolio": (sec.Portfolio(app_ctx, method), both),
        "orders": (lambda: sec.orders(app_ctx), (Source.EXCHANGE,)),
        "bots": (lambda: dashboard_bots.bots(app_ctx), (Source.STORE,)),
        "signals": (lambda: sec.signals(app_ctx), (Source.STORE,)),
        "logs": (lambda: sec.logs(app_ctx), (Source.STORE,)),
        "alerts": (lambda: sec.alerts(app_ctx), (Source.STORE,)),
    }
    sections = [Section(name, title, *readers[name]) for name, title in PAGES]
    return Board(sections, refresh=refresh, on_stop=app_ctx.close)


def _app(board, app_ctx, env_label: str, token: str, require_token: bool, refresh: float):
    from kalshi_trading.ops.killswitch import kill_switch
    from kalshi_trading.ops.web.app import WebConfig, build_app

    def kill() -> dict:
        result = kill_switch(app_ctx.executor, app_ctx.store, state_dir=app_ctx.settings.env_data_dir,
                             reason="kill switch (kalshi dashboard)", wait=KILL_WAIT)
        return result.to_json()

    poll_ms = int(min(1000.0, max(200.0, refresh * 500)))
    return build_app(board, WebConfig(env_label, token, require_token, poll_ms), kill)


def _serve(app, sock: socket.socket) -> None:
    """uvicorn on the bound socket until SIGINT or SIGTERM: a clean stop, exit 0 (as `kalshi sim serve`)."""
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame) -> None:
            # uvicorn would raise the signal again once stopped (exit 130, or death by SIGTERM); a stop asked
            # for is a clean end here.  A second Ctrl-C still forces the exit.
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=5,
                            log_level="warning")
    Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command("dashboard", help=DASHBOARD_HELP)(dashboard)
