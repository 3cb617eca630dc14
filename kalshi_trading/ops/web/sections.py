"""What a dashboard page shows, as data, and the snapshot of one section.

A section is a few blocks: a `Table`, label/value `Fields`, a `Chart` (a series of exact values through time, drawn
by the page as an inline SVG) and `Note`s.  Every number in a block is text already formatted by the CLI's own
renderers (`cli/render.py`, `cli/views.py`), so the page shows exactly what the terminal shows; the page never does
arithmetic on money.  A section may also carry `data`: the document `--json` prints for the same read (exact
decimal strings), for API clients.

A `Snapshot` is what the board knows of a section: the last good read (`doc`) and when it was made (`fresh_at`),
and, while reads fail, the `Failure`: which source (the store, the exchange) and since when.  A
stale section keeps showing its last good read, marked stale; one never read shows the failure alone, never
zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping, Union


class Source(StrEnum):
    """Where a section's data comes from (what can be down)."""

    STORE = "store"
    EXCHANGE = "exchange"
    DASHBOARD = "dashboard"  # the dashboard's own code (a bug, not an outage)


class Tone(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str = "(none)"
    align: tuple[str, ...] = ()  # per column: "left" (default) or "right"


@dataclass(frozen=True)
class Fields:
    """Label/value rows, e.g. the totals."""

    id: str
    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Point:
    at: datetime
    value: Decimal


@dataclass(frozen=True)
class Chart:
    """A series of exact values through time; `labels` are its formatted first, lowest, highest and last values."""

    id: str
    title: str
    points: tuple[Point, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Note:
    id: str
    text: str
    tone: Tone = Tone.INFO


Block = Union[Table, Fields, Chart, Note]


@dataclass(frozen=True)
class SectionDoc:
    """One read of a section: a subtitle (the environment, the time of the read...) and its blocks."""

    subtitle: str
    blocks: tuple[Block, ...]
    data: Any = None  # the `--json` document of the same read, JSON-ready (exact decimal strings)


@dataclass(frozen=True)
class Failure:
    """The section's reads fail: the latest error, the source it came from, since when (the first failure in a row)."""

    source: Source
    error: str
    since: datetime
    last: datetime


@dataclass(frozen=True)
class Snapshot:
    section: str
    title: str
    version: int  # raised by every read, good or failed: the page re-renders only when it changes
    doc: SectionDoc | None = None  # the last good read (None: none yet)
    fresh_at: datetime | None = None  # when that read was made
    failure: Failure | None = None  # None: the latest read succeeded
    read_ms: int | None = None  # how long the last good read took

    @property
    def stale(self) -> bool:
        return self.failure is not None


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, as the CLI's JSON writes times."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def block_json(block: Block) -> dict[str, Any]:
    """The page's view of one block (every value text)."""
    if isinstance(block, Table):
        return {"kind": "table", "id": block.id, "title": block.title, "headers": list(block.headers),
                "rows": [list(r) for r in block.rows], "empty": block.empty, "align": list(block.align)}
    if isinstance(block, Fields):
        return {"kind": "fields", "id": block.id, "title": block.title, "rows": [list(r) for r in block.rows]}
    if isinstance(block, Chart):
        return {"kind": "chart", "id": block.id, "title": block.title, "note": block.note,
                "labels": dict(block.labels),
                "points": [[iso(p.at), str(p.value)] for p in block.points]}
    return {"kind": "note", "id": block.id, "text": block.text, "tone": block.tone.value}


def snapshot_json(snap: Snapshot, now: datetime, *, with_data: bool = False) -> dict[str, Any]:
    """A snapshot as the page reads it (`now` is the server's clock, so ages need no agreement of clocks)."""
    doc = snap.doc
    out: dict[str, Any] = {
        "section": snap.section, "title": snap.title, "version": snap.version, "now": iso(now),
        "fresh_at": iso(snap.fresh_at), "stale": snap.stale, "read_ms": snap.read_ms,
        "failure": None if snap.failure is None else {
            "source": snap.failure.source.value, "error": snap.failure.error, "since": iso(snap.failure.since),
            "last": iso(snap.failure.last)},
        "subtitle": doc.subtitle if doc else None,
        "blocks": [block_json(b) for b in doc.blocks] if doc else [],
    }
    if with_data:
        out["data"] = doc.data if doc else None
    return out
