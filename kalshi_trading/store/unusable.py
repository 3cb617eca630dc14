"""A stand-in for a journal file that cannot be used, so that reading the exchange and cancelling go on."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from kalshi_trading.errors import JournalError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.trading.journal import HistoryEntry, SyncResult
from kalshi_trading.trading.journal_orders import OrderEvent

log = logging.getLogger(__name__)


class UnusableJournal:
    """Stands in for a journal file that cannot be used (damaged, foreign, newer, read-only, not a file...).

    It holds nothing open, so the file is never touched.  Reading the exchange and cancelling go on without it
    (what would have been recorded is logged instead); everything that needs the journal, above all the
    write-ahead intent that must precede every order, raises the JournalError that made it unusable.
    """

    def __init__(self, path: Path, error: JournalError):
        self.path = Path(path)
        self.error = error

    def _refuse(self, what: str) -> JournalError:
        return JournalError(f"{what} needs the journal, which is unusable: {self.error}", path=self.path)

    def record_intent(self, client_order_id: str, *args: object, **kwargs: object) -> OrderEvent:
        raise self._refuse("placing an order")

    def record_outcome(self, client_order_id: str, kind: str, **values: object) -> None:
        log.warning("journal unusable; not recorded: order %s %s %s", client_order_id, kind,
                    {k: v for k, v in values.items() if v is not None})

    def record_error(self, kind: str, message: str, context: dict | None = None) -> None:
        log.warning("journal unusable; not recorded: %s: %s", kind, message)

    def pending_intents(self) -> list[OrderEvent]:
        return []  # unknowable: nothing is settled (or marked) while the journal cannot be read

    def not_placed_intents(self, since: datetime) -> list[OrderEvent]:
        return []

    def order_events(self, *args: object, **kwargs: object) -> list[OrderEvent]:
        raise self._refuse("reading order events")

    def sync(self, client: object) -> SyncResult:
        raise self._refuse("syncing fills")

    def fills(self, *args: object, **kwargs: object) -> list[Fill]:
        raise self._refuse("reading fills")

    def settlements(self, *args: object, **kwargs: object) -> list[Settlement]:
        raise self._refuse("reading settlements")

    def history(self, *args: object, **kwargs: object) -> list[HistoryEntry]:
        raise self._refuse("history")

    def export_trades_csv(self, *args: object, **kwargs: object) -> int:
        raise self._refuse("exporting trades")

    def close(self) -> None:
        pass
