"""The dashboard's token and who may see its pages.

- The token is random (32 bytes, URL-safe) and printed at start, or kept in a file of mode 0600 (`--token-file`:
  created with a new token when absent, so a restarted dashboard keeps it).  It is compared in constant time.
- The kill switch always needs it, sent in a header (`X-Dashboard-Token`) or the JSON body of the POST, never
  taken from a cookie: another site cannot make a browser send it (CSRF).
- Bound to loopback, the pages need no token, but the `Host` header must name a loopback host (a page of another
  site that rebinds its DNS name to 127.0.0.1 is refused).  Bound to anything else, every request needs the token:
  `X-Dashboard-Token`, `Authorization: Bearer` (a Prometheus scraper), or `?token=` (a link to open in a browser).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from pathlib import Path

from kalshi_trading.errors import ConfigError, StorageError

TOKEN_HEADER = "x-dashboard-token"
MIN_TOKEN = 16  # characters a token file must hold at least
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_matches(given: str | None, token: str) -> bool:
    """Whether `given` is the token, in time independent of where they differ."""
    return hmac.compare_digest((given or "").encode("utf-8"), token.encode("utf-8"))


def is_loopback(host: str) -> bool:
    """Whether `host` (a bind address or a Host header's name) is this machine only."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host of a `Host` header, without the port (`[::1]:8050` -> `::1`)."""
    header = header.strip()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def read_token_file(path: Path) -> tuple[str, str | None]:
    """The token kept in `path` (created, mode 0600, with a new token when absent), and a warning when other users
    may read the file.  An empty or short token is a ConfigError; a file that cannot be used, a StorageError."""
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            text = path.read_text(encoding="utf-8").strip()
        else:
            text = new_token()
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StorageError(f"cannot use the token file {path}: {reason}", path=path) from None
    if len(text) < MIN_TOKEN or not text.isprintable() or " " in text:
        raise ConfigError(f"the token file {path} must hold one token of at least {MIN_TOKEN} characters "
                          "(no spaces)", "--token-file", "delete it to have a new token made, or write one into it")
    warning = None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warning = f"the token file {path} may be read by other users; chmod 600 {path}"
    return text, warning
