"""The journal file across versions and exchanges: in-place migration, refusal of newer files, the exchange a
journal belongs to (archived when it changes), fill ids that would mean two different fills, unusable storage."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kalshi_trading.errors import JournalError
from kalshi_trading.models import Fill
from kalshi_trading.store.journal import LEGACY_IN_FLIGHT_S
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.store.sqlite.journal_schema import APPLICATION_ID, SCHEMA, SCHEMA_VERSION
from kalshi_trading.trading.sync import sync_journal
from tests.store.records import T0, FakeClient, fill

D = Decimal
V1_SCHEMA = SCHEMA.replace("extra TEXT NOT NULL DEFAULT '{}',\n    owner TEXT,", "extra TEXT NOT NULL DEFAULT '{}'") \
    .replace("  -- intents: the writing process (store.journal.IntentOwner as JSON)\n    deadline TEXT"
             "  -- intents: after this time no one can still be sending the order\n", "") \
    .replace("csv_no TEXT NOT NULL,\n    strategy TEXT NOT NULL DEFAULT ''", "csv_no TEXT NOT NULL\n    --")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_v1(path) -> None:
    """A journal as version 1 of this program wrote it: an intent, an outcome and a fill."""
    assert "owner" not in V1_SCHEMA and "deadline" not in V1_SCHEMA and "strategy TEXT" not in V1_SCHEMA
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(f"BEGIN; {V1_SCHEMA} COMMIT;")
    conn.execute("INSERT INTO order_events (time, kind, client_order_id, env, ticker, book_side, yes_price, count, "
                 "time_in_force) VALUES ('2026-03-01T12:00:00.000000Z', 'intent', 'old-1', 'sim', 'KXA', 'bid', "
                 "'0.5000', '1.00', 'good_till_canceled')")
    conn.execute("INSERT INTO order_events (time, kind, client_order_id, status) VALUES "
                 "('2026-03-01T12:00:01.000000Z', 'accepted', 'old-1', 'resting')")
    conn.execute("INSERT INTO order_events (time, kind, client_order_id, env, ticker, book_side, yes_price, count, "
                 "time_in_force) VALUES ('2026-03-01T12:05:00.000000Z', 'intent', 'old-2', 'sim', 'KXA', 'bid', "
                 "'0.5000', '1.00', 'good_till_canceled')")
    conn.close()


def test_version_1_is_migrated_in_place(tmp_path):
    path = tmp_path / "journal.sqlite"
    make_v1(path)
    with SqliteJournal.open(path) as j:
        assert j._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert j._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        [old] = j.pending_intents()  # old-2: no outcome
        assert old.client_order_id == "old-2" and old.owner is None
        assert old.deadline == datetime(2026, 3, 1, 12, 5, tzinfo=timezone.utc) + timedelta(seconds=LEGACY_IN_FLIGHT_S)
        assert [e.kind for e in j.order_events(client_order_id="old-1")] == ["intent", "accepted"]
        assert j.record_fills([fill(1)]) == 1
    with SqliteJournal.open(path) as j:  # opening a current file again changes nothing
        assert len(j.fills()) == 1


def test_version_2_gains_the_strategy_of_each_fill(tmp_path):
    """Version 2 kept no strategy on fills: the upgrade takes it from the orders' intents, into the rows and the
    stored CSV pieces (quoted as csv.writer would), so both exports show it."""
    path = tmp_path / "journal.sqlite"
    with SqliteJournal.open(path) as j:
        for cid, oid, tag in (("c1", "ord-1", "mm"), ("c3", "ord-3", 'a,"b"'), ("c2", "ord-2", None)):
            j.record_intent(cid, "KXA", "bid", D("0.52"), D("10"), "good_till_canceled", "sim",
                            extra={"strategy": tag} if tag else None)
            j.record_outcome(cid, "accepted", order_id=oid, status="resting")
        j.record_fills([fill(1), fill(2), fill(3)])
        expected = list(j.trade_csv())
    conn = sqlite3.connect(path, isolation_level=None)  # written back as version 2 had it
    conn.execute("ALTER TABLE fills DROP COLUMN strategy")
    for tail in (',mm\r\n', ',"a,""b"""\r\n', ',\r\n'):
        conn.execute("UPDATE fills SET csv_yes = replace(csv_yes, ?, char(13, 10)), "
                     "csv_no = replace(csv_no, ?, char(13, 10))", (tail, tail))
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with SqliteJournal.open(path) as j:
        assert j.schema_version() == SCHEMA_VERSION
        assert [r.strategy for r in j.trade_rows()] == ["mm", "", 'a,"b"']
        assert list(j.trade_csv()) == expected


def test_newer_or_unknown_versions_are_refused_untouched(tmp_path):
    for version in (SCHEMA_VERSION + 1, 99, 0):
        path = tmp_path / f"v{version}.sqlite"
        SqliteJournal.open(path).close()
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()
        conn.close()
        before = digest(path)
        with pytest.raises(JournalError, match=f"version {version}"):
            SqliteJournal.open(path)
        assert digest(path) == before and not os.path.exists(f"{path}-wal")


def test_read_only_old_journal_is_refused_not_half_migrated(tmp_path):
    path = tmp_path / "journal.sqlite"
    make_v1(path)
    before = digest(path)
    immutable(path)
    try:
        with pytest.raises(JournalError, match="read-only"):
            SqliteJournal.open(path)
    finally:
        immutable(path, False)
    assert digest(path) == before


def immutable(path, on: bool = True) -> None:
    """Read-only even for root (file modes do not bind root; the immutable flag does)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)
    else:
        os.chmod(path, 0o444 if on else 0o644)


def test_read_only_directory_and_uncreatable_journal(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    immutable(folder)
    try:
        with pytest.raises(JournalError, match="cannot create journal"):
            SqliteJournal.open(folder / "journal.sqlite")
        assert os.listdir(folder) == []
    finally:
        immutable(folder, False)
    SqliteJournal.open(folder / "journal.sqlite").close()
    immutable(folder)
    try:
        with pytest.raises(JournalError, match="directory .* is read-only"):
            SqliteJournal.open(folder / "journal.sqlite")
    finally:
        immutable(folder, False)


def test_check_names_the_problem_without_touching_the_file(tmp_path):
    assert SqliteJournal.check(tmp_path / "absent.sqlite") is None
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"x" * 500)
    assert "not a SQLite database" in str(SqliteJournal.check(garbage))
    link = tmp_path / "link.sqlite"
    link.symlink_to(tmp_path / "nowhere")
    assert "a dangling symbolic link" in str(SqliteJournal.check(link))
    (tmp_path / "folder.sqlite").mkdir()
    assert "is a directory" in str(SqliteJournal.check(tmp_path / "folder.sqlite"))
    assert not (tmp_path / "nowhere").exists()


def test_binding_to_another_exchange_archives_the_journal(tmp_path):
    now = [T0]
    path = tmp_path / "journal.sqlite"
    with SqliteJournal.open(path, clock=lambda: now[0]) as j:
        assert j.bind_exchange("sim-account:aaaa") is None
        j.record_fills([fill(1), fill(2)])
        j.record_intent("c1", "KXA", "bid", D("0.5"), D(1), "good_till_canceled", "sim")
        assert j.bind_exchange("sim-account:aaaa") is None and len(j.fills()) == 2
        now[0] = T0 + timedelta(hours=1)
        archive = j.bind_exchange("sim-account:bbbb")
        assert archive == str(tmp_path / "journal-archived-20260301T130000Z.sqlite")
        assert j.fills() == [] and j.order_events() == [] and j.exchange_identity() == "sim-account:bbbb"
        assert j.record_fills([fill(1)]) == 1  # the new exchange's fill-1 is a new fill
        assert j.bind_exchange("sim-account:cccc") == str(tmp_path / "journal-archived-20260301T130000Z-1.sqlite")
    assert oct(os.stat(archive).st_mode & 0o777) == "0o600"
    with SqliteJournal.open(archive) as old:
        assert [f.fill_id for f in old.fills()] == ["fill-1", "fill-2"]
        assert old.exchange_identity() == "sim-account:aaaa" and len(old.order_events()) == 1


def test_a_fill_id_reused_for_another_fill_is_refused_and_nothing_is_stored(tmp_path):
    with SqliteJournal.open(tmp_path / "journal.sqlite") as j:
        assert sync_journal(FakeClient([fill(1), fill(2)], []), j).new_fills == 2
        other = Fill(fill_id="fill-2", order_id="another-order", ticker="KXB", outcome_side="yes", book_side="bid",
                     count=D(3), yes_price=D("0.40"), is_taker=True, fee=D("0.01"),
                     created_time=T0 + timedelta(days=1), trade_id="fill-2")
        with pytest.raises(JournalError, match="fill fill-2 with other details"):
            sync_journal(FakeClient([fill(1), fill(2), fill(3, minutes=500), other], []), j)
        assert [f.fill_id for f in j.fills()] == ["fill-1", "fill-2"]
        again = FakeClient([fill(1), fill(2), fill(3, minutes=500)], [])
        assert sync_journal(again, j).new_fills == 1  # same ids, same fills


def test_damaged_pages_become_journal_errors(tmp_path):
    path = tmp_path / "journal.sqlite"
    with SqliteJournal.open(path) as j:
        j.record_fills([fill(i) for i in range(300)])
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for n in range(1, len(data) // page):
        data[n * page:n * page + 12] = b"\xde\xad\xbe\xef" * 3
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="journal .* (unreadable|unusable)"):
        with SqliteJournal.open(path) as j:
            j.fills()
