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


# ---- issue 10 item 8: the production guard, the environment's spelling, a strict .env, numeric ranges ----

PROD_SPELLINGS = [
    "https://external-api.kalshi.com./trade-api/v2",  # trailing dot
    "https://EXTERNAL-API.KALSHI.COM/trade-api/v2",  # case
    "https://External-Api.Kalshi.Com.:443/trade-api/v2",  # case, dot and the default port
    "https://external-api.kalshi.com:8443/trade-api/v2",  # another port
    "https://ｅxternal-api.kalshi.com/trade-api/v2",  # a full-width letter (IDNA maps it to ASCII)
    "https://external-api.kalshi。com/trade-api/v2",  # an ideographic full stop (IDNA label separator)
    "https://external-api%2Ekalshi.com/trade-api/v2",  # a percent-encoded dot
    "https://trading-api.kalshi.com/trade-api/v2",  # another production host
    "https://new-api.kalshi.com/trade-api/v2",  # any host under kalshi.com
]


@pytest.mark.parametrize("base", PROD_SPELLINGS)
@pytest.mark.parametrize("env", ["sim", "demo"])
def test_every_spelling_of_a_production_host_is_refused_outside_prod(tmp_path, key_file, env, base):
    keys = {"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(key_file)} if env == "demo" else {}
    with pytest.raises(ConfigError, match="production") as info:
        settings(tmp_path, KALSHI_ENV=env, KALSHI_API_BASE=base, **keys)
    assert info.value.variable == "KALSHI_API_BASE"


@pytest.mark.parametrize("base", ["https://user@external-api.kalshi.com/trade-api/v2",
                                  "https://me:hunter2@127.0.0.1:8080/trade-api/v2"])
def test_a_base_url_with_user_info_is_refused_without_echoing_it(tmp_path, base):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, KALSHI_API_BASE=base)
    assert info.value.variable == "KALSHI_API_BASE" and "hunter2" not in str(info.value)


@pytest.mark.parametrize("base", ["https://external-api.kalshi.com\\.example.com/trade-api/v2",  # a backslash
                                  "https://external api.kalshi.com/trade-api/v2",  # a space
                                  "https://ex!ample.com/trade-api/v2",  # not a host name
                                  "https://external-api.kalshi.com:99999/trade-api/v2"])  # not a port
def test_a_base_url_that_clients_could_read_differently_is_refused(tmp_path, base):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, KALSHI_API_BASE=base)
    assert info.value.variable == "KALSHI_API_BASE"


def test_production_websocket_host_is_refused_outside_prod(tmp_path):
    with pytest.raises(ConfigError, match="production") as info:
        settings(tmp_path, KALSHI_WS_BASE="wss://EXTERNAL-API-WS.kalshi.com./trade-api/ws/v2")
    assert info.value.variable == "KALSHI_WS_BASE"


def test_prod_accepts_its_own_host_in_any_spelling(tmp_path, key_file):
    s = settings(tmp_path, KALSHI_ENV="prod", KALSHI_API_KEY_ID="k", KALSHI_PRIVATE_KEY_PATH=str(key_file),
                 KALSHI_API_BASE="https://EXTERNAL-API.kalshi.com.:443/trade-api/v2")
    assert s.is_prod


def test_loopback_and_demo_hosts_pass_the_guard(tmp_path, key_file):
    assert settings(tmp_path, KALSHI_API_BASE="http://127.0.0.1:8080/trade-api/v2").api_base_overridden
    demo = settings(tmp_path, KALSHI_ENV="demo", KALSHI_API_KEY_ID="k", KALSHI_PRIVATE_KEY_PATH=str(key_file),
                    KALSHI_API_BASE="https://external-api.demo.kalshi.co/trade-api/v2")
    assert demo.env == "demo"


@pytest.mark.parametrize("spelling", ["PROD", "Prod", " Prod ", "prod ", " prod", "Demo", "SIM", "prod\t"])
def test_only_the_documented_spelling_of_kalshi_env(tmp_path, key_file, spelling):
    with pytest.raises(ConfigError, match="sim, demo or prod") as info:
        settings(tmp_path, KALSHI_ENV=spelling, KALSHI_API_KEY_ID="k", KALSHI_PRIVATE_KEY_PATH=str(key_file))
    assert info.value.variable == "KALSHI_ENV"


def test_kalshi_env_spelling_is_checked_in_the_env_file_too(tmp_path):
    (tmp_path / ".env").write_text('KALSHI_ENV="Prod"\n')
    with pytest.raises(ConfigError, match="sim, demo or prod"):
        settings(tmp_path)


@pytest.mark.parametrize("text,lines", [
    ("KALSHI_ENV=sim\nKALSHI_LOG_LEVEL=INFO\nKALSHI_ENV=prod\n", (1, 3)),
    ("# comment\n\nexport KALSHI_ENV=sim\n\n\nKALSHI_ENV=demo\n", (3, 6)),
    ("KALSHI_READ_TIMEOUT=5\nKALSHI_READ_TIMEOUT=5\n", (1, 2)),  # even the same value twice
])
def test_a_key_set_twice_in_env_file_names_both_lines(tmp_path, text, lines):
    (tmp_path / ".env").write_text(text)
    with pytest.raises(ConfigError, match=f"line {lines[0]} and line {lines[1]}"):
        settings(tmp_path)


@pytest.mark.parametrize("text,line", [
    ("KALSHI_ENV=sim\n\x00\x01\x02\n", 2),  # NUL garbage
    ("KALSHI_ENV=sim\n\n\x1b[31m\n", 3),  # an escape sequence
    ("KALSHI_LOG_LEVEL=INFO\x07\n", 1),  # a bell inside a value
    ("KALSHI_ENV=sim\x7f\n", 1),  # DEL
    ("KALSHI_ENV=sim\nKALSHI_LOG_LEVEL=\u202eGUBED\n", 2),  # a right-to-left override
    ("\x0c\nKALSHI_ENV=sim\n", 1),  # a form feed
])
def test_control_characters_in_env_file_are_refused_with_the_line(tmp_path, text, line):
    (tmp_path / ".env").write_text(text)
    with pytest.raises(ConfigError, match=f"line {line}: control character"):
        settings(tmp_path)


def test_env_file_line_without_equals_is_refused(tmp_path):
    (tmp_path / ".env").write_text("KALSHI_ENV=sim\nKALSHI_LOG_LEVEL\n")
    with pytest.raises(ConfigError, match="line 2"):
        settings(tmp_path)


def test_env_file_with_byte_order_mark_and_crlf_reads(tmp_path):
    (tmp_path / ".env").write_bytes("\ufeffKALSHI_LOG_LEVEL=DEBUG\r\nKALSHI_READ_TIMEOUT=7\r\n".encode())
    s = settings(tmp_path)
    assert s.log_level == "DEBUG" and s.read_timeout == 7


@pytest.mark.parametrize("name,value", [
    ("KALSHI_READ_TIMEOUT", "1e-9"), ("KALSHI_READ_TIMEOUT", "0.01"), ("KALSHI_READ_TIMEOUT", "300.5"),
    ("KALSHI_READ_TIMEOUT", "nan"), ("KALSHI_READ_TIMEOUT", "inf"), ("KALSHI_READ_TIMEOUT", "1e2"),
    ("KALSHI_CONNECT_TIMEOUT", "0"), ("KALSHI_CONNECT_TIMEOUT", "١٠"), ("KALSHI_CONNECT_TIMEOUT", "1_0"),
    ("KALSHI_CONNECT_TIMEOUT", "-3"), ("KALSHI_CONNECT_TIMEOUT", "99999999999999999999"),
    ("KALSHI_LOG_RETENTION_DAYS", "0"), ("KALSHI_LOG_RETENTION_DAYS", "3651"), ("KALSHI_LOG_RETENTION_DAYS", "1.5"),
    ("KALSHI_LOG_RETENTION_DAYS", "٣"), ("KALSHI_LOG_RETENTION_DAYS", "99999999999999999999999"),
])
def test_numeric_settings_outside_their_documented_range(tmp_path, name, value):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, **{name: value})
    assert info.value.variable == name
    assert " to " in str(info.value)  # the fix names the range


def test_numeric_settings_at_the_ends_of_their_range(tmp_path):
    low = settings(tmp_path, KALSHI_READ_TIMEOUT="0.1", KALSHI_CONNECT_TIMEOUT="300", KALSHI_LOG_RETENTION_DAYS="1")
    high = settings(tmp_path, KALSHI_LOG_RETENTION_DAYS="3650")
    assert (low.read_timeout, low.connect_timeout, low.log_retention_days) == (0.1, 300, 1)
    assert high.log_retention_days == 3650


def test_lower_case_and_misspelt_settings_are_reported_not_silently_ignored(tmp_path):
    (tmp_path / ".env").write_text("kalshi_env=prod\nKALSHI_LOG_LEVLE=DEBUG\nKALSHI_NOTHING_LIKE=1\nOTHER=x\n")
    s = load_settings({"kalshi_data_dir": "/x", "PATH": "/bin"}, cwd=tmp_path)
    assert s.env == "sim"  # the lower-case name did not switch to production...
    assert s.warnings == (  # ...and the user is told why
        "kalshi_env in .env is ignored: setting names are upper case (write KALSHI_ENV)",
        "KALSHI_LOG_LEVLE in .env is not a setting and is ignored; did you mean KALSHI_LOG_LEVEL?",
        "KALSHI_NOTHING_LIKE in .env is not a setting and is ignored; see .env.example for the settings",
        "kalshi_data_dir in the environment is ignored: setting names are upper case (write KALSHI_DATA_DIR)",
    )
    assert load_settings({"KALSHI_ENV": "sim"}, cwd=tmp_path / "none").warnings == ()


def test_every_variable_ci_and_the_tests_set_is_known():
    """CI exports its own KALSHI_ switches: an unknown one would put a warning line before every error line."""
    import re
    from pathlib import Path

    from kalshi_trading.config import KNOWN_VARIABLES

    root = Path(__file__).resolve().parents[1]
    exported = set(re.findall(r"export (KALSHI_[A-Z_]+)=", (root / ".ci" / "run").read_text()))
    read_by_tests = set(re.findall(r"environ(?:\.get)?\(\s*\"(KALSHI_[A-Z_]+)\"", "".join(
        p.read_text() for p in (root / "tests").rglob("*.py"))))
    assert exported and "KALSHI_REQUIRE_BROWSER" in exported
    assert (exported | read_by_tests) - set(KNOWN_VARIABLES) == set()
