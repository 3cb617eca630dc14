"""Issue 10 item 8 through the real CLI: configuration mistakes are exit 3 with the variable named, before any
request; `kalshi config check` never prints the key id whole."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.config import VARIABLES


@pytest.fixture
def run(tmp_path, monkeypatch, key_file):
    monkeypatch.chdir(tmp_path)
    base = {name: None for name in VARIABLES}
    base.update(KALSHI_DATA_DIR=str(tmp_path / "data"), KALSHI_LOG_DIR=str(tmp_path / "logs"), NO_COLOR="1",
                HOME=str(tmp_path))
    runner = CliRunner()

    def invoke(*args: str, **env: str):
        return runner.invoke(app, list(args), env={**base, **env})

    invoke.demo_keys = {"KALSHI_API_KEY_ID": "demo-key-0001", "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
    return invoke


def _config_error(result, *words: str) -> None:
    assert result.exit_code == 3, (result.exit_code, result.output)
    assert "unexpected error" not in result.output and "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


@pytest.mark.parametrize("spelling", ["PROD", "Prod", " Prod ", "prod "])
def test_kalshi_env_must_be_spelled_exactly(run, spelling):
    _config_error(run("balance", KALSHI_ENV=spelling, **run.demo_keys), "KALSHI_ENV", "sim, demo or prod")


@pytest.mark.parametrize("base", ["https://external-api.kalshi.com./trade-api/v2",
                                  "https://EXTERNAL-API.KALSHI.COM/trade-api/v2",
                                  "https://external-api.kalshi.com:443/trade-api/v2",
                                  "https://user@external-api.kalshi.com/trade-api/v2"])
def test_production_host_in_any_spelling_is_refused_under_demo(run, base):
    _config_error(run("balance", KALSHI_ENV="demo", KALSHI_API_BASE=base, **run.demo_keys), "KALSHI_API_BASE")


def test_env_file_with_a_key_twice_names_both_lines(run, tmp_path):
    (tmp_path / ".env").write_text("KALSHI_ENV=sim\n# the real one:\nKALSHI_ENV=prod\n")
    _config_error(run("balance"), "KALSHI_ENV", "line 1 and line 3")


def test_env_file_with_control_characters_names_the_line(run, tmp_path):
    (tmp_path / ".env").write_bytes(b"KALSHI_ENV=sim\n\x00\x01garbage\x1b[0m\n")
    _config_error(run("balance"), "line 2", "control character")


@pytest.mark.parametrize("name,value", [("KALSHI_READ_TIMEOUT", "1e-9"), ("KALSHI_CONNECT_TIMEOUT", "nan"),
                                        ("KALSHI_LOG_RETENTION_DAYS", "99999999999999999999")])
def test_numeric_settings_out_of_range(run, name, value):
    _config_error(run("balance", **{name: value}), name)


def test_config_check_masks_the_key_id_even_in_the_key_file_path(run, tmp_path):
    from kalshi_trading.sim.runtime import demo_account

    key_id = demo_account(tmp_path / "data" / "sim").key_id
    for args in (["config", "check"], ["config", "check", "--json"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert key_id not in result.output and key_id[-4:] in result.output
    doc = json.loads(run("config", "check", "--json").stdout)
    key_file = next(c["detail"] for c in doc["checks"] if c["check"] == "key file")
    assert key_file.endswith(f"demo-…{key_id[-4:]}.pem")
