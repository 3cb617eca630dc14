"""CSV exports of the journal: trades (straight from SQLite TEXT columns) and closed lots (for a tax preparer).

Every export is written to a temporary file in the target directory, flushed to disk, then moved into place, so a
crash never leaves half a CSV.  An existing file is refused unless `force`; a missing directory is a `UsageError`.
Numbers are exact decimal strings (`0.5200`, `10.00`, `0.017500`), never floats; times are ISO-8601 UTC.
The temporary file is created private (0600) and keeps that mode: these files are someone's trading records.
"""

from __future__ import annotations

import csv
import logging
import os
import sqlite3
import tempfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from kalshi_trading.errors import UsageError
from kalshi_trading.models import Fill
from kalshi_trading.money import MoneyError, count_to_units, price_to_units
from kalshi_trading.trading.pnl import ClosedLot

log = logging.getLogger(__name__)

TRADE_COLUMNS = (
    "created_time", "fill_id", "order_id", "ticker", "side", "action", "count",
    "yes_price", "no_price", "price", "notional", "fee", "is_taker",
)
LOT_COLUMNS = ("ticker", "side", "count", "acquired_time", "disposed_time", "cost", "proceeds", "fees", "gain")

# The side and action of each fill depend on the position before it (netting): a YES buy while short (long NO) is
# a NO sale, an ask while long YES is a YES sale, otherwise the fill buys the side it takes.  A fill that flips the
# position is labelled as the sale of the side held before it, with its whole count.  The running position comes
# from a window sum over every earlier fill of the ticker, so a `since` filter still sees the true prior position.
_TRADES_SQL = """
WITH w AS (
    SELECT created_time, fill_id, order_id, ticker, count, yes_price, no_price, yes_notional, no_notional,
           fee, is_taker, count_units,
           SUM(count_units) OVER (PARTITION BY ticker ORDER BY created_time, fill_id
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM fills
    WHERE (:ticker IS NULL OR ticker = :ticker) AND (:until IS NULL OR created_time < :until)
), s AS (
    SELECT *,
           CASE WHEN count_units > 0 THEN (CASE WHEN before < 0 THEN 'no' ELSE 'yes' END)
                ELSE (CASE WHEN before > 0 THEN 'yes' ELSE 'no' END) END AS side,
           CASE WHEN (count_units > 0 AND before < 0) OR (count_units < 0 AND before > 0)
                THEN 'sell' ELSE 'buy' END AS action
    FROM w
    WHERE (:since IS NULL OR created_time >= :since)
)
SELECT created_time, fill_id, order_id, ticker, side, action, count, yes_price, no_price,
       CASE side WHEN 'yes' THEN yes_price ELSE no_price END,
       CASE side WHEN 'yes' THEN yes_notional ELSE no_notional END,
       fee, CASE is_taker WHEN 1 THEN 'true' ELSE 'false' END
FROM s
ORDER BY created_time, fill_id
"""


# -- exact text formats, shared by the journal's TEXT columns and the exports ------------------------------------


def iso(t: datetime | None) -> str:
    """Fixed-width ISO-8601 UTC text ('' for unknown); naive datetimes are refused."""
    if t is None:
        return ""
    if t.tzinfo is None:
        raise UsageError(f"naive datetime {t} (times must be timezone-aware UTC)")
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _fixed(units: int, places: int) -> str:
    sign, units = ("-", -units) if units < 0 else ("", units)
    scale = 10 ** places
    return f"{sign}{units // scale}.{units % scale:0{places}d}"


def fill_row(f: Fill) -> tuple:
    y = price_to_units(f.yes_price)
    if not 0 <= y <= 10_000:
        raise MoneyError(f"fill {f.fill_id}: price {f.yes_price} is outside $0..$1")
    n = count_to_units(f.count)
    fee = f.fee * 1_000_000
    if fee != fee.to_integral_value():
        raise MoneyError(f"fill {f.fill_id}: fee {f.fee} is finer than $0.000001")
    if f.book_side not in ("bid", "ask"):
        raise MoneyError(f"fill {f.fill_id}: book_side {f.book_side!r} is neither bid nor ask")
    return (
        f.fill_id, f.order_id, f.trade_id or f.fill_id, f.ticker, f.outcome_side, f.book_side,
        _fixed(n, 2), n if f.book_side == "bid" else -n, _fixed(y, 4), _fixed(10_000 - y, 4),
        _fixed(y * n, 6), _fixed((10_000 - y) * n, 6), _fixed(int(fee), 6), int(f.is_taker), iso(f.created_time),
    )


def fill_from_row(r: tuple) -> Fill:
    return Fill(
        fill_id=r[0], order_id=r[1], trade_id=r[2], ticker=r[3], outcome_side=r[4], book_side=r[5],
        count=Decimal(r[6]), yes_price=Decimal(r[8]), fee=Decimal(r[12]), is_taker=bool(r[13]),
        created_time=parse_iso(r[14]),
    )


def price_text(price: Decimal) -> str:
    units = price_to_units(price)
    return f"{units // 10_000}.{units % 10_000:04d}"


def count_text(count: Decimal) -> str:
    units = count_to_units(count)
    return f"{units // 100}.{units % 100:02d}"


def check_target(path: Path, force: bool) -> Path:
    """Refuse a missing directory, or an existing file without `force`, before any work is done."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; use --force to overwrite it")
    return path


def write_csv_atomic(
    path: Path, header: Sequence[str], chunks: Iterable[Sequence[Sequence]], force: bool = False
) -> int:
    """Write `header` then each chunk of rows to `path` via a temp file and a rename; returns the row count."""
    path = check_target(path, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    rows = 0
    moved = False
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for chunk in chunks:
                writer.writerows(chunk)
                rows += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if force:
            os.replace(tmp, path)
        else:
            # A hard link fails if the name was taken meanwhile, so a racing writer's file is never clobbered.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise UsageError(f"{path} already exists; use --force to overwrite it") from None
            os.unlink(tmp)
        moved = True
    finally:
        if not moved:
            Path(tmp).unlink(missing_ok=True)
    log.info("wrote %d rows to %s", rows, path)
    return rows


def _fetch_chunks(cursor: sqlite3.Cursor, size: int = 20_000) -> Iterator[list]:
    while True:
        chunk = cursor.fetchmany(size)
        if not chunk:
            return
        yield chunk


def export_trades(
    conn: sqlite3.Connection, path: Path, since: str | None, until: str | None, ticker: str | None, force: bool
) -> int:
    """Trades as CSV straight from the journal's TEXT columns (no per-row Decimal work)."""
    check_target(path, force)
    cursor = conn.execute(_TRADES_SQL, {"since": since, "until": until, "ticker": ticker})
    return write_csv_atomic(path, TRADE_COLUMNS, _fetch_chunks(cursor), force)


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
    path = check_target(path, force)
    return write_csv_atomic(path, LOT_COLUMNS, [[lot_row(lot) for lot in lots]], force)
