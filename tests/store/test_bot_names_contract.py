"""Several bots in one store (`Store.bot_state(bot=...)`, `Store.bots()`), run against every storage adapter: each
name has a state of its own.  A new adapter is one line in tests/store/adapters.py."""

from __future__ import annotations


import pytest

from kalshi_trading.errors import UsageError
from kalshi_trading.store import open_store
from kalshi_trading.store.base import DEFAULT_BOT, check_bot_name
from tests.store.adapters import ADAPTERS



@pytest.fixture(params=sorted(ADAPTERS))
def url(request, tmp_path) -> str:
    return ADAPTERS[request.param](tmp_path)


@pytest.fixture
def stores(url):
    opened = []

    def open_():
        store = open_store(url, env="sim")
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def test_each_name_has_its_own_state(stores):
    store = stores()
    assert store.bots() == []
    store.bot_state(bot="east").put("bot_id", "e1")
    store.bot_state(bot="west").put("bot_id", "w1")
    store.bot_state().put("bot_id", "d1")
    assert store.bot_state(bot="east") is store.bot_state(bot="east")
    assert store.bot_state(bot=DEFAULT_BOT) is store.bot_state()
    other = stores()  # another process
    assert other.bots() == ["default", "east", "west"]
    assert [other.bot_state(bot=b).get("bot_id") for b in other.bots()] == ["d1", "e1", "w1"]


@pytest.mark.parametrize("name", ["", "East", "a b", "../x", "a/b", "-a", "x" * 33, "é"])
def test_bad_bot_names_are_refused(stores, name):
    with pytest.raises(UsageError, match="not a bot name"):
        stores().bot_state(bot=name)
    with pytest.raises(UsageError):
        check_bot_name(name)
    assert stores().bots() == []


def test_keys_lists_what_was_written_and_never_the_adapters_own(stores):
    state = stores().bot_state(bot="east")
    assert state.keys() == []
    state.put("risk", {"state": "active"})
    state.put("bot_id", "e1")
    state.put("markets", None)  # written, even as null
    assert stores().bot_state(bot="east").keys() == ["bot_id", "markets", "risk"]
    assert stores().bot_state(bot="west").keys() == []
