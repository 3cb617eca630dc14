"""A `kalshi auto --sim` process with Telegram (the simulator's Bot API stub) and a webhook configured, driven from
"a phone": commands injected through the stub's control route.  Its periodic digest reaches the phone, and its
`/metrics` answers while it runs.  /status from the configured chat gets a reply,
the same from another chat is ignored; /mode live_auto without the confirmation changes nothing; /halt cancels the
bot's resting orders on the simulator and leaves it HALTED (the halt alert reaches both channels).  The token, the
webhook's secret path and its signing secret appear in no log, no output and no stored alert event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from kalshi_trading.config import VARIABLES
from kalshi_trading.sim.routes_control import TOKEN_HEADER
from kalshi_trading.sim.runtime import start_embedded
from kalshi_trading.store import open_store
from tests.e2e.conftest import client_for
from tests.store.dynamo_server import free_port
from tests.ops.loopback import Answer, Scripted

TOKEN = "6660001:AAF-theSecretPartOfThisBotToken_xyz"
SECRET_PART = TOKEN.split(":", 1)[1]
CHAT, STRANGER = 4242, 9999
HOOK_PATH = "/hooks/T1/B2/webhookPathSecret"
HOOK_SECRET = "hook-signing-secret-0123"


@pytest.fixture
def world(tmp_path):
    data = tmp_path / "data"
    server = start_embedded(data, seed=5)  # the exchange the bot process finds served here (kalshi auto --sim)
    hook = Scripted(Answer(200, b"ok"))
    try:
        yield server, hook, data
    finally:
        hook.stop()
        server.stop()


def _control(server, method: str, path: str, **kw):
    response = requests.request(method, server.base_url + "/sim/control/telegram" + path, timeout=10,
                                headers={TOKEN_HEADER: server.control_token}, **kw)
    response.raise_for_status()
    return response.json()


def _wait(predicate, what: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not in time: {what}")


def _replies(server, after: int = 0) -> list[dict]:
    return [m for m in _control(server, "GET", "/messages")["messages"] if m["message_id"] > after]


def _ask(server, text: str, chat: int = CHAT) -> int:
    """Type `text` in `chat`; the id of the newest message so far (replies come after it)."""
    return _control(server, "POST", "/updates", json={"chat_id": chat, "text": text})["update"]["message"][
        "message_id"]


def _reply_to(server, command: str, after: int) -> str:
    found = _wait(lambda: [m for m in _replies(server, after) if m["text"].startswith(command)],
                  f"a reply to {command}")
    return found[0]["text"]


def test_a_phone_controls_the_bot_through_the_telegram_stub(world, tmp_path):
    server, hook, data = world
    root = server.base_url[: -len("/trade-api/v2")]
    _control(server, "POST", "/bots", json={"token": TOKEN, "chats": [CHAT]})
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(KALSHI_ENV="sim", KALSHI_DATA_DIR=str(data), KALSHI_LOG_DIR=str(tmp_path / "logs"),
               KALSHI_LOG_LEVEL="DEBUG", KALSHI_TELEGRAM_BOT_TOKEN=TOKEN, KALSHI_TELEGRAM_CHAT_ID=str(CHAT),
               KALSHI_TELEGRAM_API_BASE=root + "/ext/telegram", KALSHI_WEBHOOK_URL=hook.url + HOOK_PATH,
               KALSHI_WEBHOOK_SECRET=HOOK_SECRET)
    config = tmp_path / "bot.toml"
    config.write_text('[alerts]\ndigest_every = "5s"\n')  # the simulator here runs at x1: a digest every 5 s
    port = free_port()
    bot = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "auto", "--sim", "--feed", "poll", "--duration",
                            "240", "--config", str(config), "--metrics-port", str(port)],
                           env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    me = client_for(server.base_url, server.demo_account)
    try:
        quoting = _wait(lambda: list(me.iter_orders(status="resting")), "the bot quoting", timeout=90)
        ticker = quoting[0].ticker
        digest = _wait(lambda: [m for m in _replies(server) if m["text"].startswith("bot default digest")],
                       "the bot's digest on the phone")
        assert digest[0]["chat_id"] == CHAT and "P&L" in digest[0]["text"]
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert metrics.status_code == 200
        placed = [smp.value for fam in text_string_to_metric_families(metrics.text) for smp in fam.samples
                  if smp.name == "kalshi_bot_orders_total" and smp.labels.get("action") == "placed"]
        assert placed and placed[0] >= 1  # the quotes it is resting

        stranger = _ask(server, "/status", chat=STRANGER)
        mark = _ask(server, "/status")
        status = _reply_to(server, "/status", mark)
        assert "risk ACTIVE" in status and ticker in status and "mode demo_safe" in status
        assert not [m for m in _replies(server, stranger) if m["chat_id"] != CHAT]

        mark = _ask(server, "/mode live_auto")
        assert "/confirm" in _reply_to(server, "/mode", mark)
        mark = _ask(server, "/mode")  # no confirmation: nothing changed
        assert "mode demo_safe" in _reply_to(server, "/mode", mark)

        mark = _ask(server, "/halt")
        halted = _reply_to(server, "/halt", mark)
        assert halted.startswith("/halt\nHALTED:") and "order(s) cancelled" in halted
        assert [o for o in me.iter_orders(status="resting", ticker=ticker)] == []  # nothing of the bot rests
        alert = _wait(lambda: [m for m in _replies(server) if m["text"].startswith("default: HALTED")],
                      "the halt alert")
        assert "halted from Telegram by telegram chat 4242" in alert[0]["text"]
        _wait(lambda: [s for s in hook.seen if s.json()["rule"] == "halted"], "the halt alert on the webhook")
        time.sleep(2)  # a pass or two while halted: still nothing placed
        assert [o for o in me.iter_orders(status="resting", ticker=ticker)] == []
    finally:
        bot.send_signal(signal.SIGTERM)
        out, err = bot.communicate(timeout=90)
        me.close()
    stderr = err.decode()
    assert bot.returncode == 0, stderr[-3000:]
    assert "the bot is HALTED" in stderr  # the bot reports HALTED on its way out
    report = json.loads(out.decode()[out.decode().index("{"):]) if out.decode().lstrip().startswith("{") else None
    assert report is None or report["risk_state"] == "halted"

    store = open_store(f"sqlite://{data / 'sim'}/", env="sim")
    try:
        events = store.alerts().events()
    finally:
        store.close()
    replies = [e for e in events if e.kind.value == "reply"]
    assert len(replies) == 4 and all(e.status.value == "sent" and e.channel == "telegram" for e in replies)
    assert {(e.channel, e.status.value) for e in events if e.rule == "halted"} == {("telegram", "sent"),
                                                                                  ("webhook", "sent")}
    hook_bodies = b"".join(s.body for s in hook.seen)
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.log*"))
    stored = json.dumps([[e.text, e.reason] for e in events])
    for secret in (SECRET_PART, HOOK_PATH, "webhookPathSecret", HOOK_SECRET):
        for where, text in (("logs", logs), ("stdout", out.decode()), ("stderr", stderr), ("store", stored),
                            ("webhook bodies", hook_bodies.decode())):
            assert secret not in text, f"{secret!r} in the {where}"
    assert "telegram commands: ignored a message from chat 9999" in logs
    assert Path(tmp_path / "logs" / "kalshi.log").is_file()
