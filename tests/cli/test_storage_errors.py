"""Issue 10 item 11: local storage that cannot be used is exit 3 with the path and the reason, never exit 1.

Root ignores file modes, so read-only storage uses the immutable flag (`chattr +i`, binding root too).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from tests.e2e.conftest import cent_market


def base_env(tmp_path, data_dir) -> dict:
    return {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(data_dir), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
            "NO_COLOR": "1", "HOME": str(tmp_path)}


def invoke(env: dict, *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def bad_data_dirs(tmp_path) -> dict:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    return {
        "a file": (a_file, "Not a directory"),
        "under a file": (a_file / "deeper", "Not a directory"),
        "under /dev/null": ("/dev/null/kalshi", "Not a directory"),
        "under /proc": ("/proc/kalshi-nope/data", ""),
        "name too long": (tmp_path / ("x" * 300), "too long"),
    }


@pytest.mark.parametrize("case", ["a file", "under a file", "under /dev/null", "under /proc", "name too long"])
def test_unusable_data_dir_with_the_embedded_simulator(tmp_path, monkeypatch, case):
    """The simulated exchange itself lives in the data directory: every command needs it."""
    monkeypatch.chdir(tmp_path)
    data_dir, reason = bad_data_dirs(tmp_path)[case]
    env = base_env(tmp_path, data_dir)
    for args in (["balance"], ["orders"], ["sync"], ["history"], ["sim", "reset", "--yes"]):
        result = invoke(env, *args)
        assert result.exit_code == 3, (args, result.output)
        assert str(data_dir) in result.stderr and reason in result.stderr, (args, result.stderr)
        assert "unexpected" not in result.output


def test_read_only_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(data_dir)], check=True)
    else:
        os.chmod(data_dir, 0o555)
    try:
        env = base_env(tmp_path, data_dir)
        for args in (["balance"], ["positions"], ["sim", "reset", "--yes"]):
            result = invoke(env, *args)
            assert result.exit_code == 3, (args, result.output)
            assert str(data_dir) in result.stderr and "unexpected" not in result.output
        assert os.listdir(data_dir) == []
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(data_dir)], check=True)
        else:
            os.chmod(data_dir, 0o755)


@pytest.mark.parametrize("case", ["a file", "under /dev/null", "name too long"])
def test_unusable_data_dir_with_a_remote_exchange(sim, tmp_path, monkeypatch, case):
    """With the exchange elsewhere, only the journal needs the data directory: reads and cancels go on (with a
    warning), placing an order and the journal's own commands are exit 3 naming the path."""
    monkeypatch.chdir(tmp_path)
    data_dir, reason = bad_data_dirs(tmp_path)[case]
    env = {**base_env(tmp_path, data_dir), "KALSHI_API_BASE": sim.base_url,
           "KALSHI_API_KEY_ID": sim.demo_account.key_id,
           "KALSHI_PRIVATE_KEY_PATH": str(sim.demo_account.private_key_path)}
    t = cent_market(sim)
    assert invoke(env, "balance").exit_code == 0
    result = invoke(env, "orders", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["orders"] == []
    assert "warning:" in result.stderr and str(data_dir) in result.stderr and reason in result.stderr
    for args in (["order", "limit", t, "yes", "1", "0.05", "--yes"], ["sync"], ["history"], ["pnl"]):
        result = invoke(env, *args)
        assert result.exit_code == 3, (args, result.output)
        assert str(data_dir) in result.stderr and "unexpected" not in result.output
    assert invoke(env, "cancel", "--all", "--yes").exit_code == 0
