"""CSV exports of the journal: trades (the journal's export rows) and closed lots (for a tax preparer).

The trades export writes the rows the journal yields (`TradeJournal.trade_rows`: exact texts, labelled buy or sell
by the position before each fill, as CSV lines from `trade_csv`); this module runs no query of its own.

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
import stat
import tempfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TextIO

from kalshi_trading.errors import StorageError, UsageError
from kalshi_trading.store.journal import TradeJournal
from kalshi_trading.trading.pnl import ClosedLot

log = logging.getLogger(__name__)

TRADE_COLUMNS = (  # the header of the trades CSV, one name per TradeRow field
    "created_time", "fill_id", "order_id", "ticker", "side", "action", "count",
    "yes_price", "no_price", "price", "notional", "fee", "is_taker", "strategy",
)
LOT_COLUMNS = ("ticker", "side", "count", "acquired_time", "disposed_time", "cost", "proceeds", "fees", "gain")


def iso(t: datetime | None) -> str:
    """Fixed-width ISO-8601 UTC text ('' for unknown); naive datetimes are refused."""
    if t is None:
        return ""
    if t.tzinfo is None:
        raise UsageError(f"naive datetime {t} (times must be timezone-aware UTC)")
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


# -- writing -----------------------------------------------------------------------------------------------------


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a fifo (named pipe)"), (stat.S_ISSOCK, "a socket"))


def check_target(path: Path, force: bool) -> Path:
    """The file an export to `path` really writes (a symlink resolved), after refusing what must not be written.

    UsageError: a missing directory, a target that is not a regular file (or a link to one), an existing file
    without `force`.  StorageError: a directory this process cannot write into, a path the system refuses to look
    at (a name too long, a loop of links).
    """
    try:
        return _check_target(Path(path), force)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}", path=Path(path)) from None


def _check_target(path: Path, force: bool) -> Path:
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


def write_csv_atomic(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], force: bool = False) -> int:
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
    journal: TradeJournal, path: Path, since: datetime | None = None, until: datetime | None = None,
    ticker: str | None = None, force: bool = False,
) -> int:
    """The journal's fills as a trades CSV (one row per fill, see `TradeRow`), written atomically; the row count.

    The header is written here; the rows come as CSV lines from the journal (`trade_csv`, the store's rendering of
    `trade_rows`, which the contract tests hold equal to `render_csv`).  The last column, `strategy`, names the
    strategy that placed the fill's order (the bot's, from its intent); it is empty for orders placed by hand."""
    check_target(path, force)

    def body(fh: TextIO) -> int:
        fh.write(",".join(TRADE_COLUMNS) + "\r\n")
        rows = 0
        for lines in journal.trade_csv(since, until, ticker):
            fh.write("".join(lines))
            rows += len(lines)
        return rows

    return write_atomic(path, body, force)


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
