"""Market feeds: the `MarketFeed` interface, the sequence-checked book keeper, and the shared event pump.

Two sources implement the interface: `feed_ws.WebSocketFeed` (the live WebSocket, reference
section 11) and `feed_poll.PollingFeed` (REST order-book polling, the fallback).  Both run their
I/O in a background thread that only reads and queues; the books are changed by whoever iterates
`events()`, on that thread.  So a (synchronous) strategy loop never sees a book half-updated or
ahead of the events it has handled, and no lock guards the hot path.

Sequencing (section 11): `seq` rises by 1 per message of a subscription (`sid`) across its markets,
snapshot first.  The check therefore lives here, per sid: a gap or a duplicate marks every book of
that sid stale and asks the source for fresh snapshots; a delta before any snapshot does the same
for its one book.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from kalshi_trading.marketdata.book import BookDataError, LocalBook, delta_fields, snapshot_levels
from kalshi_trading.marketdata.events import (
    PARSERS,
    BookStale,
    BookUpdated,
    Disconnected,
    FeedError,
    FeedEvent,
    Reconnected,
    Resynced,
    TradeMsg,
    ts_of,
    utcnow,
)
from kalshi_trading.errors import ResponseFormatError

log = logging.getLogger(__name__)

__all__ = ["MarketFeed", "FeedStats", "BookKeeper", "BookTap", "QueueFeed"]


class MarketFeed(Protocol):
    """What the strategy loop and `kalshi watch` read, whatever the source."""

    books: dict[str, LocalBook]

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def subscribe(self, tickers: Iterable[str]) -> None: ...

    def unsubscribe(self, tickers: Iterable[str]) -> None: ...

    def events(self, timeout: float | None = None) -> Iterator[FeedEvent]: ...

    @property
    def resyncs(self) -> int: ...

    @property
    def stats(self) -> "FeedStats": ...


class BookTap(Protocol):
    """Sees every sequenced book message as the feed received it, already parsed (prices and sizes in integer
    sub-units, the exchange time), before the sequence check: `replay.Recorder` writes them down.  A message that
    cannot be parsed is not tapped (the book goes stale, which the feed reports as a `BookStale`)."""

    def book_snapshot(self, ticker: str, sid: int | None, seq: int | None, yes: list[tuple[int, int]],
                      no: list[tuple[int, int]], ts: datetime) -> None: ...

    def book_delta(self, ticker: str, sid: int | None, seq: int | None, yes: bool, price: int, delta: int,
                   ts: datetime) -> None: ...

    def book_seq(self, sid: int, seq: int) -> None:
        """A command reply took (or reported past) the sid's last number: seq `seq` carried no book change."""


@dataclass
class FeedStats:
    """Counters of one feed (a copy is handed out by `feed.stats`)."""

    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    messages: int = 0
    snapshots: int = 0
    deltas: int = 0
    gaps: int = 0
    duplicates: int = 0
    resyncs: int = 0
    resync_requests: int = 0
    errors: int = 0
    dropped: int = 0  # deltas ignored because their book was stale
    polls: int = 0
    last_message: datetime | None = None


# ----------------------------------------------------------------------------------- book keeper
class BookKeeper:
    """Books of many markets, fed by (sid, seq)-stamped snapshot and delta messages.

    `request_resync(tickers)` is called (once per stale spell, repeated after `resync_timeout`
    seconds without a snapshot) to get fresh snapshots from the source.
    """

    def __init__(self, request_resync: Callable[[list[str]], None], stats: FeedStats | None = None,
                 resync_timeout: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.books: dict[str, LocalBook] = {}
        self.request_resync = request_resync
        self.stats = stats or FeedStats()
        self.resync_timeout = resync_timeout
        self._clock = clock
        self._last_seq: dict[int, int] = {}  # sid -> last seq seen
        self._sid_tickers: dict[int, set[str]] = {}  # sid -> tickers seen on it
        # ticker -> (when, asked): a snapshot awaited since then, explicitly asked for or not (a subscription)
        self._pending: dict[str, tuple[float, bool]] = {}
        self._last_ms: int | None = None
        self._last_ts: datetime = utcnow()
        self.tap: BookTap | None = None  # a recorder, when one listens

    def add(self, ticker: str) -> LocalBook:
        """A book for `ticker`, awaiting its first snapshot (asked again if none comes in time)."""
        book = self.books.get(ticker)
        if book is None:
            book = self.books[ticker] = LocalBook(ticker)
            self._pending[ticker] = (self._clock(), False)
        return book

    def remove(self, ticker: str) -> None:
        self.books.pop(ticker, None)
        self._pending.pop(ticker, None)
        for tickers in self._sid_tickers.values():
            tickers.discard(ticker)

    @property
    def resyncs(self) -> int:
        return sum(b.resyncs for b in self.books.values())

    # ---------------------------------------------------------------- sequence
    def check_seq(self, sid: int | None, seq: int | None) -> str | None:
        """None if in order (or unsequenced); "gap" or "duplicate" otherwise (then re-baselined)."""
        if seq is None or sid is None:
            return None
        last = self._last_seq.get(sid)
        if last is None or seq == last + 1:
            self._last_seq[sid] = seq
            return None
        if seq <= last:
            self.stats.duplicates += 1
            return "duplicate"
        self.stats.gaps += 1
        self._last_seq[sid] = seq
        return "gap"

    def note_control_seq(self, sid: int, seq: int) -> list[FeedEvent]:
        """A command reply (`ok`, `unsubscribed`) carrying the sid's seq: it may report the current
        number or take the next one (the reference does not say), so both are in order."""
        last = self._last_seq.get(sid)
        if self.tap is not None and (last is None or seq > last):
            self.tap.book_seq(sid, seq)
        if last is None or seq == last + 1:
            self._last_seq[sid] = seq
            return []
        if seq <= last:
            return []
        return self._sequence(sid, seq, "")

    def reset_sequences(self) -> None:
        """A new connection: new sids, new counters."""
        self._last_seq.clear()
        self._sid_tickers.clear()

    # ---------------------------------------------------------------- messages
    def on_snapshot(self, sid: int | None, seq: int | None, msg: Mapping) -> list[FeedEvent]:
        ticker = str(msg.get("market_ticker") or msg.get("ticker") or "")
        if sid is not None and ticker:  # every market of a sid starts with a snapshot on it
            self._sid_tickers.setdefault(sid, set()).add(ticker)
        ts = ts_of(msg)  # once: a snapshot without a time is stamped now, and the tap must see that same time
        if self.tap is not None:
            self._tap_snapshot(sid, seq, ticker, msg, ts)
        events = self._sequence(sid, seq, ticker)
        book = self.books.get(ticker)
        if book is None:  # a market we no longer (or never) asked for
            return events
        try:
            yes, no = snapshot_levels(msg, "yes"), snapshot_levels(msg, "no")
        except (BookDataError, ValueError, TypeError, KeyError) as exc:
            log.warning("unreadable snapshot for %s: %s", ticker, exc)
            return events + self._stale([ticker], "unreadable snapshot")
        return events + self.apply_snapshot(book, yes, no, ts)

    def _tap_snapshot(self, sid: int | None, seq: int | None, ticker: str, msg: Mapping, ts: datetime) -> None:
        try:
            yes, no = snapshot_levels(msg, "yes"), snapshot_levels(msg, "no")
        except (BookDataError, ValueError, TypeError, KeyError):
            return  # the book goes stale below; the recorder writes that down
        if self.tap is not None:
            self.tap.book_snapshot(ticker, sid, seq, yes, no, ts)

    def _tap_delta(self, sid: int | None, seq: int | None, ticker: str, msg: Mapping) -> None:
        try:
            yes, price, delta = delta_fields(msg)
        except (BookDataError, ValueError, TypeError, KeyError):
            return
        if self.tap is not None:
            self.tap.book_delta(ticker, sid, seq, yes, price, delta, self._time(msg.get("ts_ms"), msg))

    def apply_snapshot(self, book: LocalBook, yes: Iterable[tuple[int, int]], no: Iterable[tuple[int, int]],
                       ts: datetime) -> list[FeedEvent]:
        """Install a full book (from a WS snapshot or a REST poll)."""
        reason = book.stale_reason
        self.stats.snapshots += 1
        self._pending.pop(book.ticker, None)
        resynced = book.apply_snapshot(yes, no, ts)
        book.record_mid(ts)
        events: list[FeedEvent] = []
        if resynced:
            self.stats.resyncs += 1
            events.append(Resynced(book.ticker, reason or "resync", ts))
        events.append(BookUpdated(book.ticker, ts, snapshot=True))
        return events

    def on_delta(self, sid: int | None, seq: int | None, msg: Mapping) -> list[FeedEvent]:
        ticker = msg.get("market_ticker") or msg.get("ticker") or ""
        if self.tap is not None:
            self._tap_delta(sid, seq, ticker, msg)
        if sid is not None and seq is not None and self._last_seq.get(sid) == seq - 1:  # the usual case, inline
            self._last_seq[sid] = seq
        else:
            events = self._sequence(sid, seq, ticker)
            if events:  # this very message revealed a gap: its book is stale now
                self.stats.deltas += 1
                self.stats.dropped += 1
                return events
        book = self.books.get(ticker)
        if book is None:
            return []
        self.stats.deltas += 1
        try:
            yes, price, delta = delta_fields(msg)
            applied = book.apply_delta(yes, price, delta)
        except (BookDataError, ValueError, TypeError, KeyError) as exc:
            log.warning("unreadable delta for %s: %s", ticker, exc)
            return self._stale([ticker], "unreadable delta")
        if applied:
            ts = self._time(msg.get("ts_ms"), msg)
            book.updated = ts
            book.record_mid(ts)
            return [BookUpdated(ticker, ts, False, yes, price, delta)]
        self.stats.dropped += 1
        if book.resync_wanted and not self._asked(ticker):
            return self._stale([ticker], book.stale_reason or "stale")
        return []

    def _time(self, ts_ms: object, msg: Mapping) -> datetime:
        """The message time; consecutive deltas often share a millisecond, so the last one is reused."""
        if type(ts_ms) is not int:
            return ts_of(msg)
        if ts_ms != self._last_ms:
            self._last_ms, self._last_ts = ts_ms, datetime.fromtimestamp(ts_ms / 1000, timezone.utc)
        return self._last_ts

    def _sequence(self, sid: int | None, seq: int | None, ticker: str) -> list[FeedEvent]:
        problem = self.check_seq(sid, seq)
        if problem is None:
            return []
        on_sid = self._sid_tickers.get(sid, set()) if sid is not None else set()
        tickers = sorted(t for t in on_sid if t in self.books) or (
            [ticker] if ticker in self.books else [])
        log.warning("seq %s on sid %s: %s; resyncing %s", seq, sid, problem, ", ".join(tickers))
        return self._stale(tickers, f"seq {problem}")

    def _stale(self, tickers: list[str], reason: str) -> list[FeedEvent]:
        """Mark books stale and ask for snapshots of those not already asked for."""
        now = utcnow()
        events: list[FeedEvent] = []
        ask = []
        for t in tickers:
            book = self.books[t]
            was_live = not book.stale
            book.mark_stale(reason)
            if was_live:
                events.append(BookStale(t, book.stale_reason or reason, now))
            if not self._asked(t):
                ask.append(t)
        if ask:
            self._ask(ask)
        return events

    def mark_all_stale(self, reason: str, ask: bool = False) -> list[FeedEvent]:
        """Every book stale (a disconnect); with `ask`, also request snapshots."""
        now = utcnow()
        events: list[FeedEvent] = []
        for t, book in self.books.items():
            if not book.stale:
                events.append(BookStale(t, reason, now))
            book.mark_stale(reason)
            if not ask:
                self._pending[t] = (self._clock(), False)  # the resubscription brings snapshots
        if ask:
            self._ask(list(self.books))
        return events

    def _asked(self, ticker: str) -> bool:
        return self._pending.get(ticker, (0.0, False))[1]

    def _ask(self, tickers: list[str]) -> None:
        now = self._clock()
        for t in tickers:
            self._pending[t] = (now, True)
        self.stats.resync_requests += 1
        self.request_resync(tickers)

    def retry_overdue(self) -> None:
        """Ask again for snapshots that did not come within `resync_timeout`."""
        if not self._pending:
            return
        limit = self._clock() - self.resync_timeout
        overdue = [t for t, (since, _) in self._pending.items() if since < limit and t in self.books]
        if overdue:
            log.info("snapshots overdue for %s; asking again", ", ".join(overdue))
            self._ask(overdue)


# ----------------------------------------------------------------------------------- the event pump
_STOP = object()


class QueueFeed:
    """The consumer half shared by the sources: a queue of raw items turned into events by `events()`.

    Items are `(kind, payload)`: ("msg", parsed JSON envelope), ("book", (ticker, yes, no, ts)),
    ("trade", TradeMsg), ("event", FeedEvent), ("disconnected", reason), ("reconnected", attempts),
    ("fatal", exception).
    """

    def __init__(self, resync_timeout: float = 5.0):
        self._queue: queue.Queue = queue.Queue()
        self._stats = FeedStats()
        self._keeper = BookKeeper(self._request_resync, self._stats, resync_timeout)
        self.books = self._keeper.books

    # subclasses: how to get fresh snapshots for these tickers
    def _request_resync(self, tickers: list[str]) -> None:
        raise NotImplementedError

    @property
    def resyncs(self) -> int:
        return self._stats.resyncs

    @property
    def stats(self) -> FeedStats:
        return replace(self._stats)

    @property
    def tap(self) -> BookTap | None:
        """Who sees every book message as received (see `BookTap`); set it before `start()`."""
        return self._keeper.tap

    @tap.setter
    def tap(self, tap: BookTap | None) -> None:
        self._keeper.tap = tap

    def _put(self, kind: str, payload: Any) -> None:
        self._queue.put((kind, payload))

    def _wake(self) -> None:
        """Let a blocked `events()` return (called by `stop`)."""
        self._queue.put((_STOP, None))

    def events(self, timeout: float | None = None) -> Iterator[FeedEvent]:
        """Yield events as they arrive, applying book messages to `books` first.

        Returns once `timeout` seconds have passed since the call (None: only when the feed stops), so a
        loop can do timed work between calls however busy the market is.  Raises
        what the source found fatal (e.g. `AuthenticationError` on a refused handshake).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._keeper.retry_overdue()
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if wait <= 0:
                return
            try:
                kind, payload = self._queue.get(timeout=wait)
            except queue.Empty:
                continue
            if kind is _STOP:
                return
            if kind == "fatal":
                raise payload
            yield from self._handle(kind, payload)

    def drain(self) -> list[FeedEvent]:
        """Handle whatever is queued now, without waiting."""
        out: list[FeedEvent] = []
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                return out
            if kind is _STOP:
                self._wake()  # keep the stop visible to the next events() call
                return out
            if kind == "fatal":
                raise payload
            out.extend(self._handle(kind, payload))

    def _handle(self, kind: str, payload: Any) -> list[FeedEvent]:
        if kind == "msg":
            return self._on_message(payload)
        if kind == "book":
            ticker, yes, no, ts = payload
            book = self.books.get(ticker)
            if book is None or (not book.stale and book.levels_units() == (dict(yes), dict(no))):
                return []
            return self._keeper.apply_snapshot(book, yes, no, ts)
        if kind == "trade":
            return self._on_trade(payload)
        if kind == "control_seq":
            return self._keeper.note_control_seq(*payload)
        if kind == "disconnected":
            self._stats.disconnects += 1
            return [Disconnected(payload, utcnow()), *self._keeper.mark_all_stale("disconnected")]
        if kind == "reconnected":
            self._stats.reconnects += 1
            self._keeper.reset_sequences()
            return [*self._keeper.mark_all_stale("reconnect"), Reconnected(payload, utcnow())]
        if kind == "event":
            if isinstance(payload, FeedError):
                self._stats.errors += 1
            return [payload]
        log.debug("unknown queue item %r", kind)
        return []

    def _on_message(self, env: Mapping) -> list[FeedEvent]:
        self._stats.messages += 1
        typ = env.get("type")
        msg = env.get("msg")
        if not isinstance(msg, Mapping):
            return []
        self._stats.last_message = utcnow()
        if typ == "orderbook_delta":
            return self._keeper.on_delta(env.get("sid"), env.get("seq"), msg)
        if typ == "orderbook_snapshot":
            return self._keeper.on_snapshot(env.get("sid"), env.get("seq"), msg)
        parser = PARSERS.get(typ) if isinstance(typ, str) else None
        if parser is None:
            log.debug("ignoring message type %r", typ)
            return []
        try:
            event = parser(msg)
        except (ResponseFormatError, BookDataError, ValueError, TypeError) as exc:
            log.warning("unreadable %s message: %s", typ, exc)
            return []
        if isinstance(event, TradeMsg):
            return self._on_trade(event)
        return [event]

    def _on_trade(self, trade: TradeMsg) -> list[FeedEvent]:
        book = self.books.get(trade.ticker)
        if book is not None:
            book.record_trade(trade.ts, int(trade.yes_price * 10_000))
        return [trade]

