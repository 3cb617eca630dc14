"""The bot's state lives in the store (KALSHI_STORE), as the journal does; `--sim` is the sim environment's bot,
in `<data dir>/sim`, whatever the settings say.  The real CLI; `auto status` and `auto resume` need no exchange."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return {"KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "KALSHI_ENV": "sim",
            "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": "", "KALSHI_STORE": None,
            "NO_COLOR": "1"}


def run(env: dict, *args: str, **overrides: str | None):
    result = CliRunner().invoke(app, list(args), env={**env, **overrides})
    assert result.exit_code == 0, result.output
    return result


def status(env: dict, *args: str, **overrides: str | None) -> dict:
    out = run(env, "auto", "status", "--json", *args, **overrides).stdout
    return json.loads(out[out.index("{"):])


@pytest.mark.parametrize("written", ["sqlite://{tmp}/elsewhere/", "sqlite://elsewhere/"])
def test_the_bot_state_lives_where_the_store_url_says(env, tmp_path, written):
    store = written.format(tmp=tmp_path)
    run(env, "auto", "resume", KALSHI_STORE=store)
    assert (tmp_path / "elsewhere" / "bot.sqlite").is_file()
    assert not (tmp_path / "data" / "sim" / "bot.sqlite").exists()
    doc = status(env, KALSHI_STORE=store)
    assert doc["state_file"] == str(tmp_path / "elsewhere" / "bot.sqlite")
    assert [e["kind"] for e in doc["events"]] == ["risk_state"]  # the resume's
    assert status(env)["events"] == []  # the default store is another


@pytest.mark.parametrize("settings_env", ["sim", "demo"])
def test_the_sim_bot_is_in_the_data_directorys_sim_store_whatever_the_settings(env, tmp_path, settings_env):
    overrides = {"KALSHI_STORE": f"sqlite://{tmp_path}/elsewhere/", "KALSHI_ENV": settings_env}
    if settings_env == "demo":
        key = tmp_path / "key.pem"
        key.write_text("not read by these commands")
        overrides |= {"KALSHI_API_KEY_ID": "id", "KALSHI_PRIVATE_KEY_PATH": str(key)}
    run(env, "auto", "resume", "--sim", **overrides)
    assert (tmp_path / "data" / "sim" / "bot.sqlite").is_file()
    assert not (tmp_path / "elsewhere").exists()
    doc = status(env, "--sim", **overrides)
    assert doc["state_file"] == str(tmp_path / "data" / "sim" / "bot.sqlite") and len(doc["events"]) == 1
