"""Which fee schedule a market trades under: the series' fee type, unless its event overrides it."""

from __future__ import annotations

from decimal import Decimal

from kalshi_trading.models import Market
from kalshi_trading.money import ONE


class FeeSchedule:
    """Looks up (fee_type, multiplier) per event once per process; names say it goes to the network."""

    def __init__(self, client):
        self.client = client
        self._by_event: dict[str, tuple[str, Decimal]] = {}

    def for_market(self, market: Market) -> tuple[str, Decimal]:
        cached = self._by_event.get(market.event_ticker)
        if cached is not None:
            return cached
        event = self.client.get_event(market.event_ticker, with_nested_markets=False)
        series = self.client.get_series(event.series_ticker)
        fee_type = event.fee_type_override or series.fee_type
        multiplier = event.fee_multiplier_override
        if multiplier is None:
            multiplier = series.fee_multiplier
        result = (fee_type, multiplier if multiplier is not None else ONE)
        self._by_event[market.event_ticker] = result
        return result
