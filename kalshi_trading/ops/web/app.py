"""The dashboard's Starlette application.

    GET  /                     -> the first page
    GET  /<section>            one page per section (the HTML shell; its script polls the JSON below)
    GET  /api/section/<name>   the section's snapshot (`?since=VERSION`: a short "unchanged" answer when it is;
                               `?data=1`: with the `--json` document of the same read)
    GET  /api/health           the sources (store, exchange): last good read, down since; and every section's
                               freshness (the navigation marks a stale page)
    POST /api/kill             the kill switch: the token in the `X-Dashboard-Token` header (or the JSON body's
                               `token`), `{"confirm": true}`, JSON only; answers what was done
    GET  /metrics              Prometheus' text format over the default registry (prometheus-client)
    GET  /assets/...           the page's script and style

Every answer says `Cache-Control: no-store`, forbids framing (the kill switch cannot be clicked through another
site) and allows scripts and styles from this origin only.  Who may ask is `auth.py`'s rule, applied to every
request by `Guard` before routing.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kalshi_trading.errors import KalshiError
from kalshi_trading.ops.web.auth import TOKEN_HEADER, host_name, is_loopback, token_matches
from kalshi_trading.ops.web.board import Board, BoardStopped
from kalshi_trading.ops.web.sections import iso, snapshot_json

log = logging.getLogger(__name__)

KILL_TIMEOUT = 120.0  # seconds a kill-switch request waits for its result (it runs on to its end regardless)
MAX_BODY = 4096
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
}
PUBLIC = ("/assets/", "/favicon.ico")  # the page's own script and style: code, no data, so no token
ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class WebConfig:
    env_label: str  # SIM / DEMO / PROD
    token: str
    require_token: bool  # every request needs the token (bound to anything but loopback)
    poll_ms: int  # how often a page asks for its section


def _asset(name: str) -> str:
    return (resources.files("kalshi_trading.ops.web") / "assets" / name).read_text(encoding="utf-8")


class Guard:
    """ASGI middleware: the Host check (loopback binding) or the token (any other), and the security headers."""

    def __init__(self, app: ASGIApp, config: WebConfig):
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1") not in SECURITY_HEADERS]
                raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": raw}
            await send(message)

        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, secured)
            return
        await self.app(scope, receive, secured)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        if not self.config.require_token:
            if not is_loopback(host_name(headers.get("host", ""))):
                return PlainTextResponse("this dashboard answers only to a loopback host name (127.0.0.1, "
                                         "localhost)", 403)
            return None
        if scope.get("path", "").startswith(PUBLIC) or token_matches(given_token(scope, headers), self.config.token):
            return None
        return PlainTextResponse("this dashboard needs its token: open /?token=TOKEN, or send the "
                                 "X-Dashboard-Token header (Authorization: Bearer for a scraper)", 401)


def given_token(scope: Scope, headers: Headers) -> str | None:
    """The token a request carries: the header, a bearer token, or `?token=`."""
    if TOKEN_HEADER in headers:
        return headers[TOKEN_HEADER]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


class _AsgiEndpoint:
    """An ASGI app as a route's endpoint (a plain function would be taken for a request handler)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def build_app(board: Board, config: WebConfig, kill: Callable[[], Mapping[str, Any]] | None) -> Starlette:
    """The application over `board`'s sections; `kill` runs the kill switch (on the board's thread)."""
    from prometheus_client import make_asgi_app

    page_template = Template(_asset("page.html"))
    names = list(board.sections)
    suffix = f"?token={quote(config.token)}" if config.require_token else ""

    def nav(current: str) -> str:
        return "".join(f'<a href="/{n}{suffix}" data-nav="{n}"{" class=current" if n == current else ""}>'
                       f"{html.escape(board.sections[n].title)}</a>" for n in names)

    async def home(request: Request) -> Response:
        return RedirectResponse(f"/{names[0]}{suffix}", 303)

    async def page(request: Request) -> Response:
        name = request.path_params["page"]
        if name not in board.sections:
            return PlainTextResponse(f"no page {name!r}; pages: {', '.join(names)}", 404)
        text = page_template.substitute(
            title=html.escape(board.sections[name].title), env=html.escape(config.env_label),
            env_class=html.escape(config.env_label.lower()), section=html.escape(name), poll_ms=config.poll_ms,
            nav=nav(name), token=html.escape(config.token if config.require_token else ""))
        return HTMLResponse(text)

    async def section(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            snap = board.snapshot(name)
        except KeyError:
            return JSONResponse({"error": f"no section {name!r}"}, 404)
        now = board.now()
        if request.query_params.get("since") == str(snap.version):
            return JSONResponse({"section": name, "version": snap.version, "unchanged": True, "now": iso(now)})
        return JSONResponse(snapshot_json(snap, now, with_data=request.query_params.get("data") == "1"))

    async def health(request: Request) -> Response:
        now = board.now()
        sources = [{"source": h.source.value, "ok_at": iso(h.ok_at),
                    "failure": None if h.failure is None else {"error": h.failure.error, "since": iso(h.failure.since),
                                                               "last": iso(h.failure.last)}}
                   for h in board.health()]
        sections = [{"section": x.section, "fresh_at": iso(x.fresh_at), "stale": x.stale,
                     "since": iso(x.failure.since) if x.failure else None} for x in board.snapshots()]
        return JSONResponse({"environment": config.env_label.lower(), "now": iso(now), "sources": sources,
                             "sections": sections})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found", 404)
        return Response(_asset(name), media_type=ASSETS[name])

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    async def kill_switch(request: Request) -> Response:
        return await _kill(request, board, config, kill)

    routes = [
        Route("/", home), Route("/api/section/{name}", section), Route("/api/health", health),
        Route("/api/kill", kill_switch, methods=["POST"]), Route("/assets/{name}", asset),
        Route("/metrics", _AsgiEndpoint(make_asgi_app())), Route("/favicon.ico", no_icon), Route("/{page}", page),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(Guard, config=config)
    return app


async def _kill(request: Request, board: Board, config: WebConfig,
                kill: Callable[[], Mapping[str, Any]] | None) -> Response:
    """The kill switch's checks, then the switch itself on the board's thread."""
    client = request.client.host if request.client else "?"
    if kill is None:
        return JSONResponse({"error": "this dashboard has no kill switch"}, 404)
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        log.warning("kill switch refused: a request from another origin (%s) via %s", origin, client)
        return JSONResponse({"error": "refused: the request came from another site"}, 403)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return JSONResponse({"error": "send JSON: {\"confirm\": true} with the token in X-Dashboard-Token"}, 415)
    raw = await request.body()
    try:
        doc = json.loads(raw) if len(raw) <= MAX_BODY else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return JSONResponse({"error": "the body must be a JSON object of at most 4096 bytes"}, 400)
    given = request.headers.get(TOKEN_HEADER) or (doc.get("token") if isinstance(doc.get("token"), str) else None)
    if not token_matches(given, config.token):
        log.warning("kill switch refused: %s token from %s", "a wrong" if given else "no", client)
        return JSONResponse({"error": "wrong or missing token: nothing was done"}, 403)
    if doc.get("confirm") is not True:
        return JSONResponse({"error": "not confirmed: send {\"confirm\": true}; nothing was done"}, 400)
    log.critical("kill switch used from %s", client)
    try:
        result = await run_in_threadpool(board.run, kill, KILL_TIMEOUT)
    except BoardStopped as exc:
        return JSONResponse({"error": f"{exc}: nothing was done"}, 503)
    except TimeoutError:
        return JSONResponse({"error": f"no result within {KILL_TIMEOUT:g} s; it goes on: see the bots page and "
                                      "kalshi orders"}, 504)
    except KalshiError as exc:
        return JSONResponse({"error": str(exc)}, 502)
    finally:
        board.refresh_all()
    return JSONResponse(dict(result))
