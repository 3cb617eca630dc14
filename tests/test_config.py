"""Every configuration mistake is a ConfigError naming the variable and the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kalshi_trading.config import load_private_key, load_settings
from kalshi_trading.errors import ConfigError
from tests.conftest import write_key


def settings(tmp_path, **env):
    return load_settings(environ=env, cwd=tmp_path)


def test_defaults_to_sim(tmp_path):
    s = settings(tmp_path, HOME=str(tmp_path))
    assert s.env == "sim" and s.api_base is None and s.rate_tier == "basic"
    assert s.log_dir == tmp_path / "logs"
    assert s.data_dir == tmp_path / ".local/share/kalshi-trading"


def test_env_file_fallback_and_process_wins(tmp_path, key_file):
    (tmp_path / ".env").write_text(f"KALSHI_ENV=demo\nKALSHI_API_KEY_ID=abc-1234\nKALSHI_PRIVATE_KEY_PATH={key_file}\n")
    s = settings(tmp_path)
    assert s.env == "demo" and s.api_base == "https://external-api.demo.kalshi.co/trade-api/v2"
    assert s.env_file == tmp_path / ".env"
    s2 = settings(tmp_path, KALSHI_ENV="sim")
    assert s2.env == "sim"


def test_explicit_env_file(tmp_path, key_file):
    f = tmp_path / "prod.env"
    f.write_text(f"KALSHI_ENV=prod\nKALSHI_API_KEY_ID=k\nKALSHI_PRIVATE_KEY_PATH={key_file}\n")
    s = load_settings(environ={}, env_file=f, cwd=tmp_path)
    assert s.is_prod and s.api_base == "https://external-api.kalshi.com/trade-api/v2"


def test_secrets_not_in_repr(tmp_path, key_file):
    s = settings(tmp_path, KALSHI_API_KEY_ID="0123456789abcdef", KALSHI_PRIVATE_KEY_PATH=str(key_file),
                 KALSHI_PRIVATE_KEY_PASSWORD="hunter2")
    assert "hunter2" not in repr(s)
    assert s.masked_key_id == "…cdef"


@pytest.mark.parametrize(
    "env,variable",
    [
        ({"KALSHI_ENV": "production"}, "KALSHI_ENV"),
        ({"KALSHI_ENV": "demo"}, "KALSHI_API_KEY_ID"),
        ({"KALSHI_ENV": "prod", "KALSHI_API_KEY_ID": "k"}, "KALSHI_PRIVATE_KEY_PATH"),
        ({"KALSHI_ENV": "demo", "KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": "/nonexistent.pem"},
         "KALSHI_PRIVATE_KEY_PATH"),
        ({"KALSHI_API_BASE": "ftp://x"}, "KALSHI_API_BASE"),
        ({"KALSHI_API_BASE": "http://127.0.0.1:8000/api"}, "KALSHI_API_BASE"),
        ({"KALSHI_API_BASE": "https://external-api.kalshi.com/trade-api/v2"}, "KALSHI_API_BASE"),
        ({"KALSHI_LOG_LEVEL": "LOUD"}, "KALSHI_LOG_LEVEL"),
        ({"KALSHI_RATE_TIER": "gold"}, "KALSHI_RATE_TIER"),
        ({"KALSHI_READ_TIMEOUT": "soon"}, "KALSHI_READ_TIMEOUT"),
        ({"KALSHI_CONNECT_TIMEOUT": "-1"}, "KALSHI_CONNECT_TIMEOUT"),
    ],
)
def test_config_errors_name_variable_and_fix(tmp_path, env, variable):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, **env)
    assert info.value.variable == variable
    assert variable in str(info.value) and "fix:" in str(info.value)


def test_prod_base_allowed_only_for_prod(tmp_path, key_file):
    s = settings(tmp_path, KALSHI_ENV="prod", KALSHI_API_KEY_ID="k", KALSHI_PRIVATE_KEY_PATH=str(key_file),
                 KALSHI_API_BASE="https://api.elections.kalshi.com/trade-api/v2/")
    assert s.api_base == "https://api.elections.kalshi.com/trade-api/v2" and s.api_base_overridden


def test_malformed_env_file(tmp_path):
    (tmp_path / ".env").write_text("KALSHI_ENV=sim\nnot a setting at all\n")
    with pytest.raises(ConfigError, match="line 2"):
        settings(tmp_path)


def test_missing_explicit_env_file(tmp_path):
    with pytest.raises(ConfigError, match="--env-file"):
        load_settings(environ={}, env_file=tmp_path / "nope.env", cwd=tmp_path)


def test_group_readable_key_warns(tmp_path, key_file):
    os.chmod(key_file, 0o644)
    s = settings(tmp_path, KALSHI_ENV="demo", KALSHI_API_KEY_ID="k", KALSHI_PRIVATE_KEY_PATH=str(key_file))
    assert any("chmod 600" in w for w in s.warnings)


def test_key_formats_pkcs1_and_pkcs8(tmp_path, rsa_key):
    p1 = write_key(tmp_path / "p1.pem", rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    p8 = write_key(tmp_path / "p8.pem", rsa_key, serialization.PrivateFormat.PKCS8)
    assert load_private_key(p1).private_numbers() == load_private_key(p8).private_numbers()


def test_encrypted_key(tmp_path, rsa_key):
    p = write_key(tmp_path / "enc.pem", rsa_key, password=b"s3cret")
    assert load_private_key(p, "s3cret").key_size == 2048
    with pytest.raises(ConfigError) as info:
        load_private_key(p)
    assert info.value.variable == "KALSHI_PRIVATE_KEY_PASSWORD"
    with pytest.raises(ConfigError, match="wrong password"):
        load_private_key(p, "nope")


def test_not_pem_not_rsa_unreadable(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"\x00\x01 not a key")
    os.chmod(junk, 0o600)
    with pytest.raises(ConfigError, match="not a PEM"):
        load_private_key(junk)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ecp = write_key(tmp_path / "ec.pem", ec_key)
    with pytest.raises(ConfigError, match="not an RSA key"):
        load_private_key(ecp)
    public = tmp_path / "pub.pem"
    public.write_bytes(ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ConfigError, match="no private key"):
        load_private_key(public)
    with pytest.raises(ConfigError, match="does not exist"):
        load_private_key(tmp_path / "missing.pem")
    if os.geteuid() != 0:  # root reads anything
        unreadable = write_key(tmp_path / "locked.pem", ec_key)
        os.chmod(unreadable, 0)
        with pytest.raises(ConfigError, match="not readable"):
            load_private_key(unreadable)


def test_directory_as_key(tmp_path):
    with pytest.raises(ConfigError, match="not a file"):
        load_private_key(Path(tmp_path))


def test_ws_url_per_environment(tmp_path, key_file):
    prod = settings(tmp_path, KALSHI_ENV="prod", KALSHI_API_KEY_ID="k", KALSHI_PRIVATE_KEY_PATH=str(key_file))
    assert prod.ws_url() == "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    sim = settings(tmp_path, KALSHI_API_BASE="http://127.0.0.1:8123/trade-api/v2")
    assert sim.ws_url() == "ws://127.0.0.1:8123/trade-api/ws/v2"
    assert settings(tmp_path).ws_url("http://127.0.0.1:9/trade-api/v2") == "ws://127.0.0.1:9/trade-api/ws/v2"
    override = settings(tmp_path, KALSHI_WS_BASE="wss://proxy.example/trade-api/ws/v2")
    assert override.ws_url() == "wss://proxy.example/trade-api/ws/v2"
