"""Who wrote an order intent, and whether that writer can still be sending it.

An intent is written before its order is sent; until the writer has heard back, another process must not close
it as "not placed".  The writer is identified by host, boot, pid namespace, pid and the process's start time: a pid
alone can be reused after the process dies, but (boot, pid, start time) names one process for ever.  On Linux the
start time comes from `/proc/<pid>/stat`; where there is no `/proc` only the age of the intent decides.

`liveness(owner)` answers ALIVE, GONE or UNKNOWN (another host or pid namespace, no /proc): only GONE lets a
reconciler close an intent before its deadline.  The journal keeps the owner as a plain value
(`store.journal.IntentOwner`); naming this process and judging another are done here.
"""

from __future__ import annotations

import logging
import os
import socket
from enum import Enum
from pathlib import Path

from kalshi_trading.store.journal import IntentOwner

__all__ = ["IntentOwner", "Liveness", "current_owner", "liveness"]

log = logging.getLogger(__name__)

_PROC = Path("/proc")


class Liveness(Enum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"


def current_owner() -> IntentOwner:
    """This process, as an intent's owner."""
    pid = os.getpid()
    return IntentOwner(socket.gethostname(), _boot_id(), _pid_namespace(), pid, _start_ticks(pid))


def liveness(owner: IntentOwner | None) -> Liveness:
    """ALIVE: that very process still runs; GONE: it certainly does not; UNKNOWN: cannot tell from here."""
    if owner is None:
        return Liveness.UNKNOWN
    here = current_owner()
    if owner.host != here.host:
        return Liveness.UNKNOWN
    if owner.boot_id and here.boot_id:
        if owner.boot_id != here.boot_id:
            return Liveness.GONE  # the machine restarted since: every process of that boot has ended
        if owner.pid_ns != here.pid_ns:
            return Liveness.UNKNOWN  # another container's pid means nothing here
        if owner.start_ticks is not None:
            return _by_proc(owner)
    return _by_signal(owner.pid)


def _by_proc(owner: IntentOwner) -> Liveness:
    try:
        fields = _stat_fields(owner.pid)
    except OSError:  # /proc hides other users' processes (hidepid): cannot tell
        return Liveness.UNKNOWN
    if fields is None:
        return Liveness.GONE
    state, start = fields
    if start != owner.start_ticks or state in ("Z", "X"):
        return Liveness.GONE  # the pid now belongs to another process, or it died and awaits its parent
    return Liveness.ALIVE


def _by_signal(pid: int) -> Liveness:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return Liveness.GONE
    except PermissionError:
        return Liveness.UNKNOWN  # someone's process has that pid; perhaps ours, perhaps a reuse
    except OSError:
        return Liveness.UNKNOWN
    return Liveness.UNKNOWN  # a live pid without a start time may be a reuse: only age decides


def _stat_fields(pid: int) -> tuple[str, int] | None:
    """(state, start ticks) of a process, or None when there is no such process (OSError: cannot tell)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = text[text.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    try:
        return rest[0], int(rest[19])
    except (IndexError, ValueError):
        return None


def _start_ticks(pid: int) -> int | None:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return None
    return None if fields is None else fields[1]


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip() or None
    except OSError:
        return None


def _pid_namespace() -> int | None:
    try:
        return os.stat(_PROC / "self" / "ns" / "pid").st_ino
    except OSError:
        return None
