"""Run metrics and the final report (one JSON-ready dict; money and counts as exact decimal strings).

Metrics: orders placed, amended, decreased and cancelled (and per minute of wall time), fills, order actions
per fill, loop latency p50/p99 (decision = strategy + diff + risk, no I/O; tick = with I/O), API errors,
exchange rejections (and their share of placements), risk denials (raw, and unique withheld orders), feed
resyncs and disconnects, and quote uptime per market: the share of exchange time with both a bid and an ask
working, overall and while the strategy's spread gate is open (`QuoteTime`).  Equity and inventory are sampled
per timer pass for the chart.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping

from kalshi_trading.auto.ledger import BotFill, Ledger
from kalshi_trading.money import ZERO

MAX_SAMPLES = 4000


def percentile(values: Iterable[float], q: float) -> float | None:
    data = sorted(values)
    if not data:
        return None
    k = min(len(data) - 1, max(0, int(round(q / 100 * (len(data) - 1)))))
    return data[k]


@dataclass
class QuoteTime:
    """Exchange seconds of one market: observed, with both quotes working, with the spread gate open, and with
    both quotes working while it is open.  Each interval between two observations counts in the state seen at
    its start (the loop observes after every decision pass and every fill, so state changes only there)."""

    observed: float = 0.0
    quoted: float = 0.0
    gate: float = 0.0
    gate_quoted: float = 0.0
    last: datetime | None = None
    is_quoted: bool = False
    is_gate: bool | None = None  # None: the strategy has no spread gate

    def observe(self, now: datetime, quoted: bool, gate: bool | None) -> None:
        if self.last is not None:
            dt = max(0.0, (now - self.last).total_seconds())
            self.observed += dt
            self.quoted += dt if self.is_quoted else 0.0
            if self.is_gate:
                self.gate += dt
                self.gate_quoted += dt if self.is_quoted else 0.0
        if self.last is None or now > self.last:
            self.last = now
        self.is_quoted, self.is_gate = quoted, gate

    def close(self, now: datetime) -> None:
        """Count the time up to `now` in the last state seen."""
        self.observe(now, self.is_quoted, self.is_gate)

    @property
    def uptime(self) -> float | None:
        return self.quoted / self.observed if self.observed > 0 else None

    @property
    def gate_share(self) -> float | None:
        """Share of the observed time the spread gate was open (None: no gate, or nothing observed)."""
        if self.is_gate is None and self.gate == 0:
            return None
        return self.gate / self.observed if self.observed > 0 else None

    @property
    def gate_uptime(self) -> float | None:
        """Quote uptime over the time the spread gate was open only."""
        return self.gate_quoted / self.gate if self.gate > 0 else None


@dataclass
class Metrics:
    ticks: int = 0
    timer_passes: int = 0
    placed: int = 0
    amended: int = 0
    decreased: int = 0
    cancelled: int = 0
    rejected: int = 0  # exchange rejections of placements and amends
    rejected_cross: int = 0  # of which post-only crosses
    place_rejected: int = 0  # placements the exchange rejected (placements sent = placed + this)
    denials: int = 0  # raw: passes a wanted order was not sent for a risk rule (denied, or waiting for the rate)
    denials_unique: int = 0  # withheld orders (a denial repeated for the same wanted order counts once)
    held_crossed: int = 0  # passes that decided nothing on a crossed or locked book
    held_echo: int = 0  # passes that waited for the book to show the bot's own last write, or a REST fill
    held_moved: int = 0  # sends not made because the book moved between the decision and the send
    held_self_cross: int = 0  # sends not made because they would have crossed the bot's own other quote
    cross_waits: int = 0  # sends held back until a newer book after a post-only cross
    rate_waits: int = 0  # sends held back until the order-rate window reopens
    book_events: int = 0  # book updates from the feed (coalesced: a market is decided once per burst)
    unread: int = 0  # book or trade news outside what a quiet market's last pass read (BookBand): not decided on
    fills: int = 0
    api_errors: int = 0
    api_error_kinds: Counter = field(default_factory=Counter)  # (call, error class) -> count
    resyncs: int = 0
    disconnects: int = 0
    stale_books: int = 0
    feed_errors: int = 0
    reconciles: int = 0
    volume: Decimal = ZERO
    fees: Decimal = ZERO
    decision_latency: deque = field(default_factory=lambda: deque(maxlen=100_000))
    tick_latency: deque = field(default_factory=lambda: deque(maxlen=100_000))
    risk_events: list = field(default_factory=list)
    samples: list = field(default_factory=list)  # (ts, net pnl, {ticker: position})
    quoted: dict[str, QuoteTime] = field(default_factory=dict)
    wall_start: float | None = None
    wall_end: float | None = None
    ex_start: datetime | None = None
    ex_end: datetime | None = None
    last_fills: deque = field(default_factory=lambda: deque(maxlen=5))

    def started(self, wall: float, ex_now: datetime) -> None:
        """The run's start (the first one: a loop started again after a store outage continues the same run)."""
        if self.wall_start is None:
            self.wall_start, self.ex_start = wall, ex_now

    def stopped(self, wall: float, ex_now: datetime) -> None:
        self.wall_end, self.ex_end = wall, ex_now
        for q in self.quoted.values():
            q.close(ex_now)

    def observe(self, ticker: str, now: datetime, quoted: bool, gate: bool | None) -> None:
        """The market's state from `now` on: both quotes working or not, its spread gate open or not."""
        self.quoted.setdefault(ticker, QuoteTime()).observe(now, quoted, gate)

    @property
    def actions(self) -> int:
        """Order actions sent and accepted: placements, amends, decreases and cancels."""
        return self.placed + self.amended + self.decreased + self.cancelled

    def on_fill(self, fill: BotFill) -> None:
        self.volume += fill.count
        self.fees += fill.fee
        self.last_fills.append(fill)

    def sample(self, now: datetime, ledger: Ledger, marks: Mapping[str, Decimal], tickers: Iterable[str],
               risk: str) -> None:
        net = ledger.realized() + ledger.unrealized(marks) - ledger.fees()
        positions = {t: ledger.position(t) for t in tickers}
        if len(self.samples) >= MAX_SAMPLES:
            self.samples = self.samples[::2]  # keep the whole run at half the resolution
        self.samples.append((now, net, positions))

    @property
    def wall_seconds(self) -> float:
        if self.wall_start is None or self.wall_end is None:
            return 0.0
        return max(self.wall_end - self.wall_start, 0.0)

    @property
    def exchange_seconds(self) -> float:
        if self.ex_start is None or self.ex_end is None:
            return 0.0
        return max((self.ex_end - self.ex_start).total_seconds(), 0.0)

    def uptime(self) -> dict[str, float | None]:
        return {t: q.uptime for t, q in self.quoted.items()}

    def summary(self, feed_resyncs: int | None = None) -> dict:
        minutes = self.wall_seconds / 60 if self.wall_seconds > 0 else None

        def per_min(n: int) -> float | None:
            return round(n / minutes, 2) if minutes else None

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 3)

        sent = self.placed + self.place_rejected

        return {
            "ticks": self.ticks,
            "timer_passes": self.timer_passes,
            "orders_placed": self.placed,
            "orders_amended": self.amended,
            "orders_decreased": self.decreased,
            "orders_cancelled": self.cancelled,
            "orders_placed_per_minute": per_min(self.placed),
            "orders_cancelled_per_minute": per_min(self.cancelled),
            "orders_rejected": self.rejected,
            "orders_rejected_post_only_cross": self.rejected_cross,
            "orders_rejected_pct": round(100 * self.rejected / sent, 2) if sent else None,
            "risk_denials": self.denials,
            "risk_denials_unique": self.denials_unique,
            "order_actions": self.actions,
            "actions_per_fill": round(self.actions / self.fills, 2) if self.fills else None,
            "held_crossed_book": self.held_crossed,
            "held_for_book_to_show": self.held_echo,
            "held_book_moved": self.held_moved,
            "held_self_cross": self.held_self_cross,
            "cross_backoff_waits": self.cross_waits,
            "rate_limit_waits": self.rate_waits,
            "book_events": self.book_events,
            "news_not_decided_on": self.unread,
            "fills": self.fills,
            "api_errors": self.api_errors,
            "resyncs": self.resyncs if feed_resyncs is None else max(self.resyncs, feed_resyncs),
            "disconnects": self.disconnects,
            "reconciliations": self.reconciles,
            "decision_latency_ms_p50": ms(percentile(self.decision_latency, 50)),
            "decision_latency_ms_p99": ms(percentile(self.decision_latency, 99)),
            "loop_latency_ms_p50": ms(percentile(self.tick_latency, 50)),
            "loop_latency_ms_p99": ms(percentile(self.tick_latency, 99)),
            "wall_seconds": round(self.wall_seconds, 3),
            "exchange_seconds": round(self.exchange_seconds, 3),
            "speed": round(self.exchange_seconds / self.wall_seconds, 2) if self.wall_seconds else None,
        }


def build_report(metrics: Metrics, ledger: Ledger, marks: Mapping[str, Decimal], *, risk_state: str,
                 risk_reason: str, tickers: Iterable[str], strategy: str, env: str, feed: str,
                 feed_resyncs: int | None = None, events: list[dict] | None = None) -> dict[str, Any]:
    """The final report as a JSON-ready dict (decimals as strings).  P&L is the ledger's lot accounting
    (average cost, the exchange's method): the same figures `kalshi pnl --method avg` computes from the journal."""
    tickers = list(tickers)
    realized = ledger.realized()
    unrealized = ledger.unrealized(marks)
    fees = ledger.fees()
    markets = []
    all_tickers = sorted(set(tickers) | set(ledger.tickers()))
    for t in all_tickers:
        p, st = ledger.pnl(t), ledger.stats_of(t)
        q = metrics.quoted.get(t) or QuoteTime()
        markets.append({
            "ticker": t, "position": str(p.position), "max_inventory": str(st.max_abs_position),
            "fills": st.fills, "volume": str(st.volume), "fees": str(p.fees_paid), "realized_pnl": str(p.realized_pnl),
            "cost_basis": str(p.cost_basis), "unrealized_pnl": str(ledger.ticker_unrealized(t, marks.get(t))),
            "mark": str(marks[t]) if t in marks else None, "quote_uptime": _round(q.uptime),
            "quote_uptime_gate_open": _round(q.gate_uptime), "gate_open_share": _round(q.gate_share),
        })
    stats = [ledger.stats_of(t) for t in all_tickers]
    quoted = list(metrics.quoted.values())
    return {
        "env": env,
        "strategy": strategy,
        "feed": feed,
        "pnl_method": ledger.method,
        "markets": markets,
        "fills": sum(st.fills for st in stats),
        "volume": str(sum((st.volume for st in stats), ZERO)),
        "fees": str(fees),
        "realized_pnl": str(realized),
        "unrealized_pnl": str(unrealized),
        "net_pnl": str(realized + unrealized - fees),
        "max_inventory": str(max((st.max_abs_position for st in stats), default=ZERO)),
        "risk_state": risk_state,
        "risk_reason": risk_reason,
        "risk_events": [{"ts": e["ts"].isoformat() if isinstance(e["ts"], datetime) else e["ts"],
                         "kind": e["kind"], "message": e["message"]}
                        for e in (events if events is not None else metrics.risk_events)],
        "quote_uptime": _mean(q.uptime for q in quoted),
        "quote_uptime_gate_open": _mean(q.gate_uptime for q in quoted),
        "gate_open_share": _mean(q.gate_share for q in quoted),
        "metrics": metrics.summary(feed_resyncs),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _mean(values: Iterable[float | None]) -> float | None:
    """The mean over the markets that have a figure (None when none has)."""
    have = [v for v in values if v is not None]
    return round(sum(have) / len(have), 4) if have else None


def render_text(report: dict) -> str:
    """The report for people (plain text; the CLI adds colour)."""
    m = report["metrics"]
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    rejected_pct = "-" if m["orders_rejected_pct"] is None else f"{m['orders_rejected_pct']}%"
    lines = [
        f"strategy {report['strategy']} on {', '.join(x['ticker'] for x in report['markets'])} "
        f"[{report['env']}] feed: {report['feed']}",
        f"fills {report['fills']}  volume {report['volume']}  fees ${report['fees']}",
        f"P&L realized ${report['realized_pnl']}  unrealized ${report['unrealized_pnl']}  "
        f"net ${report['net_pnl']}",
        f"max inventory {report['max_inventory']}  quote uptime {pct(report['quote_uptime'])} overall, "
        f"{pct(report['quote_uptime_gate_open'])} while the spread gate was open "
        f"({pct(report['gate_open_share'])} of the time)",
        f"risk: {report['risk_state']} ({report['risk_reason']}); {len(report['risk_events'])} risk events",
        f"orders placed {m['orders_placed']} ({m['orders_placed_per_minute']}/min)  amended {m['orders_amended']}  "
        f"decreased {m['orders_decreased']}  cancelled {m['orders_cancelled']} "
        f"({m['orders_cancelled_per_minute']}/min)  {m['actions_per_fill'] or '-'} actions per fill",
        f"rejected by the exchange {m['orders_rejected']} ({rejected_pct} of placements; "
        f"{m['orders_rejected_post_only_cross']} post-only crosses)  risk denials {m['risk_denials_unique']} "
        f"withheld orders ({m['risk_denials']} checks denied)",
        f"loop latency p50 {m['loop_latency_ms_p50']} ms  p99 {m['loop_latency_ms_p99']} ms  (decision only: "
        f"p50 {m['decision_latency_ms_p50']} ms  p99 {m['decision_latency_ms_p99']} ms)",
        f"API errors {m['api_errors']}  resyncs {m['resyncs']}  ticks {m['ticks']}  "
        f"{m['exchange_seconds']} exchange s in {m['wall_seconds']} wall s (x{m['speed']})",
    ]
    for e in report["risk_events"][-10:]:
        lines.append(f"  {e['ts']} {e['kind']}: {e['message']}")
    return "\n".join(lines)


def plot(metrics: Metrics, path: str) -> None:
    """Equity and inventory chart (needs matplotlib, the `plot` extra; imported here, lazily)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = [s[0] for s in metrics.samples]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    ax1.plot(ts, [float(s[1]) for s in metrics.samples], color="tab:green")
    ax1.set_ylabel("net P&L ($)")
    ax1.set_title("kalshi auto: equity and inventory")
    tickers = sorted({t for s in metrics.samples for t in s[2]})
    for t in tickers:
        ax2.step(ts, [float(s[2].get(t, 0)) for s in metrics.samples], where="post", label=t)
    ax2.set_ylabel("position (contracts, +YES/-NO)")
    if tickers:
        ax2.legend(fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
