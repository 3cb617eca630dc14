"""Issue 10 item 6: `kalshi sim reset` never lets two different fills share an id in one journal.

Both guards are tested: a reset exchange issues ids from a new space, and the journal notices the new exchange
(it is archived and a new one starts, with a warning).  The CLI runs the embedded simulator, as a user would.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.sim.runtime import _Session, sim_reset
from kalshi_trading.store.sqlite.journal import SqliteJournal


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
           "NO_COLOR": "1", "HOME": str(tmp_path)}
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


def liquid_market(run) -> str:
    """A market the simulator's participants quote on both sides."""
    result = run("markets", "--json", "-n", "200")
    assert result.exit_code == 0, result.output
    for m in json.loads(result.stdout)["markets"]:
        if D("0.2") < D(m["yes_bid"]) and D(0) < D(m["yes_ask"]) < D("0.8"):
            return m["ticker"]
    raise AssertionError("no two-sided market")


def buy(run, count: str) -> dict:
    result = run("order", "market", liquid_market(run), "yes", count, "--yes", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert D(doc["fill_count"]) == D(count), doc
    return doc


def sync(run) -> int:
    result = run("sync", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["new_fills"]


def test_trade_sync_reset_trade_sync(run, tmp_path):
    # (the makers show a few contracts at the touch: an order may fill at more than one price, one fill each)
    first = buy(run, "2")
    first_fills = sync(run)
    assert first_fills >= 1
    result = run("sim", "reset", "--yes")
    assert result.exit_code == 0, result.output
    second = buy(run, "3")
    second_fills = sync(run)
    assert second_fills >= 1  # the reset exchange's fills are new, not mistaken for the old ones
    journal_dir = tmp_path / "data" / "sim"
    [archive] = sorted(journal_dir.glob("journal-archived-*.sqlite"))
    with SqliteJournal.open(archive) as old, SqliteJournal.open(journal_dir / "journal.sqlite") as new:
        old_fills, new_fills = old.fills(), new.fills()
    assert [f.order_id for f in old_fills] == [first["order_id"]] * first_fills
    assert sum(f.count for f in old_fills) == D(2)
    assert [f.order_id for f in new_fills] == [second["order_id"]] * second_fills
    assert sum(f.count for f in new_fills) == D(3)
    assert first["order_id"][:24] != second["order_id"][:24]  # a new id space
    out = tmp_path / "trades.csv"
    assert run("export-trades", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {(r["order_id"], r["action"]) for r in rows} == {(second["order_id"], "buy")}
    assert sum(D(r["count"]) for r in rows) == D(3) and len(rows) == second_fills
    pnl = json.loads(run("pnl", "--json").stdout)
    assert pnl["discrepancies"] == []  # the journal agrees with the exchange
    assert D(pnl["fees_paid"]) == D(second["fees"]) and D(pnl["realized_pnl"]) == 0
    assert [(t["ticker"], D(t["position"])) for t in pnl["tickers"]] == [(new_fills[0].ticker, D(3))]


def test_the_reset_is_announced_once_and_the_old_journal_kept(run, tmp_path):
    buy(run, "1")
    assert run("sim", "reset", "--yes").exit_code == 0
    result = run("history")
    assert result.exit_code == 0, result.output
    assert "warning: the simulated exchange was reset" in result.stderr and "archived to" in result.stderr
    assert "history (0 entries)" in result.stdout
    again = run("history")
    assert "archived" not in again.stderr


def test_each_new_exchange_has_its_own_id_space(tmp_path):
    prefixes = []
    for _ in range(3):
        sim_reset(tmp_path / "sim")
        session = _Session(tmp_path / "sim")
        try:
            prefixes.append(session.exchange.engine.id_prefix)
            assert session.exchange.engine.next_id().startswith(prefixes[-1])
        finally:
            session.close(save=False)
    assert len(set(prefixes)) == 3
