"""The DynamoDB store's tables: their names and keys, their creation, and the schema version item.

Every table is `{prefix}{env}_{name}` (so one URL serves sim, demo and prod side by side and they never mix), on
demand capacity (PAY_PER_REQUEST), keys of type S.  The tables are created when absent (then waited for until
ACTIVE); the item `schema` in `meta`, written last, says they all exist and which version of each part's layout
they hold.  A part of a newer version than this program knows is refused and left untouched; a part added since
(`ADDED_LATER`: the alert events) is added to older tables on first use.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from kalshi_trading.errors import StorageError
from kalshi_trading.store.dynamodb.wire import Declined, Dynamo, Item, N, S, integer

log = logging.getLogger(__name__)

# table -> (partition key, sort key or None)
TABLES: dict[str, tuple[str, str | None]] = {
    "meta": ("name", None),         # the adapter's own items: schema, counters, journal generation, day sets
    "state": ("name", None),        # the bot's key/value state (positions, global_config, risk_state...)
    "markets": ("ticker", None),    # per-market configuration (the runtime configuration's)
    "trades": ("day", "sk"),        # the trade log: journal fills by UTC date, `time#order_id#fill_id`
    "fill_ids": ("fill_id", None),  # one item per journalled fill id: what makes a fill unique
    "journal": ("pk", "sk"),        # order events, settlements, errors and their indexes
    "bot": ("pk", "sk"),            # the bot's fills, working orders, carried state, events
    "decisions": ("day", "sk"),     # the decision log by UTC date, `timestamp#id`
    "signals": ("pk", "sk"),        # the signal pipeline's records and leases
    "alerts": ("day", "sk"),        # the alert events by UTC date, `time#id`
}
# each part's layout version (the bot state starts at 2: the port's "each fact once" state, the only one a
# DynamoDB store has ever held)
VERSIONS = {"journal": 1, "bot": 2, "signals": 1, "alerts": 1}
# parts added after the first layout: a store made before them lacks their tables and version, and gains both on
# first use (`ensure`); until then `check` finds nothing wrong with it
ADDED_LATER = frozenset({"alerts"})
SCHEMA_KEY = {"name": S("schema")}
_WAIT_S = 300.0  # AWS creates a table in seconds to tens of seconds


@dataclass(frozen=True)
class Layout:
    """What the `schema` item says: each part's version (None: the tables are not there yet)."""

    versions: dict[str, int] | None

    def detail(self) -> str:
        if self.versions is None:
            return "no tables yet (created on first use)"
        return "schema " + ", ".join(f"{part} {self.versions.get(part, '-')}" for part in VERSIONS)


def table_names(prefix: str, env: str) -> dict[str, str]:
    return {name: f"{prefix}{env}_{name}" for name in TABLES}


def read_layout(db: Dynamo) -> Layout:
    """The schema item, without creating anything (a missing `meta` table: no tables yet)."""
    try:
        item = db.call("get_item", allow=("ResourceNotFoundException",), TableName=db.table("meta"), Key=SCHEMA_KEY,
                       ConsistentRead=True).get("Item")
    except Declined:
        return Layout(None)
    if item is None:
        return Layout(None)
    return Layout({part: integer(item, part) for part in VERSIONS if part in item})


def refusal(db: Dynamo, layout: Layout, part: str) -> StorageError | None:
    """Why `part` of these tables cannot be used by this program (None: it can)."""
    assert layout.versions is not None
    version = layout.versions.get(part)
    known = VERSIONS[part]
    if version is None and part in ADDED_LATER:
        return None  # made on first use
    if version is None:
        return db.fail(f"the {part} tables hold no schema version (made by another program?); left untouched")
    if version > known:
        return db.fail(f"the {part} tables are schema version {version}, newer than this program (reads up to "
                       f"{known}); upgrade kalshi-trading; left untouched")
    return None


def ensure(db: Dynamo, part: str, sleep: Callable[[float], None] = time.sleep) -> int:
    """Make sure the tables exist (creating the missing ones and waiting until they are ACTIVE), and that
    `part` is of a version this program reads; returns that version."""
    layout = read_layout(db)
    if layout.versions is None:
        _create_tables(db, sleep)
        fresh: Item = {**SCHEMA_KEY, **{p: N(v) for p, v in VERSIONS.items()}}
        if db.put("meta", fresh, condition="attribute_not_exists(#n)", names={"#n": "name"}):
            log.info("DynamoDB store %s: tables created (%s)", db.url.masked, ", ".join(sorted(db.names.values())))
        layout = read_layout(db)
        if layout.versions is None:
            raise db.fail("the tables were created but the schema item cannot be read back")
    problem = refusal(db, layout, part)
    if problem is not None:
        raise problem
    assert layout.versions is not None
    if part not in layout.versions:  # a part added after these tables were made: its tables, then its version
        _create_tables(db, sleep)
        db.update("meta", SCHEMA_KEY, "SET #p = if_not_exists(#p, :v)", {":v": N(VERSIONS[part])},
                  names={"#p": part})
        log.info("DynamoDB store %s: the %s tables added", db.url.masked, part)
        return ensure(db, part, sleep)
    return layout.versions[part]


def _create_tables(db: Dynamo, sleep: Callable[[float], None]) -> None:
    for name, (hash_key, range_key) in TABLES.items():
        keys: list[dict[str, str]] = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        attributes: list[dict[str, str]] = [{"AttributeName": hash_key, "AttributeType": "S"}]
        if range_key is not None:
            keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
            attributes.append({"AttributeName": range_key, "AttributeType": "S"})
        try:
            db.call("create_table", allow=("ResourceInUseException",), TableName=db.table(name), KeySchema=keys,
                    AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST")
        except Declined:
            pass  # there already (or being made by another process)
    for name in TABLES:
        _wait_active(db, db.table(name), sleep)


def _wait_active(db: Dynamo, table: str, sleep: Callable[[float], None]) -> None:
    deadline, pause = time.monotonic() + _WAIT_S, 0.05
    while True:
        try:
            status = db.call("describe_table", allow=("ResourceNotFoundException",),
                             TableName=table).get("Table", {}).get("TableStatus")
        except Declined:
            status = "CREATING"  # eventually consistent: a table just created may not be described yet
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise db.fail(f"table {table} is still {status} after {_WAIT_S:.0f} s")
        sleep(pause)
        pause = min(pause * 2, 2.0)

