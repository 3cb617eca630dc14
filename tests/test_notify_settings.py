"""The notification settings: what configures Telegram and the webhook, every malformed value a ConfigError naming
its variable (exit 3 through the CLI) without echoing a secret, and `kalshi config check` showing the channels
with the secrets masked."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.config import VARIABLES, load_settings
from kalshi_trading.errors import ConfigError
from kalshi_trading.notify_settings import DEFAULT_TELEGRAM_API

TOKEN = "7123456789:AAE-secretPartOfTheToken_0123456789abc"
HOOK = "https://hooks.example.com/services/T000/B000/XXXXsecretPath"
SECRET = "whsec-very-secret-value"


def notify(tmp_path, **env):
    return load_settings(environ=env, cwd=tmp_path).notify


def test_nothing_set_means_no_channel(tmp_path):
    n = notify(tmp_path)
    assert not n.configured and not n.telegram and not n.webhook and not n.telegram_commands
    assert n.telegram_api_base == DEFAULT_TELEGRAM_API


@pytest.mark.parametrize("chat,as_sent", [("123456", 123456), ("-1001234567890", -1001234567890),
                                          ("@my_channel", "@my_channel")])
def test_telegram_with_a_chat_id_or_channel_turns_commands_on_by_default(tmp_path, chat, as_sent):
    n = notify(tmp_path, KALSHI_TELEGRAM_BOT_TOKEN=TOKEN, KALSHI_TELEGRAM_CHAT_ID=chat,
               KALSHI_TELEGRAM_API_BASE="http://127.0.0.1:8000/ext/telegram/")
    assert n.telegram and n.telegram_commands and n.chat == as_sent
    assert n.telegram_api_base == "http://127.0.0.1:8000/ext/telegram"


@pytest.mark.parametrize("value,on", [("off", False), ("0", False), ("no", False), ("ON", True), ("true", True)])
def test_commands_switch(tmp_path, value, on):
    n = notify(tmp_path, KALSHI_TELEGRAM_BOT_TOKEN=TOKEN, KALSHI_TELEGRAM_CHAT_ID="42",
               KALSHI_TELEGRAM_COMMANDS=value)
    assert n.telegram_commands is on


def test_secrets_stay_out_of_repr(tmp_path):
    s = load_settings(environ={"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "42",
                               "KALSHI_WEBHOOK_URL": HOOK, "KALSHI_WEBHOOK_SECRET": SECRET}, cwd=tmp_path)
    assert TOKEN not in repr(s) and "secretPath" not in repr(s) and SECRET not in repr(s)
    assert s.notify.shown_webhook == "https://hooks.example.com/…"


BAD = [
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN}, "KALSHI_TELEGRAM_CHAT_ID"),
    ({"KALSHI_TELEGRAM_CHAT_ID": "42"}, "KALSHI_TELEGRAM_BOT_TOKEN"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": "not-a-token-" + TOKEN[-20:], "KALSHI_TELEGRAM_CHAT_ID": "42"},
     "KALSHI_TELEGRAM_BOT_TOKEN"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN[:10] + " " + TOKEN[10:], "KALSHI_TELEGRAM_CHAT_ID": "42"},
     "KALSHI_TELEGRAM_BOT_TOKEN"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "twelve"}, "KALSHI_TELEGRAM_CHAT_ID"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "12.5"}, "KALSHI_TELEGRAM_CHAT_ID"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "@x"}, "KALSHI_TELEGRAM_CHAT_ID"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "42",
      "KALSHI_TELEGRAM_API_BASE": "ftp://api.telegram.org"}, "KALSHI_TELEGRAM_API_BASE"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "42",
      "KALSHI_TELEGRAM_API_BASE": "http://[::1"}, "KALSHI_TELEGRAM_API_BASE"),
    ({"KALSHI_TELEGRAM_BOT_TOKEN": TOKEN, "KALSHI_TELEGRAM_CHAT_ID": "42", "KALSHI_TELEGRAM_COMMANDS": "maybe"},
     "KALSHI_TELEGRAM_COMMANDS"),
    ({"KALSHI_TELEGRAM_COMMANDS": "on"}, "KALSHI_TELEGRAM_COMMANDS"),
    ({"KALSHI_WEBHOOK_URL": "hooks.example.com/services/T000"}, "KALSHI_WEBHOOK_URL"),
    ({"KALSHI_WEBHOOK_URL": "ftp://hooks.example.com/x"}, "KALSHI_WEBHOOK_URL"),
    ({"KALSHI_WEBHOOK_URL": "https://user:pw@hooks.example.com/x"}, "KALSHI_WEBHOOK_URL"),
    ({"KALSHI_WEBHOOK_URL": "https://hooks.example.com:99999/x"}, "KALSHI_WEBHOOK_URL"),
    ({"KALSHI_WEBHOOK_SECRET": SECRET}, "KALSHI_WEBHOOK_URL"),
]


@pytest.mark.parametrize("env,variable", BAD)
def test_each_malformed_value_is_a_config_error_naming_the_variable_and_no_secret(tmp_path, env, variable):
    with pytest.raises(ConfigError) as refused:
        notify(tmp_path, **env)
    assert refused.value.variable == variable
    for secret in (TOKEN[11:], "secretPath", SECRET, "pw@"):
        assert secret not in str(refused.value)


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = {name: None for name in VARIABLES}
    base.update(KALSHI_DATA_DIR=str(tmp_path / "data"), KALSHI_LOG_DIR=str(tmp_path / "logs"), NO_COLOR="1",
                HOME=str(tmp_path), KALSHI_ENV="sim")

    def invoke(*args: str, **env: str):
        return CliRunner().invoke(app, list(args), env={**base, **env})
    return invoke


@pytest.mark.parametrize("env,variable", [BAD[2], BAD[4], BAD[12], BAD[15]])
def test_the_cli_exits_3_naming_the_variable(run, env, variable):
    result = run("balance", **env)
    assert result.exit_code == 3, result.output
    assert variable in result.output and "Traceback" not in result.output and "unexpected" not in result.output


def test_config_check_shows_the_channels_with_secrets_masked(run):
    result = run("config", "check", "--json", KALSHI_TELEGRAM_BOT_TOKEN=TOKEN, KALSHI_TELEGRAM_CHAT_ID="42",
                 KALSHI_WEBHOOK_URL=HOOK, KALSHI_WEBHOOK_SECRET=SECRET, KALSHI_TELEGRAM_COMMANDS="off")
    assert result.exit_code == 0, result.output
    checks = {c["check"]: c["detail"] for c in json.loads(result.stdout)["checks"]}
    assert checks["telegram"].startswith("bot 7123456789:… to chat 42") and "commands off" in checks["telegram"]
    assert checks["webhook"] == "https://hooks.example.com/…, signed (HMAC-SHA256)"
    table = run("config", "check", KALSHI_TELEGRAM_BOT_TOKEN=TOKEN, KALSHI_TELEGRAM_CHAT_ID="42",
                KALSHI_WEBHOOK_URL=HOOK, KALSHI_WEBHOOK_SECRET=SECRET)
    assert table.exit_code == 0 and "7123456789:…" in table.output and "commands on" in table.output
    for secret in (TOKEN, TOKEN[11:], "secretPath", "services/T000", SECRET):
        assert secret not in result.output and secret not in table.output
    plain = run("config", "check")
    assert "notifications" in plain.output and "none configured" in plain.output
