"""The runtime configuration on DynamoDB (implements `store.runtime.RuntimeConfigStore`; the contract is there).

Where it lives (tables `{prefix}{env}_...`):

    markets    ticker={ticker}          one market's record: its values as top-level string attributes (exact
                                        text: `0.0200` stays `0.0200`), `updated_at` (ISO UTC), `updated_by`,
                                        `version` (the store version of its write)
    state      name=global_config       the global record, the same attributes
    state      name=config_version      the store's version (`version`): `version()` is one GetItem

A write reads the version v, then writes the record and sets the version to v + 1 in ONE TransactWriteItems whose
version update is conditional on the version still being v: a reader never sees a new version without its record,
and of two writers at one version one wins.  With `expected_version` the loser gets `StaleVersion`; without it the
write is tried again at the new version (a few times, then a StorageError).  `snapshot()` reads the version, the
global record and the markets table (a Scan, consistent: that table holds only the per-market records, and it is
read when the version changed or at a periodic reload, never on every loop pass), then the version again, and
reads again if it moved, so what it returns is one version's.  An operator may edit a market's item by hand
(console, CLI): numbers and booleans read back as their text; the bots see the edit at their next periodic reload
(or at once if the edit also raises `config_version`).

A setting cannot be named `ticker`, `name`, `updated_at`, `updated_by` or `version` here (those attributes are the
record's own): such a key is a UsageError before anything is written.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping

from kalshi_trading.errors import UsageError
from kalshi_trading.store.dynamodb.wire import Declined, Dynamo, Item, N, S, integer, put, s
from kalshi_trading.store.runtime import (
    RuntimeRecord, RuntimeSnapshot, RuntimeValue, StaleVersion, check_name, text_values,
)

GLOBAL_KEY = {"name": S("global_config")}
VERSION_KEY = {"name": S("config_version")}
OWN = frozenset({"ticker", "name", "updated_at", "updated_by", "version"})  # the record's own attributes
_TRIES = 20  # writes and snapshots racing other writers: tries before giving up
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _iso(now: datetime) -> str:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise UsageError(f"naive datetime {now} (times must be timezone-aware UTC)")
    return now.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _value_text(value: Mapping[str, Any]) -> str:
    """An attribute's value as the text a record holds (hand-written numbers and booleans too)."""
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return str(value["N"])
    if "BOOL" in value:
        return "true" if value["BOOL"] else "false"
    return json.dumps(value, sort_keys=True, default=str)  # anything else: the bot's validation refuses it


def _record(item: Item) -> RuntimeRecord:
    try:
        at = datetime.fromisoformat(s(item, "updated_at") or "")
    except ValueError:
        at = _EPOCH  # a record written by hand without a time
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    values = {k: _value_text(v) for k, v in item.items() if k not in OWN}
    return RuntimeRecord(values, at, s(item, "updated_by") or "", integer(item, "version"))


class DynamoRuntimeConfig:
    """The runtime configuration of one environment's tables."""

    def __init__(self, db: Dynamo):
        self.db = db

    def version(self) -> int:
        return integer(self.db.get("state", VERSION_KEY) or {}, "version")

    def snapshot(self) -> RuntimeSnapshot:
        for _ in range(_TRIES):
            version = self.version()
            glob = self.db.get("state", GLOBAL_KEY)
            markets = {s(item, "ticker") or "": _record(item) for item in self.db.scan("markets")}
            if self.version() == version:
                return RuntimeSnapshot(version, None if glob is None else _record(glob),
                                       MappingProxyType(dict(sorted(markets.items()))))
        raise self.db.fail("the runtime configuration kept changing while it was read; try again")

    def put_market(self, ticker: str, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        key = {"ticker": S(check_name(ticker, "market ticker"))}
        return self._put("markets", key, values, updated_by, now, expected_version)

    def put_global(self, values: Mapping[str, RuntimeValue], *, updated_by: str, now: datetime,
                   expected_version: int | None = None) -> int:
        return self._put("state", GLOBAL_KEY, values, updated_by, now, expected_version)

    def delete_market(self, ticker: str, *, expected_version: int | None = None) -> int:
        key = {"ticker": S(check_name(ticker, "market ticker"))}
        for _ in range(_TRIES):
            before = _stale_check(self.version(), expected_version)
            if self.db.get("markets", key) is None:
                return before
            gone = {"Delete": {"TableName": self.db.table("markets"), "Key": key,
                               "ConditionExpression": "attribute_exists(ticker)"}}
            if self._commit(before, gone, expected_version):
                return before + 1
        raise self._busy()

    def _put(self, table: str, key: Item, values: Mapping[str, RuntimeValue], updated_by: str, now: datetime,
             expected_version: int | None) -> int:
        texts = text_values(values)
        own = sorted(OWN & set(texts))
        if own:
            raise UsageError(f"{own[0]!r} cannot name a setting in a DynamoDB store (it is an attribute of the "
                             "record itself)")
        if not isinstance(updated_by, str):
            raise UsageError(f"updated_by must be text, not {updated_by!r}")
        at = _iso(now)  # a naive datetime is a UsageError here, before anything is written
        for _ in range(_TRIES):
            before = _stale_check(self.version(), expected_version)
            item: Item = {**key, "updated_at": S(at), "updated_by": S(updated_by), "version": N(before + 1),
                          **{k: S(v) for k, v in texts.items()}}
            if self._commit(before, put(self.db.table(table), item), expected_version):
                return before + 1
        raise self._busy()

    def _commit(self, before: int, action: dict[str, Any], expected_version: int | None) -> bool:
        """Write `action` and move the version from `before` to `before + 1`, in one transaction; False when the
        version moved meanwhile (StaleVersion instead, under compare-and-set)."""
        bump = {"Update": {"TableName": self.db.table("state"), "Key": VERSION_KEY,
                           "UpdateExpression": "SET #v = :after",
                           "ConditionExpression": "attribute_not_exists(#v) OR #v = :before",
                           "ExpressionAttributeNames": {"#v": "version"},
                           "ExpressionAttributeValues": {":after": N(before + 1), ":before": N(before)}}}
        try:
            self.db.transact([bump, action])
        except Declined:
            if expected_version is not None:
                raise StaleVersion(expected_version, self.version()) from None
            return False
        return True

    def _busy(self) -> Exception:
        return self.db.fail("the runtime configuration kept changing under this write; nothing was written")

    def close(self) -> None:
        """Nothing to close: the store owns the client."""


def _stale_check(actual: int, expected: int | None) -> int:
    if expected is not None and expected != actual:
        raise StaleVersion(expected, actual)
    return actual
