"""The HTTP front: routing, signature checks, token buckets and fault injection on loopback.

`ThreadingHTTPServer`, HTTP/1.1 keep-alive with Content-Length, Nagle off.  One lock around the
engine makes concurrent requests safe.  `GET /trade-api/ws/v2` upgrades to the WebSocket feed
(`ws`, `feed`) on the same port.  `/ext/...` are the loopback copies of outside sources
(`routes_outside`; their market WebSocket is `ext_ws`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Callable, Literal
from urllib.parse import parse_qs, urlsplit

from kalshi_trading.sim import routes_account as acct
from kalshi_trading.sim import routes_control as ctl
from kalshi_trading.sim import routes_groups as og
from kalshi_trading.sim import routes_historical as hist
from kalshi_trading.sim import routes_live as live
from kalshi_trading.sim import routes_market as mk
from kalshi_trading.sim import routes_misc as misc
from kalshi_trading.sim import routes_outside as outside
from kalshi_trading.sim import routes_portfolio as pf
from kalshi_trading.sim import routes_sim as sim_routes
from kalshi_trading.sim.access import authorize
from kalshi_trading.sim.auth import Verifier
from kalshi_trading.sim.errors import SimError
from kalshi_trading.sim.ext_ws import WS_PATH as MARKET_WS_PATH
from kalshi_trading.sim.ext_ws import MarketSockets, MarketWsParams
from kalshi_trading.sim.faults import Faults, FaultSpec, SourceFaultsTable
from kalshi_trading.sim.feed import Feed
from kalshi_trading.sim.outside_telegram import TelegramStub
from kalshi_trading.sim.params import Request
from kalshi_trading.sim.ratelimit import CANCEL_COST, DEFAULT_COST, RateLimiter, RateLimits
from kalshi_trading.sim.ws import WS_PATH, WsLimits, serve_websocket

if TYPE_CHECKING:
    from kalshi_trading.sim.exchange import SimExchange
    from kalshi_trading.sim.runtime import SimServer
    from kalshi_trading.sim.store import Store

log = logging.getLogger(__name__)

PREFIX = "/trade-api/v2"
_BOT_TOKEN = re.compile(r"/bot[^/\s]+/")  # the Telegram stub's paths hold the bot's token: never logged
PUBLIC, PRIVATE, OPTIONAL, CONTROL = "public", "private", "optional", "control"

# (method, pattern, handler, auth).  Fixed paths come before the {param} ones they shadow.
_ROUTES = [
    ("GET", "/exchange/status", mk.exchange_status, PUBLIC),
    ("GET", "/exchange/schedule", mk.exchange_schedule, PUBLIC),
    ("GET", "/exchange/user_data_timestamp", mk.user_data_timestamp, PUBLIC),
    ("GET", "/markets", mk.list_markets, PUBLIC),
    ("GET", "/markets/trades", mk.trades, PUBLIC),
    ("GET", "/markets/orderbooks", mk.orderbooks, OPTIONAL),
    ("GET", "/markets/candlesticks", mk.batch_candlesticks, PUBLIC),
    ("GET", "/markets/{ticker}", mk.get_market, PUBLIC),
    ("GET", "/markets/{ticker}/orderbook", mk.orderbook, OPTIONAL),
    ("GET", "/series/fee_changes", mk.series_fee_changes, PUBLIC),
    ("GET", "/series", mk.list_series, PUBLIC),
    ("GET", "/series/{series}", mk.get_series, PUBLIC),
    ("GET", "/series/{series}/markets/{ticker}/candlesticks", mk.candlesticks, PUBLIC),
    ("GET", "/events", live.events_with_milestones, PUBLIC),
    ("GET", "/events/multivariate", mk.multivariate_events, PUBLIC),
    ("GET", "/events/fee_changes", mk.event_fee_changes, PUBLIC),
    ("GET", "/events/{event}", mk.get_event, PUBLIC),
    ("GET", "/account/endpoint_costs", mk.endpoint_costs, PUBLIC),
    ("GET", "/account/limits", pf.account_limits, PRIVATE),
    ("GET", "/portfolio/balance", pf.balance, PRIVATE),
    ("GET", "/portfolio/positions", pf.positions, PRIVATE),
    ("GET", "/portfolio/fills", pf.fills, PRIVATE),
    ("GET", "/portfolio/settlements", pf.settlements, PRIVATE),
    ("GET", "/portfolio/orders", pf.list_orders, PRIVATE),
    ("GET", "/portfolio/orders/queue_positions", pf.queue_positions, PRIVATE),
    ("GET", "/portfolio/orders/{order_id}", pf.get_order, PRIVATE),
    ("GET", "/portfolio/orders/{order_id}/queue_position", pf.queue_position, PRIVATE),
    ("POST", "/portfolio/events/orders", pf.create_order, PRIVATE),
    ("DELETE", "/portfolio/events/orders", pf.cancel_all, PRIVATE),
    ("POST", "/portfolio/events/orders/batched", pf.batch_create, PRIVATE),
    ("DELETE", "/portfolio/events/orders/batched", pf.batch_cancel, PRIVATE),
    ("DELETE", "/portfolio/events/orders/{order_id}", pf.cancel_order, PRIVATE),
    ("POST", "/portfolio/events/orders/{order_id}/amend", pf.amend, PRIVATE),
    ("POST", "/portfolio/events/orders/{order_id}/decrease", pf.decrease, PRIVATE),
    ("POST", "/portfolio/order_groups/create", og.create, PRIVATE),
    ("GET", "/portfolio/order_groups", og.list_groups, PRIVATE),
    ("GET", "/portfolio/order_groups/{group_id}", og.get_group, PRIVATE),
    ("DELETE", "/portfolio/order_groups/{group_id}", og.delete_group, PRIVATE),
    ("PUT", "/portfolio/order_groups/{group_id}/reset", og.reset, PRIVATE),
    ("PUT", "/portfolio/order_groups/{group_id}/trigger", og.trigger, PRIVATE),
    ("PUT", "/portfolio/order_groups/{group_id}/limit", og.set_limit, PRIVATE),
    ("GET", "/sim/underlying/{series}", sim_routes.underlying, PUBLIC),
    *hist.ROUTES, *acct.ROUTES, *misc.ROUTES, *live.ROUTES, *ctl.ROUTES,
]


def _compile(pattern: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")


ROUTES = [(method, _compile(pattern), handler, auth) for method, pattern, handler, auth in _ROUTES]


def cost_of(method: str, path: str, body) -> tuple[str, int]:
    """(bucket, tokens) for a request: reads and writes, cancels 2 per order, batches per item."""
    kind = "read" if method == "GET" else "write"
    items = len(body.get("orders") or body.get("ids") or []) if isinstance(body, dict) else 0
    if path == "/portfolio/events/orders/batched":
        return kind, (CANCEL_COST if method == "DELETE" else DEFAULT_COST) * max(1, items)
    if method == "DELETE" and path.startswith("/portfolio/events/orders/"):
        return kind, CANCEL_COST
    if method == "GET" and re.match(r"^/portfolio/orders/[^/]+$", path) and path != "/portfolio/orders/queue_positions":
        return kind, 5
    return kind, DEFAULT_COST


class App:
    """What the handler needs: the exchange, the store (candles), auth, limits, faults, stats."""

    def __init__(self, exchange: SimExchange, store: Store | None = None,
                 limits: RateLimits | Literal[False] | None = None, faults: FaultSpec | None = None,
                 on_change: Callable[[], None] | None = None, ws_ping_interval: float = 10.0,
                 ws_max_queue: int = 10_000, ws_limits: WsLimits | None = None,
                 market_ws: MarketWsParams | None = None):
        """`limits`: the rate limits, None for the defaults, False for none; `market_ws`: the timing of the
        loopback Crypto.com market stream."""
        self.exchange = exchange
        self.store = store
        self.limits = limits or RateLimits()
        self.limiter = RateLimiter(self.limits) if limits is not False else None
        self.verifier = Verifier()
        self.faults = Faults(faults) if faults is not None and faults.http_active else None
        self.feed = Feed(exchange, faults)
        # the outside sources' own faults (routes_outside), changeable while serving (routes_control)
        self.source_faults = SourceFaultsTable(faults.ext if faults else (), faults.seed if faults else 0)
        self.market_ws = MarketSockets(market_ws)
        self.ws_ping_interval = ws_ping_interval  # seconds between heartbeat pings; 0 = none
        self.ws_max_queue = ws_max_queue  # frames queued per connection before error 25
        self.ws_limits = ws_limits or WsLimits()  # connections per user, commands per connection
        self.on_change = on_change
        self.requests = 0
        self.cpu_seconds = 0.0
        self.stats_lock = threading.Lock()
        self.control: SimServer | None = None  # the server these routes control (routes_control), if any
        self.telegram = TelegramStub()  # the loopback Bot API (/ext/telegram, outside_telegram)

    def public_pem(self, key_id: str) -> str | None:
        """The PEM that verifies `key_id`; None for an unknown or deleted key (401 at once)."""
        return self.exchange.extras.keys.public_pem(self.exchange.engine, key_id)


class Handler(BaseHTTPRequestHandler):
    server: SimHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "KalshiSim/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # route the stdlib's access log to logging (Telegram tokens masked)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s - %s", self.address_string(), _BOT_TOKEN.sub("/bot***/", fmt % args))

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in (WS_PATH, MARKET_WS_PATH):
            app: App = self.server.app
            with app.stats_lock:
                app.requests += 1
            if path == MARKET_WS_PATH:
                return outside.serve_market_ws(self, app)
            return serve_websocket(self, app)
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PUT(self):
        self._serve("PUT")

    def handle_one_request(self) -> None:
        # CPU accounting covers header parsing too (the stdlib does it before do_GET)
        started = time.thread_time()
        super().handle_one_request()
        app: App = self.server.app
        with app.stats_lock:
            app.cpu_seconds += time.thread_time() - started

    def _serve(self, method: str) -> None:
        app: App = self.server.app
        with app.stats_lock:
            app.requests += 1
        self._dispatch(app, method)

    def _dispatch(self, app: App, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith(outside.EXT_PREFIX):
            return outside.serve(self, app, method, url.path, url.query, raw)
        faults = app.faults if not url.path.startswith(PREFIX + ctl.PREFIX) else None  # control: never faulted
        if faults is not None:
            if faults.spec.latency:
                time.sleep(faults.spec.latency)
            decided = faults.before()
            if decided == "throttle":
                return self._send(429, {"error": "too many requests"})
            if decided == "error":
                return self._send(503, {"error": {"code": "service_unavailable", "message": "injected fault",
                                                  "details": "before processing"}})
        if not url.path.startswith(PREFIX + "/") and url.path != PREFIX:
            return self._send(404, {"error": {"code": "not_found", "message": "unknown path", "details": url.path}})
        path = url.path[len(PREFIX):].rstrip("/") or "/"
        status, body = self._route(app, method, url.path, path, url.query, raw)
        if faults is not None:
            decided = faults.after()
            if decided == "drop":
                self.close_connection = True
                return None
            if decided == "error":
                status, body = 500, {"error": {"code": "internal_server_error", "message": "injected fault",
                                               "details": "after processing"}}
        self._send(status, body)

    def _route(self, app: App, method: str, full_path: str, path: str, query: str, raw: bytes):
        found = None
        for m, pattern, handler, auth in ROUTES:
            match = pattern.match(path)
            if match and m == method:
                found = (handler, auth, match.groupdict())
                break
        if found is None:
            return 404, {"error": {"code": "not_found", "message": "unknown path", "details": f"{method} {path}"}}
        handler, auth, params = found
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, {"code": "bad_request", "message": "request body is not valid JSON", "details": ""}
        req = Request(method, path, parse_qs(query, keep_blank_values=True), body, None, params)
        ex = app.exchange
        if auth == CONTROL:
            return self._control(app, handler, req)
        try:
            if auth == PRIVATE or (auth == OPTIONAL and self.headers.get("KALSHI-ACCESS-KEY")):
                key_id = app.verifier.verify(self.headers, method, full_path, app.public_pem, int(time.time() * 1000))
                req.account = authorize(ex, key_id, req)
                if app.limiter is not None:
                    kind, cost = cost_of(method, path, body)
                    if not app.limiter.allow(req.account.account_id, kind, cost):
                        return 429, {"error": "too many requests"}
            with ex.lock:
                ex.sync()
                before = ex.engine.version
                status, out = handler(app, req)
                changed = ex.engine.version != before
                if ex.feed is not None:
                    ex.feed.flush()
        except SimError as exc:
            return exc.status, exc.body()
        if changed and app.on_change is not None:
            app.on_change()
        return status, out

    def _control(self, app: App, handler, req: Request):
        """A simulator control route (routes_control): token checked, no lock held, no rate limit."""
        try:
            return handler(ctl.check_token(app, self.headers), req)
        except SimError as exc:
            return exc.status, exc.body()
        except ValueError as exc:
            return 400, {"error": {"code": "invalid_parameters", "message": str(exc), "details": ""}}

    def _send(self, status: int, body) -> None:
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        self._send_raw(status, data, "application/json")

    def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App):
        self.app = app
        super().__init__(address, Handler)

    @property
    def host_port(self) -> tuple[str, int]:
        """The bound (host, port) (an IPv4 or IPv6 TCP address)."""
        host, port = self.server_address[:2]
        return str(host), int(port)
