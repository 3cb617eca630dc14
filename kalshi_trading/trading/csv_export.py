"""CSV exports of the journal: trades (straight from SQLite TEXT) and closed lots (for a tax preparer).

Also the exact text formats the journal stores, since the trades export is built from them.

Every export is written to a temporary file in the target directory, flushed to disk, then moved into place, so a
crash never leaves half a CSV.  Numbers are exact decimal strings (`0.5200`, `10.00`, `0.017500`), never floats;
times are ISO-8601 UTC.

The target.  Only a regular file (new or, with `force`, existing) or a symbolic link to one is written; a symlink is
resolved first, so its target file is replaced and the link stays a link.  Refused with a `UsageError` (exit 2),
even with `force`: a directory, a device (`/dev/null`, `/dev/full`), a fifo, a socket, a dangling link, a missing
directory, and an existing file without `force`.  A directory that cannot be written (permissions, an immutable
flag, a read-only file system) or a failing disk is a `StorageError` (exit 3) naming the path and the reason.
A replaced file keeps its mode and owner; a new file is created private (0600): these are someone's trading records.
"""

from __future__ import annotations

import csv
import logging
import os
import sqlite3
import stat
import tempfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Sequence, TextIO

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.money import MoneyError, count_to_units, price_to_units
from kalshi_trading.trading.pnl import ClosedLot

log = logging.getLogger(__name__)

TRADE_COLUMNS = (
    "created_time", "fill_id", "order_id", "ticker", "side", "action", "count",
    "yes_price", "no_price", "price", "notional", "fee", "is_taker", "strategy",
)
LOT_COLUMNS = ("ticker", "side", "count", "acquired_time", "disposed_time", "cost", "proceeds", "fees", "gain")
_LINE_END = "\r\n"  # what csv.writer writes by default (RFC 4180)

# The side and action of each fill depend on the position before it (netting): a YES buy while long NO is a NO
# sale, an ask while long YES is a YES sale, otherwise the fill buys the side it takes.  A fill that flips the
# position is labelled as the sale of the side held before it, with its whole count.  The journal keeps `before`
# (the ticker's position before each fill, over all earlier fills, so date filters do not change labels) and each
# row's CSV text in pieces; the export is one ordered index scan gluing pieces together inside SQLite.
_TRADE_LINE = """
csv_head || CASE WHEN count_units > 0
    THEN (CASE WHEN before < 0 THEN 'no,sell' || csv_mid || csv_no ELSE 'yes,buy' || csv_mid || csv_yes END)
    ELSE (CASE WHEN before > 0 THEN 'yes,sell' || csv_mid || csv_yes ELSE 'no,buy' || csv_mid || csv_no END) END
"""

# -- exact text formats, shared by the journal's TEXT columns and the exports ------------------------------------

# Column order of the journal's fills table; `before` is filled in by the journal when it inserts.
FILL_COLUMNS = (
    "fill_id", "order_id", "trade_id", "ticker", "outcome_side", "book_side", "count", "count_units", "yes_price",
    "no_price", "fee", "is_taker", "created_time", "before", "csv_head", "csv_mid", "csv_yes", "csv_no",
)
FILL_TIME, FILL_BEFORE = 12, 13
FILL_SELECT = (
    "fill_id, order_id, trade_id, ticker, outcome_side, book_side, count, yes_price, fee, is_taker, created_time"
)


def iso(t: datetime | None) -> str:
    """Fixed-width ISO-8601 UTC text ('' for unknown), so text order is time order; naive datetimes are refused."""
    if t is None:
        return ""
    if t.tzinfo is None:
        raise UsageError(f"naive datetime {t} (times must be timezone-aware UTC)")
    if t.tzinfo is not timezone.utc:
        t = t.astimezone(timezone.utc)
    return t.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _fixed(units: int, places: int) -> str:
    """Integer sub-units as fixed-point text: _fixed(5200, 4) == '0.5200'."""
    if units < 0:
        return "-" + _fixed(-units, places)
    digits = str(units).rjust(places + 1, "0")
    return digits[:-places] + "." + digits[-places:]


def price_text(price: Decimal) -> str:
    return _fixed(price_to_units(price), 4)


def count_text(count: Decimal) -> str:
    return _fixed(count_to_units(count), 2)


def csv_field(text: str) -> str:
    """Quote a free-text field the way csv.writer would (ids and tickers almost never need it)."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def fill_row(f: Fill) -> list:
    """A fill as a journal row: exact TEXT columns plus its CSV line in pieces (see `_TRADE_LINE`)."""
    y = price_to_units(f.yes_price)
    if not 0 <= y <= 10_000:
        raise MoneyError(f"fill {f.fill_id}: price {f.yes_price} is outside $0..$1")
    n = count_to_units(f.count)
    if n <= 0:
        raise MoneyError(f"fill {f.fill_id}: count {f.count} is not positive")
    fee = f.fee * 1_000_000
    if fee != fee.to_integral_value() or fee < 0:
        raise MoneyError(f"fill {f.fill_id}: fee {f.fee} is negative or finer than $0.000001")
    if f.book_side not in ("bid", "ask"):
        raise MoneyError(f"fill {f.fill_id}: book_side {f.book_side!r} is neither bid nor ask")
    when, count, yes, no = iso(f.created_time), _fixed(n, 2), _fixed(y, 4), _fixed(10_000 - y, 4)
    fee_text, taker = _fixed(int(fee), 6), "true" if f.is_taker else "false"
    return [
        f.fill_id, f.order_id, f.trade_id, f.ticker, f.outcome_side, f.book_side, count,
        n if f.book_side == "bid" else -n, yes, no, fee_text, int(f.is_taker), when, None,
        f"{when},{csv_field(f.fill_id)},{csv_field(f.order_id)},{csv_field(f.ticker)},",
        f",{count},{yes},{no},",
        f"{yes},{_fixed(y * n, 6)},{fee_text},{taker}{_LINE_END}",
        f"{no},{_fixed((10_000 - y) * n, 6)},{fee_text},{taker}{_LINE_END}",
    ]


def fill_from_row(r: tuple) -> Fill:
    """A row of `SELECT {FILL_SELECT}` back to the domain Fill (exact: TEXT to Decimal)."""
    return Fill(
        fill_id=r[0], order_id=r[1], trade_id=r[2], ticker=r[3], outcome_side=r[4], book_side=r[5],
        count=Decimal(r[6]), yes_price=Decimal(r[7]), fee=Decimal(r[8]), is_taker=bool(r[9]),
        created_time=parse_iso(r[10]),
    )


def settlement_row(s: Settlement) -> tuple:
    return (
        s.ticker, s.event_ticker, s.market_result, str(s.yes_count), str(s.yes_total_cost), str(s.no_count),
        str(s.no_total_cost), str(s.revenue), iso(s.settled_time), str(s.fee),
        None if s.value is None else str(s.value),
    )


def settlement_from_row(r: tuple) -> Settlement:
    return Settlement(
        ticker=r[0], event_ticker=r[1], market_result=r[2], yes_count=Decimal(r[3]), yes_total_cost=Decimal(r[4]),
        no_count=Decimal(r[5]), no_total_cost=Decimal(r[6]), revenue=Decimal(r[7]), settled_time=parse_iso(r[8]),
        fee=Decimal(r[9]), value=None if r[10] is None else Decimal(r[10]),
    )


# -- writing -----------------------------------------------------------------------------------------------------


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a fifo (named pipe)"), (stat.S_ISSOCK, "a socket"))


def check_target(path: Path, force: bool) -> Path:
    """The file an export to `path` really writes (a symlink resolved), after refusing what must not be written.

    UsageError: a missing directory, a target that is not a regular file (or a link to one), an existing file
    without `force`.  StorageError: a directory this process cannot write into.
    """
    path = Path(path)
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    if path.is_symlink() and not os.path.lexists(real):
        raise UsageError(f"cannot write {path}: it is a symbolic link to {real}, which does not exist; nothing written")
    if not real.parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {real.parent} does not exist")
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}", path=path) from None
    if mode is not None:
        for test, kind in _KINDS:
            if test(mode):
                raise UsageError(f"cannot write {path}: it is {kind}, not a regular file; nothing written")
        if not stat.S_ISREG(mode):
            raise UsageError(f"cannot write {path}: it is not a regular file; nothing written")
        if not force:
            raise UsageError(f"{path} already exists; use --force to overwrite it")
    if not os.access(real.parent, os.W_OK | os.X_OK):
        raise StorageError(f"cannot write {path}: directory {real.parent} is not writable (permissions, an immutable "
                           "flag or a read-only file system)", path=real.parent)
    return real


def write_atomic(path: Path, write_body: Callable[[TextIO], int], force: bool = False) -> int:
    """Run `write_body(file)` into a temp file beside the target, fsync, then move it into place; returns its count.

    The target is `check_target(path)`: through a symlink, the file it points to (the link stays a link).  A file
    replaced keeps its mode and owner."""
    target = check_target(path, force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc} (in {target.parent})", path=path) from None
    moved = False
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            rows = write_body(fh)
            fh.flush()
            _keep_mode_and_owner(fh.fileno(), target)
            os.fsync(fh.fileno())
        _move_into_place(Path(tmp), target, path, force)
        moved = True
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}", path=path) from None
    finally:
        if not moved:
            Path(tmp).unlink(missing_ok=True)
    log.info("wrote %d rows to %s", rows, target)
    return rows


def _keep_mode_and_owner(fd: int, target: Path) -> None:
    """Give the new file the mode and owner of the file it replaces (a new file keeps mkstemp's 0600)."""
    try:
        old = os.stat(target)
    except FileNotFoundError:
        return
    os.fchmod(fd, stat.S_IMODE(old.st_mode))
    if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:
            log.warning("cannot keep the owner of %s (uid %d, gid %d): the new file is ours", target, old.st_uid,
                        old.st_gid)


def _move_into_place(tmp: Path, target: Path, asked: Path, force: bool) -> None:
    if force:
        # Re-check just before the rename: something may have put a device or directory there meanwhile.
        check_target(target, force=True)
        os.replace(tmp, target)
    else:
        # A hard link fails if the name was taken meanwhile, so a racing writer's file is never clobbered.
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise UsageError(f"{asked} already exists; use --force to overwrite it") from None
        os.unlink(tmp)
    fsync_parent(target)


def fsync_parent(path: Path) -> None:
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:  # Windows: directories cannot be opened for fsync
        return
    fd = os.open(path.parent, os.O_RDONLY | flag)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_csv_atomic(path: Path, header: Sequence[str], rows: Iterable[Sequence], force: bool = False) -> int:
    """Header plus rows through csv.writer, written atomically; returns the row count."""

    def body(fh: TextIO) -> int:
        writer = csv.writer(fh)
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        return count

    return write_atomic(path, body, force)


def export_trades(
    conn: sqlite3.Connection, path: Path, since: str | None, until: str | None, ticker: str | None, force: bool
) -> int:
    """Trades as CSV straight from the journal's stored text: one ordered scan, no per-row Decimal or csv.writer.

    The last column, `strategy`, names the strategy that placed the fill's order (the bot's, from the order's
    intent); it is empty for orders placed by hand.  The stored lines end with the line end, so the column goes in
    before it (joined by the line end per chunk; the tags are looked up only when the journal has any)."""
    check_target(path, force)
    params = {"since": since, "until": until, "ticker": ticker}
    clauses = {"since": "created_time >= :since", "until": "created_time < :until", "ticker": "ticker = :ticker"}
    where = " AND ".join(f"fills.{clause}" for name, clause in clauses.items() if params[name] is not None)
    where = f" WHERE {where}" if where else ""
    tagged = conn.execute(_ANY_TAG).fetchone() is not None
    if tagged:
        sql = (f"{_TAGS} SELECT {_TRADE_LINE}, tags.strategy FROM fills LEFT JOIN tags ON tags.order_id = "
               f"fills.order_id{where} ORDER BY fills.created_time, fills.fill_id")
    else:
        sql = f"SELECT {_TRADE_LINE} FROM fills{where} ORDER BY created_time, fill_id"
    cursor = conn.execute(sql, params)

    def body(fh: TextIO) -> int:
        fh.write(",".join(TRADE_COLUMNS) + _LINE_END)
        rows = 0
        while chunk := cursor.fetchmany(20_000):
            fh.write(_with_strategy(chunk, tagged))
            rows += len(chunk)
        return rows

    return write_atomic(path, body, force)


def _with_strategy(chunk: list, tagged: bool) -> str:
    """The chunk's lines with the strategy column put in before each line end (every stored line ends with it)."""
    end = len(_LINE_END)
    if tagged:
        return "".join([line[:-end] + "," + (csv_field(tag) if tag else "") + _LINE_END for line, tag in chunk])
    sep = "," + _LINE_END
    return sep.join([line[:-end] for (line,) in chunk]) + sep


# The `strategy` column: from the intent of the fill's order (the bot keeps its strategy there).
_TAGS = """
WITH tags AS (SELECT o.order_id AS order_id, max(json_extract(i.extra, '$.strategy')) AS strategy
              FROM order_events o JOIN order_events i ON i.client_order_id = o.client_order_id AND i.kind = 'intent'
              WHERE o.order_id IS NOT NULL AND json_extract(i.extra, '$.strategy') IS NOT NULL GROUP BY o.order_id)
"""
_ANY_TAG = "SELECT 1 FROM order_events WHERE kind = 'intent' AND json_extract(extra, '$.strategy') IS NOT NULL LIMIT 1"


def _decimal_text(value: Decimal, places: int) -> str:
    return format(value, f".{places}f")  # Decimal formatting is exact decimal arithmetic, never float


def lot_row(lot: ClosedLot) -> tuple[str, ...]:
    return (
        lot.ticker, lot.side, _decimal_text(lot.count, 2), iso(lot.acquired_time), iso(lot.disposed_time),
        _decimal_text(lot.cost, 6), _decimal_text(lot.proceeds, 6), _decimal_text(lot.fees, 6),
        _decimal_text(lot.gain, 6),
    )


def export_lots_csv(path: Path, lots: Iterable[ClosedLot], force: bool = False) -> int:
    """Closed lots (from `compute_pnl`) as CSV for a tax preparer: acquired, disposed, side, count, money columns."""
    return write_csv_atomic(path, LOT_COLUMNS, (lot_row(lot) for lot in lots), force)
