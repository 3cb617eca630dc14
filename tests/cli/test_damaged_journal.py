"""Issue 10 item 3: a journal that cannot be used never blocks reading the exchange or cancelling.

Each kind of damage is made to a real journal (with two orders resting on the simulator), then the real CLI runs:
reads and cancels exit 0 with one warning line on stderr; placing and amending exit 3 naming the path and the
reason; the damaged file is byte-for-byte unchanged.

Root ignores file modes, so "read-only" uses the immutable flag (`chattr +i`, which binds root too) and
"unreadable" runs the CLI as the unprivileged user `nobody` (a plain chmod when the tests do not run as root).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from tests.e2e.conftest import cent_market

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _truncate_body(p: Path) -> None:
    with open(p, "r+b") as fh:
        fh.truncate(1024)  # the header survives, the pages do not


def _truncate_header(p: Path) -> None:
    with open(p, "r+b") as fh:
        fh.truncate(40)


def _not_sqlite(p: Path) -> None:
    p.write_bytes(b"these are not the trades you are looking for\n" * 50)


def _foreign_sqlite(p: Path) -> None:
    p.unlink()
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()


def _newer_version(p: Path) -> None:
    conn = sqlite3.connect(p)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()


def _directory(p: Path) -> None:
    p.unlink()
    p.mkdir()


def _dangling_link(p: Path) -> None:
    p.unlink()
    p.symlink_to(p.parent / "moved-away.sqlite")


def _damaged_mid_file(p: Path) -> None:
    data = bytearray(p.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) >= 4 * page
    for n in range(1, len(data) // page):  # every b-tree page's header, after the first
        data[n * page:n * page + 12] = b"\xde\xad\xbe\xef" * 3
    p.write_bytes(bytes(data))


def _damaged_intents_page(p: Path) -> None:
    """Only the order events' page is damaged: the file opens, reading the intents fails."""
    conn = sqlite3.connect(p)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'order_events'").fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(p.read_bytes())
    data[(root - 1) * page:(root - 1) * page + 12] = b"\xde\xad\xbe\xef" * 3
    p.write_bytes(bytes(data))


def _chattr(path: Path, flag: str) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True)


DAMAGE = {
    "truncated": _truncate_body,
    "truncated-header": _truncate_header,
    "not-sqlite": _not_sqlite,
    "foreign-sqlite": _foreign_sqlite,
    "newer-version": _newer_version,
    "directory": _directory,
    "dangling-link": _dangling_link,
    "damaged-mid-file": _damaged_mid_file,
    "damaged-intents-page": _damaged_intents_page,
    "read-only": None,  # chattr +i on the file (below)
    "read-only-directory": None,  # chattr +i on its directory
}


@pytest.fixture
def env(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    account = sim.demo_account
    # Explicit credentials: nothing needs the data directory (which some cases make immutable) but the journal.
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
            "KALSHI_API_KEY_ID": account.key_id, "KALSHI_PRIVATE_KEY_PATH": str(account.private_key_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}


@pytest.fixture
def run(env):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


@pytest.fixture
def resting(sim, run, tmp_path):
    """Two orders resting on the exchange, placed (and journalled) through the CLI; returns (ticker, ids)."""
    t = cent_market(sim)
    ids = []
    for price in ("0.05", "0.06"):
        result = run("order", "limit", t, "yes", "1", price, "--yes", "--json")
        assert result.exit_code == 0, result.output
        ids.append(json.loads(result.stdout)["order_id"])
    assert (tmp_path / "sim" / "journal.sqlite").is_file()
    return t, ids


def fingerprint(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if path.is_dir():
        return "dir:" + ",".join(sorted(os.listdir(path)))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def result_orders(run) -> str:
    result = run("orders", "--json")
    assert result.exit_code == 0, result.output
    return json.dumps(json.loads(result.stdout)["orders"])


def warned_once(result, journal: Path) -> None:
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert str(journal) in warnings[0] and "placing orders is refused" in warnings[0]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_reads_and_cancels_work_writes_refused(damage, run, resting, tmp_path):
    ticker, (first, second) = resting
    journal = tmp_path / "sim" / "journal.sqlite"
    for leftover in journal.parent.glob("journal.sqlite-*"):  # a clean file: only the journal itself
        leftover.unlink()
    flagged = None
    if DAMAGE[damage] is not None:
        DAMAGE[damage](journal)
    else:
        flagged = journal if damage == "read-only" else journal.parent
        _chattr(flagged, "+i")
    before = fingerprint(journal)
    try:
        for args in (["balance"], ["market", ticker], ["book", ticker], ["positions"], ["orders", "--json"],
                     ["order", "status", first]):
            result = run(*args)
            assert result.exit_code == 0, (args, result.output)
            if args[0] in ("orders", "order") or (args[0] == "positions" and damage != "damaged-intents-page"):
                warned_once(result, journal)  # (that journal's fills are fine: positions need nothing else)
        assert {o["order_id"] for o in json.loads(result_orders(run))} == {first, second}
        for args in (["order", "limit", ticker, "yes", "1", "0.07", "--yes"], ["order", "market", ticker, "no", "1",
                                                                              "--yes"],
                     ["amend", second, "--price", "0.04", "--yes"]):
            result = run(*args)
            assert result.exit_code == 3, (args, result.output)
            assert str(journal) in result.stderr and "needs the journal" in result.stderr, result.stderr
            assert "unexpected" not in result.stderr
        result = run("cancel", first, "--yes")
        assert result.exit_code == 0, result.output
        warned_once(result, journal)
        result = run("cancel", "--all", "--yes", "--json")
        assert result.exit_code == 0, result.output
        assert [c["order_id"] for c in json.loads(result.stdout)["cancelled"]] == [second]
        assert json.loads(run("orders", "--json").stdout)["orders"] == []
        for args in (["history"], ["sync"], ["pnl"], ["export-trades", str(tmp_path / "out.csv")]):
            result = run(*args)  # made of the journal: refused with the path and the reason
            if damage == "damaged-intents-page" and args[0] != "history":
                assert result.exit_code in (0, 3), (args, result.output)  # only the order events are damaged
                continue
            assert result.exit_code == 3 and str(journal) in result.stderr, (args, result.output)
        assert fingerprint(journal) == before, "the damaged journal was modified"
    finally:
        if flagged is not None:
            _chattr(flagged, "-i")


def _without_dac_override() -> None:
    """In the child before exec: give up root's power to ignore file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    leave the bounding set, so the exec'd program never has them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_journal(sim, tmp_path):
    """A journal this user may not read (mode 000).  Root reads anything, so as root the CLI runs without the
    capabilities that let it ignore file modes; as another user the mode alone does it."""
    journal = tmp_path / "sim" / "journal.sqlite"
    env = {**os.environ, "KALSHI_ENV": "sim", "KALSHI_API_BASE": sim.base_url, "KALSHI_DATA_DIR": str(tmp_path),
           "KALSHI_API_KEY_ID": sim.demo_account.key_id,
           "KALSHI_PRIVATE_KEY_PATH": str(sim.demo_account.private_key_path),
           "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}
    t = cent_market(sim)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kalshi_trading", *args], env=env, capture_output=True,
                              text=True, timeout=120,
                              preexec_fn=_without_dac_override if os.geteuid() == 0 else None)

    placed = cli("order", "limit", t, "yes", "1", "0.05", "--yes", "--json")
    assert placed.returncode == 0, placed.stderr
    order_id = json.loads(placed.stdout)["order_id"]
    os.chmod(journal, 0o000)
    before = fingerprint(journal)
    try:
        result = cli("orders", "--json")
        assert result.returncode == 0, result.stderr
        assert [o["order_id"] for o in json.loads(result.stdout)["orders"]] == [order_id]
        assert str(journal) in result.stderr and "ermission denied" in result.stderr, result.stderr
        result = cli("order", "limit", t, "yes", "1", "0.06", "--yes")
        assert result.returncode == 3 and str(journal) in result.stderr, result.stderr
        result = cli("cancel", "--all", "--yes")
        assert result.returncode == 0 and "cancelled 1 order" in result.stdout, result.stderr
    finally:
        os.chmod(journal, 0o600)
    assert fingerprint(journal) == before
