"""Issue 10, a hostile second pass over the merged fixes: variants of the classes the first tests did not cover.

Each test drives the real CLI against the real simulator (in-process or served), or a misbehaving loopback server
in front of it, and checks the documented exit code, a one-line message, and that no secret leaks.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from tests.api.badserver import BadServer, answer
from tests.api.conftest import cli_env

TIMEOUT = 120  # a command that never ends fails the test instead of hanging the suite


# ---------------------------------------------------------------------------------------------- helpers
def _embedded_env(tmp_path: Path) -> dict[str, str]:
    """The default user: sim, nothing configured (the embedded simulator and its demo key)."""
    return {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(tmp_path / "data"), "KALSHI_LOG_DIR": str(tmp_path / "logs"),
            "NO_COLOR": "1", "HOME": str(tmp_path), "KALSHI_API_BASE": "", "KALSHI_API_KEY_ID": "",
            "KALSHI_PRIVATE_KEY_PATH": ""}


def _cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "kalshi_trading", *args], env=full, cwd=cwd, capture_output=True,
                          text=True, timeout=TIMEOUT)


def _no_failure_words(text: str) -> None:
    assert "Traceback" not in text and "unexpected error" not in text, text


# ---------------------------------------------------------------------------------------------- sim settle
@pytest.fixture
def embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = _embedded_env(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


def _a_ticker(run) -> str:
    result = run("markets", "--limit", "1", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["markets"][0]["ticker"]


@pytest.mark.parametrize("bad", ["..", ".", "../x", "a b", "_KX", "ＫＸ", "x" * 200])
def test_sim_settle_checks_the_ticker_like_every_command(embedded, bad):
    """Item 9's class: a ticker that is not of the documented form is exit 2 before anything is done (it was
    sent to the simulator and came back as 'market not found', exit 4)."""
    result = embedded("sim", "settle", bad, "yes", "--yes")
    assert result.exit_code == 2, result.output
    assert "not a market ticker" in result.output or "required" in result.output, result.output
    _no_failure_words(result.output)


def test_sim_settle_takes_a_ticker_typed_in_lower_case(embedded):
    """Tickers are typed in any case and sent in upper case (README), for `sim settle` too."""
    ticker = _a_ticker(embedded)
    result = embedded("sim", "settle", ticker.lower(), "no", "--yes")
    assert result.exit_code == 0, result.output
    assert f"{ticker} settled no" in result.output
    assert json.loads(embedded("market", ticker, "--json").stdout)["market"]["result"] == "no"


# ---------------------------------------------------------------------------------------------- key id leaks
def _sim_key(tmp_path: Path, embedded) -> tuple[str, Path]:
    assert embedded("balance").exit_code == 0
    (key,) = (tmp_path / "data" / "sim" / "keys").glob("demo-*.pem")
    return key.stem.removeprefix("demo-"), key


def _assert_hidden(key_id: str, tmp_path: Path, *texts: str) -> None:
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log")) if (tmp_path / "logs").is_dir() else ""
    for text in (*texts, logs):
        assert key_id not in text, text
    assert "…" + key_id[-4:] in "".join(texts)  # masked, still recognisable


@pytest.mark.parametrize("damage", ["not-pem", "empty", "not-a-file", "public-key"])
def test_a_broken_sim_key_file_is_named_without_the_key_id(embedded, tmp_path, damage):
    """The simulator names its key files after the full key id: an error about the file must mask it, as
    `config check` does (it was printed whole, with exit 3, by every command)."""
    key_id, key = _sim_key(tmp_path, embedded)
    if damage == "not-pem":
        key.write_text("junk\n")
    elif damage == "empty":
        key.write_bytes(b"")
    elif damage == "not-a-file":
        key.unlink()
        key.mkdir()
    else:
        key.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    for args in (["balance"], ["config", "check"], ["orders"]):
        result = embedded(*args)
        assert result.exit_code == 3, (args, result.output)
        _no_failure_words(result.output)
        _assert_hidden(key_id, tmp_path, result.output)


def test_a_key_file_named_after_the_key_id_is_masked_in_the_permissions_warning(embedded, tmp_path):
    """A user key stored as <key id>.pem and readable by others: the warning (stderr, kalshi.log, errors.log)
    names the file with the key id masked."""
    key_id, key = _sim_key(tmp_path, embedded)
    mine = tmp_path / "mykeys" / f"{key_id}.pem"
    mine.parent.mkdir()
    shutil.copy(key, mine)
    mine.chmod(0o644)
    env = {**_embedded_env(tmp_path), "KALSHI_API_KEY_ID": key_id, "KALSHI_PRIVATE_KEY_PATH": str(mine)}
    for args in (["balance"], ["config", "check"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        assert "readable by group or others" in result.output
        _assert_hidden(key_id, tmp_path, result.output)


# ---------------------------------------------------------------------------------------------- endless cursors
@pytest.fixture
def served(tmp_path):
    """A simulator and a BadServer in front of it, for a subprocess CLI (bounded by TIMEOUT)."""
    from kalshi_trading.sim.runtime import start_embedded

    sim = start_embedded(tmp_path / "sim", seed=11, participants=False)
    bad = BadServer(upstream=sim.base_url)
    try:
        yield sim, bad
    finally:
        bad.stop()
        sim.stop()


def _endless(key: str):
    """Every page is empty and names a next page that was never seen before."""
    numbers = itertools.count()

    def behave(handler) -> None:
        n = next(numbers)
        answer({key: [], "event_positions": [], "cursor": f"page-{n}"})(handler)

    return behave


@pytest.mark.parametrize("route, key, args", [
    ("/portfolio/orders", "orders", ["orders"]),
    ("/markets", "markets", ["markets"]),
    ("/portfolio/fills", "fills", ["sync"]),
    ("/portfolio/positions", "market_positions", ["positions"]),
    ("/portfolio/orders", "orders", ["cancel", "--all", "--yes"]),
], ids=lambda v: v if isinstance(v, str) else " ".join(v) if isinstance(v, list) else None)
def test_a_cursor_that_never_ends_is_exit_6_not_a_hang(served, tmp_path, route, key, args):
    """Class 4/10: a server whose every page names a new next page (and holds nothing) kept `orders`,
    `markets`, `sync` and `positions` paging forever; now it is a response-format error naming the cursor."""
    sim, bad = served
    bad.on("GET", route, _endless(key))
    home = tmp_path / "home"
    home.mkdir()
    result = _cli(cli_env(bad, sim, home), *args, cwd=home)
    assert result.returncode == 6, result.stdout + result.stderr
    assert "cursor" in result.stderr and route in result.stderr, result.stderr
    _no_failure_words(result.stdout + result.stderr)


# ---------------------------------------------------------------------------------------------- export paths
@pytest.mark.parametrize("where", ["file name", "directory name", "link loop"])
@pytest.mark.parametrize("lots", [False, True])
def test_an_export_path_the_system_cannot_use_is_exit_3_not_unexpected(embedded, tmp_path, where, lots):
    """Class 11: a name longer than the file system allows (or a loop of links) ended in 'unexpected error:
    OSError' (exit 1); now exit 3 naming the path and the reason, and nothing is written."""
    long = "a" * 300
    if where == "file name":
        target = tmp_path / f"{long}.csv"
    elif where == "directory name":
        target = tmp_path / long / "out.csv"
    else:
        (tmp_path / "loop1").symlink_to("loop2")
        (tmp_path / "loop2").symlink_to("loop1")
        target = tmp_path / "loop1"
    before = sorted(p.name for p in tmp_path.iterdir())
    for force in ([], ["--force"]):
        result = embedded("export-trades", str(target), *(["--lots"] if lots else []), *force)
        assert result.exit_code == 3, result.output
        assert "too long" in result.output or "symbolic links" in result.output, result.output
        _no_failure_words(result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# ---------------------------------------------------------------------------------------------- bot state
@pytest.mark.parametrize("damage", ["read-only", "dangling-link"])
def test_unusable_bot_state_is_exit_3_and_left_alone(embedded, tmp_path, damage):
    """Class 11 for the bot's own file: a read-only `bot.sqlite` made `auto status|resume|kill` and `auto` end in
    'unexpected error: OperationalError' (exit 1, after printing the status); a dangling link was followed and
    a new state file created where it pointed.  Now exit 3 naming the file, and nothing is written."""
    assert embedded("auto", "resume").exit_code == 0  # creates the state file
    state = tmp_path / "data" / "sim" / "bot.sqlite"
    assert state.is_file()
    for leftover in state.parent.glob("bot.sqlite-*"):
        leftover.unlink()
    elsewhere = tmp_path / "elsewhere" / "bot.sqlite"
    if damage == "read-only":
        subprocess.run(["chattr", "+i", str(state)], check=True)
        before = state.read_bytes()
    else:
        elsewhere.parent.mkdir()
        state.unlink()
        state.symlink_to(elsewhere)
    try:
        for args in (["auto", "status"], ["auto", "resume"], ["auto", "kill"],
                     ["auto", "--markets", _a_ticker(embedded), "--duration", "1", "--yes"]):
            result = embedded(*args)
            assert result.exit_code == 3, (args, result.output)
            assert str(state) in result.output, result.output
            _no_failure_words(result.output)
    finally:
        if damage == "read-only":
            subprocess.run(["chattr", "-i", str(state)], check=True)
    if damage == "read-only":
        assert state.read_bytes() == before
    else:
        assert state.is_symlink() and list(elsewhere.parent.iterdir()) == []
