"""The store URL (`KALSHI_STORE`): which storage backend holds the records, and where.

    sqlite:///var/lib/kalshi/prod/      a directory (absolute; `sqlite:////var/...` means the same)
    sqlite://data/prod/                 a directory relative to the working directory (`~` is the home directory)

Everything after `sqlite://` is the directory's path, taken literally (no percent-decoding, no query): any path
can be written.  The default is `sqlite://<data dir>/<env>/` (`config.Settings.store_url_text`).
`postgresql://` and `dynamodb://` are recognised and refused as not supported yet.  A URL is shown only masked
(`masked`): a password, or a query value whose name looks like a secret, becomes `***`; the URL as written is
never printed or logged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from kalshi_trading.errors import ConfigError

VARIABLE = "KALSHI_STORE"
_FIX = "write sqlite:///path/to/a/directory/ (or leave KALSHI_STORE unset for the data directory)"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# a query parameter whose name looks like a secret (libpq's ?password=, an access key, a token)
_SECRET_QUERY = re.compile(r"([?&;][^=&;#]*(?:password|secret|token|key|credential|signature)[^=&;#]*=)[^&;#]*",
                           re.IGNORECASE)


class Backend(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    DYNAMODB = "dynamodb"


_SUPPORTED = frozenset({Backend.SQLITE})
_NAMES = {Backend.SQLITE: "SQLite", Backend.POSTGRESQL: "PostgreSQL", Backend.DYNAMODB: "DynamoDB"}
_ALIASES = {"sqlite": Backend.SQLITE, "sqlite3": Backend.SQLITE, "postgresql": Backend.POSTGRESQL,
            "postgres": Backend.POSTGRESQL, "postgresql+psycopg": Backend.POSTGRESQL,
            "dynamodb": Backend.DYNAMODB}


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL.  `text` (as written) may hold a password: it is kept out of `repr`; show `masked`."""

    backend: Backend
    masked: str
    directory: Path | None = None  # sqlite: the directory holding the files
    text: str = field(default="", repr=False, compare=False)

    def __str__(self) -> str:
        return self.masked


def mask_url(text: str) -> str:
    """`text` with its password and secret-looking query values replaced by `***` (safe to print or log).

    Errs on the side of hiding: everything between `user:` and the last `@` is the password."""
    match = _SCHEME.match(text)
    if match is None:
        return "***" if "@" in text else text  # not a URL; an @ may follow a password
    if match.group(1).lower() in ("sqlite", "sqlite3"):
        return text  # a path: nothing secret in it
    head, rest = match.group(0), text[match.end():]
    if "@" in rest:
        userinfo, host = rest.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in userinfo else rest
    return _SECRET_QUERY.sub(r"\1***", head + rest)


def parse_store_url(text: str, cwd: Path | None = None) -> StoreURL:
    """Parse KALSHI_STORE; every mistake is a ConfigError naming the variable (the URL shown masked)."""
    shown = mask_url(text)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise ConfigError(f"{shown!r} contains control characters", VARIABLE, _FIX)
    match = _SCHEME.match(text)
    if match is None:
        raise ConfigError(f"{shown!r} is not a store URL", VARIABLE, _FIX)
    backend = _ALIASES.get(match.group(1).lower())
    if backend is None:
        raise ConfigError(f"unknown storage backend {match.group(1)!r} in {shown!r}", VARIABLE,
                          "use sqlite:// (postgresql:// and dynamodb:// are planned)")
    if backend not in _SUPPORTED:
        raise ConfigError(f"{shown}: {_NAMES[backend]} storage is not supported yet (only sqlite:// today)",
                          VARIABLE, _FIX)
    return StoreURL(backend, shown, _sqlite_directory(text[match.end():], shown, cwd), text)


def _sqlite_directory(rest: str, shown: str, cwd: Path | None) -> Path:
    if not rest.strip():
        raise ConfigError(f"{shown!r} names no directory", VARIABLE, _FIX)
    if rest != rest.strip():
        raise ConfigError(f"{shown!r} has spaces around its path", VARIABLE, "remove them")
    if rest.startswith("//"):
        rest = "/" + rest.lstrip("/")  # sqlite:////abs (SQLAlchemy's spelling) is sqlite:///abs
    path = Path(rest).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return path
