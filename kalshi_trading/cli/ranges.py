"""Numeric options: one grammar and a documented range for every number a command reads from its options.

The grammar is the one money.py defines for counts and prices: ASCII digits with at most one decimal point
(whole numbers: none), no sign, exponent, `_` separators, spaces or non-ASCII digits.  Each option's parser is
checked by Typer while it parses the command line, so a refusal (exit 2) comes before anything is done.

    limit: int = typer.Option(50, "-n", parser=whole(1, 100_000), help="Newest N entries (1 to 100000).")
"""

from __future__ import annotations

import re
from typing import Callable

import typer

_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_TEXT = 32

# The documented ranges (README's command reference), shared by the commands that take the same option.
SEED = (0, 2**32 - 1)
PORT = (0, 65_535)
SPEED = (0.01, 1000.0)  # simulated seconds per wall second
RUN_SECONDS = (0.1, 31_536_000.0)  # --duration: up to a year
POLL_SECONDS = (0.1, 300.0)
BOOK_DEPTH = (0, 100)  # 0 = every level
WATCH_DEPTH = (1, 100)
MARKET_LIMIT = (1, 1000)
LINES = (1, 100_000)  # history -n, logs -n
LOOP_MS = (10, 3_600_000)  # the bot config's loop_interval_ms range


def _text(value: object) -> str:
    raw = str(value).strip()
    return raw if len(raw) <= _MAX_TEXT else raw[:_MAX_TEXT] + "..."


def whole(low: int, high: int) -> Callable[[object], int]:
    """A Typer `parser`: a whole number from `low` to `high` written in ASCII digits."""

    def parse(value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):  # the option's own default
            return value
        raw = str(value).strip()
        if len(raw) > _MAX_TEXT or not _WHOLE.fullmatch(raw):
            raise typer.BadParameter(f"{_text(value)!r} is not a whole number: write digits 0-9, "
                                     f"from {low} to {high}")
        number = int(raw)
        if not low <= number <= high:
            raise typer.BadParameter(f"{raw} is out of range: from {low} to {high}")
        return number

    return parse


def number(low: float, high: float) -> Callable[[object], float]:
    """A Typer `parser`: a number from `low` to `high`, ASCII digits with at most one decimal point."""

    def parse(value: object) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # the option's own default
            return float(value)
        raw = str(value).strip()
        if len(raw) > _MAX_TEXT or not _DECIMAL.fullmatch(raw):
            raise typer.BadParameter(f"{_text(value)!r} is not a number: write digits 0-9 with at most one "
                                     f"decimal point, from {low:g} to {high:g}")
        result = float(raw)
        if not low <= result <= high:
            raise typer.BadParameter(f"{raw} is out of range: from {low:g} to {high:g}")
        return result

    return parse
