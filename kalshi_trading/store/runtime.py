"""The runtime configuration's port: per-market and global bot settings kept in the store, so that every bot sharing
the store reads them and an operator changes them without redeploying (`kalshi config market set`).

Any adapter (SQLite today: `store/sqlite/runtime.py`) implements `RuntimeConfigStore`;
`tests/store/test_runtime_contract.py` runs the same contract against every adapter.  The store keeps text and
checks none of its meaning: what a key may hold is the bot's rule (`auto/botconfig.py`), applied by
`auto/runtime_config.py` before every write and again at every reload, so a value written around it (by hand, by
another tool) is rejected there and the last good configuration stays in force.

The contract, in words (each point has a contract test):

- Records.  One record per market (key: its ticker) and one global record.  A record holds text values by key
  (exact: `0.0200` comes back as `0.0200`; `as_text` turns a Decimal, int or bool into that text and refuses a
  float), who wrote it (`updated_by`), when (`updated_at`, UTC) and the store version of that write.
- Version.  `version()` is 0 for a store never written and grows with every write (a put or a delete, of any
  record: by at least 1); it is one cheap read, for a bot asking whether anything changed.  `snapshot()` reads the
  version and every record at one instant.
- Writes replace a record's values whole.  With `expected_version` a write happens only while the store's version
  is still that one (compare-and-set); otherwise `StaleVersion` is raised and nothing is written.  A write returns
  the store's version after it.  Deleting a record that is not there writes nothing and returns the version.
- Bad arguments (an empty or spaced ticker or key, a float, a naive datetime) are a `UsageError`; failures of the
  storage itself a `StorageError` (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Mapping, Protocol, Union

from kalshi_trading.errors import StorageError, UsageError

RuntimeValue = Union[str, Decimal, int, bool]  # what a write takes; records hold text only


class StaleVersion(StorageError):
    """A compare-and-set write found the store at another version: someone wrote meanwhile; nothing was written."""

    def __init__(self, expected: int, actual: int):
        self.expected = expected
        self.actual = actual
        super().__init__(f"the runtime configuration changed meanwhile (version {actual}, expected {expected}); "
                         "nothing was written: look at it again (kalshi config market show) and retry")


def as_text(value: RuntimeValue) -> str:
    """The exact text a value is stored as: a Decimal's digits as written, true/false, an int's digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Decimal, int)):
        return str(value)
    raise UsageError(f"{value!r} is not an exact value (a runtime setting is text, a Decimal, an int or a bool; "
                     "never a float)")


def check_name(name: str, what: str) -> str:
    """A ticker or key as records name them: non-empty text without spaces or control characters."""
    if not isinstance(name, str) or not name or not name.isprintable() or any(ch.isspace() for ch in name):
        raise UsageError(f"{name!r} is not a {what} (non-empty text, no spaces)")
    return name


def text_values(values: Mapping[str, RuntimeValue]) -> dict[str, str]:
    """`values` checked and as text, ready to store."""
    return {check_name(k, "setting name"): as_text(v) for k, v in values.items()}


@dataclass(frozen=True)
class RuntimeRecord:
    """One record: its values (text by key, sorted), who wrote it, when, and the store version of that write."""

    values: Mapping[str, str]
    updated_at: datetime
    updated_by: str
    version: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(sorted(self.values.items()))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuntimeRecord):
            return NotImplemented
        return (dict(self.values), self.updated_at, self.updated_by, self.version) == \
            (dict(other.values), other.updated_at, other.updated_by, other.version)

    __hash__ = None  # type: ignore[assignment]  # the values mapping is not hashable


@dataclass(frozen=True)
class RuntimeSnapshot:
    """Everything the store holds, read at one version."""

    version: int = 0
    global_record: RuntimeRecord | None = None
    markets: Mapping[str, RuntimeRecord] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def empty(self) -> bool:
        """Nothing is configured in the store (the bot runs on its file and defaults alone)."""
        return self.global_record is None and not self.markets


class RuntimeConfigStore(Protocol):
    """The runtime configuration of one environment's store (see the module docstring for the contract)."""

    def version(self) -> int:
        """The store's version: 0 when never written, greater after every write."""
        ...

    def snapshot(self) -> RuntimeSnapshot:
        """The version and every record, read at one instant."""
        ...

    def put_market(self, ticker: str, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        """Replace the market's record with `values`; the version after the write (StaleVersion on a lost race)."""
        ...

    def delete_market(self, ticker: str, *, expected_version: int | None = None) -> int:
        """Remove the market's record (none: nothing written); the version after."""
        ...

    def put_global(self, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        """Replace the global record with `values`; the version after the write."""
        ...

    def close(self) -> None: ...
