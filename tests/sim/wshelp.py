"""WebSocket test helpers: a signed `websockets.sync.client.connect`, frame readers and a book that
applies snapshots and deltas (written here from the reference, independently of the client)."""

from __future__ import annotations

import json
from decimal import Decimal

from websockets.sync.client import connect

from tests.sim.conftest import Signed

WS_PATH = "/trade-api/ws/v2"


def ws_url(server) -> str:
    return server.ws_url


def open_ws(server, who: Signed, **kw):
    """Connect with the three auth headers signed over ts + GET + /trade-api/ws/v2."""
    return connect(ws_url(server), additional_headers=who.headers("GET", WS_PATH), open_timeout=5,
                   close_timeout=1, **kw)


class Feed:
    """A connection plus helpers: send commands, read frames with a deadline, keep what is unread."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.inbox: list[dict] = []  # frames read while looking for a reply, not yet consumed

    def send(self, cmd: str, params: dict | None = None, **extra) -> int:
        self.next_id += 1
        body = {"id": self.next_id, "cmd": cmd}
        if params is not None:
            body["params"] = params
        body.update(extra)
        self.ws.send(json.dumps(body))
        return self.next_id

    def recv(self, timeout: float = 5.0) -> dict:
        if self.inbox:
            return self.inbox.pop(0)
        return json.loads(self.ws.recv(timeout=timeout))

    def replies(self, cid: int, n: int = 1, timeout: float = 5.0) -> list[dict]:
        """The next `n` frames answering command `cid`; other frames stay in the inbox, in order."""
        got, other = [], []
        while len(got) < n:
            frame = json.loads(self.ws.recv(timeout=timeout))
            (got if frame.get("id") == cid else other).append(frame)
        self.inbox.extend(other)
        return got

    def command(self, cmd: str, params: dict | None = None, n: int = 1, **extra) -> list[dict]:
        return self.replies(self.send(cmd, params, **extra), n)

    def recv_until(self, pred, timeout: float = 5.0) -> list[dict]:
        """Frames up to and including the first matching `pred`."""
        got = []
        while True:
            frame = self.recv(timeout)
            got.append(frame)
            if pred(frame):
                return got

    def drain(self, timeout: float = 0.3) -> list[dict]:
        """Everything that arrives until the line is quiet for `timeout` seconds."""
        got = []
        while True:
            try:
                got.append(self.recv(timeout))
            except TimeoutError:
                return got

    def subscribe(self, channels, tickers=None, **params) -> tuple[int, list[dict]]:
        body = {"channels": list(channels), **params}
        if tickers is not None:
            body["market_tickers"] = list(tickers)
        cid = self.send("subscribe", body)
        return cid, self.replies(cid, len(set(channels)))


class WsBook:
    """A book rebuilt from orderbook_snapshot + orderbook_delta, checking contiguous seq per sid."""

    def __init__(self):
        self.levels: dict[str, dict[str, dict[str, Decimal]]] = {}
        self.seq: dict[int, int] = {}

    def apply(self, frame: dict) -> None:
        sid, seq, msg = frame["sid"], frame["seq"], frame["msg"]
        if frame["type"] == "orderbook_snapshot":
            assert seq == self.seq.get(sid, 0) + 1
            self.levels[msg["market_ticker"]] = {
                "yes": {p: Decimal(c) for p, c in msg.get("yes_dollars_fp", [])},
                "no": {p: Decimal(c) for p, c in msg.get("no_dollars_fp", [])},
            }
        else:
            assert frame["type"] == "orderbook_delta"
            assert seq == self.seq[sid] + 1, (seq, self.seq[sid])
            side = self.levels[msg["market_ticker"]][msg["side"]]
            size = side.get(msg["price_dollars"], Decimal(0)) + Decimal(msg["delta_fp"])
            assert size >= 0
            if size == 0:
                side.pop(msg["price_dollars"], None)
            else:
                side[msg["price_dollars"]] = size
        self.seq[sid] = seq

    def as_rest(self, ticker: str) -> dict:
        """The same shape as REST `orderbook_fp` (ascending, 2-dp counts)."""
        out = {}
        for ws_side, rest_key in (("yes", "yes_dollars"), ("no", "no_dollars")):
            levels = self.levels.get(ticker, {}).get(ws_side, {})
            out[rest_key] = [[p, f"{levels[p]:.2f}"] for p in sorted(levels, key=Decimal)]
        return out


def book_frames(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f["type"] in ("orderbook_snapshot", "orderbook_delta")]
