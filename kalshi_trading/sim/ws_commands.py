"""The WebSocket v2 commands (reference section 11): subscribe, unsubscribe, update_subscription,
list_subscriptions; channel names, error codes and the subscription record.

A mixin of `feed.Feed` (kept apart to keep modules small); it runs under the exchange lock and
uses the feed's subscription bookkeeping.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from kalshi_trading.sim import ws_wire as ww

if TYPE_CHECKING:
    from kalshi_trading.sim.engine import Engine
    from kalshi_trading.sim.exchange import SimExchange
    from kalshi_trading.sim.ws import Connection

log = logging.getLogger(__name__)

BOOK = "orderbook_delta"
TICKER = "ticker"
TRADE = "trade"
FILL = "fill"
POSITIONS = "market_positions"
ORDERS = "user_orders"
LIFECYCLE = "market_lifecycle_v2"
# Accepted but never publish in the sim (no order-group events, combos or RFQs yet).
SILENT = ("order_group_updates", "multivariate_market_lifecycle", "communications")
CHANNELS = (BOOK, TICKER, TRADE, FILL, POSITIONS, ORDERS, LIFECYCLE) + SILENT
SEQUENCED = (BOOK, "order_group_updates")
PRIVATE = (FILL, POSITIONS, ORDERS)

ERRORS = {
    1: "Unable to process message", 2: "Params required", 3: "Channels required", 4: "Subscription IDs required",
    5: "Unknown command", 6: "Already subscribed", 7: "Unknown subscription ID", 8: "Unknown channel name",
    9: "Authentication required", 10: "Channel error", 11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action", 14: "Market Ticker required", 15: "Action required", 16: "Market not found",
    17: "Internal error", 18: "Command timeout", 25: "Buffer overflow", 26: "Too many markets",
    27: "Too many commands",
}
MAX_MARKETS = 10_000  # per subscription (error 26 beyond)


class CommandError(Exception):
    def __init__(self, code: int, detail: str = ""):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def reply(cmd_id: Any, **fields: Any) -> dict:
    """A command reply; `id` echoes the client's and is left out when it sent none."""
    return fields if cmd_id is None else {"id": cmd_id, **fields}


def error_frame(code: int, cmd_id: Any = None, sid: int | None = None, detail: str = "") -> dict:
    frame: dict[str, Any] = {
        "type": "error", "msg": {"code": code, "msg": ERRORS[code] + (f": {detail}" if detail else "")}}
    if cmd_id is not None:
        frame["id"] = cmd_id
    if sid is not None:
        frame["sid"] = sid
    return frame


class Sub:
    __slots__ = ("conn", "sid", "channel", "tickers", "seq", "yes_price", "skip_ack", "alive")

    def __init__(self, conn: Connection, sid: int, channel: str, tickers: set[str] | None, opts: dict):
        self.conn = conn
        self.sid = sid
        self.channel = channel
        self.tickers = tickers  # None = every market
        self.seq = 0  # last seq sent (sequenced channels)
        self.yes_price = bool(opts.get("use_yes_price"))
        self.skip_ack = bool(opts.get("skip_ticker_ack"))
        self.alive = True

    def covers(self, ticker: str) -> bool:
        return self.tickers is None or ticker in self.tickers


class FeedCommands:
    """The commands; `feed.Feed` provides the state and the helpers declared here."""

    lock: threading.RLock
    engine: Engine
    exchange: SimExchange

    if TYPE_CHECKING:  # implemented by Feed
        def flush(self) -> None: ...
        def _send(self, out: dict) -> None: ...
        def _add(self, sub: Sub) -> None: ...
        def _remove(self, sub: Sub) -> None: ...
        def _reindex(self) -> None: ...
        def _tickers(self, out: dict, tickers: list[str], now: int, only_changed: bool,
                     subs: list[Sub] | None = None) -> None: ...

        @staticmethod
        def _put(out: dict, sub: Sub | None, frame: dict, conn: Connection | None = None) -> None: ...

    def command(self, conn: Connection, text: str | bytes) -> None:
        """Handle one client frame; replies and errors go to the connection's queue."""
        cmd_id = None
        allowed = conn.allow_command()  # every frame spends from the connection's budget
        try:
            try:
                data = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                raise CommandError(1, "not JSON") from None
            if not isinstance(data, dict):
                raise CommandError(1, "not a JSON object")
            cmd_id = data.get("id")
            if not allowed:
                raise CommandError(27)
            cmd = data.get("cmd")
            handlers = {"subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
                        "update_subscription": self._update, "list_subscriptions": self._list}
            handler = handlers.get(cmd) if isinstance(cmd, str) else None
            if handler is None:
                raise CommandError(5, str(cmd))
            params = data.get("params")
            if cmd != "list_subscriptions":
                if params is None:
                    raise CommandError(2)
                if not isinstance(params, dict):
                    raise CommandError(11, "params must be an object")
            with self.lock:
                out: dict = {}
                handler(conn, cmd_id, params or {}, out)
                self._send(out)
        except CommandError as exc:
            conn.push([(None, error_frame(exc.code, cmd_id, detail=exc.detail))], force=True)
        except Exception:  # a bug must not kill the connection; report code 17
            log.exception("ws command failed")
            conn.push([(None, error_frame(17, cmd_id))], force=True)

    def _tickers_param(self, params: dict) -> list[str] | None:
        tickers = params.get("market_tickers")
        one = params.get("market_ticker")
        if tickers is None and one is None:
            return None
        found: list[str] = []
        if tickers is not None:
            if not isinstance(tickers, list) or not all(isinstance(t, str) for t in tickers):
                raise CommandError(11, "market_tickers must be a list of strings")
            found.extend(tickers)
        if one is not None:
            if not isinstance(one, str):
                raise CommandError(11, "market_ticker must be a string")
            found.append(one)
        found = list(dict.fromkeys(t for t in found if t))
        if len(found) > MAX_MARKETS:
            raise CommandError(26)
        missing = [t for t in found if t not in self.engine.markets]
        if missing:
            raise CommandError(16, ",".join(missing[:5]))
        return found

    def _subscribe(self, conn: Connection, cmd_id: Any, params: dict, out: dict) -> None:
        channels = params.get("channels")
        if not channels:
            raise CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise CommandError(11, "channels must be a list of strings")
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            raise CommandError(8, unknown[0])
        tickers = self._tickers_param(params)
        if BOOK in channels and not tickers:
            raise CommandError(14)
        for channel in dict.fromkeys(channels):
            existing = next((s for s in conn.subs.values() if s.channel == channel), None)
            if existing is None:
                conn.next_sid += 1
                sub = Sub(conn, conn.next_sid, channel, set(tickers) if tickers else None, params)
                self._add(sub)
                self._put(out, None, reply(cmd_id, type="subscribed", msg={"channel": channel, "sid": sub.sid}),
                          conn)
                new = sorted(sub.tickers) if sub.tickers else []
            else:  # re-subscribing adds markets (or widens to every market)
                if existing.tickers is None or (tickers and set(tickers) <= existing.tickers):
                    self._put(out, None, error_frame(6, cmd_id, existing.sid, channel), conn)
                    continue
                sub = existing
                self.flush()
                new = [t for t in tickers if t not in sub.tickers] if tickers else []
                if tickers:
                    sub.tickers.update(new)
                else:
                    sub.tickers = None
                self._reindex()
                self._put(out, None, reply(cmd_id, type="subscribed", msg={"channel": channel, "sid": sub.sid}),
                          conn)
            if channel == BOOK:
                for ticker in new:
                    self._snapshot(out, sub, ticker)
            elif channel == TICKER and params.get("send_initial_snapshot"):
                wanted = new if sub.tickers is not None else sorted(
                    t for t, m in self.engine.markets.items() if m.status == "active")
                self._tickers(out, wanted, self.exchange.clock.now_ms(), only_changed=False, subs=[sub])

    def _snapshot(self, out: dict, sub: Sub, ticker: str) -> None:
        sub.seq += 1
        book = self.engine.books[ticker]
        self._put(out, sub, {"type": "orderbook_snapshot", "sid": sub.sid, "seq": sub.seq,
                             "msg": ww.snapshot(book, sub.yes_price)})

    def _sids(self, conn: Connection, params: dict) -> list[Sub]:
        sids = params.get("sids")
        if not sids:
            raise CommandError(4)
        if not isinstance(sids, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in sids):
            raise CommandError(11, "sids must be a list of integers")
        subs = []
        for sid in dict.fromkeys(sids):
            sub = conn.subs.get(sid)
            if sub is None:
                raise CommandError(7, str(sid))
            subs.append(sub)
        return subs

    def _unsubscribe(self, conn: Connection, cmd_id: Any, params: dict, out: dict) -> None:
        for sub in self._sids(conn, params):
            self._remove(sub)
            self._put(out, None, reply(cmd_id, sid=sub.sid, seq=sub.seq, type="unsubscribed"), conn)

    def _update(self, conn: Connection, cmd_id: Any, params: dict, out: dict) -> None:
        sids: object
        if "sid" in params and params["sid"] is not None:
            sids = [params["sid"]]
        else:
            sids = params.get("sids")
        if not isinstance(sids, list) or len(sids) != 1:
            raise CommandError(12)
        sid = sids[0]
        if not isinstance(sid, int) or isinstance(sid, bool):
            raise CommandError(11, "sid must be an integer")
        sub = conn.subs.get(sid)
        if sub is None:
            raise CommandError(7, str(sid))
        action = params.get("action")
        if not action:
            raise CommandError(15)
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise CommandError(13, str(action))
        tickers = self._tickers_param(params)
        self.flush()
        snapshots: list[str] = []
        if action == "get_snapshot":
            if sub.channel != BOOK:
                raise CommandError(13, "get_snapshot needs an orderbook_delta subscription")
            snapshots = tickers or sorted(sub.tickers or ())
            stray = [t for t in snapshots if t not in sub.tickers]
            if stray:
                raise CommandError(11, "not in this subscription: " + ",".join(stray[:5]))
        elif not tickers:
            raise CommandError(14)
        elif action == "add_markets":
            if sub.tickers is not None:
                snapshots = [t for t in tickers if t not in sub.tickers]
                sub.tickers.update(snapshots)
                if sub.channel != BOOK:
                    snapshots = []
                self._reindex()
        else:
            if sub.tickers is None:
                raise CommandError(11, "the subscription covers every market")
            sub.tickers.difference_update(tickers)
            self._reindex()
        msg = {} if sub.skip_ack else {"market_tickers": sorted(sub.tickers) if sub.tickers is not None else []}
        self._put(out, None, reply(cmd_id, sid=sub.sid, seq=sub.seq, type="ok", msg=msg), conn)
        for ticker in snapshots:
            self._snapshot(out, sub, ticker)

    def _list(self, conn: Connection, cmd_id: Any, params: dict, out: dict) -> None:
        rows = [{"channel": s.channel, "sid": s.sid} for s in sorted(conn.subs.values(), key=lambda s: s.sid)]
        self._put(out, None, reply(cmd_id, type="ok", msg=rows), conn)
