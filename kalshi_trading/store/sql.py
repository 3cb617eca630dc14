"""SQL text the SQL adapters share (no driver here): the `LIMIT` and the `WHERE` of the journal's time-range
queries.  Each adapter passes its own placeholder (`?` for SQLite, `%s` for psycopg) and its own encoding of a
time (fixed-width ISO text in SQLite, an aware datetime for PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Sequence

from kalshi_trading.errors import UsageError


def limit_clause(limit: int | None) -> str:
    """` LIMIT n` (nothing for None); a negative limit is a UsageError."""
    if limit is None:
        return ""
    if limit < 0:
        raise UsageError("limit must be >= 0")
    return f" LIMIT {int(limit)}"


def where_clause(since: datetime | None, until: datetime | None, ticker: str | None, time_col: str, *,
                 placeholder: str, encode_time: Callable[[datetime], object]) -> tuple[str, list[object]]:
    """` WHERE ...` for a time range (since inclusive, until exclusive) and a ticker, with its parameters."""
    clauses: list[str] = []
    args: list[object] = []
    if since is not None:
        clauses.append(f"{time_col} >= {placeholder}")
        args.append(encode_time(since))
    if until is not None:
        clauses.append(f"{time_col} < {placeholder}")
        args.append(encode_time(until))
    if ticker is not None:
        clauses.append(f"ticker = {placeholder}")
        args.append(ticker)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def equals_since_clause(equals: Sequence[tuple[str, object | None]], since: datetime | None, time_col: str, *,
                        placeholder: str, encode_time: Callable[[datetime], object]) -> tuple[str, list[object]]:
    """` WHERE ...` for columns equal to the values given (a None value: no condition) and a time from `since`
    (inclusive), with its parameters."""
    clauses: list[str] = []
    args: list[object] = []
    for column, value in equals:
        if value is not None:
            clauses.append(f"{column} = {placeholder}")
            args.append(value)
    if since is not None:
        clauses.append(f"{time_col} >= {placeholder}")
        args.append(encode_time(since))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args
