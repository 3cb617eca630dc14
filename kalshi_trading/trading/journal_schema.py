"""The journal's file format: schema, identity (application_id, user_version) and the header check that refuses
anything else before SQLite opens it (so a corrupt or foreign file is never modified)."""

from __future__ import annotations

import os
from pathlib import Path

from kalshi_trading.errors import JournalError

APPLICATION_ID = 0x4B4A524E  # "KJRN": a kalshi journal
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE order_events (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('intent', 'accepted', 'rejected', 'amended', 'decreased', 'cancelled',
                                       'reconciled')),
    client_order_id TEXT NOT NULL,
    order_id TEXT, env TEXT, ticker TEXT, book_side TEXT, yes_price TEXT, count TEXT, time_in_force TEXT,
    status TEXT, code TEXT, message TEXT,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX order_events_one_intent ON order_events (client_order_id) WHERE kind = 'intent';
CREATE INDEX order_events_client ON order_events (client_order_id);
CREATE INDEX order_events_order ON order_events (order_id);
CREATE INDEX order_events_time ON order_events (time);
CREATE TABLE fills (
    fill_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    ticker TEXT NOT NULL,
    outcome_side TEXT NOT NULL,
    book_side TEXT NOT NULL CHECK (book_side IN ('bid', 'ask')),
    count TEXT NOT NULL,
    count_units INTEGER NOT NULL,  -- signed 1/100 contracts, + bought YES: exact integer sums
    yes_price TEXT NOT NULL,
    no_price TEXT NOT NULL,
    fee TEXT NOT NULL,
    is_taker INTEGER NOT NULL,
    created_time TEXT NOT NULL,  -- '' when unknown (sorts first)
    before INTEGER,  -- the ticker's position before this fill (count units); NULL until placed
    csv_head TEXT NOT NULL,  -- this fill's trades-CSV line in pieces (csv_export._TRADE_LINE)
    csv_mid TEXT NOT NULL,
    csv_yes TEXT NOT NULL,
    csv_no TEXT NOT NULL
);
CREATE INDEX fills_time ON fills (created_time, fill_id);
CREATE INDEX fills_ticker_time ON fills (ticker, created_time, fill_id);
CREATE INDEX fills_unplaced ON fills (ticker) WHERE before IS NULL;
CREATE TABLE settlements (
    ticker TEXT NOT NULL,
    event_ticker TEXT NOT NULL,
    market_result TEXT NOT NULL,
    yes_count TEXT NOT NULL,
    yes_total_cost TEXT NOT NULL,
    no_count TEXT NOT NULL,
    no_total_cost TEXT NOT NULL,
    revenue TEXT NOT NULL,
    settled_time TEXT NOT NULL,  -- '' when unknown
    fee TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (ticker, settled_time)
);
CREATE INDEX settlements_time ON settlements (settled_time);
CREATE TABLE errors (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{}'
);
"""


def fsync_dir(directory: Path) -> None:
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:  # Windows: directories cannot be opened for fsync
        return
    fd = os.open(directory, os.O_RDONLY | flag)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_header(path: Path) -> None:
    """Read the file's header with plain I/O and refuse anything but a kalshi journal, before SQLite opens it."""
    if not path.is_file():
        raise JournalError(f"journal path {path} is not a regular file; left untouched")
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc}") from None
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise JournalError(f"{path} is not a SQLite database (corrupt or another kind of file); left untouched")
    user_version = int.from_bytes(header[60:64], "big")
    application_id = int.from_bytes(header[68:72], "big")
    if application_id != APPLICATION_ID:
        raise JournalError(f"{path} is another program's SQLite database (application_id {application_id:#x}); "
                           "left untouched")
    if user_version != SCHEMA_VERSION:
        raise JournalError(f"{path} is journal schema version {user_version}; this program reads "
                           f"{SCHEMA_VERSION}; left untouched")
