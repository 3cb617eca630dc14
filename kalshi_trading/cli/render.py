"""Output: tables via tabulate, one JSON document for --json, colour only on a TTY without NO_COLOR."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, Iterable, Sequence

import typer

ENV_COLOURS = {"SIM": "cyan", "DEMO": "yellow", "PROD": "red"}


def colour_enabled(stream=None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def style(text: str, fg: str | None = None, bold: bool = False, err: bool = False) -> str:
    if not colour_enabled(sys.stderr if err else sys.stdout):
        return text
    return typer.style(text, fg=fg, bold=bold)


def env_badge(label: str) -> str:
    """SIM / DEMO / PROD; production is impossible to miss."""
    if label == "PROD":
        return style("[PROD - REAL MONEY]", fg="red", bold=True)
    return style(f"[{label}]", fg=ENV_COLOURS.get(label), bold=True)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    return value


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def emit_json(document: Any) -> None:
    typer.echo(json.dumps(to_jsonable(document), indent=2, sort_keys=False))


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], colalign: Sequence[str] | None = None) -> str:
    from tabulate import tabulate

    rows = list(rows)
    if not rows:
        return "(none)"
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True, colalign=colalign)


def usd(amount: Decimal | None, signed: bool = False) -> str:
    """$1,234.56; sub-cent amounts keep their digits ($0.0175) so nothing is rounded away silently."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    value = abs(amount)
    exponent = value.normalize().as_tuple().exponent  # an int for every finite amount
    places = 2 if value == value.quantize(Decimal("0.01")) or not isinstance(exponent, int) \
        else min(6, max(2, -exponent))
    body = f"{value:,.{places}f}"
    return f"{sign}${body}"


def cents(price: Decimal | None) -> str:
    """52¢, 52.5¢ for a sub-cent price."""
    if price is None:
        return "-"
    value = (price * 100).normalize()
    text = f"{value:f}"
    return f"{text}¢"


def count(value: Decimal | None) -> str:
    if value is None:
        return "-"
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():f}"


def echo(text: str = "", err: bool = False) -> None:
    typer.echo(text, err=err)
