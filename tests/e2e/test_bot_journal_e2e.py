"""`kalshi auto --sim` trades the sim environment's exchange and journal: what a user runs next (`history`,
`export-trades`, `pnl`, `positions`) shows the bot's orders and fills, tagged with its strategy, and every figure
agrees to the cent with the bot's final report and with the exchange's own.  Real CLI processes, the real
(embedded) simulator; no timing is asserted."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from kalshi_trading.sim.runtime import start_embedded
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.pnl import market_value
from tests.e2e.conftest import client_for

CENT = D("0.01")


def kalshi(env: dict, *args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "kalshi_trading", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"kalshi {' '.join(args)} exited {done.returncode}: {done.stderr[-3000:]}"
    return done


def cents(value) -> D:
    return D(value).quantize(CENT)


@pytest.mark.timeout(400)
def test_auto_sim_then_history_export_and_pnl_agree_with_the_report_and_the_exchange(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "KALSHI_DATA_DIR": str(data), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "KALSHI_ENV": "sim"}
    for name in ("KALSHI_API_BASE", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_WS_BASE"):
        env.pop(name, None)
    for _ in range(3):  # a quiet market can leave a run without fills: run again (figures are cumulative)
        report = json.loads(kalshi(env, "auto", "--sim", "--duration", "20", "--json").stdout)
        if report["fills"]:
            break
    assert report["fills"] > 0, "three bot runs without a fill"
    assert not (data / "auto-sim").exists()  # the sim environment's own exchange and journal were used

    # the bot journalled its fills itself, before anything ran `kalshi sync`
    with SqliteJournal.open(data / "sim" / "journal.sqlite") as journal:
        fills = journal.fills()
        tags = journal.strategies(f.order_id for f in fills)
        kinds = {e.kind for e in journal.order_events()}
    assert len(fills) == report["fills"] and set(tags.values()) == {"mm"} and len(tags) == len({f.order_id
                                                                                                 for f in fills})
    assert {"intent", "accepted", "amended", "cancelled"} <= kinds  # amends and cancels are journalled too

    history = json.loads(kalshi(env, "history", "-n", "100000", "--json").stdout)["entries"]
    bot_fills = [e for e in history if e["kind"] == "fill"]
    assert len(bot_fills) == report["fills"] and {e["strategy"] for e in bot_fills} == {"mm"}
    events = [e for e in history if e["kind"] == "order"]
    assert {e["record"]["kind"] for e in events} >= {"intent", "amended", "cancelled"}
    assert {e["strategy"] for e in events} == {"mm"}

    out = tmp_path / "trades.csv"
    kalshi(env, "export-trades", str(out))
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == report["fills"] and {r["strategy"] for r in rows} == {"mm"}
    assert sum(D(r["fee"]) for r in rows) == D(report["fees"])

    pnl = json.loads(kalshi(env, "pnl", "--method", "avg", "--json").stdout)
    assert cents(pnl["realized_pnl"]) == cents(report["realized_pnl"])
    assert cents(pnl["fees_paid"]) == cents(report["fees"])
    assert pnl["discrepancies"] == []  # the journal's average-cost figures are the exchange's, per market
    held = {m["ticker"]: m for m in report["markets"] if D(m["position"])}
    assert {p["ticker"]: D(p["position"]) for p in pnl["positions"]} == {t: D(m["position"]) for t, m in held.items()}
    for p in pnl["positions"]:  # unrealized at the bot's final mark, from the journal's cost basis
        mine = held[p["ticker"]]
        assert cents(p["cost_basis"]) == cents(mine["cost_basis"])
        at_mark = market_value(D(p["position"]), D(mine["mark"])) - D(p["cost_basis"])
        assert cents(at_mark) == cents(mine["unrealized_pnl"])
    positions = json.loads(kalshi(env, "positions", "--json").stdout)["positions"]
    assert {p["ticker"]: D(p["position"]) for p in positions} == {t: D(m["position"]) for t, m in held.items()}

    # the exchange's own figures, read from it directly
    server = start_embedded(data)
    client = client_for(server.base_url, server.demo_account)
    try:
        theirs = {p.ticker: p for p in client.get_positions().markets}
    finally:
        client.close()
        server.stop()
    for m in report["markets"]:
        p = theirs[m["ticker"]]
        assert p.position == D(m["position"])
        assert (cents(p.realized_pnl), cents(p.fees_paid)) == (cents(m["realized_pnl"]), cents(m["fees"]))
        assert cents(p.market_exposure) == cents(m["cost_basis"])
    assert Path(data / "sim" / "bot.sqlite").exists()
