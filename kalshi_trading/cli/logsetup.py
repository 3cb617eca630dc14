"""Logging handlers, set up by the CLI only (library code just calls getLogger).

- `kalshi.log`: every INFO line of the package (one line per HTTP attempt, ...).
- `trades.log`: the `kalshi_trading.trades` logger: every submission, fill and cancel, one line each.
- `errors.log`: WARNING and above.
All rotate daily at UTC midnight, keep `KALSHI_LOG_RETENTION_DAYS` files, and write ISO-8601 UTC times.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from pathlib import Path

from kalshi_trading.config import Settings

TRADES_LOGGER = "kalshi_trading.trades"


class UtcFormatter(logging.Formatter):
    """Times as RFC 3339 UTC with milliseconds (`datefmt` is not used)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        t = time.gmtime(record.created)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"


def _handler(path: Path, level: int, retention: int) -> logging.Handler:
    handler = logging.handlers.TimedRotatingFileHandler(
        path, when="midnight", backupCount=retention, utc=True, encoding="utf-8", delay=True
    )
    handler.setLevel(level)
    handler.setFormatter(UtcFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
    try:
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        retention = settings.log_retention_days
        package.addHandler(_handler(settings.log_dir / "kalshi.log", logging.DEBUG, retention))
        package.addHandler(_handler(settings.log_dir / "errors.log", logging.WARNING, retention))
        trades.addHandler(_handler(settings.log_dir / "trades.log", logging.INFO, retention))
    except OSError as exc:
        # An unwritable log directory must not stop trading; say so once on stderr.
        import sys

        print(f"warning: cannot write logs to {settings.log_dir}: {exc.strerror}", file=sys.stderr)
    if debug:
        stderr = logging.StreamHandler()
        stderr.setFormatter(UtcFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        stderr._kalshi = True  # type: ignore[attr-defined]
        package.addHandler(stderr)
