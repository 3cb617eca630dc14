"""State kept beside the engine for the newer endpoints: the historical tier, API keys, subaccounts.

Saved as three documents of the store; each is serialised again only after it changed (the historical tier
can be a few megabytes, and the store snapshots the exchange every half second while it runs).
"""

from __future__ import annotations

from kalshi_trading.sim.history import History
from kalshi_trading.sim.keys import KeyRing
from kalshi_trading.sim.subaccounts import Subaccounts


class Extras:
    def __init__(self, history: History | None = None, keys: KeyRing | None = None,
                 subaccounts: Subaccounts | None = None):
        self.history = history or History()
        self.keys = keys or KeyRing()
        self.subaccounts = subaccounts or Subaccounts()
        self._cache: dict[str, tuple[int, str]] = {}

    def docs(self) -> dict[str, str]:
        """The store documents (caller holds the exchange lock)."""
        out = {}
        for name, part in (("history", self.history), ("api_keys", self.keys), ("subaccounts", self.subaccounts)):
            cached = self._cache.get(name)
            if cached is None or cached[0] != part.version:
                cached = self._cache[name] = (part.version, part.to_json())
            out[name] = cached[1]
        return out

    @classmethod
    def load(cls, docs: dict[str, str], engine) -> Extras:
        """Rebuild from the store's documents (after the engine's accounts are loaded)."""
        return cls(History.from_json(docs.get("history"), engine.accounts),
                   KeyRing.from_json(docs.get("api_keys"), engine),
                   Subaccounts.from_json(docs.get("subaccounts")))
