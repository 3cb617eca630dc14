"""API keys beyond each account's first one (`/api_keys`), their scopes, and deleted keys.

Every account starts with one key (its `key_id`, full scopes).  More keys are added from a user's public key
or generated here; each may carry fewer scopes and may be locked to one subaccount.  A deleted key is refused
at once (the next request gets 401), the account's first key included.

Scopes (reference section 2): `read`, `write` (needs `read`), `read::portfolio_balance`, `write::trade`,
`write::transfer`, and the block-trade pair.  The simulator's rule for which a request needs is `required_scopes`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from kalshi_trading.sim.errors import SimError, bad_request

SCOPES = ("read", "write", "read::block_trade_accept", "read::portfolio_balance", "write::trade",
          "write::transfer", "write::block_trade_accept")
FULL = ("read", "write")
TRADE_PREFIXES = ("/portfolio/events/orders", "/portfolio/order_groups")
TRANSFER_PATHS = ("/portfolio/subaccounts/transfer", "/portfolio/intra_exchange_instance_transfer")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    account_id: str  # the primary account the key acts for
    public_key_pem: str
    scopes: tuple[str, ...]
    subaccount: int | None  # locked to this subaccount, or None
    created_ms: int


def required_scopes(method: str, path: str) -> tuple[str, ...]:
    """The scopes of which a key needs one for `method path` (path after /trade-api/v2)."""
    if method == "GET":
        if path == "/portfolio/balance":
            return ("read", "read::portfolio_balance")
        if path.startswith("/communications/block-trade-proposals"):
            return ("read", "read::block_trade_accept")
        return ("read",)
    if path.startswith("/communications/block-trade-proposals"):
        return ("write", "write::block_trade_accept")
    if path in TRANSFER_PATHS:
        return ("write", "write::transfer")
    if path.startswith(TRADE_PREFIXES):
        return ("write", "write::trade")
    return ("write",)


def parse_scopes(value) -> tuple[str, ...]:
    """Validate a request's `scopes` (default: full access)."""
    if value is None:
        return FULL
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise bad_request("scopes must be a non-empty list of scope names", "invalid_parameters")
    unknown = [s for s in value if s not in SCOPES]
    if unknown:
        raise bad_request("unknown scope", "invalid_parameters", ",".join(unknown))
    if "write" in value and "read" not in value:
        raise bad_request("the write scope needs the read scope", "invalid_parameters")
    return tuple(dict.fromkeys(value))


class KeyRing:
    """Extra keys and deleted keys.  Extra keys are also registered in `engine.by_key` (their account)."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.deleted: set[str] = set()
        self.version = 0

    def add(self, engine, key: ApiKey) -> None:
        self.keys[key.key_id] = key
        engine.by_key[key.key_id] = engine.accounts[key.account_id]
        self.version += 1

    def delete(self, engine, key_id: str) -> None:
        self.keys.pop(key_id, None)
        self.deleted.add(key_id)
        engine.by_key.pop(key_id, None)
        self.version += 1

    def public_pem(self, engine, key_id: str) -> str | None:
        """The PEM that verifies `key_id`, or None (unknown or deleted)."""
        if key_id in self.deleted:
            return None
        key = self.keys.get(key_id)
        if key is not None:
            return key.public_key_pem
        account = engine.by_key.get(key_id)
        return account.public_key_pem if account is not None else None

    def scopes(self, key_id: str) -> tuple[str, ...]:
        key = self.keys.get(key_id)
        return key.scopes if key is not None else FULL

    def locked_subaccount(self, key_id: str) -> int | None:
        key = self.keys.get(key_id)
        return key.subaccount if key is not None else None

    def check(self, key_id: str, method: str, path: str) -> None:
        """Raise 403 when the key lacks every scope the request could use."""
        needed = required_scopes(method, path)
        held = self.scopes(key_id)
        if not any(s in held for s in needed):
            raise SimError(403, "insufficient_scope", "this API key's scopes do not allow the request",
                           f"needs {' or '.join(needed)}; key has {', '.join(held)}")

    def of_account(self, account_id: str) -> list[ApiKey]:
        return [k for k in self.keys.values() if k.account_id == account_id]

    # ---- persistence ------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps({"keys": [asdict(k) for k in self.keys.values()], "deleted": sorted(self.deleted)})

    @classmethod
    def from_json(cls, text: str | None, engine) -> KeyRing:
        ring = cls()
        if not text:
            return ring
        data = json.loads(text)
        for row in data["keys"]:
            key = ApiKey(**{**row, "scopes": tuple(row["scopes"])})
            if key.account_id in engine.accounts:
                ring.keys[key.key_id] = key
                engine.by_key[key.key_id] = engine.accounts[key.account_id]
        ring.deleted = set(data["deleted"])
        for key_id in ring.deleted:
            engine.by_key.pop(key_id, None)
        return ring
