"""The backtest report: one JSON-ready dict (money and sizes as exact decimal strings), a text table, a chart.

P&L is the average-cost lot accounting of `trading/pnl.py` (the bot ledger's and `kalshi pnl --method avg`'s) over
the simulated exchange's fills, each with its exchange fee; a market settled in the recording is closed at its
payout; what is still open is marked at the last mid.  The statistics (equity curve, drawdown, Sharpe, adverse
selection, inventory) are numpy over a path sampled every recorded second (`stats.py`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from kalshi_trading.backtest import stats
from kalshi_trading.backtest.engine import BacktestRun
from kalshi_trading.backtest.markets import grid_name
from kalshi_trading.models import Settlement
from kalshi_trading.money import ZERO
from kalshi_trading.trading.pnl import LotBook, unrealized

SHARPE_HOW = ("mean / sample standard deviation (ddof 1) of the net P&L of each UTC day the recording covers; "
              "per day, not annualised (x sqrt(365) to annualise); n/a with fewer than 2 days")
ADVERSE_HOW = ("mid move 1 s and 60 s after each fill, against the side the fill bought or sold (positive = "
               "against you), in cents, weighted by size; fills whose book was stale or one-sided then are left out")
UPTIME_HOW = "share of the time each book was live (and its market open) that a bid and an ask of ours rested on it"
QUEUE_HOW = {
    "conservative": "fills only when recorded trades at (or through) the order's price consume the size ahead; "
                    "cancels come from behind",
    "probabilistic": "as conservative, plus cancels ahead pro rata by queue position, and the other side reaching "
                     "through the price",
    "touch": "OPTIMISTIC: the whole order fills whenever the price is touched (a trade at or through it, or the "
             "other side reaching it); no queue",
}


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1e6, timezone.utc).isoformat().replace("+00:00", "Z")


def _money(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def _ratio(a: Decimal | int, b: Decimal | int) -> float | None:
    return round(float(a) / float(b), 4) if b else None


def pnl(run: BacktestRun) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Exact P&L: totals and per market."""
    lots = LotBook("avg", keep_lots=False)
    lots.apply_fills(run.exchange.fills)
    for s in run.exchange.settlements.values():
        lots.apply_settlement(Settlement(s.ticker, "", s.result, ZERO, ZERO, ZERO, ZERO, ZERO, s.ts, value=s.value))
    realized = unreal = fees = ZERO
    markets = []
    for t in sorted(set(run.tickers) | set(lots.tickers())):
        p = lots.ticker_pnl(t, with_lots=False)
        mark = run.marks.get(t)
        u = unrealized(p.position, p.cost_basis, mark) if p.position and mark is not None else ZERO
        realized, unreal, fees = realized + p.realized_pnl, unreal + u, fees + p.fees_paid
        note = run.exchange.settlements.get(t)
        markets.append({"ticker": t, "position": str(p.position), "realized_pnl": str(p.realized_pnl),
                        "unrealized_pnl": str(u), "fees": str(p.fees_paid),
                        "net_pnl": str(p.realized_pnl + u - p.fees_paid),
                        "last_mid": None if mark is None else str(mark), "settled": note.result if note else None})
    totals = {"realized": str(realized), "unrealized": str(unreal), "fees": str(fees),
              "net": str(realized + unreal - fees)}
    return totals, markets


def _settled(run: BacktestRun) -> dict[str, tuple[int, float]]:
    """Markets settled yes or no: (when, payout of YES)."""
    return {t: (int(n.ts.timestamp() * 1e6), 1.0 if n.result == "yes" else 0.0)
            for t, n in run.exchange.settlements.items() if n.result in ("yes", "no")}


def curve_of(run: BacktestRun) -> stats.Curve:
    """Net P&L at every sample of the run."""
    tape, rows = run.tape, run.tape.fills
    return stats.equity_curve(tape.sample_times, [r.us for r in rows], [-r.signed * r.price - r.fee for r in rows],
                              tape.sample_positions, tape.sample_mids, _settled(run))


def build_report(run: BacktestRun) -> dict[str, Any]:
    """The report of one backtest (see the module docstring)."""
    spec, ex, tape, m = run.spec, run.exchange, run.tape, run.loop.metrics
    start, end = tape.first_us or 0, tape.last_us or 0
    totals, markets = pnl(run)
    rows = tape.fills
    settled = _settled(run)
    curve = curve_of(run)
    dd, dd_at = stats.max_drawdown(curve)
    sharpe, days = stats.daily_sharpe(curve)
    adverse = {}
    for h, label in enumerate(("1s", "60s")):
        mean, n = stats.adverse_selection([r.signed for r in rows], [r.mid for r in rows],
                                          [r.markouts[h] for r in rows])
        adverse[label] = {"mean_cents": None if mean is None else round(mean, 4), "fills_measured": n}
    fills = len(ex.fills)
    actions = m.placed + m.amended + m.cancelled
    for market in markets:
        t = market["ticker"]
        mine = [r for r in rows if r.fill.ticker == t]
        inv = stats.inventory(start, end, [r.us for r in mine], [r.signed for r in mine])
        close = settled.get(t, (end, 0.0))[0]
        live, both = stats.both_seconds(start, min(end, close), [(us, q) for us, tk, q in ex.quote_log if tk == t],
                                        [(us, lv) for us, tk, lv in tape.live_log if tk == t])
        market["inventory"] = {"min": inv.minimum, "max": inv.maximum, "mean": round(inv.mean, 4),
                               "mean_abs": round(inv.mean_abs, 4)}
        market["quote_uptime"] = round(both / live, 4) if live > 0 else None
        market["fills"] = len(mine)
    ups = [x["quote_uptime"] for x in markets if x["quote_uptime"] is not None]
    return {
        "backtest": {
            "data": str(spec.data), "strategy": spec.strategy, "markets": run.tickers,
            "queue_model": spec.queue.value, "optimistic": spec.queue.optimistic, "queue_rule": QUEUE_HOW[spec.queue],
            "latency_ms": round(spec.latency.total_seconds() * 1000, 3),
            "clock": "exchange" if spec.exchange_time else "receive",
            "fees": {t: f"{i.fee_type} x{i.fee_multiplier}" for t, i in run.markets.items()},
            "grids": {t: grid_name(i) for t, i in run.markets.items()},
            "from": _iso(start), "to": _iso(end), "recorded_seconds": round((end - start) / 1e6, 3),
            "events": run.feed.events_seen, "book_events": run.feed.book_events, **dict(spec.label),
        },
        "pnl": totals,
        "markets": markets,
        "equity": {"final": _money(float(curve.equity[-1]) if len(curve.equity) else 0.0),
                   "max_drawdown": _money(dd), "max_drawdown_at": _iso(dd_at), "samples": len(curve.times)},
        "sharpe": {"per_day": None if sharpe is None else round(sharpe, 4), "days": days, "how": SHARPE_HOW},
        "fills": {"count": fills, "maker": ex.stats.maker_fills, "taker": ex.stats.taker_fills,
                  "filled_size": str(Decimal(ex.stats.filled_units) / 100),
                  "placed_size": str(Decimal(ex.stats.placed_units) / 100),
                  "fill_ratio": _ratio(ex.stats.filled_units, ex.stats.placed_units)},
        "adverse_selection": {**adverse, "how": ADVERSE_HOW},
        "quote_uptime": {"share": round(sum(ups) / len(ups), 4) if ups else None, "how": UPTIME_HOW},
        "orders": {"placed": m.placed, "amended": m.amended, "cancelled": m.cancelled,
                   "rejected": m.rejected + ex.stats.rejected_on_arrival,
                   "rejected_on_arrival": ex.stats.rejected_on_arrival, "risk_denials": m.denials,
                   "actions_per_fill": _ratio(actions, fills)},
        "exchange": ex.stats.as_dict(),
        "replay": {"checkpoints": run.replay.checkpoints, "resyncs": run.replay.resyncs,
                   "gaps": len(run.replay.gaps)},
        "speed": {"wall_seconds": round(run.wall_seconds, 3), "cpu_seconds": round(run.cpu_seconds, 3),
                  "events_per_cpu_second": round(run.feed.events_seen / run.cpu_seconds) if run.cpu_seconds else None},
        "problems": run.problems,
        **edge_section(run),
    }


def edge_section(run: BacktestRun) -> dict[str, Any]:
    """The edge taker's own section (`auto.edge_report`, as `kalshi auto` prints it): its predicted edge at entry
    against what each contract made, valued at the recorded settlement, else at the last mid; {} for any other
    strategy."""
    from kalshi_trading.auto.edge_report import edge_report, settlement_values
    from kalshi_trading.auto.strategies import EdgeTaker

    taker = run.strategy
    if not isinstance(taker, EdgeTaker):
        return {}
    results = settlement_values(run.exchange.settlements.values())
    return {"edge": edge_report(taker.decisions, run.bot_fills, run.marks, results, started=run.started)}


def summary_row(report: dict[str, Any]) -> dict[str, Any]:
    """The key figures of one run (a sweep's table row)."""
    return {
        "net_pnl": report["pnl"]["net"], "fees": report["pnl"]["fees"], "fills": report["fills"]["count"],
        "fill_ratio": report["fills"]["fill_ratio"], "max_drawdown": report["equity"]["max_drawdown"],
        "sharpe_per_day": report["sharpe"]["per_day"], "quote_uptime": report["quote_uptime"]["share"],
        "actions_per_fill": report["orders"]["actions_per_fill"],
        "adverse_1s_cents": report["adverse_selection"]["1s"]["mean_cents"],
        "adverse_60s_cents": report["adverse_selection"]["60s"]["mean_cents"],
        "problems": len(report["problems"]),
    }


def _show(value: Any) -> str:
    return "n/a" if value is None else str(value)


def render_text(report: dict[str, Any]) -> str:
    """The report for people: a table per section (tabulate)."""
    from tabulate import tabulate

    b, p, f, o, a = report["backtest"], report["pnl"], report["fills"], report["orders"], report["adverse_selection"]
    model = b["queue_model"] + (" (OPTIMISTIC: touch fills)" if b["optimistic"] else "")
    head = [("strategy", b["strategy"]), ("markets", ", ".join(b["markets"])), ("queue model", model),
            ("latency", f"{b['latency_ms']:g} ms"), ("clock", f"{b['clock']} time"),
            ("recorded", f"{b['from']} to {b['to']} ({b['recorded_seconds']} s)"),
            ("events replayed", b["events"]),
            ("P&L realized / unrealized", f"${p['realized']} / ${p['unrealized']} (at the last mid)"),
            ("fees", f"${p['fees']}"), ("net P&L", f"${p['net']}"),
            ("max drawdown", f"${_show(report['equity']['max_drawdown'])}"),
            ("Sharpe per day", f"{_show(report['sharpe']['per_day'])} ({report['sharpe']['days']} day(s))"),
            ("fills (maker / taker)", f"{f['count']} ({f['maker']} / {f['taker']})"),
            ("fill ratio (filled / placed size)",
             f"{_show(f['fill_ratio'])} ({f['filled_size']} / {f['placed_size']})"),
            ("adverse selection 1 s / 60 s", f"{_show(a['1s']['mean_cents'])} / {_show(a['60s']['mean_cents'])} "
                                             "cents against you"),
            ("quote uptime", _show(report["quote_uptime"]["share"])),
            ("orders placed / amended / cancelled", f"{o['placed']} / {o['amended']} / {o['cancelled']}"),
            ("rejected (on arrival) / risk denials", f"{o['rejected']} ({o['rejected_on_arrival']}) / "
                                                     f"{o['risk_denials']}"),
            ("order actions per fill", _show(o["actions_per_fill"]))]
    lines = [tabulate(head, tablefmt="simple", disable_numparse=True)]
    rows = [(x["ticker"], x["position"], x["net_pnl"], x["fees"], x["fills"], x["inventory"]["min"],
             x["inventory"]["max"], x["inventory"]["mean"], _show(x["quote_uptime"]), x["settled"] or "-")
            for x in report["markets"]]
    lines.append(tabulate(rows, headers=["market", "position", "net $", "fees $", "fills", "inv min", "inv max",
                                         "inv mean (time)", "uptime", "settled"], disable_numparse=True))
    lines.append(f"queue model: {b['queue_rule']}")
    lines.append(f"Sharpe: {report['sharpe']['how']}")
    for text in report["problems"]:
        lines.append(f"problem: {text}")
    if "edge" in report:
        from kalshi_trading.auto.edge_report import render_edge

        lines.append(render_edge(report["edge"]))
    return "\n\n".join(lines[:2]) + "\n" + "\n".join(lines[2:])


def plot(run: BacktestRun, path: str) -> None:
    """Equity and inventory over recorded time (needs matplotlib, the `plot` extra; imported here, lazily)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tape = run.tape
    curve = curve_of(run)
    ts = [datetime.fromtimestamp(us / 1e6, timezone.utc) for us in tape.sample_times]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    ax1.plot(ts, curve.equity, color="tab:green")
    ax1.set_ylabel("net P&L ($)")
    ax1.set_title(f"kalshi backtest: {run.spec.strategy}, {run.spec.queue.value} queue, "
                  f"{run.spec.latency.total_seconds() * 1000:g} ms latency")
    for t, positions in tape.sample_positions.items():
        ax2.step(ts, positions, where="post", label=t)
    ax2.set_ylabel("position (contracts, +YES/-NO)")
    if tape.sample_positions:
        ax2.legend(fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
