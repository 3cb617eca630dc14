"""The store URL (`KALSHI_STORE`): which storage backend holds the records, and where.

    sqlite:///var/lib/kalshi/prod/      a directory (absolute; `sqlite:////var/...` means the same)
    sqlite://data/prod/                 a directory relative to the working directory (`~` is the home directory)

    postgresql://user@host:port/db      PostgreSQL (libpq's URI: `?sslmode=...` and the PG* environment
    postgresql://                       variables fill in what the URL leaves out; `postgres://` too)
    dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix=kalshi_
                                        DynamoDB in a region (boto3's usual credential chain); `endpoint` only
                                        for a local server, `prefix` (default `kalshi_`) starts every table name

Everything after `sqlite://` is the directory's path, taken literally (no percent-decoding, no query): any path
can be written.  The default is `sqlite://<data dir>/<env>/` (`config.Settings.store_url_text`).
A URL is shown only masked
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


DEFAULT_PREFIX = "kalshi_"
_PREFIX = re.compile(r"[A-Za-z0-9_.-]{0,64}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+|local")


class Backend(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    DYNAMODB = "dynamodb"


_SUPPORTED = frozenset({Backend.SQLITE, Backend.POSTGRESQL, Backend.DYNAMODB})  # an adapter adds its backend here
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
    region: str | None = None  # dynamodb: the AWS region
    endpoint: str | None = None  # dynamodb: a local server's URL (None: AWS's own endpoint for the region)
    prefix: str = DEFAULT_PREFIX  # dynamodb: the start of every table name

    @property
    def conninfo(self) -> str:
        """postgresql: what libpq connects with (the URL as written: it may hold a password; never show it)."""
        return self.text

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
                          "use sqlite://, postgresql:// or dynamodb://")
    if backend not in _SUPPORTED:
        raise ConfigError(f"{shown}: {_NAMES[backend]} storage is not supported yet", VARIABLE, _FIX)
    rest = text[match.end():]
    if backend is Backend.POSTGRESQL:
        return _postgresql(text, rest, shown)
    if backend is Backend.DYNAMODB:
        return _dynamodb(text, rest, shown)
    return StoreURL(backend, shown, _sqlite_directory(rest, shown, cwd), text)


def _postgresql(text: str, rest: str, shown: str) -> StoreURL:
    """libpq parses the URI itself (when it connects); here only what it would reject for sure."""
    if rest != rest.strip() or any(ch.isspace() for ch in rest):
        raise ConfigError(f"{shown!r} has spaces in it", VARIABLE, "write postgresql://user@host:port/database")
    return StoreURL(Backend.POSTGRESQL, shown, None, "postgresql://" + rest)


def _dynamodb(text: str, rest: str, shown: str) -> StoreURL:
    from urllib.parse import parse_qs, urlsplit

    fix = "write dynamodb://REGION (e.g. dynamodb://us-east-1?prefix=kalshi_, or add &endpoint=http://127.0.0.1:8000)"
    parts = urlsplit("dynamodb://" + rest)
    region = parts.hostname or ""
    if parts.path not in ("", "/") or parts.username or parts.password or parts.port or parts.fragment:
        raise ConfigError(f"{shown!r}: a DynamoDB URL is the region and a query, nothing else", VARIABLE, fix)
    if not _REGION.fullmatch(region):
        raise ConfigError(f"{shown!r} names no AWS region", VARIABLE, fix)
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigError(f"{shown!r} has a malformed query", VARIABLE, fix) from None
    unknown = sorted(set(query) - {"endpoint", "prefix"})
    if unknown:
        raise ConfigError(f"{shown!r}: unknown parameter {unknown[0]!r} (credentials come from boto3's chain: "
                          "AWS_ACCESS_KEY_ID, ~/.aws, an instance role)", VARIABLE, fix)
    if any(len(v) != 1 for v in query.values()):
        raise ConfigError(f"{shown!r} repeats a parameter", VARIABLE, fix)
    endpoint = query.get("endpoint", [None])[0]
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise ConfigError(f"{shown!r}: the endpoint {endpoint!r} is not an http(s) URL", VARIABLE, fix)
    prefix = query.get("prefix", [DEFAULT_PREFIX])[0]
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(f"{shown!r}: the prefix {prefix!r} is not a table-name start (letters, digits, _ . -)",
                          VARIABLE, fix)
    return StoreURL(Backend.DYNAMODB, shown, None, text, region=region, endpoint=endpoint, prefix=prefix)


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
