"""KALSHI_STORE parsing and masking (store/url.py): every spelling of a SQLite directory, every refusal a
ConfigError naming the variable, and no password or secret query value ever in what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_trading.config import load_settings
from kalshi_trading.errors import ConfigError
from kalshi_trading.store import open_store
from kalshi_trading.store.url import Backend, mask_url, parse_store_url

SECRET = "s3cr/et@x"


@pytest.mark.parametrize("text,directory", [
    ("sqlite:///var/lib/kalshi/prod/", "/var/lib/kalshi/prod"),
    ("sqlite:////var/lib/kalshi/prod", "/var/lib/kalshi/prod"),  # SQLAlchemy's absolute spelling
    ("sqlite://data/prod/", "{cwd}/data/prod"),
    ("sqlite://./data", "{cwd}/data"),
    ("SQLite:///a b/c%20d?x#y", "/a b/c%20d?x#y"),  # the rest is the path, literally
    ("sqlite3:///srv/k", "/srv/k"),
])
def test_sqlite_directories(tmp_path, text, directory):
    url = parse_store_url(text, cwd=tmp_path)
    assert url.backend is Backend.SQLITE and url.directory == Path(directory.format(cwd=tmp_path))
    assert url.masked == text and str(url) == text


def test_home_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_store_url("sqlite://~/kalshi/").directory == tmp_path / "kalshi"


@pytest.mark.parametrize("text,shown", [
    (f"postgresql://bob:{SECRET}@db.example:5432/kalshi", "postgresql://bob:***@db.example:5432/kalshi"),
    ("postgresql://bob@db.example/kalshi", "postgresql://bob@db.example/kalshi"),
    (f"postgres://db/kalshi?sslmode=require&password={SECRET}", "postgres://db/kalshi?sslmode=require&password=***"),
    (f"dynamodb://us-east-1/t?aws_secret_access_key={SECRET}&region=x",
     "dynamodb://us-east-1/t?aws_secret_access_key=***&region=x"),
    (f"dynamodb://t?session_token={SECRET}", "dynamodb://t?session_token=***"),
    (f"user:{SECRET}@host", "***"),
])
def test_masking_hides_passwords_and_secret_values(text, shown):
    assert mask_url(text) == shown and "s3cr" not in mask_url(text)


@pytest.mark.parametrize("text,words", [
    (f"dynamodb://us-east-1/kalshi?secret_key={SECRET}", "DynamoDB storage is not supported yet"),
    ("mysql://db/kalshi", "unknown storage backend"),
    ("/var/lib/kalshi", "not a store URL"),
    ("sqlite:/var/lib/kalshi", "not a store URL"),
    ("sqlite://", "names no directory"),
    ("sqlite:// /tmp/x", "spaces around"),
    ("sqlite:///tmp/\x00x", "control characters"),
    ("sqlite:///tmp/\u202ex", "control characters"),
])
def test_refusals_name_the_variable_and_never_the_secret(text, words):
    with pytest.raises(ConfigError) as caught:
        open_store(text, env="sim")
    message = str(caught.value)
    assert "KALSHI_STORE" in message and words in message and "s3cr" not in message
    assert caught.value.variable == "KALSHI_STORE"


@pytest.mark.parametrize("text", [f"postgresql://bob:{SECRET}@db.example:5432/kalshi", "postgres://db/kalshi",
                                  f"postgresql+psycopg://bob@db/k?sslmode=require&password={SECRET}", "postgresql://"])
def test_postgresql_urls_open_a_store_that_connects_only_when_used(text):
    store = open_store(text, env="sim")  # nothing is connected yet: no server is needed to build it
    assert store.url.backend is Backend.POSTGRESQL and store.url.conninfo.startswith("postgresql://")
    for shown in (store.url.masked, str(store.url), repr(store.url), store.journal_location):
        assert "s3cr" not in shown
    assert "kalshi_sim" in store.journal_location  # the environment's schema


def test_settings_default_and_repr(tmp_path):
    s = load_settings({"KALSHI_DATA_DIR": str(tmp_path), "KALSHI_ENV": "sim"}, cwd=tmp_path)
    assert s.store_url is None and s.store_url_text == f"sqlite://{tmp_path}/sim/"
    assert parse_store_url(s.store_url_text).directory == tmp_path / "sim"
    secret = load_settings({"KALSHI_STORE": f"postgresql://bob:{SECRET}@db/k"}, cwd=tmp_path)
    assert secret.store_url_text.startswith("postgresql://") and "s3cr" not in repr(secret)
