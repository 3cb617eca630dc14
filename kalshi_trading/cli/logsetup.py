"""Logging handlers, set up by the CLI only (library code just calls getLogger).

- `kalshi.log`: every INFO line of the package (one line per HTTP attempt, ...).
- `trades.log`: the `kalshi_trading.trades` logger: every submission, fill and cancel, one line each.
- `errors.log`: WARNING and above.
All rotate daily at UTC midnight, keep `KALSHI_LOG_RETENTION_DAYS` files, and write ISO-8601 UTC times.

`KALSHI_LOG_FORMAT=json` writes one JSON object per line instead (for log shippers): `time` (UTC ISO-8601 with
milliseconds), `level`, `logger`, `message`, and the fields a log call passes as `extra=` among `FIELDS` (market,
action, side, price, size, reason, ...: decimals as exact strings), plus `exception` with a traceback.  In both
formats the values of the settings' secrets (every `Settings` field kept out of `repr`: the key's password, the
store URL, ...) are replaced by `****` wherever they would appear.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import logging.handlers
import time
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from kalshi_trading.config import Settings

TRADES_LOGGER = "kalshi_trading.trades"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# the `extra=` fields a JSON line carries (the bot plan's market, action, prices, sizes, reason, and the alerts')
FIELDS = ("market", "action", "side", "price", "yes_price", "size", "filled", "remaining", "order_id",
          "client_order_id", "reason", "rule", "severity", "kind", "source", "bot", "strategy", "env", "code")
MASK = "****"


def secrets_of(settings: object) -> tuple[str, ...]:
    """The values never to write down: every non-empty text field of `settings` kept out of its `repr`, in nested
    settings too (the notifiers' token, webhook URL and secret); of the store URL only its password."""
    found: list[str] = []
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]  # a dataclass instance
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found += secrets_of(value)
            continue
        if f.name == "store_url" and isinstance(value, str):  # only its password: the rest names a place
            value = _url_password(value)
        if not f.repr and isinstance(value, str) and len(value) >= 4:
            found.append(value)
    return tuple(sorted(set(found), key=len, reverse=True))


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return url


class UtcFormatter(logging.Formatter):
    """Times as RFC 3339 UTC with milliseconds (`datefmt` is not used); `secrets` masked."""

    def __init__(self, fmt: str | None = None, secrets: Iterable[str] = ()):
        super().__init__(fmt)
        self.secrets = tuple(secrets)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        t = time.gmtime(record.created)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.mask(super().format(record))


def _plain(value: Any) -> Any:
    """A JSON value for an `extra=` field: exact decimals as strings, times in ISO-8601, enums by value."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


class JsonFormatter(UtcFormatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                               "message": record.getMessage()}
        for name in FIELDS:
            if name in record.__dict__:
                doc[name] = _plain(record.__dict__[name])
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return self.mask(json.dumps(doc, ensure_ascii=False))


def formatter(settings: Settings) -> logging.Formatter:
    """The settings' log format (text or json), with their secrets masked."""
    secrets = secrets_of(settings)
    if settings.log_format == "json":
        return JsonFormatter(secrets=secrets)
    return UtcFormatter(TEXT_FORMAT, secrets)


def _handler(path: Path, level: int, retention: int, fmt: logging.Formatter | None = None) -> logging.Handler:
    handler = logging.handlers.TimedRotatingFileHandler(
        path, when="midnight", backupCount=retention, utc=True, encoding="utf-8", delay=True
    )
    handler.setLevel(level)
    handler.setFormatter(fmt or UtcFormatter(TEXT_FORMAT))
    handler._kalshi = True  # type: ignore[attr-defined]
    return handler


def _remove_ours(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, "_kalshi", False):
            logger.removeHandler(handler)
            handler.close()


def configure_logging(settings: Settings, debug: bool = False) -> None:
    """(Re)install our handlers; calling it again replaces them (tests run many CLIs in one process)."""
    package = logging.getLogger("kalshi_trading")
    trades = logging.getLogger(TRADES_LOGGER)
    _remove_ours(package)
    _remove_ours(trades)
    package.setLevel(logging.DEBUG if debug else getattr(logging, settings.log_level))
    fmt = formatter(settings)
    try:
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        retention = settings.log_retention_days
        package.addHandler(_handler(settings.log_dir / "kalshi.log", logging.DEBUG, retention, fmt))
        package.addHandler(_handler(settings.log_dir / "errors.log", logging.WARNING, retention, fmt))
        trades.addHandler(_handler(settings.log_dir / "trades.log", logging.INFO, retention, fmt))
    except OSError as exc:
        # An unwritable log directory must not stop trading; say so once on stderr.
        import sys

        print(f"warning: cannot write logs to {settings.log_dir}: {exc.strerror}", file=sys.stderr)
    if debug:
        stderr = logging.StreamHandler()
        stderr.setFormatter(fmt)
        stderr._kalshi = True  # type: ignore[attr-defined]
        package.addHandler(stderr)
