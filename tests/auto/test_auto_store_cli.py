"""`kalshi auto` (the real command, in-process) with what the store holds: the runtime configuration it trades on,
a bad value there that stops the start, and a market another bot leases that refuses it.  The real simulator."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide
from kalshi_trading.store import open_store
from kalshi_trading.store.lease import LeaseHolder
from tests.e2e.conftest import cent_market, order


@pytest.fixture
def env(sim, tmp_path):
    account = sim.demo_account
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_API_KEY_ID": account.key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path), "KALSHI_DATA_DIR": str(tmp_path / "data"),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_WS_BASE": "", "KALSHI_STORE": "", "NO_COLOR": "1"}


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite://{tmp_path / 'data' / 'sim'}/", env="sim")
    yield s
    s.close()


@pytest.fixture
def market(sim, bob):
    t = cent_market(sim)
    bob.create_order(order(t, BookSide.BID, "0.40", 50))
    bob.create_order(order(t, BookSide.ASK, "0.60", 50))
    return t


def auto(env, *args):
    return CliRunner().invoke(app, ["auto", "--feed", "poll", "--json", *args], env=env)


def test_the_bot_trades_on_the_stores_values(env, store, market, client):
    now = datetime.now(timezone.utc)
    store.runtime_config().put_market(market, {"quote_size": "3"}, updated_by="ops", now=now)
    store.runtime_config().put_global({"max_orders_per_minute": "200"}, updated_by="ops", now=now)
    r = auto(env, "--markets", market, "--duration", "3")
    assert r.exit_code == 0, r.output
    intents = [e for e in store.journal().order_events() if e.kind == "intent" and e.ticker == market]
    assert intents and {e.count for e in intents} == {D(3)}  # the store's quote size, not the default 1
    assert store.leases().holders() == []  # released at the clean stop
    assert list(client.iter_orders(ticker=market, status="resting")) == []


def test_a_bad_value_in_the_store_stops_the_start(env, store, market, client):
    runtime = store.runtime_config()
    runtime.put_market(market, {"min_spread": "0.02"}, updated_by="ops", now=datetime.now(timezone.utc))
    conn = sqlite3.connect(store.directory / "runtime.sqlite")
    with conn:
        conn.execute("UPDATE record_values SET value = 'wide' WHERE key = 'min_spread'")
    conn.close()
    r = auto(env, "--markets", market, "--duration", "3")
    assert r.exit_code == 3, r.output
    assert "runtime configuration" in r.output and "min_spread" in r.output and "'wide' is not a number" in r.output
    assert "Traceback" not in r.output
    assert list(client.iter_orders(ticker=market, status="resting")) == []


def test_a_market_another_bot_leases_refuses_the_start_and_takes_nothing(env, store, market, client):
    now = datetime.now(timezone.utc)
    west = LeaseHolder("bot west", "host-2", 4242, "boot-2", now - timedelta(minutes=5))
    store.leases().acquire([f"market/{market}"], west, now=now, ttl_seconds=600)
    r = auto(env, "--markets", market, "--duration", "3", "--bot", "east")
    assert r.exit_code == 3, r.output
    assert f"market/{market} is held by bot west (pid 4242 on host-2" in r.output and "until" in r.output
    assert [lease.holder for lease in store.leases().holders()] == [west]  # all or none: bot/east not left held
    assert list(client.iter_orders(ticker=market, status="resting")) == []
    assert store.journal().order_events() == []


@pytest.mark.parametrize("name", ["East", "a b", "../x", ""])
def test_a_bad_bot_name_is_a_usage_error(env, name):
    for args in (["auto", "--bot", name, "--markets", "KXA"], ["auto", "status", "--bot", name],
                 ["auto", "kill", "--bot", name], ["auto", "resume", "--bot", name]):
        r = CliRunner().invoke(app, args, env=env)
        assert r.exit_code == 2, (args, r.output)
        assert "not a bot name" in r.output


def test_status_names_the_bot_and_shows_the_leases(env, store):
    now = datetime.now(timezone.utc)
    west = LeaseHolder("bot west", "host-2", 4242, "boot-2", now)
    store.leases().acquire(["market/KXA-1"], west, now=now, ttl_seconds=600)
    r = CliRunner().invoke(app, ["auto", "status", "--bot", "east", "--json"], env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["bot"] == "east" and not doc["running"]
    assert doc["leases"] == [{"name": "market/KXA-1", "holder": str(west), "expires": (now + timedelta(seconds=600))
                              .isoformat()}]
    assert os.path.basename(doc["state_file"]) == "bot-east.sqlite"
