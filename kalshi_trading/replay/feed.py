"""The replay feed: a recording played back behind `marketdata.feed.MarketFeed`, on an injected replay clock.

It yields the typed events the live feed yields (`BookUpdated`, `BookStale`, `Resynced`, `TradeMsg`,
`TickerMsg`, `LifecycleMsg`, `Disconnected`, `Reconnected`, `FeedError`) in receive-time order, and keeps
`books[ticker]` (the same `LocalBook`) as the live feed would have at each step.  Time is the replay clock's:
`events(timeout)` hands out what was received in the next `timeout x clock.rate` seconds of recorded time and
moves the clock to the end of that window; each event moves it to the event's receive time first.  When the
recording ends (`finished`), the clock stays at its last receive time.

Sequence numbers are checked again, per session and subscription, as the live feed checks them.  A gap, a
duplicate, a hole where a file was cut off, or the end of a session marks the books concerned stale (a
`BookStale`; a stale book answers no prices, so nothing can fill against it) until their next snapshot rebuilds
them (a `Resynced`); each is listed in `problems` (`gaps` for the sequence ones) with its file and line.  A
snapshot that arrives on a live book is also a checkpoint: it must equal the book rebuilt from the deltas before
it (`checkpoints` counts the matches; a mismatch is a problem).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator

from kalshi_trading.errors import RecordingError
from kalshi_trading.marketdata.book import BookDataError, LocalBook, fixed_to_units, levels_equal
from kalshi_trading.marketdata.events import (
    BookStale,
    BookUpdated,
    Disconnected,
    FeedError,
    FeedEvent,
    Reconnected,
    Resynced,
)
from kalshi_trading.marketdata.feed import FeedStats, MarketFeed
from kalshi_trading.replay import schema as s
from kalshi_trading.replay.reader import (
    END, LEVEL, LIFE, LOST, MARK, SNAP, TICKER, TRADE, Problem, ProblemKind, Record, Recording,
)

log = logging.getLogger(__name__)

_BAD_ROW = (KeyError, TypeError, ValueError, AttributeError, BookDataError, s.RowError)


class ReplayClock:
    """Replay time (aware UTC): set by the replay feed as it hands out events; `rate` is replay seconds per
    `events(timeout)` second (1: a timeout of 0.05 covers 50 ms of the recording).

    The feed moves it by the receive-time text of each event; the datetime is made only when someone asks."""

    def __init__(self, start: datetime | None = None, rate: float = 1.0):
        if not rate > 0:
            raise ValueError("rate must be positive")
        self._now = start
        self._text = None if start is None else s.fmt_ts(start)
        self.rate = rate

    def now(self) -> datetime:
        if self._now is None:
            if self._text is None:
                raise RuntimeError("the replay clock starts with the replay feed (call feed.start() first)")
            self._now = s.parse_ts(self._text)
        return self._now

    @property
    def started(self) -> bool:
        return self._text is not None

    def advance_to(self, ts: datetime) -> None:
        """Move to `ts`; never backwards."""
        self.advance_text(s.fmt_ts(ts))

    def advance_text(self, text: str) -> None:
        """Move to a recording time given as its text (the format sorts as time does); never backwards."""
        if self._text is None or text > self._text:
            self._text = text
            self._now = None


class ReplayFeed:
    """`MarketFeed` over a recording directory (see the module docstring)."""

    def __init__(self, recording: Recording | str | Path, clock: ReplayClock | None = None, *,
                 start: datetime | None = None, end: datetime | None = None, exchange_time: bool = False):
        self.recording = recording if isinstance(recording, Recording) else Recording(recording)
        self.exchange_time = exchange_time  # replay on the exchange's clock (`Recording.records`), not receive time
        self.clock = clock or ReplayClock()
        self.books: dict[str, LocalBook] = {}  # the subscribed markets' books
        self.problems: list[Problem] = []
        self.checkpoints = 0
        self.finished = False
        self._all: dict[str, LocalBook] = {}  # every recorded market's book (a late subscriber gets it at once)
        self._subscribed: set[str] = set()
        self._stats = FeedStats()
        self._start = None if start is None else s.fmt_ts(start)
        self._end = None if end is None else s.fmt_ts(end)
        self._last_day = end.date() if end else None  # later files are not opened
        self._records: Iterator[Record] | None = None
        self._next: Record | None = None
        self._last_seq: dict[tuple[str, int | None], int] = {}
        self._sid_tickers: dict[tuple[str, int | None], set[str]] = {}
        self._session_tickers: dict[str, set[str]] = {}
        self._prices: dict[str, int] = {}
        self._doubted: set[str] = set()  # books made stale (and announced) since their last snapshot
        self._ts_text = ""
        self._ts = datetime.min

    # ---------------------------------------------------------------- MarketFeed
    def start(self) -> None:
        """Open the recording and set the clock to its first receive time (if the clock has no time yet)."""
        if self._records is not None:
            return
        # files before the start's day are read too: a session that began earlier needs its snapshots
        self._records = self.recording.records(self.problems, (None, self._last_day), self.exchange_time)
        self._next = next(self._records, None)
        if not self.clock.started:
            first = self._start or (self._next.ts_recv if self._next is not None else None)
            if first is not None:
                self.clock.advance_text(first)

    def stop(self) -> None:
        self.finished = True
        self._next = None

    def subscribe(self, tickers: Iterable[str]) -> None:
        """Follow markets (each must be in the recording: UsageError naming what is)."""
        for t in self.recording.check_markets(tickers):
            self._subscribed.add(t)
            self.books[t] = self._book(t)

    def unsubscribe(self, tickers: Iterable[str]) -> None:
        for t in tickers:
            t = t.strip().upper()
            self._subscribed.discard(t)
            self.books.pop(t, None)

    @property
    def resyncs(self) -> int:
        return self._stats.resyncs

    @property
    def stats(self) -> FeedStats:
        return replace(self._stats)

    @property
    def gaps(self) -> list[Problem]:
        """The sequence gaps and duplicates found (each made its books stale until their next snapshot)."""
        return [p for p in self.problems if p.kind in (ProblemKind.SEQ_GAP, ProblemKind.SEQ_DUPLICATE)]

    def events(self, timeout: float | None = None) -> Iterator[FeedEvent]:
        """What was received in the next `timeout x clock.rate` recorded seconds (None: everything left)."""
        self.start()
        records = self._records
        assert records is not None  # start() opened them
        horizon = None if timeout is None else self.clock.now() + timedelta(seconds=timeout * self.clock.rate)
        limit = None if horizon is None else s.fmt_ts(horizon)
        if self._end is not None and (limit is None or self._end < limit):
            limit = self._end
        end, start = self._end, self._start
        advance = self.clock.advance_text
        handle, delta = self._handle, self._delta
        while True:
            rec = self._next
            if rec is None:
                self.finished = True
                break
            ts = rec[0]
            if limit is not None and ts > limit:
                if end is not None and ts > end:
                    self.finished = True
                break
            self._next = next(records, None)
            out = delta(rec) if rec[1] == LEVEL else handle(rec)
            if out and (start is None or ts >= start):
                advance(ts)
                if isinstance(out, BookUpdated):  # the hot path hands its one event over bare
                    yield out
                else:
                    yield from out
        if horizon is not None and not self.finished:
            self.clock.advance_to(horizon)

    # ---------------------------------------------------------------- records -> events
    def _book(self, ticker: str) -> LocalBook:
        book = self._all.get(ticker)
        if book is None:
            book = self._all[ticker] = LocalBook(ticker)
        return book

    def _handle(self, rec: Record) -> list[FeedEvent]:
        self._stats.messages += 1
        code = rec.code
        try:
            if code == SNAP:
                return self._snapshot(rec)
            if code == TRADE:
                return self._trade(rec)
            if code == TICKER:
                ev = s.ticker_event(rec.row)
                return [ev] if ev.ticker in self._subscribed else []
            if code == LIFE:
                life = s.lifecycle_event(rec.row)
                return [life] if self._follows(life.ticker) else []
            if code == MARK:
                return self._marker(rec)
            if code in (END, LOST):
                return self._session_break(rec)
        except _BAD_ROW as exc:
            raise RecordingError(f"line {rec.line}: unreadable row ({exc})", rec.file.path) from None
        raise RecordingError(f"line {rec.line}: unknown record", rec.file.path)

    def _follows(self, ticker: str) -> bool:
        return ticker in self._subscribed or any(t.startswith(ticker + "-") for t in self._subscribed)

    def _time(self, text: str) -> datetime:
        if text != self._ts_text:  # consecutive deltas often share the exchange's millisecond
            self._ts_text, self._ts = text, s.parse_ts(text)
        return self._ts

    def _price(self, text: str) -> int:
        units = self._prices.get(text)
        if units is None:
            units = self._prices[text] = fixed_to_units(text, 4)
        return units

    def _delta(self, rec: Record) -> BookUpdated | list[FeedEvent] | None:
        """A delta row: the hot path (one per book event), kept to a few dict look-ups.  Its one `BookUpdated`
        comes bare (no list); what else it may yield (a gap's `BookStale`s) in a list; None for nothing."""
        row = rec[2]
        stats = self._stats
        stats.messages += 1
        stats.deltas += 1
        try:
            ticker, seq = row["ticker"], row["seq"]
            key = (rec[3].session, row["sid"])
            last = self._last_seq.get(key)
            if last is not None and type(seq) is int and seq == last + 1:
                self._last_seq[key] = seq
                known = self._sid_tickers.get(key)
                if known is None or ticker not in known:
                    self._note(key, ticker)
            else:
                out = self._sequence(rec, row["sid"], seq, ticker)
                if out is not None:
                    stats.dropped += 1
                    return out
            side, size = row["side"], row["size"]
            yes = side == "yes"
            if not yes and side != "no":
                raise ValueError(f"side {side!r}")
            price = self._prices.get(row["price"])
            if price is None:
                price = self._prices[row["price"]] = fixed_to_units(row["price"], 4)
            size_u = int(size.replace(".", "", 1)) if len(size) > 3 and size[-3] == "." else fixed_to_units(size, 2)
            book = self._all.get(ticker) or self._book(ticker)
            if book.apply_delta(yes, price, size_u):
                text = row["ts"]
                ts = self._ts if text == self._ts_text else self._time(text)
                book.updated = ts
                book.record_mid(ts)
                return BookUpdated(ticker, ts, False, yes, price, size_u) if ticker in self._subscribed else None
        except _BAD_ROW as exc:
            raise RecordingError(f"line {rec.line}: unreadable row ({exc})", rec.file.path) from None
        stats.dropped += 1
        if book.has_snapshot and ticker not in self._doubted:  # it was live: this delta broke it
            self.problems.append(Problem(ProblemKind.BAD_BOOK, rec.file.path, rec.line,
                                         f"{ticker}: {book.stale_reason}; stale until its next snapshot"))
            return self._announce([ticker], rec, book.stale_reason or "stale", already_stale=True)
        return []

    def _note(self, key: tuple[str, int | None], ticker: str) -> None:
        self._sid_tickers.setdefault(key, set()).add(ticker)
        self._session_tickers.setdefault(key[0], set()).add(ticker)

    def _snapshot(self, rec: Record) -> list[FeedEvent]:
        head = rec.row
        ticker = head["ticker"]
        out = self._sequence(rec, head["sid"], head["seq"], ticker) or []
        sides: dict[str, list[tuple[int, int]]] = {"yes": [], "no": []}
        for row in head["levels_rows"]:
            side = sides.get(row["side"])
            if side is None:
                raise ValueError(f"side {row['side']!r}")
            side.append((self._price(row["price"]), fixed_to_units(row["size"], 2)))
        yes, no = sides["yes"], sides["no"]
        ts = s.parse_ts(head["ts"])
        book = self._book(ticker)
        if not book.stale:  # a checkpoint: the deltas must have led exactly here
            if levels_equal(book, yes, no):
                self.checkpoints += 1
            else:
                self.problems.append(Problem(ProblemKind.BAD_BOOK, rec.file.path, rec.line,
                                             f"{ticker}: the snapshot at seq {head['seq']} differs from the book "
                                             "rebuilt from the deltas before it; replaced by the snapshot"))
        reason = book.stale_reason
        self._stats.snapshots += 1
        self._doubted.discard(ticker)
        resynced = book.apply_snapshot(yes, no, ts)
        book.record_mid(ts)
        if ticker not in self._subscribed:
            return out
        if resynced:
            self._stats.resyncs += 1
            out.append(Resynced(ticker, reason or "resync", ts))
        out.append(BookUpdated(ticker, ts, snapshot=True))
        return out

    def _trade(self, rec: Record) -> list[FeedEvent]:
        ev = s.trade_event(rec.row)
        book = self._all.get(ev.ticker)
        if book is not None:
            book.record_trade(ev.ts, int(ev.yes_price * 10_000))
        return [ev] if ev.ticker in self._subscribed else []

    def _marker(self, rec: Record) -> list[FeedEvent]:
        row = rec.row
        marker = row["marker"]
        if marker == s.STALE:
            return self._announce([row["ticker"]], rec, str(row.get("reason") or "stale"), ts=row.get("ts"))
        if marker == s.SEQ:
            return self._sequence(rec, row["sid"], row["seq"], None, control=True) or []
        ts = s.parse_ts(row.get("ts") or row["ts_recv"])
        if marker == s.DISCONNECTED:
            return [Disconnected(str(row.get("reason") or ""), ts)]
        if marker == s.RECONNECTED:
            self._reset(rec.file.session)
            return [Reconnected(int(row.get("attempts") or 0), ts)]
        if marker == s.ERROR:
            return [FeedError(row.get("code") or "?", str(row.get("message") or ""), ts, row.get("channel"))]
        raise RecordingError(f"line {rec.line}: unknown marker {marker!r}", rec.file.path)

    def _session_break(self, rec: Record) -> list[FeedEvent]:
        session = rec.file.session
        tickers = sorted(self._session_tickers.get(session, ()))
        self._reset(session)
        if rec.code == LOST:
            self.problems.append(Problem(ProblemKind.TRUNCATED_FILE, rec.file.path, rec.line,
                                         f"{rec.row['reason']}: books of the session stale until their next snapshot"))
        return self._announce(tickers, rec, rec.row["reason"])

    # ---------------------------------------------------------------- sequence and staleness
    def _sequence(self, rec: Record, sid: int | None, seq: int | None, ticker: str | None,
                  control: bool = False) -> list[FeedEvent] | None:
        """None when in order; else the stale events of the subscription's books (a gap or a duplicate)."""
        key = (rec.file.session, sid)
        if ticker is not None:
            self._note(key, ticker)
        if seq is None:
            return None
        if type(seq) is not int:
            raise TypeError(f"seq {seq!r}")
        last = self._last_seq.get(key)
        if last is None or seq == last + 1:
            self._last_seq[key] = seq
            return None
        if seq <= last:
            if control:
                return None  # a reply reporting a number already seen
            self._stats.duplicates += 1
            kind, what = ProblemKind.SEQ_DUPLICATE, "duplicate"
        else:
            self._stats.gaps += 1
            self._last_seq[key] = seq
            kind, what = ProblemKind.SEQ_GAP, "gap"
        tickers = sorted(self._sid_tickers.get(key, ()))
        self.problems.append(Problem(kind, rec.file.path, rec.line,
                                     f"seq {seq} after {last} on subscription {sid}: {', '.join(tickers) or 'no book'}"
                                     " stale until the next snapshot"))
        return self._announce(tickers, rec, f"seq {what}", ts=self._recorded_stale(f"seq {what}"))

    def _recorded_stale(self, reason: str) -> str | None:
        """The time of the live feed's own `BookStale` for what the replay just found, when the recording has it
        next (a gap the live feed saw too): the replayed event then carries the very same time."""
        nxt = self._next
        if nxt is not None and nxt.code == MARK and nxt.row.get("marker") == s.STALE and \
                nxt.row.get("reason") == reason:
            ts = nxt.row.get("ts")
            return ts if isinstance(ts, str) else None
        return None

    def _announce(self, tickers: list[str], rec: Record, reason: str, ts: str | None = None,
                  already_stale: bool = False) -> list[FeedEvent]:
        """Mark books stale; a `BookStale` for each subscribed one that was live."""
        when = s.parse_ts(ts or rec.ts_recv)
        out: list[FeedEvent] = []
        for t in tickers:
            book = self._book(t)
            was_live = already_stale or not book.stale
            book.mark_stale(reason)
            self._doubted.add(t)
            if was_live and t in self._subscribed:
                out.append(BookStale(t, book.stale_reason or reason, when))
        return out

    def _reset(self, session: str) -> None:
        for key in [k for k in self._last_seq if k[0] == session]:
            del self._last_seq[key]


def as_market_feed(feed: ReplayFeed) -> MarketFeed:
    """The replay feed where a `MarketFeed` is expected (mypy checks that it is one)."""
    return feed
