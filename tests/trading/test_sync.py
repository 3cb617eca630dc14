"""The sync service (`trading.sync`): cursors with an overlap, idempotence, one transaction per kind."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from kalshi_trading.errors import ApiError
from kalshi_trading.store.journal import SyncCursor
from kalshi_trading.store.sqlite.journal import SqliteJournal
from kalshi_trading.trading.sync import SYNC_OVERLAP_SECONDS, SyncResult, sync_journal
from tests.store.records import T0, FakeClient, fill, settlement


@pytest.fixture
def journal(tmp_path):
    with SqliteJournal.open(tmp_path / "journal.sqlite") as j:
        yield j


def test_sync_is_idempotent_and_uses_cursor(journal):
    client = FakeClient([fill(i) for i in range(5)], [settlement()])
    assert sync_journal(client, journal) == SyncResult(new_fills=5, new_settlements=1)
    assert client.asked == [("fills", None), ("settlements", None)]
    snapshot = (journal.fills(), journal.settlements())
    assert sync_journal(client, journal) == SyncResult(0, 0)
    assert (journal.fills(), journal.settlements()) == snapshot
    newest = int((T0 + timedelta(minutes=4)).timestamp())
    assert client.asked[2] == ("fills", newest - SYNC_OVERLAP_SECONDS)
    assert client.asked[3] == ("settlements", int((T0 + timedelta(minutes=60)).timestamp()) - SYNC_OVERLAP_SECONDS)
    # a late fill inside the overlap window is still picked up
    client.fills.append(fill(9, minutes=2))
    assert sync_journal(client, journal).new_fills == 1


class FailingSettlements(FakeClient):
    def iter_settlements(self, min_ts=None):
        raise ApiError("settlements unavailable")


def test_an_interrupted_sync_keeps_what_was_stored_and_starts_again_from_there(journal):
    with pytest.raises(ApiError):
        sync_journal(FailingSettlements([fill(1), fill(2)], [settlement()]), journal)
    assert len(journal.fills()) == 2 and journal.settlements() == []  # the fills' transaction had committed
    client = FakeClient([fill(1), fill(2)], [settlement()])
    assert sync_journal(client, journal) == SyncResult(0, 1)
    assert client.asked[0] == ("fills", int((T0 + timedelta(minutes=2)).timestamp()) - SYNC_OVERLAP_SECONDS)
    assert client.asked[1] == ("settlements", None)  # no settlement was ever stored: from the start


def test_fills_without_a_time_do_not_move_the_cursor(journal):
    client = FakeClient([replace(fill(1), created_time=None)], [])
    client.iter_fills = lambda min_ts=None: iter(client.fills)  # an unknown time is served whatever min_ts
    assert sync_journal(client, journal).new_fills == 1
    assert journal.sync_cursor(SyncCursor.FILLS) is None
    client.fills.append(fill(2))
    assert sync_journal(client, journal).new_fills == 1
    assert journal.sync_cursor(SyncCursor.FILLS) == T0 + timedelta(minutes=2)
