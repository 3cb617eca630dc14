"""`kalshi deploy systemd`: the units it writes pass `systemd-analyze verify` (system and --user) without a word
about them; secrets stay out of the unit; the env template is 0600; bad input is refused (exit 2) with nothing
written; the app reads the key systemd passes as a credential."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.config import load_settings
from tests.conftest import write_key

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"


def deploy(tmp_path: Path, *args: str):
    env = {"HOME": str(tmp_path / "home"), "KALSHI_DATA_DIR": "", "NO_COLOR": "1",
           "KALSHI_LOG_DIR": str(tmp_path / "logs")}
    return CliRunner().invoke(app, ["deploy", "systemd", *args], env=env)


def verify(unit: Path, user: bool, tmp_path: Path) -> None:
    """`systemd-analyze [--user] verify` says nothing about our unit (any line naming it fails the test)."""
    env = {**os.environ}
    if user:  # the user manager needs a runtime directory even offline
        runtime = tmp_path / "xdg"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    cmd = [SYSTEMD_ANALYZE] + (["--user"] if user else []) + ["verify", str(unit)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line or str(unit) in line]
    assert done.returncode == 0 and not ours, (done.returncode, done.stdout, done.stderr)


@pytest.fixture
def bot_config(tmp_path: Path) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text('strategy = "mm"\nmax_daily_loss = 20\n[markets."KXBTCD-T1"]\nquote_size = 1\n')
    return path


@pytest.mark.parametrize("user", [False, True])
@pytest.mark.parametrize("what", ["auto", "pipeline", "dashboard"])
def test_each_unit_verifies(tmp_path, bot_config, what, user):
    out = tmp_path / "units"
    args = ["--what", what, "--out", str(out)] + (["--user"] if user else [])
    if what != "dashboard":
        args += ["--config", str(bot_config), "--metrics-port", "9101"]
    result = deploy(tmp_path, *args)
    assert result.exit_code == 0, result.output
    unit = out / f"kalshi-{what}.service"
    text = unit.read_text()
    verify(unit, user, tmp_path)
    lines = set(text.splitlines())
    for must in ("Restart=on-failure", "RestartSec=10", "StartLimitBurst=5", "StartLimitIntervalSec=900",
                 "RestartPreventExitStatus=2 3 5", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "Environment=KALSHI_LOG_FORMAT=json"):
        assert must in lines, must
    data = [line.split("=", 1)[1] for line in lines if line.startswith("ReadWritePaths=")]
    assert len(data) == 1 and f"Environment=KALSHI_DATA_DIR={data[0]}" in lines  # the one writable place
    assert f"Environment=KALSHI_LOG_DIR={data[0]}/logs" in lines
    assert any(line.startswith("EnvironmentFile=/") for line in lines)
    assert any(line.startswith("LoadCredential=kalshi-private-key:/") for line in lines)
    assert ("DynamicUser=yes" in lines) is not user and ("WantedBy=default.target" in lines) is user
    if what != "dashboard":
        assert "--metrics-port 9101" in text and f"--config {bot_config}" in text
    assert "next:" in result.output and ("systemctl --user" in result.output) is user
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644


def test_secrets_never_go_into_the_unit_and_the_template_is_0600(tmp_path, bot_config, key_file):
    env_file = tmp_path / "etc" / "kalshi.env"
    result = deploy(tmp_path, "--config", str(bot_config), "--out", str(tmp_path / "u"), "--env-file", str(env_file),
                    "--write-env")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600 and "KALSHI_API_KEY_ID=" in env_file.read_text()
    unit = (tmp_path / "u" / "kalshi-auto.service").read_text()
    assert f"EnvironmentFile={env_file}" in unit and f"LoadCredential=kalshi-private-key:{env_file.parent}" in unit
    assert "KALSHI_API_KEY_ID" not in unit and "PASSWORD" not in unit and "BEGIN" not in unit
    env_file.write_text("KALSHI_API_KEY_ID=real-key\n")  # the owner's settings: never overwritten
    env_file.chmod(0o644)
    again = deploy(tmp_path, "--config", str(bot_config), "--out", str(tmp_path / "u"), "--env-file", str(env_file),
                   "--write-env")
    assert again.exit_code == 0 and "unchanged" in again.output and "left alone" in again.output
    assert env_file.read_text() == "KALSHI_API_KEY_ID=real-key\n"
    assert "readable by group or others" in again.output and "chmod 600" in again.output


def test_a_different_unit_is_replaced_only_with_force(tmp_path, bot_config):
    out = tmp_path / "u"
    assert deploy(tmp_path, "--config", str(bot_config), "--out", str(out)).exit_code == 0
    unit = out / "kalshi-auto.service"
    unit.write_text(unit.read_text() + "# my edit\n")
    refused = deploy(tmp_path, "--config", str(bot_config), "--out", str(out))
    assert refused.exit_code == 2 and "--force" in refused.output and unit.read_text().endswith("# my edit\n")
    assert deploy(tmp_path, "--config", str(bot_config), "--out", str(out), "--force").exit_code == 0
    assert not unit.read_text().endswith("# my edit\n")


def test_a_named_bot_and_an_account(tmp_path, bot_config):
    out = tmp_path / "u"
    result = deploy(tmp_path, "--config", str(bot_config), "--bot", "east", "--run-as", "kalshi", "--out", str(out))
    assert result.exit_code == 0, result.output
    unit = out / "kalshi-auto-east.service"
    text = unit.read_text()
    assert "--bot east" in text and "User=kalshi" in text and "DynamicUser" not in text
    verify(unit, False, tmp_path)


@pytest.mark.parametrize("args, words", [
    (["--what", "bot"], ["--what", "auto, pipeline, dashboard"]),
    (["--what", "auto"], ["--config"]),
    (["--config", "CONFIG", "--user", "--run-as", "kalshi"], ["--run-as"]),
    (["--config", "CONFIG", "--run-as", "Bad User"], ["--run-as"]),
    (["--config", "CONFIG", "--bot", "East!"], ["bot name"]),
    (["--config", "missing.toml"], ["not a file"]),
    (["--config", "CONFIG", "--data-dir", "/srv/my data"], ["space"]),
    (["--config", "CONFIG", "--env-file", "/etc/k%i.env"], ["%"]),
    (["--what", "dashboard", "--metrics-port", "9100"], ["--metrics-port"]),
    (["--config", "CONFIG", "--metrics-port", "0"], ["out of range"]),
])
def test_bad_input_is_refused_and_nothing_written(tmp_path, bot_config, args, words):
    args = [str(bot_config) if a == "CONFIG" else a for a in args]
    result = deploy(tmp_path, *args, "--out", str(tmp_path / "u"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "unexpected" not in result.output
    for word in words:
        assert word in result.output, result.output
    assert not (tmp_path / "u").exists() or not list((tmp_path / "u").iterdir())


def test_an_unwritable_unit_directory_is_a_storage_error(tmp_path, bot_config):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = deploy(tmp_path, "--config", str(bot_config), "--out", str(blocker / "units"))
    assert result.exit_code == 3 and "cannot write" in result.output, result.output


def test_the_app_reads_the_key_from_the_credentials_directory(tmp_path, rsa_key):
    creds = tmp_path / "creds"
    creds.mkdir()
    key = write_key(creds / "kalshi-private-key", rsa_key)
    environ = {"KALSHI_ENV": "demo", "KALSHI_API_KEY_ID": "k-1", "CREDENTIALS_DIRECTORY": str(creds)}
    assert load_settings(environ, cwd=tmp_path).private_key_path == key
    other = write_key(tmp_path / "mine.pem", rsa_key)  # an explicit path wins
    assert load_settings({**environ, "KALSHI_PRIVATE_KEY_PATH": str(other)}, cwd=tmp_path).private_key_path == other
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Exception, match="KALSHI_PRIVATE_KEY_PATH"):  # no credential, no path: the usual error
        load_settings({**environ, "CREDENTIALS_DIRECTORY": str(empty)}, cwd=tmp_path)
