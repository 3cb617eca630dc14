"""A stand-in for a journal that cannot be used, so that reading the exchange and cancelling go on."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping

from kalshi_trading.errors import JournalError
from kalshi_trading.models import Fill, Settlement
from kalshi_trading.store.journal import (
    ErrorEntry, HistoryEntry, IntentOwner, OrderEvent, SyncCursor, TradeJournal, TradeRow,
)

log = logging.getLogger(__name__)


class UnusableJournal:
    """Stands in for a journal that cannot be used (damaged, foreign, newer, read-only, not a file...).

    It holds nothing open, so the journal is never touched.  Reading the exchange and cancelling go on without it
    (what would have been recorded is logged instead); everything that needs the journal, above all the
    write-ahead intent that must precede every order, raises the JournalError that made it unusable.
    """

    def __init__(self, location: object, error: JournalError):
        self._location = str(location)
        self.error = error

    @property
    def location(self) -> str:
        return self._location

    def _refuse(self, what: str) -> JournalError:
        return JournalError(f"{what} needs the journal, which is unusable: {self.error}", path=self._location)

    # -- what goes on without the journal: logged instead of recorded, or nothing to settle

    def record_outcome(self, client_order_id: str, kind: str, **values: object) -> OrderEvent | None:
        log.warning("journal unusable; not recorded: order %s %s %s", client_order_id, kind,
                    {k: v for k, v in values.items() if v is not None})
        return None

    def mark_reconciled(self, client_order_id: str, order_id: str | None, status: str) -> OrderEvent | None:
        return self.record_outcome(client_order_id, "reconciled", order_id=order_id, status=status)

    def record_late_placement(self, client_order_id: str, order_id: str, status: str) -> OrderEvent | None:
        return self.record_outcome(client_order_id, "reconciled", order_id=order_id, status=status)

    def record_error(self, kind: str, message: str, context: Mapping[str, Any] | None = None) -> None:
        log.warning("journal unusable; not recorded: %s: %s", kind, message)

    def pending_intents(self) -> list[OrderEvent]:
        return []  # unknowable: nothing is settled (or marked) while the journal cannot be read

    def not_placed_intents(self, since: datetime) -> list[OrderEvent]:
        return []

    def known_order_ids(self, order_ids: Iterable[str]) -> set[str]:
        return set()

    def close(self) -> None:
        pass

    # -- what needs the journal: refused with the reason

    def schema_version(self) -> int:
        raise self._refuse("reading the schema version")

    def bind_exchange(self, identity: str) -> str | None:
        raise self._refuse("binding an exchange")

    def exchange_identity(self) -> str | None:
        raise self._refuse("reading the exchange identity")

    def record_intent(
        self, client_order_id: str, ticker: str, book_side: str, yes_price: Decimal, count: Decimal,
        time_in_force: str, env: str, extra: Mapping[str, Any] | None = None, *, owner: IntentOwner | None = None,
        deadline: datetime | None = None,
    ) -> OrderEvent:
        raise self._refuse("placing an order")

    def order_events(self, *args: Any, **kwargs: Any) -> list[OrderEvent]:
        raise self._refuse("reading order events")

    def strategies(self, ids: Iterable[str]) -> dict[str, str]:
        raise self._refuse("reading strategy tags")

    def record_fills(self, fills: Iterable[Fill], *, advance_cursor: bool = False) -> int:
        raise self._refuse("syncing fills")

    def record_settlements(self, settlements: Iterable[Settlement], *, advance_cursor: bool = False) -> int:
        raise self._refuse("syncing settlements")

    def sync_cursor(self, which: SyncCursor) -> datetime | None:
        raise self._refuse("syncing")

    def fills(self, *args: Any, **kwargs: Any) -> list[Fill]:
        raise self._refuse("reading fills")

    def settlements(self, *args: Any, **kwargs: Any) -> list[Settlement]:
        raise self._refuse("reading settlements")

    def history(self, *args: Any, **kwargs: Any) -> list[HistoryEntry]:
        raise self._refuse("history")

    def trade_rows(self, *args: Any, **kwargs: Any) -> Iterator[TradeRow]:
        raise self._refuse("exporting trades")

    def trade_csv(self, *args: Any, **kwargs: Any) -> Iterator[list[str]]:
        raise self._refuse("exporting trades")

    def errors(self, *args: Any, **kwargs: Any) -> list[ErrorEntry]:
        raise self._refuse("reading errors")


def _is_a_journal(stand_in: UnusableJournal) -> TradeJournal:
    return stand_in  # mypy checks here that the stand-in implements the whole port
