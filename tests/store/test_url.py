"""KALSHI_STORE parsing and masking (store/url.py): every spelling of a SQLite directory, every refusal a
ConfigError naming the variable, and no password or secret query value ever in what is shown."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kalshi_trading.config import load_settings
from kalshi_trading.errors import ConfigError
from kalshi_trading.store import open_store
from kalshi_trading.store.url import Backend, mask_url, parse_store_url
from tests.conftest import require_store_server

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
    (f"dynamodb://us-east-1/kalshi?secret_key={SECRET}", "a DynamoDB URL is the region and a query"),
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


@pytest.mark.parametrize("text,region,endpoint,prefix", [
    ("dynamodb://us-east-1", "us-east-1", None, "kalshi_"),
    ("dynamodb://eu-west-2/?prefix=bots_", "eu-west-2", None, "bots_"),
    ("DynamoDB://ap-southeast-2?prefix=", "ap-southeast-2", None, ""),
    ("dynamodb://local?endpoint=http://127.0.0.1:8000&prefix=k.t-1_", "local", "http://127.0.0.1:8000", "k.t-1_"),
    ("dynamodb://us-gov-west-1?prefix=x_&endpoint=https://dynamodb.us-gov-west-1.amazonaws.com", "us-gov-west-1",
     "https://dynamodb.us-gov-west-1.amazonaws.com", "x_"),
])
def test_dynamodb_urls(text, region, endpoint, prefix):
    url = parse_store_url(text)
    assert (url.backend, url.region, url.endpoint, url.prefix) == (Backend.DYNAMODB, region, endpoint, prefix)
    assert url.masked == text and url.directory is None
    if importlib.util.find_spec("boto3") is None:
        require_store_server("DynamoDB", "boto3 is not installed")
    store = open_store(text, env="demo")  # nothing is contacted until a part is used
    assert store.url == url and f"{prefix}demo_*" in store.journal_location


@pytest.mark.parametrize("text,words", [
    ("dynamodb://", "names no AWS region"),
    ("dynamodb://useast1", "names no AWS region"),
    ("dynamodb://us_east_1", "names no AWS region"),
    ("dynamodb://us-east-1:8000", "the region and a query, nothing else"),
    ("dynamodb://us-east-1/tables", "the region and a query, nothing else"),
    ("dynamodb://bob@us-east-1", "the region and a query, nothing else"),
    (f"dynamodb://bob:{SECRET}@us-east-1", "the region and a query, nothing else"),
    ("dynamodb://us-east-1?table=fills", "unknown parameter 'table'"),
    ("dynamodb://us-east-1?region=eu-west-1", "unknown parameter 'region'"),
    (f"dynamodb://us-east-1?aws_secret_access_key={SECRET}", "credentials come from boto3's chain"),
    (f"dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&session_token={SECRET}", "unknown parameter"),
    ("dynamodb://local?endpoint=ftp://127.0.0.1:8000", "is not an http(s) URL"),
    ("dynamodb://local?endpoint=127.0.0.1:8000", "is not an http(s) URL"),
    ("dynamodb://local?endpoint=file:///tmp/db", "is not an http(s) URL"),
    ("dynamodb://local?endpoint=http://", "is not an http(s) URL"),
    ("dynamodb://us-east-1?prefix=a&prefix=b", "repeats a parameter"),
    ("dynamodb://us-east-1?prefix=a b", "is not a table-name start"),
    ("dynamodb://us-east-1?prefix=t\u00e4", "is not a table-name start"),
    ("dynamodb://us-east-1?prefix=" + "p" * 65, "is not a table-name start"),
    ("dynamodb://us-east-1?prefix", "malformed query"),
    ("dynamodb://us-east-1?endpoint=http://127.0.0.1:8000#x", "the region and a query, nothing else"),
])
def test_dynamodb_refusals_name_the_variable_and_never_the_secret(text, words):
    with pytest.raises(ConfigError) as caught:
        open_store(text, env="sim")
    message = str(caught.value)
    assert caught.value.variable == "KALSHI_STORE" and words in message and "s3cr" not in message
