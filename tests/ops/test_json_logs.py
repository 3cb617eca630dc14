"""KALSHI_LOG_FORMAT=json: one JSON object per log line with the bot plan's fields from `extra=`; the default stays
text; a bad value is a configuration error; the settings' secrets never reach a log line in either format."""

from __future__ import annotations

import logging
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.logsetup import JsonFormatter, UtcFormatter, configure_logging, formatter, secrets_of
from kalshi_trading.cli.main import app
from kalshi_trading.config import Settings, load_settings
from tests.e2e.conftest import cent_market
from tests.ops.helpers import json_lines


def record(message: str, *args, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("kalshi_trading.trades", logging.INFO, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_a_json_line_carries_time_level_logger_message_and_the_extra_fields():
    import json

    line = JsonFormatter().format(record("SUBMIT %s @ %s", "KX-1", D("0.42"), market="KX-1", action="buy",
                                         price=D("0.4200"), size=D("3.00"), reason="edge", unrelated="x"))
    doc = json.loads(line)
    assert doc["level"] == "INFO" and doc["logger"] == "kalshi_trading.trades"
    assert doc["message"] == "SUBMIT KX-1 @ 0.42"
    assert doc["time"].endswith("Z") and doc["time"][10] == "T"
    assert (doc["market"], doc["action"], doc["price"], doc["size"], doc["reason"]) == \
        ("KX-1", "buy", "0.4200", "3.00", "edge")  # exact decimal text
    assert "unrelated" not in doc


def test_a_json_line_stays_one_line_with_newlines_quotes_and_a_traceback():
    import json

    try:
        raise ValueError("bad\nthing")
    except ValueError:
        import sys

        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, 'multi\nline "quoted"', (), sys.exc_info())
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["message"] == 'multi\nline "quoted"' and "ValueError: bad" in doc["exception"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_of_the_settings_are_masked_in_both_formats(fmt):
    settings = Settings(private_key_password="hunter2-pass", store_url="postgresql://bot:s3cr3t-pw@db/kalshi",
                        log_format=fmt)
    assert set(secrets_of(settings)) == {"hunter2-pass", "s3cr3t-pw"}
    out = formatter(settings).format(record("tried %s and %s against postgresql://bot:s3cr3t-pw@db/kalshi",
                                            "hunter2-pass", "x", reason="password hunter2-pass rejected"))
    assert "hunter2-pass" not in out and "s3cr3t-pw" not in out and "****" in out
    assert "postgresql://bot:****@db/kalshi" in out  # the rest of the URL still says where


def test_a_store_url_without_a_password_is_not_masked():
    settings = Settings(store_url="sqlite:///srv/kalshi/")
    assert secrets_of(settings) == ()
    assert "sqlite:///srv/kalshi/" in UtcFormatter("%(message)s").format(record("store sqlite:///srv/kalshi/"))


@pytest.mark.parametrize("value", ["xml", "JSONL", "js on", "plain", "json,text"])
def test_a_bad_log_format_is_a_configuration_error(tmp_path, value):
    result = CliRunner().invoke(app, ["config", "check"], env={"KALSHI_LOG_FORMAT": value, "HOME": str(tmp_path),
                                                               "KALSHI_DATA_DIR": str(tmp_path / "d"),
                                                               "KALSHI_LOG_DIR": str(tmp_path / "l")})
    assert result.exit_code == 3, result.output
    assert "KALSHI_LOG_FORMAT" in result.output and "text" in result.output and "json" in result.output


@pytest.mark.parametrize("value, expected", [("json", "json"), ("JSON", "json"), (" json ", "json"), ("text", "text"),
                                             ("", "text")])
def test_accepted_spellings(tmp_path, value, expected):
    assert load_settings({"KALSHI_LOG_FORMAT": value}, cwd=tmp_path).log_format == expected
    assert load_settings({}, cwd=tmp_path).log_format == "text"


def test_the_default_stays_human_readable(tmp_path: Path):
    configure_logging(Settings(log_dir=tmp_path))
    logging.getLogger("kalshi_trading.test").warning("plain %s", "words", extra={"market": "KX"})
    for handler in logging.getLogger("kalshi_trading").handlers:
        handler.flush()
    text = (tmp_path / "kalshi.log").read_text()
    assert "WARNING kalshi_trading.test: plain words" in text and not text.startswith("{")


@pytest.mark.e2e
def test_the_trade_lines_of_a_real_order_are_json_with_market_action_price_and_size(sim, tmp_path):
    t = cent_market(sim)
    account = sim.demo_account
    env = {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_API_KEY_ID": account.key_id,
           "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path), "KALSHI_DATA_DIR": str(tmp_path / "data"),
           "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_LOG_FORMAT": "json", "HOME": str(tmp_path),
           "NO_COLOR": "1"}
    runner = CliRunner()
    placed = runner.invoke(app, ["order", "limit", t, "yes", "3", "0.21", "--yes"], env=env)
    assert placed.exit_code == 0, placed.output
    assert runner.invoke(app, ["cancel", "--all", "--yes"], env=env).exit_code == 0
    trades = json_lines(tmp_path / "logs" / "trades.log")  # every line parses
    submit = next(r for r in trades if r["message"].startswith("SUBMIT"))
    assert (submit["market"], submit["action"], submit["side"], submit["price"], submit["size"]) == \
        (t, "buy", "yes", "0.21", "3")
    accepted = next(r for r in trades if r["message"].startswith("ACCEPTED"))
    assert accepted["market"] == t and accepted["order_id"] and accepted["remaining"] == "3.00"
    cancel = next(r for r in trades if r["message"].startswith("CANCEL"))
    assert cancel["action"] == "cancel" and cancel["market"] == t
    assert all(r["level"] and r["logger"] and r["time"] for r in json_lines(tmp_path / "logs" / "kalshi.log"))


def test_the_notifiers_secrets_are_masked_too():
    from kalshi_trading.notify_settings import NotifySettings

    notify = NotifySettings(telegram_token="123456:ABCdefSECRET", telegram_chat_id="42",
                            webhook_url="https://hooks.example.com/services/T0/B0/pathSECRET",
                            webhook_secret="hmacSECRET")
    settings = Settings(notify=notify, log_format="json")
    out = formatter(settings).format(record("POST https://hooks.example.com/services/T0/B0/pathSECRET failed; token "
                                            "123456:ABCdefSECRET, signed with hmacSECRET"))
    assert "SECRET" not in out and out.count("****") == 3
