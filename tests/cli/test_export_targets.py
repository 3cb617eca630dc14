"""Issue 10 items 5 and 11: `export-trades` writes only regular files (or through symlinks to them), keeps what it
replaces (mode, owner, the link itself), and an unusable destination is exit 2 (what you named is not a file) or
exit 3 (the directory cannot be written), never exit 1 and never a replaced device.

Root ignores file modes, so "cannot write" uses the immutable flag (`chattr +i`) and kernel file systems.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest, TimeInForce
from tests.e2e.conftest import cent_market, client_for

HEADER = "created_time,fill_id,order_id,ticker,side,action,count"


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}


@pytest.fixture
def run(env):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


@pytest.fixture
def seller(sim):
    c = client_for(sim.base_url, sim.create_account(D(1000)))
    yield c
    c.close()


@pytest.fixture
def traded(sim, run, seller):
    """One fill in the journal's future: another account rests an ask, the demo account takes it."""
    t = cent_market(sim)
    seller.create_order(OrderRequest(ticker=t, book_side=BookSide.ASK, count=D(2), yes_price=D("0.40"),
                                  time_in_force=TimeInForce.GTC, client_order_id="bob-1"))
    result = run("order", "limit", t, "yes", "2", "0.40", "--yes", "--json")
    assert result.exit_code == 0, result.output
    return t


def kind(path: Path) -> str:
    mode = os.lstat(path).st_mode
    return {stat.S_IFCHR: "chr", stat.S_IFIFO: "fifo", stat.S_IFDIR: "dir", stat.S_IFLNK: "link",
            stat.S_IFREG: "file"}[stat.S_IFMT(mode)]


@pytest.mark.parametrize("lots", [False, True])
@pytest.mark.parametrize("device", ["/dev/full", "/dev/null"])
def test_character_devices_are_never_replaced(run, traded, device, lots):
    before = os.stat(device)
    result = run("export-trades", device, "--force", *(["--lots"] if lots else []))
    assert result.exit_code == 2, result.output
    assert "character device" in result.stderr and device in result.stderr
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_fifo_directory_and_links_to_them_are_refused(run, traded, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    to_device = tmp_path / "to-full"
    to_device.symlink_to("/dev/full")
    to_folder = tmp_path / "to-folder"
    to_folder.symlink_to(folder)
    for target, words in ((fifo, "fifo"), (folder, "directory"), (to_device, "character device"),
                          (to_folder, "directory")):
        result = run("export-trades", str(target), "--force")
        assert result.exit_code == 2, (target, result.output)
        assert words in result.stderr and str(target) in result.stderr
    assert (kind(fifo), kind(folder), kind(to_device), kind(to_folder)) == ("fifo", "dir", "link", "link")
    assert os.listdir(folder) == []


def test_dangling_link_is_refused_and_nothing_is_created(run, traded, tmp_path):
    link = tmp_path / "dangling.csv"
    link.symlink_to(tmp_path / "nowhere.csv")
    for extra in ([], ["--force"]):
        result = run("export-trades", str(link), *extra)
        assert result.exit_code == 2, result.output
        assert "does not exist" in result.stderr
    assert kind(link) == "link" and not (tmp_path / "nowhere.csv").exists()


def test_symlink_to_a_file_writes_the_file_and_stays_a_link(run, traded, tmp_path):
    real = tmp_path / "records" / "trades.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    result = run("export-trades", str(link))  # exists, no --force, no terminal: refused, untouched
    assert result.exit_code == 2 and real.read_text() == "old\n"
    result = run("export-trades", str(link), "--force", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 1
    assert kind(link) == "link" and os.readlink(link) == str(real)
    assert real.read_text().startswith(HEADER)
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["trades.csv"]  # no temp file left behind


def test_replacing_keeps_mode_and_owner_a_new_file_is_private(run, traded, tmp_path):
    existing = tmp_path / "shared.csv"
    existing.write_text("old\n")
    os.chmod(existing, 0o644)
    if os.geteuid() == 0:
        os.chown(existing, 1234, 5678)
    owner = (os.stat(existing).st_uid, os.stat(existing).st_gid)
    for lots in ([], ["--lots"]):
        result = run("export-trades", str(existing), "--force", *lots)
        assert result.exit_code == 0, result.output
        st = os.stat(existing)
        assert stat.S_IMODE(st.st_mode) == 0o644 and (st.st_uid, st.st_gid) == owner
    fresh = tmp_path / "fresh.csv"
    assert run("export-trades", str(fresh)).exit_code == 0
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600 and fresh.read_text().startswith(HEADER)


def test_unwritable_directory_is_exit_3_with_path_and_reason(run, traded, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "old.csv").write_text("old\n")
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(locked)], check=True)  # binds root too
    else:
        os.chmod(locked, 0o555)
    try:
        for target, extra in ((locked / "new.csv", []), (locked / "old.csv", ["--force"]),
                              (locked / "lots.csv", ["--lots"])):
            result = run("export-trades", str(target), *extra)
            assert result.exit_code == 3, (target, result.output)
            assert str(locked) in result.stderr and "not writable" in result.stderr
            assert "unexpected" not in result.output
        assert sorted(os.listdir(locked)) == ["old.csv"] and (locked / "old.csv").read_text() == "old\n"
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(locked)], check=True)
        else:
            os.chmod(locked, 0o755)


@pytest.mark.parametrize("target", ["/proc/kalshi-trades.csv", "/sys/kalshi-trades.csv"])
def test_kernel_file_systems_are_exit_3(run, traded, target):
    result = run("export-trades", target, "--force")
    assert result.exit_code == 3, result.output
    assert target in result.stderr or str(Path(target).parent) in result.stderr
    assert not os.path.exists(target)


def test_missing_directory_is_a_usage_error(run, traded, tmp_path):
    result = run("export-trades", str(tmp_path / "nope" / "t.csv"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_menu_overwrite_yes_never_replaces_a_device_or_a_link(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_DATA_DIR=str(tmp_path), KALSHI_LOG_DIR=str(tmp_path / "logs"), NO_COLOR="1",
               KALSHI_ENV="sim", TERM="dumb")
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    os.chmod(real, 0o644)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    child = pexpect.spawn(sys.executable, ["-m", "kalshi_trading", "menu"], env=env, cwd=str(tmp_path),
                          encoding="utf-8", timeout=60, dimensions=(50, 250))
    try:
        child.expect_exact("Choose 0-")
        child.sendline("10")
        child.expect_exact("CSV file to write")
        child.sendline("/dev/full")
        # refused before any "Overwrite?" question, and the menu asks for another name
        child.expect_exact("/dev/full is not a regular file")
        child.expect_exact("CSV file to write")
        child.sendline(str(link))
        child.expect_exact("Overwrite? [y/N]: ")
        child.sendline("y")
        child.expect_exact("wrote 0 trade row(s)")
        child.expect_exact("Choose 0-")
        child.sendline("0")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert kind(link) == "link" and real.read_text().startswith(HEADER)
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o644
