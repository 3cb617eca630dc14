"""`KALSHI_STORE=postgresql://...` through the real CLI against the real simulator: the README's manual trading
gives the same trades and lots CSV as the SQLite store; `kalshi config check` says whether the server answers;
a server that refuses, is missing, holds a newer schema or goes away is exit 3 with one line naming the store,
its password never printed or logged, and no order sent."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from kalshi_trading.store.postgres import schema

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest, TimeInForce
from kalshi_trading.store.url import mask_url
from tests.e2e.conftest import cent_market, client_for
from tests.store import pg_server

SECRET = pg_server.PASSWORD


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    account = sim.demo_account
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path / "data"),
            "KALSHI_API_KEY_ID": account.key_id, "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path), "KALSHI_STORE": None}


@pytest.fixture
def pg_url():
    """A new database owned by the role that logs in with a password: the URL carries the secret."""
    cluster = pg_server.session_cluster()
    return cluster.url(cluster.create_database(owner=pg_server.PASSWORD_USER), pg_server.PASSWORD_USER, SECRET)


@pytest.fixture
def bob(sim):
    c = client_for(sim.base_url, sim.create_account(Decimal("1000")))
    yield c
    c.close()


def run(env: dict, *args: str, **overrides: str | None):
    return CliRunner().invoke(app, list(args), env={**env, **overrides})


def logged(tmp_path) -> str:
    return "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file())


def assert_exit_3_in_one_line(result, *words: str) -> None:
    assert result.exit_code == 3, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for word in words:
        assert word in lines[0], lines[0]
    assert SECRET not in result.output


def test_manual_trading_on_postgresql_exports_what_sqlite_exports(env, sim, bob, pg_url, tmp_path):
    t = cent_market(sim)
    pg = {"KALSHI_STORE": pg_url}
    bob.create_order(OrderRequest(t, BookSide.ASK, Decimal(5), Decimal("0.40")))  # Bob offers YES at 0.40
    assert run(env, "order", "limit", t, "yes", "5", "40", "--yes", **pg).exit_code == 0  # buys 5 YES
    bob.create_order(OrderRequest(t, BookSide.BID, Decimal(8), Decimal("0.45")))  # Bob bids YES at 0.45
    result = run(env, "order", "limit", t, "no", "8", "55", "--tif", "ioc", "--yes", **pg)  # closes 5, opens 3 NO
    assert result.exit_code == 0, result.output
    bob.create_order(OrderRequest(t, BookSide.BID, Decimal(2), Decimal("0.45")))
    result = run(env, "order", "limit", t, "no", "2", "55", "--tif", "ioc", "--yes", **pg)  # long NO: buys more
    assert result.exit_code == 0, result.output
    assert run(env, "order", "limit", t, "yes", "1", "0.05", "--yes", **pg).exit_code == 0  # rests, no fill
    sim.exchange.settle(t, "no")
    outputs = {}
    for name, store in (("pg", pg_url), ("sqlite", f"sqlite://{tmp_path}/lite/")):
        for kind, extra in (("trades", []), ("lots", ["--lots"])):
            out = tmp_path / f"{name}-{kind}.csv"
            result = run(env, "export-trades", str(out), *extra, KALSHI_STORE=store)
            assert result.exit_code == 0, result.output
            outputs[name, kind] = out.read_bytes()
    assert outputs["pg", "trades"] == outputs["sqlite", "trades"]
    assert outputs["pg", "lots"] == outputs["sqlite", "lots"]
    assert outputs["pg", "trades"].count(b"\r\n") == 4  # header, the YES buy, the flip (a YES sale), a NO buy
    assert b",yes,sell," in outputs["pg", "trades"] and b",no,buy," in outputs["pg", "trades"]
    history = json.loads(run(env, "history", "--json", **pg).stdout)
    assert sorted({e["kind"] for e in history["entries"]}) == ["fill", "order", "settlement"]
    pnl = [json.loads(run(env, "pnl", "--json", KALSHI_STORE=s).stdout) for s in (pg_url, f"sqlite://{tmp_path}/lite/")]
    assert [{k: v for k, v in doc.items() if k != "as_of"} for doc in pnl] == [
        {k: v for k, v in pnl[1].items() if k != "as_of"}] * 2
    assert SECRET not in logged(tmp_path)


def test_config_check_says_the_server_answers(env, sim, pg_url, tmp_path):
    result = run(env, "config", "check", "--json", KALSHI_STORE=pg_url)
    assert result.exit_code == 0, result.output
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["store"]["detail"] == mask_url(pg_url) and "***" in mask_url(pg_url)
    assert checks["store answers"]["ok"] and "PostgreSQL 15" in checks["store answers"]["detail"]
    assert "answers" in checks["store answers"]["detail"] and SECRET not in result.output


def dead_urls() -> dict[str, tuple[str, str]]:
    cluster = pg_server.session_cluster()
    name = cluster.create_database(owner=pg_server.PASSWORD_USER)
    user = pg_server.PASSWORD_USER
    return {
        "refused": (f"postgresql://{user}:{SECRET}@127.0.0.1:{pg_server.refusing_port()}/{name}", "Connection refused"),
        "wrong password": (cluster.url(name, user, "not-" + SECRET), "password authentication failed"),
        "no such database": (cluster.url("no_such_db", user, SECRET), 'database "no_such_db" does not exist'),
    }


@pytest.mark.parametrize("case", ["refused", "wrong password", "no such database"])
def test_a_postgresql_store_that_cannot_be_used_is_exit_3_in_one_line(env, sim, tmp_path, case):
    url, words = dead_urls()[case]
    shown = mask_url(url)
    t = cent_market(sim)
    for args in (["order", "limit", t, "yes", "1", "0.05", "--yes"], ["sync"], ["history"], ["pnl"],
                 ["export-trades", str(tmp_path / "out.csv")]):
        result = run(env, *args, KALSHI_STORE=url)
        assert_exit_3_in_one_line(result, words, shown, "kalshi_sim")
    result = run(env, "config", "check", KALSHI_STORE=url)
    assert result.exit_code == 3 and "FAIL" in result.stdout and words in result.stdout
    assert SECRET not in result.output and shown in result.stdout
    assert not (tmp_path / "out.csv").exists()
    assert json.loads(run(env, "orders", "--json").stdout)["orders"] == []  # no order was sent
    assert SECRET not in logged(tmp_path)


def test_a_newer_schema_is_exit_3_naming_both_versions(env, sim, pg_url):
    assert run(env, "sync", KALSHI_STORE=pg_url).exit_code == 0  # creates the schema
    cluster = pg_server.session_cluster()
    cluster.execute("UPDATE kalshi_sim.kalshi_meta SET value = '9' WHERE key = 'schema.version'",
                    pg_url.rsplit("/", 1)[1])
    result = run(env, "order", "limit", cent_market(sim), "yes", "1", "0.05", "--yes", KALSHI_STORE=pg_url)
    assert_exit_3_in_one_line(result, "schema version 9", f"up to version {schema.SCHEMA_VERSION}",
                              "upgrade kalshi-trading")
    assert json.loads(run(env, "orders", "--json").stdout)["orders"] == []


def test_the_server_going_away_between_commands(env, sim, tmp_path):
    t = cent_market(sim)
    with pg_server.throwaway_cluster() as cluster:
        url = cluster.url(cluster.create_database())
        assert run(env, "order", "limit", t, "yes", "1", "0.05", "--yes", KALSHI_STORE=url).exit_code == 0
        cluster.kill()
        result = run(env, "order", "limit", t, "yes", "2", "0.06", "--yes", KALSHI_STORE=url)
        assert_exit_3_in_one_line(result, "Connection refused", url)
        assert run(env, "balance", KALSHI_STORE=url).exit_code == 0  # reading the exchange never needs the store
        cluster.start()
        orders = json.loads(run(env, "orders", "--json", KALSHI_STORE=url).stdout)["orders"]
        assert [o["remaining_count"] for o in orders] == ["1.00"]  # the refused order was never sent
        history = json.loads(run(env, "history", "--json", KALSHI_STORE=url).stdout)["entries"]
        assert [e["kind"] for e in history] == ["order", "order"]  # the first order's intent and acceptance


def test_the_bot_keeps_its_state_and_journal_in_postgresql(env, sim, bob, pg_url, tmp_path):
    """`kalshi auto` on a PostgreSQL store: its intents (tagged with its strategy), fills and state land there;
    `auto status` reads them back; the trades export is SQLite's (synced from the same exchange) plus the tag."""
    t = cent_market(sim)
    bob.create_order(OrderRequest(t, BookSide.BID, Decimal(50), Decimal("0.40")))
    bob.create_order(OrderRequest(t, BookSide.ASK, Decimal(50), Decimal("0.60")))
    mine = client_for(sim.base_url, sim.demo_account)
    cmd = [sys.executable, "-m", "kalshi_trading", "auto", "--markets", t, "--feed", "poll", "--json",
           "--duration", "8"]
    bot = subprocess.Popen(cmd, env={**os.environ, **env, "KALSHI_STORE": pg_url, "KALSHI_WS_BASE": ""},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        quotes: list = []
        while time.monotonic() < deadline and len(quotes) < 2:
            quotes = list(mine.iter_orders(ticker=t, status="resting"))
            time.sleep(0.1)
        assert len(quotes) == 2, bot.stderr.read1().decode() if bot.poll() is not None else "no quotes"
        for quote in quotes:  # Bob takes one contract off each of the bot's quotes
            side = BookSide.ASK if quote.book_side == BookSide.BID else BookSide.BID
            bob.create_order(OrderRequest(t, side, Decimal(1), quote.yes_price, TimeInForce.IOC))
        out, err = bot.communicate(timeout=90)
    finally:
        if bot.poll() is None:
            bot.kill()
        mine.close()
    assert bot.returncode == 0, err.decode()[-3000:]
    assert json.loads(out)["fills"] == 2
    status = run(env, "auto", "status", "--json", KALSHI_STORE=pg_url)
    assert status.exit_code == 0, status.output
    exports = {}
    for name, store in (("pg", pg_url), ("sqlite", f"sqlite://{tmp_path}/lite/")):
        assert run(env, "export-trades", str(tmp_path / f"{name}.csv"), KALSHI_STORE=store).exit_code == 0
        with open(tmp_path / f"{name}.csv", newline="") as fh:
            exports[name] = list(csv.DictReader(fh))
    assert [r["strategy"] for r in exports["pg"]] == ["mm", "mm"]  # the bot's intents tagged its fills
    assert [{**r, "strategy": ""} for r in exports["pg"]] == exports["sqlite"]
    assert SECRET not in logged(tmp_path)
