"""KALSHI_STORE through the real CLI against the real simulator: where the journal lives, store URLs that cannot be
used (exit 3 naming the variable, a password never printed or logged), one environment per store, and what
`kalshi config check` says about the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.store.sqlite.journal import SqliteJournal
from tests.e2e.conftest import cent_market

SECRET = "hunter2-Zq9"


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    account = sim.demo_account
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path / "data"),
            "KALSHI_API_KEY_ID": account.key_id, "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path), "KALSHI_STORE": None}


def run(env: dict, *args: str, **overrides: str | None):
    return CliRunner().invoke(app, list(args), env={**env, **overrides})


def _place(env: dict, sim, **overrides: str | None) -> None:
    result = run(env, "order", "limit", cent_market(sim), "yes", "1", "0.05", "--yes", **overrides)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("written", ["sqlite://{tmp}/elsewhere/", "sqlite:///{tmp}/elsewhere", "sqlite://elsewhere/",
                                     "sqlite://./elsewhere"])
def test_the_journal_lives_where_the_store_url_says(env, sim, tmp_path, written):
    store = written.format(tmp=tmp_path)
    _place(env, sim, KALSHI_STORE=store)
    assert (tmp_path / "elsewhere" / "journal.sqlite").is_file()
    assert not (tmp_path / "data" / "sim" / "journal.sqlite").exists()
    history = json.loads(run(env, "history", "--json", KALSHI_STORE=store).stdout)
    assert [e["kind"] for e in history["entries"]] == ["order", "order"]  # the intent and its acceptance
    assert json.loads(run(env, "history", "--json").stdout)["entries"] == []  # the default store is another


def test_the_default_store_is_the_environments_data_directory(env, sim, tmp_path):
    _place(env, sim)
    with SqliteJournal.open(tmp_path / "data" / "sim" / "journal.sqlite") as journal:
        assert [e.kind for e in journal.order_events()] == ["intent", "accepted"]
    doc = json.loads(run(env, "config", "check", "--json").stdout)
    checks = {c["check"]: c for c in doc["checks"]}
    assert checks["store"]["detail"] == f"sqlite://{tmp_path / 'data' / 'sim'}/"
    assert checks["store answers"]["ok"] and doc["ok"]


@pytest.mark.parametrize("url,words", [
    (f"dynamodb://us-east-1/kalshi?aws_secret_access_key={SECRET}", ["the region and a query"]),
    (f"mysql://root:{SECRET}@localhost/kalshi", ["unknown storage backend"]),
    (f"trader:{SECRET}@db.example", ["not a store URL"]),
    ("/var/lib/kalshi", ["not a store URL"]),
    ("sqlite://", ["names no directory"]),
    ("sqlite:///tmp/a\x1b[31mb", ["control characters"]),
])
def test_a_store_url_that_cannot_be_used_is_exit_3_naming_the_variable(env, sim, tmp_path, url, words):
    t = cent_market(sim)
    for args in (["balance"], ["sync"], ["history"], ["config", "check"], ["config", "check", "--json"],
                 ["order", "limit", t, "yes", "1", "0.05", "--yes"]):
        result = run(env, *args, KALSHI_STORE=url)
        assert result.exit_code == 3, (args, result.output)
        assert "KALSHI_STORE" in result.stderr and "Traceback" not in result.output, result.output
        for word in words:
            assert word in result.stderr, result.stderr
        assert SECRET not in result.output
    logged = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file())
    assert SECRET not in logged
    assert json.loads(run(env, "orders", "--json").stdout)["orders"] == []  # no order was sent


def test_a_store_path_that_is_a_file_is_exit_3(env, sim, tmp_path):
    (tmp_path / "a-file").write_text("not a directory\n")
    result = run(env, "sync", KALSHI_STORE=f"sqlite://{tmp_path}/a-file")
    assert result.exit_code == 3 and "a-file" in result.stderr and "not a directory" in result.stderr.lower()
    assert (tmp_path / "a-file").read_text() == "not a directory\n"


def test_one_store_holds_one_environment(env, sim, tmp_path):
    store = f"sqlite://{tmp_path}/shared/"
    _place(env, sim, KALSHI_STORE=store)
    before = (tmp_path / "shared" / "journal.sqlite").read_bytes()
    demo = {"KALSHI_ENV": "demo", "KALSHI_STORE": store}
    for args in (["sync"], ["history"], ["order", "limit", cent_market(sim), "yes", "1", "0.05", "--yes"]):
        result = run(env, *args, **demo)
        assert result.exit_code == 3, (args, result.output)
        assert "sim environment's records" in result.stderr and "KALSHI_STORE" in result.stderr
    assert run(env, "balance", **demo).exit_code == 0  # reading the exchange never needed the journal
    assert (tmp_path / "shared" / "journal.sqlite").read_bytes() == before


def test_config_check_shows_the_store_masked_and_whether_it_answers(env, sim, tmp_path):
    store = f"sqlite://{tmp_path}/kept/"
    result = run(env, "config", "check", KALSHI_STORE=store)
    assert result.exit_code == 0, result.output
    assert store in result.stdout and "journal created on first use" in result.stdout
    assert not (tmp_path / "kept").exists()  # checking creates nothing
    (tmp_path / "kept").mkdir()
    damaged = tmp_path / "kept" / "journal.sqlite"
    damaged.write_bytes(b"these are not the trades you are looking for\n" * 50)
    doc = json.loads(run(env, "config", "check", "--json", KALSHI_STORE=store).stdout)
    answers = next(c for c in doc["checks"] if c["check"] == "store answers")
    assert not answers["ok"] and "not a SQLite database" in answers["detail"] and not doc["ok"]
    result = run(env, "config", "check", KALSHI_STORE=store)
    assert result.exit_code == 3 and "FAIL" in result.stdout
    assert damaged.read_bytes() == b"these are not the trades you are looking for\n" * 50
    assert sorted(p.name for p in Path(tmp_path / "kept").iterdir()) == ["journal.sqlite"]
