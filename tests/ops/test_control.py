"""The Telegram commands: parsing, the confirmation window of /mode live_auto and /resume, refusals as replies; and
the poller against the simulator's stub: commands only from the configured chat (another chat ignored and logged
without its text), messages from before the run skipped, the reply sent back through the notifier."""

from __future__ import annotations

import logging
import time

import pytest
import requests

from kalshi_trading.errors import ConfigError, UsageError
from kalshi_trading.ops.control.commands import Commands, NotNow, parse
from kalshi_trading.ops.control.poller import TelegramControl, chat_matches
from kalshi_trading.ops.notify.dispatch import Dispatcher
from kalshi_trading.ops.notify.telegram import TelegramBot, TelegramChannel
from kalshi_trading.signals.modes import BotMode
from kalshi_trading.sim.routes_control import TOKEN_HEADER
from tests.e2e.conftest import sim  # noqa: F401  (the simulator fixture)

TOKEN = "5550003:AAH-secretPartOfTheBotToken_control"


class Target:
    """A stand-in for a running bot: records what it was asked to do."""

    source = "default"

    def __init__(self):
        self.done: list[tuple[str, object]] = []
        self.current = BotMode.DEMO_SAFE

    def status(self):
        return "risk ACTIVE"

    def positions(self):
        return "no positions"

    def pnl(self):
        return "net +0.0000"

    def orders(self):
        raise NotNow("the bot is still starting")

    def mode(self):
        return f"mode {self.current.value}"

    def set_mode(self, mode, who):
        if mode is BotMode.LIVE_AUTO:
            raise ConfigError("bot mode live_auto runs on prod, but KALSHI_ENV is sim", "KALSHI_ENV")
        if mode is BotMode.LIVE_SAFE:
            raise UsageError("restart it")
        self.done.append(("mode", mode))
        return "ok"

    def halt(self, who):
        self.done.append(("halt", who))
        return "HALTED: 2 order(s) cancelled"

    def resume(self, who):
        self.done.append(("resume", who))
        return "risk state halted -> active"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("text,name,args", [("/status", "status", ()), ("/STATUS@MyKalshiBot", "status", ()),
                                            ("  /mode   live_auto ", "mode", ("live_auto",)), ("/h", "h", ())])
def test_parse(text, name, args):
    command = parse(text)
    assert command is not None and command.name == name and command.args == args


@pytest.mark.parametrize("text", ["status", "", "/", "hello /status"])
def test_text_that_is_not_a_command(text):
    assert parse(text) is None


def test_live_auto_waits_for_a_confirmation_and_without_it_nothing_changes():
    target, clock = Target(), Clock()
    commands = Commands(target, clock=clock)
    asked = commands.handle("/mode live_auto", "chat 42")
    assert "REAL MONEY" in asked.text and "/confirm" in asked.text and target.done == []
    clock.now = 61
    late = commands.handle("/confirm", "chat 42")
    assert "too late" in late.text and target.done == []
    assert commands.handle("/mode", "chat 42").text == "mode demo_safe"


def test_a_confirmed_live_auto_reaches_the_target_which_may_refuse_it():
    target, clock = Target(), Clock()
    commands = Commands(target, clock=clock)
    commands.handle("/mode live_auto", "chat 42")
    clock.now = 59
    refused = commands.handle("/confirm", "chat 42")
    assert refused.title == "/confirm: not done" and "KALSHI_ENV is sim" in refused.text
    assert commands.handle("/confirm", "chat 42").text == "nothing waits for a confirmation"


def test_resume_needs_a_confirmation_and_cancel_drops_it():
    target = Target()
    commands = Commands(target, clock=Clock())
    assert "/confirm" in commands.handle("/resume", "chat 42").text and target.done == []
    assert commands.handle("/cancel", "chat 42").text.startswith("cancelled")
    assert commands.handle("/confirm", "chat 42").text == "nothing waits for a confirmation"
    commands.handle("/resume", "chat 42")
    assert commands.handle("/confirm", "chat 42").text == "risk state halted -> active"
    assert target.done == [("resume", "chat 42")]


def test_halt_acts_at_once_and_refusals_or_unknown_commands_are_replies():
    target = Target()
    commands = Commands(target, clock=Clock())
    assert commands.handle("/halt", "chat 42").text.startswith("HALTED") and target.done == [("halt", "chat 42")]
    assert commands.handle("/orders", "chat 42").text == "the bot is still starting"
    assert commands.handle("/mode live_safe", "chat 42").text == "restart it"
    assert "unknown mode" in commands.handle("/mode turbo", "chat 42").text
    unknown = commands.handle("/selfdestruct now", "chat 42")
    assert unknown.title == "unknown command /selfdestruct" and "/status" in unknown.text
    assert "/halt" in commands.handle("/help", "chat 42").text
    assert commands.handle("/mode demo_safe", "chat 42").text == "ok"  # no confirmation for a safe mode


@pytest.mark.parametrize("chat,configured,ours", [
    ({"id": 42, "type": "private"}, 42, True), ({"id": 43, "type": "private"}, 42, False),
    ({"id": -100123, "type": "channel", "username": "MyAlerts"}, "@myalerts", True),
    ({"id": -100123, "type": "channel", "username": "other"}, "@myalerts", False),
    ({"id": True}, 1, False), ("42", 42, False)])
def test_only_the_configured_chat_is_ours(chat, configured, ours):
    assert chat_matches(chat, configured) is ours


def test_the_poller_answers_the_configured_chat_only(sim, caplog):  # noqa: F811
    root = sim.base_url[: -len("/trade-api/v2")] + "/ext/telegram"

    def control(method, path, **kw):
        response = requests.request(method, sim.base_url + "/sim/control/telegram" + path, timeout=10,
                                    headers={TOKEN_HEADER: sim.control_token}, **kw)
        response.raise_for_status()
        return response.json()

    control("POST", "/bots", json={"token": TOKEN, "chats": [42]})
    target = Target()
    sink = Dispatcher([TelegramChannel(TelegramBot(TOKEN, root), 42)], None).start()
    poller = TelegramControl(TelegramBot(TOKEN, root), 42, Commands(target), sink, poll_timeout=2).start()
    try:
        with caplog.at_level(logging.WARNING):
            control("POST", "/updates", json={"chat_id": 666, "text": "/halt my password is hunter2"})
            control("POST", "/updates", json={"chat_id": 42, "text": "/status"})
            deadline = time.monotonic() + 20
            while not control("GET", "/messages?chat_id=42")["messages"] and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        poller.stop()
        sink.close(5)
    replies = control("GET", "/messages")["messages"]
    assert [m["text"] for m in replies] == ["/status\nrisk ACTIVE"] and replies[0]["chat_id"] == 42
    assert target.done == []  # the other chat's /halt was not carried out
    assert "ignored a message from chat 666" in caplog.text and "hunter2" not in caplog.text
    assert poller.handled == 1 and poller.ignored == 1
