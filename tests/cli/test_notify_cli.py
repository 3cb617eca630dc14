"""`kalshi notify test` and `kalshi alerts` through the real CLI: a test message to each channel (the simulator's
Telegram stub, a loopback webhook) reported per channel and recorded; exit 3 for a configuration the service
refuses (an unknown token, a chat that does not exist, a webhook answering 404) or none at all, 6 for a channel
that cannot be reached; the stored events listed as a table and as JSON."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.config import VARIABLES
from kalshi_trading.sim.routes_control import TOKEN_HEADER
from tests.e2e.conftest import sim  # noqa: F401  (the simulator fixture)
from tests.ops.loopback import Answer, Scripted

TOKEN = "8880001:AAJ-cliTestSecretPartOfTheToken_01"


@pytest.fixture
def hook():
    server = Scripted(Answer(204, b""))
    yield server
    server.stop()


@pytest.fixture
def run(tmp_path, monkeypatch, sim):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    requests.post(sim.base_url + "/sim/control/telegram/bots", json={"token": TOKEN, "chats": [42]}, timeout=10,
                  headers={TOKEN_HEADER: sim.control_token}).raise_for_status()
    base = {name: None for name in VARIABLES}
    base.update(KALSHI_ENV="sim", KALSHI_DATA_DIR=str(tmp_path / "data"), KALSHI_LOG_DIR=str(tmp_path / "logs"),
                NO_COLOR="1", HOME=str(tmp_path),
                KALSHI_TELEGRAM_API_BASE=sim.base_url[: -len("/trade-api/v2")] + "/ext/telegram")

    def invoke(*args: str, **env: str):
        return CliRunner().invoke(app, list(args), env={**base, **env})
    return invoke


def test_every_configured_channel_gets_a_test_message_and_it_is_recorded(run, hook):
    result = run("notify", "test", KALSHI_TELEGRAM_BOT_TOKEN=TOKEN, KALSHI_TELEGRAM_CHAT_ID="42",
                 KALSHI_WEBHOOK_URL=hook.url + "/hook/secretPath")
    assert result.exit_code == 0, result.output
    assert "telegram" in result.output and "webhook" in result.output and result.output.count("sent") == 2
    assert hook.seen[0].json()["rule"] == "test"
    listed = run("alerts", "--json")
    events = json.loads(listed.stdout)["events"]
    assert [(e["channel"], e["status"], e["rule"], e["source"]) for e in events] == [
        ("telegram", "sent", "test", "manual"), ("webhook", "sent", "test", "manual")]
    table = run("alerts", "--limit", "1")
    assert table.exit_code == 0 and "webhook" in table.output and "kalshi notify test" in table.output
    assert "telegram" not in table.output.split("\n", 2)[2]  # only the newest one
    assert TOKEN.split(":")[1] not in listed.output + table.output + result.output


@pytest.mark.parametrize("env,words", [
    ({"KALSHI_TELEGRAM_BOT_TOKEN": "8880002:AAJ-nobodyHasThisToken_000000", "KALSHI_TELEGRAM_CHAT_ID": "42"},
     "401 Unauthorized"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "4343"}, "chat not found"),
])
def test_a_refused_configuration_exits_3_with_the_reason(run, env, words):
    result = run("notify", "test", **env)
    assert result.exit_code == 3, result.output
    assert words in result.output and "Traceback" not in result.output and "nobodyHasThisToken" not in result.output
    assert json.loads(run("alerts", "--json").stdout)["events"][0]["status"] == "failed"


def test_a_webhook_that_says_404_exits_3_and_one_that_cannot_be_reached_exits_6(run, hook):
    hook.add(Answer(404, b"no such hook"))
    assert run("notify", "test", KALSHI_WEBHOOK_URL=hook.url + "/gone").exit_code == 3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run("notify", "test", "--json", KALSHI_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook")
    assert result.exit_code == 6, result.output
    doc = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert doc["channels"][0]["failure"] == "unreachable"


def test_nothing_configured_is_a_configuration_error(run):
    result = run("notify", "test")
    assert result.exit_code == 3 and "no notification channel is configured" in result.output
    assert run("alerts").exit_code == 0 and "(none)" in run("alerts").output


def test_help_has_examples():
    for args in (["notify", "--help"], ["notify", "test", "--help"], ["alerts", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "Example:" in result.output
