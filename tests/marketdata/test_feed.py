"""The WebSocket feed against a tiny in-test exchange (websockets.sync.server on port 0), and the polling feed.

The fake speaks reference section 11: subscribe / update_subscription / unsubscribe, one `seq` per
sid, snapshot first.  Test hooks inject deltas, gaps, duplicates, pings and forced closes; a TCP
proxy in front of it can freeze a connection (no data, no pongs) to exercise the read timeout.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.sync.server import serve

from kalshi_trading.api.signer import Signer
from kalshi_trading.marketdata.events import (BookStale, BookUpdated, Disconnected, FeedError, FillMsg, Reconnected,
                                        Resynced, TickerMsg, TradeMsg)
from kalshi_trading.marketdata.feed_poll import PollingFeed
from kalshi_trading.marketdata.feed_ws import Backoff, WebSocketFeed
from kalshi_trading.errors import AuthenticationError, ExchangeUnavailable
from kalshi_trading.models import OrderBook, PriceLevel, Trade

FAST = Backoff(initial=0.01, factor=2, maximum=0.05, jitter=0)
WS_PATH = "/trade-api/ws/v2"


# ----------------------------------------------------------------------------------- the fake exchange
class FakeExchange:
    """Serves ws://127.0.0.1:PORT/trade-api/ws/v2; keeps a book per ticker to snapshot from."""

    def __init__(self, public_key, *, refuse_status: int | None = None, get_snapshot_ok: bool = True):
        self.public_key = public_key
        self.refuse_status = refuse_status
        self.get_snapshot_ok = get_snapshot_ok
        self.withhold: set[str] = set()  # tickers whose subscription comes without a snapshot
        self.books: dict[str, dict[str, dict[str, str]]] = {}  # ticker -> side -> price -> size
        self.handshakes: list[dict] = []  # request headers + path of every connection
        self.commands: list[dict] = []  # every command received, all connections
        self.lock = threading.RLock()
        self.conn = None  # the live connection
        self.sids: dict[str, int] = {}  # channel -> sid, live connection
        self.seq: dict[int, int] = {}
        self.tickers: dict[int, list[str]] = {}
        self.connected = threading.Event()
        self.server = serve(self._handle, "127.0.0.1", 0, process_request=self._check, ping_interval=None)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}"

    def close(self) -> None:
        self.server.shutdown()

    # ---------------------------------------------------------------- handshake
    def _check(self, conn, request):
        h = request.headers
        self.handshakes.append({"path": request.path, "key": h.get("KALSHI-ACCESS-KEY"),
                                "ts": h.get("KALSHI-ACCESS-TIMESTAMP"), "sig": h.get("KALSHI-ACCESS-SIGNATURE")})
        if self.refuse_status is not None:
            return Response(self.refuse_status, "Unauthorized", Headers(), b'{"error":"nope"}')
        try:
            self.public_key.verify(base64.b64decode(h["KALSHI-ACCESS-SIGNATURE"]),
                                   f"{h['KALSHI-ACCESS-TIMESTAMP']}GET{WS_PATH}".encode(),
                                   padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                               salt_length=padding.PSS.DIGEST_LENGTH), hashes.SHA256())
        except (KeyError, InvalidSignature):
            return Response(401, "Unauthorized", Headers(), b"")
        return None

    # ---------------------------------------------------------------- the protocol
    def _handle(self, conn) -> None:
        with self.lock:
            self.conn, self.sids, self.seq, self.tickers = conn, {}, {}, {}
        self.connected.set()
        sid_counter = itertools.count(1)
        try:
            for raw in conn:
                cmd = json.loads(raw)
                with self.lock:
                    self.commands.append(cmd)
                    self._command(conn, cmd, sid_counter)
        except Exception:  # the test closed or froze it
            pass

    def _command(self, conn, cmd: dict, sid_counter) -> None:
        ident, params = cmd.get("id"), cmd.get("params", {})
        if cmd["cmd"] == "subscribe":
            for channel in params["channels"]:
                if channel == "nonsense":
                    conn.send(json.dumps({"id": ident, "type": "error",
                                          "msg": {"code": 8, "msg": "Unknown channel name"}}))
                    continue
                sid = next(sid_counter)
                self.sids[channel], self.seq[sid] = sid, 0
                self.tickers[sid] = list(params.get("market_tickers", []))
                conn.send(json.dumps({"id": ident, "type": "subscribed", "msg": {"channel": channel, "sid": sid}}))
                if channel == "orderbook_delta":
                    for t in self.tickers[sid]:
                        if t not in self.withhold:
                            self.send_snapshot(t)
        elif cmd["cmd"] == "update_subscription":
            sid, action, tickers = params["sid"], params["action"], params["market_tickers"]
            if action == "get_snapshot" and not self.get_snapshot_ok:
                conn.send(json.dumps({"id": ident, "type": "error", "msg": {"code": 13, "msg": "bad action"}}))
                return
            if action == "add_markets":
                self.tickers[sid].extend(tickers)
            elif action == "delete_markets":
                self.tickers[sid] = [t for t in self.tickers[sid] if t not in tickers]
            conn.send(json.dumps({"id": ident, "sid": sid, "seq": self.seq[sid], "type": "ok",
                                  "msg": {"market_tickers": self.tickers[sid]}}))
            if action in ("get_snapshot", "add_markets") and sid == self.sids.get("orderbook_delta"):
                for t in tickers:
                    if action == "get_snapshot" or t not in self.withhold:
                        self.send_snapshot(t)
        elif cmd["cmd"] == "unsubscribe":
            for sid in params["sids"]:
                self.sids = {c: s for c, s in self.sids.items() if s != sid}
                conn.send(json.dumps({"id": ident, "sid": sid, "seq": self.seq.get(sid, 0), "type": "unsubscribed"}))

    # ---------------------------------------------------------------- test hooks (any thread)
    def _next(self, channel: str, skip: int = 0) -> tuple[int, int]:
        sid = self.sids[channel]
        self.seq[sid] += 1 + skip
        return sid, self.seq[sid]

    def send_snapshot(self, ticker: str) -> None:
        with self.lock:
            book = self.books.setdefault(ticker, {"yes": {}, "no": {}})
            sid, seq = self._next("orderbook_delta")
            msg = {"market_ticker": ticker, "market_id": "m-" + ticker}
            for side in ("yes", "no"):
                if book[side]:  # an empty side is omitted, as observed
                    msg[f"{side}_dollars_fp"] = [[p, s] for p, s in sorted(book[side].items())]
            self.conn.send(json.dumps({"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg}))

    def delta(self, ticker: str, side: str, price: str, delta: str, skip: int = 0, send: bool = True) -> None:
        """Change the exchange's book and (unless `send` is False: a lost message) tell the client."""
        with self.lock:
            levels = self.books.setdefault(ticker, {"yes": {}, "no": {}})[side]
            size = D(levels.get(price, "0")) + D(delta)
            if size > 0:
                levels[price] = f"{size:.2f}"
            else:
                levels.pop(price, None)
            sid, seq = self._next("orderbook_delta", skip)
            if not send:
                return
            self.conn.send(json.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": {
                "market_ticker": ticker, "market_id": "m", "price_dollars": price, "delta_fp": delta, "side": side,
                "ts_ms": 1_790_000_000_000}}))

    def resend_last(self, ticker: str, side: str, price: str, delta: str) -> None:
        """A duplicate: the previous seq again (the book itself does not change)."""
        with self.lock:
            sid = self.sids["orderbook_delta"]
            self.conn.send(json.dumps({"type": "orderbook_delta", "sid": sid, "seq": self.seq[sid], "msg": {
                "market_ticker": ticker, "price_dollars": price, "delta_fp": delta, "side": side}}))

    def send(self, frame: dict) -> None:
        with self.lock:
            self.conn.send(json.dumps(frame))

    def drop_connection(self) -> None:
        with self.lock:
            conn, self.conn = self.conn, None
            self.connected.clear()
        conn.close()

    def expected_units(self, ticker: str):
        book = self.books.get(ticker, {"yes": {}, "no": {}})
        return ({int(D(p) * 10_000): int(D(s) * 100) for p, s in book["yes"].items()},
                {int(D(p) * 10_000): int(D(s) * 100) for p, s in book["no"].items()})

    def commands_of(self, cmd: str, action: str | None = None) -> list[dict]:
        with self.lock:
            return [c for c in self.commands if c["cmd"] == cmd
                    and (action is None or c.get("params", {}).get("action") == action)]


class FreezingProxy:
    """A TCP relay whose current connections can be frozen: bytes stop flowing, nothing is closed."""

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[dict] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            pair = {"frozen": False, "socks": (client, server)}
            self.pairs.append(pair)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, pair), daemon=True).start()

    @staticmethod
    def _pump(src, dst, pair) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if not pair["frozen"]:
                try:
                    dst.sendall(data)
                except OSError:
                    return

    def freeze(self) -> None:
        for pair in self.pairs:
            pair["frozen"] = True

    def close(self) -> None:
        self.listener.close()
        for pair in self.pairs:
            for s in pair["socks"]:
                s.close()


# ----------------------------------------------------------------------------------- fixtures, helpers
@pytest.fixture
def signer(rsa_key):
    return Signer("key-1234", rsa_key)


@pytest.fixture
def exchange(rsa_key):
    ex = FakeExchange(rsa_key.public_key())
    ex.books["AAA"] = {"yes": {"0.4000": "10.00", "0.4200": "5.50"}, "no": {"0.5500": "3.00"}}
    ex.books["BBB"] = {"yes": {"0.1000": "1.00"}, "no": {}}
    yield ex
    ex.close()


def make_feed(url, signer, **kw) -> WebSocketFeed:
    kw.setdefault("channels", ("orderbook_delta", "trade", "ticker", "fill"))
    kw.setdefault("backoff", FAST)
    kw.setdefault("resync_timeout", 30.0)
    return WebSocketFeed(url, signer, **kw)


@pytest.fixture
def feed(exchange, signer):
    f = make_feed(exchange.url, signer)
    yield f
    f.stop()


def until(feed, predicate, what: str, limit: float = 10.0) -> list:
    """Consume events until `predicate(events so far)` holds (or fail after `limit` seconds)."""
    seen: list = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for event in feed.events(timeout=0.05):
            seen.append(event)
            if predicate(seen):
                return seen
        if predicate(seen):
            return seen
    raise AssertionError(f"timed out waiting for {what}; saw {seen!r}")


def book_matches(feed, exchange, ticker: str) -> bool:
    book = feed.books[ticker]
    return not book.stale and book.levels_units() == exchange.expected_units(ticker)


def synced(feed, exchange, *tickers):
    return lambda _events: all(book_matches(feed, exchange, t) for t in tickers)


def wait_for(predicate, what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


# ----------------------------------------------------------------------------------- tests
def test_signed_handshake_subscribes_and_applies_snapshot_and_deltas(feed, exchange, rsa_key):
    feed.subscribe(["aaa"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA"), "the first snapshot")
    shake = exchange.handshakes[0]
    assert shake["path"] == WS_PATH and shake["key"] == "key-1234" and shake["ts"].isdigit()
    assert abs(int(shake["ts"]) - time.time() * 1000) < 60_000  # milliseconds, not seconds
    wait_for(lambda: len(exchange.commands_of("subscribe")) == 4, "four subscriptions")
    subs = exchange.commands_of("subscribe")
    assert {c["params"]["channels"][0] for c in subs} == {"orderbook_delta", "trade", "ticker", "fill"}
    by_channel = {c["params"]["channels"][0]: c["params"] for c in subs}
    assert by_channel["orderbook_delta"]["market_tickers"] == ["AAA"]
    assert "market_tickers" not in by_channel["fill"]  # account-wide
    assert len({c["id"] for c in exchange.commands}) == len(exchange.commands)  # ids unique per connection

    book = feed.books["AAA"]
    assert (book.best_bid, book.best_bid_size, book.best_ask, book.best_ask_size) == (
        D("0.4200"), D("5.50"), D("0.4500"), D("3.00"))
    exchange.delta("AAA", "yes", "0.4300", "2.25")
    exchange.delta("AAA", "no", "0.5500", "-3.00")  # the only ask goes
    events = until(feed, synced(feed, exchange, "AAA"), "two deltas")
    assert sum(isinstance(e, BookUpdated) for e in events) >= 2
    assert book.best_bid == D("0.4300") and book.best_ask is None and book.spread is None
    assert feed.resyncs == 0 and feed.stats.gaps == 0


def test_gap_marks_stale_and_resyncs_with_get_snapshot(feed, exchange):
    feed.subscribe(["AAA", "BBB"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA", "BBB"), "snapshots")
    exchange.delta("AAA", "yes", "0.4000", "1.00", send=False)  # lost on the way
    exchange.delta("AAA", "yes", "0.4100", "1.00")  # arrives with seq + 2
    events = until(feed, lambda ev: any(isinstance(e, Resynced) for e in ev) and
                   synced(feed, exchange, "AAA", "BBB")(ev), "a resync after the gap")
    stale = [e for e in events if isinstance(e, BookStale)]
    assert {e.ticker for e in stale} == {"AAA", "BBB"}  # one seq per sid: every book of it is doubtful
    assert all(e.reason == "seq gap" for e in stale)
    asks = exchange.commands_of("update_subscription", "get_snapshot")
    assert asks and set(asks[0]["params"]["market_tickers"]) == {"AAA", "BBB"}
    assert asks[0]["params"]["sid"] == exchange.sids["orderbook_delta"]
    assert feed.resyncs == 2 and feed.stats.gaps == 1
    assert {e.ticker for e in events if isinstance(e, Resynced)} == {"AAA", "BBB"}
    # and it keeps following the book afterwards
    exchange.delta("AAA", "no", "0.5000", "4.00")
    until(feed, synced(feed, exchange, "AAA"), "a delta after the resync")


def test_duplicate_marks_stale_and_resyncs(feed, exchange):
    feed.subscribe(["AAA"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA"), "the snapshot")
    exchange.delta("AAA", "yes", "0.4000", "1.00")
    exchange.resend_last("AAA", "yes", "0.4000", "1.00")
    events = until(feed, lambda ev: any(isinstance(e, Resynced) for e in ev), "a resync after the duplicate")
    assert any(isinstance(e, BookStale) and e.reason == "seq duplicate" for e in events)
    until(feed, synced(feed, exchange, "AAA"), "the right book")  # the duplicate was not applied twice
    assert feed.stats.duplicates == 1 and feed.resyncs == 1


def test_refused_get_snapshot_falls_back_to_resubscribing(exchange, signer):
    exchange.get_snapshot_ok = False
    feed = make_feed(exchange.url, signer, channels=("orderbook_delta",))
    try:
        feed.subscribe(["AAA"])
        feed.start()
        until(feed, synced(feed, exchange, "AAA"), "the snapshot")
        exchange.delta("AAA", "yes", "0.4200", "-5.50", skip=3)
        events = until(feed, lambda ev: any(isinstance(e, Resynced) for e in ev) and
                       synced(feed, exchange, "AAA")(ev), "a resync by resubscribing")
        assert any(isinstance(e, FeedError) and e.code == 13 for e in events)
        assert exchange.commands_of("unsubscribe")
        assert len(exchange.commands_of("subscribe")) == 2
    finally:
        feed.stop()


def test_adding_a_market_on_a_live_subscription(feed, exchange):
    exchange.books["CCC"] = {"yes": {"0.2000": "1.00"}, "no": {}}
    feed.subscribe(["AAA"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA"), "the snapshot")
    feed.subscribe(["CCC"])  # add_markets on each live market sid; the book sid brings its snapshot
    until(feed, synced(feed, exchange, "CCC"), "CCC's snapshot")
    wait_for(lambda: len(exchange.commands_of("update_subscription", "add_markets")) == 3, "three add_markets")
    adds = exchange.commands_of("update_subscription", "add_markets")
    assert sorted(c["params"]["sid"] for c in adds) == sorted(
        exchange.sids[c] for c in ("orderbook_delta", "trade", "ticker"))
    assert all(c["params"]["market_tickers"] == ["CCC"] for c in adds)
    assert feed.resyncs == 0


def test_delta_before_snapshot_asks_for_one(feed, exchange):
    exchange.books["CCC"] = {"yes": {"0.2000": "1.00"}, "no": {}}
    exchange.withhold.add("CCC")
    feed.subscribe(["AAA", "CCC"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA"), "AAA's snapshot")
    assert feed.books["CCC"].stale
    exchange.delta("CCC", "yes", "0.2000", "1.00")
    events = until(feed, synced(feed, exchange, "CCC"), "a snapshot asked for")
    ask = exchange.commands_of("update_subscription", "get_snapshot")
    assert [c["params"]["market_tickers"] for c in ask] == [["CCC"]]
    assert not any(isinstance(e, BookStale) and e.ticker == "AAA" for e in events)
    assert feed.stats.dropped == 1


def test_forced_close_reconnects_resubscribes_and_resyncs(feed, exchange):
    feed.subscribe(["AAA", "BBB"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA", "BBB"), "snapshots")
    exchange.drop_connection()
    exchange.books["AAA"]["yes"]["0.4400"] = "7.00"  # changed while we were away
    events = until(feed, lambda ev: any(isinstance(e, Reconnected) for e in ev) and
                   synced(feed, exchange, "AAA", "BBB")(ev), "a reconnect and resync")
    kinds = [type(e) for e in events]
    assert kinds.index(Disconnected) < kinds.index(Reconnected)
    assert {e.ticker for e in events if isinstance(e, Resynced)} == {"AAA", "BBB"}
    assert len(exchange.handshakes) == 2 and all(h["sig"] for h in exchange.handshakes)
    book_subs = [c for c in exchange.commands_of("subscribe") if c["params"]["channels"] == ["orderbook_delta"]]
    assert [c["params"]["market_tickers"] for c in book_subs] == [["AAA", "BBB"], ["AAA", "BBB"]]
    assert feed.resyncs == 2 and feed.stats.reconnects == 1 and feed.stats.connects == 2
    assert feed.books["AAA"].best_bid == D("0.4400")


def test_server_heartbeat_pings_are_answered(feed, exchange):
    feed.subscribe(["AAA"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA"), "the snapshot")
    pong = exchange.conn.ping(b"heartbeat")
    assert pong.wait(5)
    exchange.send({"type": "heartbeat"})  # an application-level heartbeat is ignored, not an error
    exchange.delta("AAA", "yes", "0.3000", "1.00")
    events = until(feed, synced(feed, exchange, "AAA"), "a delta after the heartbeat")
    assert not any(isinstance(e, (Disconnected, FeedError)) for e in events)
    assert feed.stats.connects == 1


def test_read_timeout_detects_a_dead_connection_and_reconnects(exchange, signer):
    proxy = FreezingProxy(exchange.port)
    feed = make_feed(f"ws://127.0.0.1:{proxy.port}{WS_PATH}", signer, read_timeout=0.3, ping_timeout=0.3)
    try:
        feed.subscribe(["AAA"])
        feed.start()
        until(feed, synced(feed, exchange, "AAA"), "the snapshot")
        proxy.freeze()  # the connection stays open but nothing flows: only the read timeout can tell
        events = until(feed, lambda ev: any(isinstance(e, Reconnected) for e in ev) and
                       synced(feed, exchange, "AAA")(ev), "a reconnect after the read timeout")
        lost = [e for e in events if isinstance(e, Disconnected)]
        assert lost and "no pong" in lost[0].reason
        assert len(exchange.handshakes) == 2 and feed.resyncs == 1
    finally:
        feed.stop()
        proxy.close()


def test_quiet_but_alive_connection_is_kept(feed, exchange):
    feed.read_timeout = 0.1
    feed.subscribe(["AAA"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA"), "the snapshot")
    time.sleep(0.5)  # several read timeouts, each answered by a pong
    exchange.delta("AAA", "yes", "0.3000", "1.00")
    events = until(feed, synced(feed, exchange, "AAA"), "a delta after the quiet spell")
    assert not any(isinstance(e, Disconnected) for e in events) and feed.stats.connects == 1


def test_refused_handshake_is_fatal(rsa_key, signer):
    ex = FakeExchange(rsa_key.public_key(), refuse_status=401)
    feed = make_feed(ex.url, signer)
    try:
        feed.subscribe(["AAA"])
        feed.start()
        with pytest.raises(AuthenticationError, match="401"):
            until(feed, lambda ev: False, "the refusal")
    finally:
        feed.stop()
        ex.close()


def test_other_channels_become_typed_events_and_errors_are_reported(exchange, signer):
    feed = make_feed(exchange.url, signer, channels=("orderbook_delta", "trade", "ticker", "fill"))
    try:
        feed.subscribe(["AAA"])
        feed.start()
        until(feed, synced(feed, exchange, "AAA"), "the snapshot")
        wait_for(lambda: len(exchange.sids) == 4, "four subscriptions")
        exchange.send({"type": "trade", "sid": exchange.sids["trade"], "msg": {
            "trade_id": "t1", "market_ticker": "AAA", "yes_price_dollars": "0.4200", "no_price_dollars": "0.5800",
            "count_fp": "3.00", "taker_outcome_side": "no", "taker_book_side": "ask", "ts_ms": 1_790_000_000_000}})
        exchange.send({"type": "ticker", "sid": exchange.sids["ticker"], "msg": {
            "market_ticker": "AAA", "price_dollars": "0.4200", "yes_bid_dollars": "0.4200",
            "yes_ask_dollars": "0.4500", "volume_fp": "10.00", "ts_ms": 1_790_000_000_000}})
        exchange.send({"type": "fill", "sid": exchange.sids["fill"], "msg": {
            "trade_id": "t1", "order_id": "o1", "market_ticker": "AAA", "is_taker": False, "outcome_side": "yes",
            "book_side": "bid", "yes_price_dollars": "0.4200", "count_fp": "3.00", "fee_cost": "0.017500",
            "post_position_fp": "3.00", "ts_ms": 1_790_000_000_000}})
        exchange.send({"id": 99, "type": "error", "msg": {"code": 16, "msg": "Market not found"}})
        events = until(feed, lambda ev: any(isinstance(e, FeedError) for e in ev)
                       and any(isinstance(e, FillMsg) for e in ev), "the messages")
        trade = next(e for e in events if isinstance(e, TradeMsg))
        assert (trade.ticker, trade.yes_price, trade.count, trade.taker_book_side) == ("AAA", D("0.42"), D(3), "ask")
        assert trade.ts == datetime.fromtimestamp(1_790_000_000, tz=timezone.utc)
        tick = next(e for e in events if isinstance(e, TickerMsg))
        assert tick.yes_ask == D("0.45") and tick.volume == D(10)
        fill = next(e for e in events if isinstance(e, FillMsg))
        assert fill.fee == D("0.0175") and fill.post_position == D(3) and not fill.is_taker
        assert next(e for e in events if isinstance(e, FeedError)).code == 16
        assert feed.books["AAA"].trades.last == D("0.42")
    finally:
        feed.stop()


def test_unsubscribe_deletes_markets(feed, exchange):
    feed.subscribe(["AAA", "BBB"])
    feed.start()
    until(feed, synced(feed, exchange, "AAA", "BBB"), "snapshots")
    feed.unsubscribe(["BBB"])
    assert "BBB" not in feed.books
    wait_for(lambda: exchange.commands_of("update_subscription", "delete_markets"), "delete_markets")
    assert exchange.commands_of("update_subscription", "delete_markets")[0]["params"]["market_tickers"] == ["BBB"]


def test_events_returns_after_stop(feed, exchange):
    feed.subscribe(["AAA"])
    feed.start()
    threading.Timer(0.3, feed.stop).start()
    list(feed.events(timeout=None))  # returns once stopped


def test_backoff_grows_and_caps():
    b = Backoff(initial=0.5, factor=2, maximum=4, jitter=0)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert 0.4 <= Backoff(jitter=0.2).delay(1, rand=lambda: 0.0) <= 0.6


# ----------------------------------------------------------------------------------- polling fallback
class FakeRestClient:
    """Stands in for KalshiClient (its read calls) with a book the test changes."""

    def __init__(self):
        self.book = OrderBook("AAA", (PriceLevel(D("0.42"), D("5")),), (PriceLevel(D("0.55"), D("3")),))
        self.trades: list[Trade] = []
        self.fail = False
        self.calls = 0

    def get_orderbook(self, ticker, depth=None):
        self.calls += 1
        if self.fail:
            raise ExchangeUnavailable("down", status=503)
        return self.book

    def get_orderbooks_by_tickers(self, tickers, depth=None, pool=None):
        from kalshi_trading.api.batch import read_each

        return read_each(tickers, lambda t: self.get_orderbook(t, depth), pool)

    def iter_trades(self, ticker=None, min_ts=None, max_ts=None, limit=None):
        return iter([t for t in self.trades if t.ticker == ticker])


def test_polling_feed_behind_the_same_interface():
    client = FakeRestClient()
    feed = PollingFeed(client, interval=0.02)
    try:
        feed.subscribe(["AAA"])
        feed.start()
        until(feed, lambda ev: not feed.books["AAA"].stale, "the first poll")
        assert feed.books["AAA"].best_ask == D("0.4500")
        client.book = OrderBook("AAA", (PriceLevel(D("0.43"), D("1.5")),), ())
        client.trades.append(Trade("t9", "AAA", D(2), D("0.43"), "yes", "bid",
                                   datetime.now(timezone.utc), False))
        events = until(feed, lambda ev: any(isinstance(e, TradeMsg) for e in ev)
                       and feed.books["AAA"].best_bid == D("0.43"), "the change")
        assert feed.books["AAA"].best_ask is None
        client.fail = True
        until(feed, lambda ev: any(isinstance(e, Disconnected) for e in ev), "the outage")
        assert feed.books["AAA"].stale
        client.fail = False
        events = until(feed, lambda ev: any(isinstance(e, Resynced) for e in ev), "the recovery")
        assert any(isinstance(e, Reconnected) for e in events) and feed.resyncs == 1
        polls = feed.stats.polls
        list(feed.events(timeout=0.2))  # an unchanged book yields no events but keeps being polled
        assert feed.stats.polls > polls
    finally:
        feed.stop()
