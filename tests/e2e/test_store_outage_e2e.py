"""The store going away under a running bot, end to end, on each server store: a `kalshi auto` process quoting
on the simulator while its PostgreSQL server is killed (`pg_ctl stop -m immediate`) or its DynamoDB server (moto)
stopped, then started again on the same port with the same data.

- While the store is away the bot is in a safe state: every order of its market is cancelled through the
  exchange, and nothing new is sent (every order needs its journal intent first).
- When the store answers again the bot starts again as after a crash and quotes again.
- It ends cleanly (exit 0, no traceback); its report names the outage; the journal holds every fill of the account
  exactly once, and every order the bot sent has its intent in the journal (nothing was sent unrecorded).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest

from kalshi_trading.models import BookSide, TimeInForce
from kalshi_trading.store import open_store
from tests.e2e.conftest import cent_market, order
from tests.store import pg_server
from tests.store.dynamo_server import MotoServer, use_dummy_credentials

CONFIG = "loop_interval_ms = 200\nmax_orders_per_minute = 600\n"


class Outage:
    """A store server of the test's own that it can take away and bring back."""

    def __init__(self, url: str, down: Callable[[], None], up: Callable[[], None]):
        self.url, self.down, self.up = url, down, up


@contextmanager
def postgresql() -> Iterator[Outage]:
    with pg_server.throwaway_cluster() as cluster:
        yield Outage(cluster.url(cluster.create_database()), cluster.kill, cluster.start)


@contextmanager
def dynamodb() -> Iterator[Outage]:
    use_dummy_credentials()
    server = MotoServer().start()
    try:
        yield Outage(server.url(), server.stop, server.start)  # moto keeps the tables in this process
    finally:
        server.stop()


@pytest.fixture(params=["dynamodb", "postgresql"])
def outage(request) -> Iterator[Outage]:
    with {"postgresql": postgresql, "dynamodb": dynamodb}[request.param]() as o:
        yield o


def bot_orders(client, ticker: str) -> list:
    return [o for o in client.iter_orders(ticker=ticker, status="resting") if o.client_order_id.startswith("kbot-")]


def wait_for(predicate, what: str, bot: subprocess.Popen, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        if bot.poll() is not None:
            raise AssertionError(f"{what}: the bot exited ({bot.returncode}): {bot.stderr.read().decode()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_the_bot_cancels_sends_nothing_while_the_store_is_away_and_resumes_when_it_answers(
        sim, client, bob, outage, tmp_path):
    x = cent_market(sim)
    bob.create_order(order(x, BookSide.BID, "0.40", 50))
    bob.create_order(order(x, BookSide.ASK, "0.60", 50))
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG)
    account = sim.demo_account
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")},
           "KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_API_KEY_ID": account.key_id,
           "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path), "KALSHI_DATA_DIR": str(tmp_path / "data"),
           "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_STORE": outage.url}
    bot = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "auto", "--markets", x, "--feed", "poll",
                            "--config", str(config), "--duration", "300", "--json"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        quotes = wait_for(lambda: len(q := bot_orders(client, x)) == 2 and q, "the bot quotes", bot)
        bid = next(q for q in quotes if q.book_side == BookSide.BID)
        bob.create_order(order(x, BookSide.ASK, str(bid.yes_price), 1, TimeInForce.IOC))  # a fill before

        outage.down()
        # the bot finds out at its next write (a state save, an intent) and cancels through the exchange
        wait_for(lambda: bot_orders(client, x) == [], "the bot cancels while the store is away", bot)
        sent_before = {o.order_id for o in client.iter_orders(ticker=x)}
        time.sleep(3)  # fifteen of its passes: nothing new may be sent
        assert {o.order_id for o in client.iter_orders(ticker=x)} == sent_before
        assert bot.poll() is None, bot.stderr.read().decode()[-3000:]

        outage.up()
        quotes = wait_for(lambda: len(q := bot_orders(client, x)) == 2 and q, "the bot quotes again", bot)
        ask = next(q for q in quotes if q.book_side == BookSide.ASK)
        bob.create_order(order(x, BookSide.BID, str(ask.yes_price), 1, TimeInForce.IOC))  # a fill after
        time.sleep(1)
        bot.send_signal(signal.SIGTERM)
        out, err = bot.communicate(timeout=120)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait(10)
    err_text = err.decode()
    assert bot.returncode == 0, err_text[-3000:]
    assert "Traceback" not in err_text
    report = json.loads(out)
    [span] = report["store_outages"]["spans"]
    assert span["to"] is not None
    assert bot_orders(client, x) == []  # the clean stop cancelled its quotes

    store = open_store(outage.url, env="sim")
    try:
        journal = store.journal()
        journal_fills = sorted(f.fill_id for f in journal.fills())
        intents = {e.client_order_id for e in journal.order_events() if e.kind == "intent"}
    finally:
        store.close()
    exchange_fills = sorted(f.fill_id for f in client.iter_fills())
    assert len(exchange_fills) >= 2
    assert journal_fills == exchange_fills  # every fill of the account, once
    sent = {o.client_order_id for o in client.iter_orders(ticker=x) if o.client_order_id.startswith("kbot-")}
    assert sent and sent <= intents  # every order the bot sent was recorded before it went out
