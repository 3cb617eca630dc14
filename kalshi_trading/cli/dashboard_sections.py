"""The dashboard's sections, built from the same services and rendered by the same row functions as the commands
(`kalshi portfolio`, `orders`, `paper report --calibration`, `signals`, `paper orders`, `logs --errors`), so the
page shows exactly the terminal's numbers.  The bots' section is `dashboard_bots.py`.

Every reader runs on the dashboard board's one thread (`ops/web/board.py`) and reads through the storage port and
the client only, so any backend works; the one exception is the tail of `errors.log`, a file of this machine's
`KALSHI_LOG_DIR`, read as `kalshi logs --errors` reads it (a trader expects to see it; with a shared store the
journal's recorded errors are the other machines' view).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any

from kalshi_trading.cli.commands_signals import (
    ATTEMPT_HEADERS,
    SIGNAL_HEADERS,
    attempt_rows,
    calibration_rows,
    markets_now,
    paper_report_rows,
    signal_rows,
)
from kalshi_trading.cli.render import iso, to_jsonable, usd
from kalshi_trading.cli.views import (
    ORDER_HEADERS,
    PNL_HEADERS,
    POSITION_HEADERS,
    order_json,
    order_rows,
    pnl_rows,
    position_rows,
    summary_json,
    totals_rows,
)
from kalshi_trading.money import ZERO
from kalshi_trading.ops.web.sections import Block, Chart, Fields, Note, Point, SectionDoc, Table, Tone

CURVE_POINTS = 400  # points drawn at most (evenly chosen, the last always kept)
RECENT = 25  # rows of the recent-signals and attempts tables
ERROR_DAYS = 7  # the journal's recorded errors of this many days
ERRORS_SHOWN = 50
LOG_LINES = 50
ALERTS_SHOWN = 200
RIGHT = "right"


def badge(app_ctx) -> str:
    """The environment as text (no terminal colours in a page)."""
    return f"[{app_ctx.settings.env_label}]"


# ------------------------------------------------------------------ portfolio
class Portfolio:
    """`kalshi portfolio --method METHOD` (it syncs the journal first), the P&L by market, and the realized curve.

    The curve needs the lots once more (a third pass over every fill after the summary's two); it is made again
    only when the realized P&L or the fees paid moved, i.e. when a fill or a close came in."""

    def __init__(self, app_ctx, method: str):
        self.app_ctx = app_ctx
        self.method = method
        self._curve: tuple[tuple, Chart] | None = None

    def __call__(self) -> SectionDoc:
        from kalshi_trading.trading.portfolio import incomplete_error

        app_ctx = self.app_ctx
        summary = app_ctx.portfolio.summary(method=self.method)
        blocks: list[Block] = [
            Fields("totals", "Totals", tuple(totals_rows(summary))),
            Table("positions", f"Positions ({len(summary.positions)})", POSITION_HEADERS,
                  cells(position_rows(summary)), align=("left", "left", RIGHT, "left", RIGHT, RIGHT, RIGHT)),
            self.curve(summary),
            Table("pnl", "P&L by market", PNL_HEADERS, cells(pnl_rows(summary)),
                  align=("left", "left", RIGHT, RIGHT, RIGHT, RIGHT)),
        ]
        blocks += [Note(f"discrepancy-{i}", f"warning: {d}", Tone.WARNING)
                   for i, d in enumerate(summary.discrepancies)]
        error = incomplete_error(summary)
        if error is not None:
            blocks.insert(0, Note("incomplete", str(error), Tone.ERROR))
        subtitle = f"{badge(app_ctx)} portfolio ({summary.method.upper()} lots) as of {iso(summary.as_of)}"
        return SectionDoc(subtitle, tuple(blocks), to_jsonable(summary_json(summary)))

    def curve(self, summary) -> Chart:
        key = (summary.method, summary.realized_pnl, summary.fees_paid)
        if self._curve is None or self._curve[0] != key:
            self._curve = key, realized_curve(self.app_ctx.portfolio.pnl(self.method))
        return self._curve[1]


def realized_curve(report) -> Chart:
    """Realized P&L through time: each closed lot's gain (proceeds - cost - its fees, `trading/pnl.py`) added up in
    the order the lots closed; at most CURVE_POINTS points are drawn, the values exact."""
    lots = sorted((lot for lot in report.closed_lots if lot.disposed_time is not None),
                  key=lambda lot: lot.disposed_time)
    points, total = [], None
    for lot in lots:
        total = lot.gain if total is None else total + lot.gain
        points.append(Point(lot.disposed_time, total))
    if len(points) > CURVE_POINTS:
        step = len(points) / (CURVE_POINTS - 1)
        points = [points[int(i * step)] for i in range(CURVE_POINTS - 1)] + [points[-1]]
    labels = {}
    if points:
        values = [p.value for p in points]
        labels = {"first": usd(values[0], True), "min": usd(min(min(values), ZERO), True),  # the axis shows $0
                  "max": usd(max(max(values), ZERO), True), "last": usd(values[-1], True)}
    note = (f"{len(lots)} closed lot(s); the unrealized P&L of open positions and the fees of open lots are in the "
            "totals above, not in this curve")
    return Chart("equity", "Realized P&L net of fees, by close time", tuple(points), labels, note)


# ------------------------------------------------------------------ orders
def orders(app_ctx) -> SectionDoc:
    """`kalshi orders`: the account's resting orders, from the exchange (a read: nothing is written)."""
    found = list(app_ctx.client.iter_orders(status="resting"))
    table = Table("orders", "Resting orders", ORDER_HEADERS, cells(order_rows(found)),
                  align=("left", "left", "left", RIGHT, RIGHT, "left", "left"))
    data = to_jsonable({"environment": app_ctx.settings.env, "orders": [order_json(o) for o in found]})
    return SectionDoc(f"{badge(app_ctx)} {len(found)} open order(s)", (table,), data)


# ------------------------------------------------------------------ signals and paper trades
def signals(app_ctx) -> SectionDoc:
    """`kalshi paper report --calibration` (overall and per family), then the newest signals and attempts."""
    import dataclasses

    from kalshi_trading.signals.report import calibration, calibration_by_family, paper_report

    store = app_ctx.store.signals()
    attempts = store.attempts()
    found = store.signals()
    tickers = {a.ticker for a in attempts if a.fill_count > 0} | {s.ticker for s in found}
    markets = markets_now(app_ctx.client, tickers) if tickers else {}
    report = paper_report(attempts, markets)
    cal = calibration(found, markets)
    families = calibration_by_family(found, markets)
    blocks: list[Block] = [Fields("paper-report", "Paper report", tuple(paper_report_rows(report)))]
    for title, one in (("all families", cal), *families.items()):
        line, scores, bins = calibration_rows(one)
        key = "all" if one is cal else title
        blocks.append(Note(f"calibration-{key}", f"calibration, {title}: {line}"))
        blocks.append(Table(f"scores-{key}", "", ("score", "model", "market mid"), cells(scores),
                            align=("left", RIGHT, RIGHT)))
        blocks.append(Table(f"bins-{key}", "", ("bin", "signals", "mean forecast", "observed"), cells(bins),
                            align=("left", RIGHT, RIGHT, RIGHT)))
    newest = list(reversed(found[-RECENT:]))
    tried = list(reversed(attempts[-RECENT:]))
    blocks.append(Table("signals", f"Newest signals ({len(newest)} of {len(found)})", SIGNAL_HEADERS,
                        cells(signal_rows(newest))))
    blocks.append(Table("attempts", f"Newest paper and real attempts ({len(tried)} of {len(attempts)})",
                        ATTEMPT_HEADERS, cells(attempt_rows(tried))))
    data = to_jsonable({"environment": app_ctx.settings.env, **{k: v for k, v in dataclasses.asdict(report).items()
                                                                 if k != "rows"},
                        "calibration": cal, "calibration_by_family": families})
    return SectionDoc(f"{badge(app_ctx)} paper report and calibration", tuple(blocks), data)


# ------------------------------------------------------------------ logs and errors
def logs(app_ctx) -> SectionDoc:
    """The journal's recorded errors (through the store) and the tail of this machine's errors.log."""
    since = datetime.now(timezone.utc) - timedelta(days=ERROR_DAYS)
    recorded = app_ctx.journal.errors(since=since)[-ERRORS_SHOWN:]
    errors = Table("journal-errors", f"Errors recorded in the journal (last {ERROR_DAYS} days, newest first)",
                   ("time", "kind", "message"),
                   tuple((iso(e.time) or "-", e.kind, e.message) for e in reversed(recorded)))
    path = app_ctx.settings.log_dir / "errors.log"
    blocks: list[Block] = [errors]
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            tail = [line.rstrip("\n") for line in deque(fh, maxlen=LOG_LINES)]
        blocks.append(Table("errors-log", f"The last {LOG_LINES} lines of {path}", ("line",),
                            tuple((line,) for line in tail), empty=f"({path.name} is empty)"))
    except FileNotFoundError:
        blocks.append(Note("errors-log", f"(no {path.name} yet in {path.parent})"))
    except OSError as exc:
        blocks.append(Note("errors-log", f"cannot read {path}: {exc.strerror or exc}", Tone.ERROR))
    data = {"environment": app_ctx.settings.env, "journal_errors": to_jsonable(recorded)}
    return SectionDoc(f"{badge(app_ctx)} errors", tuple(blocks), data)


# ------------------------------------------------------------------ alerts
ALERT_HEADERS = ("time", "source", "kind", "severity", "channel", "status", "rule", "message", "reason")


def alerts(app_ctx) -> SectionDoc:
    """Every message the notifiers sent, failed to send, dropped or held back (the store's alert events)."""
    events = app_ctx.store.alerts().events(limit=ALERTS_SHOWN)
    rows = tuple((iso(e.at) or "-", e.source, e.kind.value, e.severity.value, e.channel, e.status.value,
                  e.rule or "-", e.text, e.reason or "-") for e in reversed(events))
    table = Table("alerts", f"Alerts and notices (newest {len(events)}, newest first)", ALERT_HEADERS, rows)
    data: dict[str, Any] = {"environment": app_ctx.settings.env, "events": to_jsonable(events)}
    return SectionDoc(f"{badge(app_ctx)} alerts", (table,), data)


def cells(rows) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(str(cell) for cell in row) for row in rows)
