"""Loopback copies of the outside sources, at `/ext/<source>` + the source's real path, so a connector whose base
URL is `{server}/ext/<source>` uses its production paths unchanged (simulator-only; not part of Kalshi's API):

    GET /ext/open-meteo-ensemble/v1/ensemble                                     Open-Meteo ensemble
    GET /ext/open-meteo/v1/forecast                                              Open-Meteo forecast
    GET /ext/coinbase/products/BTC-USD/ticker                                    Coinbase Exchange
    GET /ext/coinbase-advanced/api/v3/brokerage/market/products/BTC-USD/ticker   Coinbase Advanced (limit=)
    GET /ext/kraken/0/public/Ticker?pair=XBTUSD                                  Kraken
    GET /ext/bitstamp/api/v2/ticker/btcusd/                                      Bitstamp
    GET /ext/cryptocom/exchange/v1/public/get-tickers | get-book | get-candlestick | get-valuations
    WS  /ext/cryptocom/exchange/v1/market                                        Crypto.com market stream (ext_ws)
    GET|POST /ext/telegram/bot<TOKEN>/sendMessage | getUpdates | getMe          Telegram Bot API (outside_telegram)

Shapes are data-sources.md's (sections 1, 2 and 3); the numbers come from the simulator's own weather and bitcoin
index (`outside_weather`, `outside_btc`, `outside_cryptocom`).  No signature, no rate limit; the exchange's
faults do not apply here, each source has its own (`faults.SourceFaultsTable`): latency, an HTTP status in the
source's error envelope, a garbage body, a dropped connection.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qs

from kalshi_trading.sim import outside_btc as btc
from kalshi_trading.sim import outside_cryptocom as cro
from kalshi_trading.sim import outside_telegram as telegram
from kalshi_trading.sim import outside_weather as weather
from kalshi_trading.sim.faults import EXT_SOURCES, SourceDecision
from kalshi_trading.sim.outside_wire import OutsideError, Query

if TYPE_CHECKING:
    from kalshi_trading.sim.exchange import SimExchange

log = logging.getLogger(__name__)

EXT_PREFIX = "/ext/"
JSON = "application/json"
Handler = Callable[["SimExchange", Query, dict[str, str]], dict]

# source -> [(path pattern after /ext/<source>, handler)]
_ROUTES: dict[str, list[tuple[str, Handler]]] = {
    "open-meteo-ensemble": [("/v1/ensemble", lambda ex, q, m: weather.ensemble(ex, q))],
    "open-meteo": [("/v1/forecast", lambda ex, q, m: weather.forecast(ex, q))],
    "coinbase": [("/products/{product}/ticker", lambda ex, q, m: btc.coinbase_ticker(ex, q, m["product"]))],
    "coinbase-advanced": [("/api/v3/brokerage/market/products/{product}/ticker",
                           lambda ex, q, m: btc.coinbase_advanced_ticker(ex, q, m["product"]))],
    "kraken": [("/0/public/Ticker", lambda ex, q, m: btc.kraken_ticker(ex, q))],
    "bitstamp": [("/api/v2/ticker/{pair}/", lambda ex, q, m: btc.bitstamp_ticker(ex, q, m["pair"])),
                 ("/api/v2/ticker/{pair}", lambda ex, q, m: btc.bitstamp_ticker(ex, q, m["pair"]))],
    "cryptocom": [("/exchange/v1/public/{name}", lambda ex, q, m: _cryptocom(ex, q, "public/" + m["name"]))],
}
ROUTES = {source: [(re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"), fn)
                   for pattern, fn in routes] for source, routes in _ROUTES.items()}
GARBAGE = (
    (b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
     "text/html"),
    (b'{"result": {"data": [{"i": "BTC_USD", "a": "9', JSON),  # cut short
    (b'[{"unexpected": "shape"}, 42, null]', JSON),  # JSON, but not the source's
)


def _cryptocom(ex: SimExchange, query: Query, method: str) -> dict:
    fn = cro.METHODS.get(method)
    if fn is None:
        raise OutsideError(404, {"id": cro.request_id(query), "method": method, "code": 40401,
                                 "message": f"Not found: {method}"})
    return fn(ex, query)


def error_body(source: str, status: int, message: str, path: str = "") -> object:
    """An error in the source's own envelope."""
    limited = status == 429
    if source.startswith("open-meteo"):
        return {"error": True, "reason": "Daily API request limit exceeded" if limited else message}
    if source == "coinbase":
        return {"message": message}
    if source == "coinbase-advanced":
        code = "RESOURCE_EXHAUSTED" if limited else "UNAVAILABLE" if status >= 500 else "INVALID_ARGUMENT"
        return {"error": code, "error_details": message, "message": message}
    if source == "kraken":
        return {"error": ["EGeneral:Too many requests" if limited else "EService:Unavailable" if status >= 500
                          else "EGeneral:Invalid arguments"]}
    if source == "bitstamp":
        return {"status": "error", "reason": message, "code": str(status)}
    if source == "telegram":
        return telegram.error_body(status, "Too Many Requests: retry after 1" if limited else message)
    method = path.rsplit("/v1/", 1)[-1] if "/v1/" in path else ""
    return {"id": -1, "method": method, "code": 42901 if limited else 50001 if status >= 500 else 40003,
            "message": message}


def serve(handler, app, method: str, path: str, query_text: str, raw: bytes = b"") -> None:
    """Answer one request under /ext/ (the handler has read the request; `raw` is its body)."""
    source, _, rest = path[len(EXT_PREFIX):].partition("/")
    rest = "/" + rest
    if source not in EXT_SOURCES:
        return handler._send(404, {"error": "unknown outside source", "sources": list(EXT_SOURCES)})
    decision = app.source_faults.decide(source)
    if _faulted(handler, source, decision, path):
        return None
    body: object
    if source == "telegram":  # POST too, a body, and no exchange lock (getUpdates waits)
        status, body = telegram.serve(app.telegram, method, rest, query_text, raw,
                                      handler.headers.get("Content-Type") or "")
    else:
        status, body = _answer(app, source, method, rest, query_text)
    if decision.garbage is not None and status == 200:
        data, content_type = GARBAGE[decision.garbage]
        return handler._send_raw(200, data, content_type)
    return handler._send(status, body)


def _faulted(handler, source: str, decision: SourceDecision, path: str) -> bool:
    """Apply latency; answer an injected status or drop the connection (True when answered or dropped)."""
    if decision.latency:
        time.sleep(decision.latency)
    if decision.drop:
        handler.close_connection = True
        return True
    if decision.status is not None:
        handler._send(decision.status, error_body(source, decision.status, "injected fault", path))
        return True
    return False


def _answer(app, source: str, method: str, rest: str, query_text: str) -> tuple[int, object]:
    found = None
    for pattern, fn in ROUTES[source]:
        match = pattern.match(rest)
        if match:
            found = (fn, match.groupdict())
            break
    if found is None:
        return 404, error_body(source, 404, f"Not Found: {rest}", rest)
    if method != "GET":
        return 405, error_body(source, 405, f"method {method} not allowed", rest)
    fn, params = found
    query = Query(parse_qs(query_text, keep_blank_values=True))
    ex = app.exchange
    try:
        with ex.lock:
            ex.sync()
            return 200, fn(ex, query, params)
    except OutsideError as exc:
        body = exc.body if exc.body is not None else error_body(source, exc.status, "service unavailable", rest)
        return exc.status, body


def serve_market_ws(handler, app) -> None:
    """The Crypto.com market WebSocket, with the source's faults applied to the handshake."""
    from kalshi_trading.sim import ext_ws

    handler.close_connection = True
    decision = app.source_faults.decide("cryptocom")
    if _faulted(handler, "cryptocom", decision, ext_ws.WS_PATH):
        return
    if decision.garbage is not None:
        data, content_type = GARBAGE[decision.garbage]
        return handler._send_raw(200, data, content_type)
    ext_ws.serve(handler, app)
