"""The runtime configuration's contract (`kalshi_trading/store/runtime.py`), run against every storage adapter.

Each test gets a store from its URL, as the application builds it; "another process" is a second store opened on
the same URL.  To run the suite against a new
adapter, add one line to tests/store/adapters.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store import open_store
from kalshi_trading.store.runtime import RuntimeConfigStore, StaleVersion, as_text
from tests.store.adapters import ADAPTERS

T0 = datetime(2026, 11, 21, 16, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture(params=sorted(ADAPTERS))
def url(request, tmp_path) -> str:
    return ADAPTERS[request.param](tmp_path)


@pytest.fixture
def opened(url):
    stores = []

    def open_() -> RuntimeConfigStore:
        store = open_store(url, env="sim")
        stores.append(store)
        return store.runtime_config()

    yield open_
    for store in stores:
        store.close()


@pytest.fixture
def runtime(opened) -> RuntimeConfigStore:
    return opened()


def test_a_new_store_is_version_0_and_empty(runtime):
    assert runtime.version() == 0
    snap = runtime.snapshot()
    assert snap.version == 0 and snap.empty and snap.global_record is None and dict(snap.markets) == {}


def test_a_market_record_comes_back_exactly(runtime):
    version = runtime.put_market("KXA-1", {"min_spread": D("0.0200"), "quote_size": "2.50", "enabled": True,
                                           "max_inventory_yes": 7}, updated_by="ops@desk", now=T0)
    snap = runtime.snapshot()
    assert snap.version == version == runtime.version() > 0
    record = snap.markets["KXA-1"]
    assert dict(record.values) == {"enabled": "true", "max_inventory_yes": "7", "min_spread": "0.0200",
                                   "quote_size": "2.50"}  # every digit kept: text, never float
    assert record.updated_at == T0 and record.updated_at.tzinfo is not None
    assert record.updated_by == "ops@desk" and record.version == version
    assert not snap.empty


def test_a_float_is_refused_and_nothing_is_written(runtime):
    with pytest.raises(UsageError, match="float"):
        runtime.put_market("KXA-1", {"min_spread": 0.02}, updated_by="me", now=T0)  # type: ignore[dict-item]
    assert runtime.version() == 0 and runtime.snapshot().empty
    assert as_text(D("1E+1")) == "1E+1" and as_text(False) == "false" and as_text(3) == "3"


@pytest.mark.parametrize("ticker", ["", " KXA", "KX A", "KX\tA", "KX\nA"])
def test_bad_tickers_are_refused(runtime, ticker):
    with pytest.raises(UsageError):
        runtime.put_market(ticker, {"enabled": False}, updated_by="me", now=T0)
    assert runtime.version() == 0


@pytest.mark.parametrize("key", ["", "min spread", " quote_size"])
def test_bad_keys_are_refused(runtime, key):
    with pytest.raises(UsageError):
        runtime.put_market("KXA-1", {key: "1"}, updated_by="me", now=T0)
    assert runtime.version() == 0


def test_a_naive_time_is_refused(runtime):
    with pytest.raises(UsageError):
        runtime.put_global({"max_daily_loss": "5"}, updated_by="me", now=datetime(2026, 1, 1))
    assert runtime.version() == 0


def test_every_write_raises_the_version(runtime):
    seen = [runtime.version()]
    seen.append(runtime.put_market("KXA-1", {"quote_size": "1"}, updated_by="a", now=T0))
    seen.append(runtime.put_market("KXA-1", {"quote_size": "1"}, updated_by="a", now=T0))  # same values: a write
    seen.append(runtime.put_market("KXB-2", {}, updated_by="a", now=T0))  # a record with no values: a write
    seen.append(runtime.put_global({"max_daily_loss": "20"}, updated_by="b", now=T0))
    seen.append(runtime.delete_market("KXB-2"))
    assert seen == sorted(set(seen)) and len(set(seen)) == 6
    assert seen[-1] == runtime.version()


def test_a_write_replaces_the_record_whole(runtime):
    runtime.put_market("KXA-1", {"quote_size": "1", "min_spread": "0.03"}, updated_by="a", now=T0)
    later = T0 + timedelta(minutes=5)
    runtime.put_market("KXA-1", {"enabled": "false"}, updated_by="b", now=later)
    record = runtime.snapshot().markets["KXA-1"]
    assert dict(record.values) == {"enabled": "false"}
    assert (record.updated_by, record.updated_at) == ("b", later)


def test_the_global_record(runtime):
    version = runtime.put_global({"max_daily_loss": "12.50", "trading_enabled": False}, updated_by="ops", now=T0)
    snap = runtime.snapshot()
    assert snap.global_record is not None and snap.global_record.version == version
    assert dict(snap.global_record.values) == {"max_daily_loss": "12.50", "trading_enabled": "false"}
    assert dict(snap.markets) == {}


def test_markets_are_listed_by_ticker(runtime):
    for t in ("KXC-3", "KXA-1", "KXB-2"):
        runtime.put_market(t, {"enabled": "true"}, updated_by="a", now=T0)
    assert list(runtime.snapshot().markets) == ["KXA-1", "KXB-2", "KXC-3"]


def test_delete_removes_a_record_and_an_unknown_one_writes_nothing(runtime):
    runtime.put_market("KXA-1", {"enabled": "true"}, updated_by="a", now=T0)
    version = runtime.delete_market("KXA-1")
    assert "KXA-1" not in runtime.snapshot().markets
    assert runtime.delete_market("KXA-1") == version == runtime.version()


def test_compare_and_set_writes_only_at_the_expected_version(runtime):
    v1 = runtime.put_market("KXA-1", {"quote_size": "1"}, updated_by="a", now=T0, expected_version=0)
    v2 = runtime.put_market("KXA-1", {"quote_size": "2"}, updated_by="a", now=T0, expected_version=v1)
    with pytest.raises(StaleVersion) as caught:
        runtime.put_market("KXA-1", {"quote_size": "3"}, updated_by="b", now=T0, expected_version=v1)
    assert (caught.value.expected, caught.value.actual) == (v1, v2)
    assert isinstance(caught.value, StorageError)  # exit 3
    assert "changed meanwhile" in str(caught.value)
    with pytest.raises(StaleVersion):
        runtime.put_global({"max_daily_loss": "1"}, updated_by="b", now=T0, expected_version=v1)
    with pytest.raises(StaleVersion):
        runtime.delete_market("KXA-1", expected_version=v1)
    assert runtime.version() == v2 and dict(runtime.snapshot().markets["KXA-1"].values) == {"quote_size": "2"}


def test_compare_and_set_on_a_store_never_written(runtime):
    with pytest.raises(StaleVersion):
        runtime.put_market("KXA-1", {"quote_size": "1"}, updated_by="a", now=T0, expected_version=3)
    with pytest.raises(StaleVersion):
        runtime.delete_market("KXA-1", expected_version=3)
    assert runtime.version() == 0


def test_another_process_sees_every_write(opened):
    mine, theirs = opened(), opened()
    assert theirs.version() == 0
    version = mine.put_market("KXA-1", {"quote_size": "4"}, updated_by="a", now=T0)
    assert theirs.version() == version
    assert dict(theirs.snapshot().markets["KXA-1"].values) == {"quote_size": "4"}
    with pytest.raises(StaleVersion):  # the other process's compare-and-set is against the same version
        theirs.put_market("KXA-1", {"quote_size": "5"}, updated_by="b", now=T0, expected_version=0)
