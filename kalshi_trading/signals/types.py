"""The facts the signal pipeline shares: a source's health in one cycle, a model's probability, a signal.

Probabilities are `Decimal` rounded to 4 places at the model's boundary (numpy floats stay inside the model code);
prices are dollars on the exchange's grid; edges are whole basis points. Times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

PROB_PLACES = Decimal("0.0001")


class Direction(StrEnum):
    """What a signal says to do."""

    BUY_YES = "buy_yes"
    BUY_NO = "buy_no"
    NONE = "none"


class Family(StrEnum):
    """The market families the pipeline models."""

    WEATHER = "weather"      # KXHIGHNY daily high-temperature brackets
    BTC15M = "btc15m"        # KXBTC15M 15-minute up/down
    BTCD = "btcd"            # KXBTCD hourly ladder


class SourceStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"        # network error, timeout, 4xx/5xx, error envelope
    GARBAGE = "garbage"      # answered, but not in the documented shape
    STALE = "stale"          # answered, but older than the source's age limit
    SKIPPED = "skipped"      # not asked this cycle


@dataclass(frozen=True)
class SourceHealth:
    """How one outside source answered in one cycle."""

    source: str              # e.g. "coinbase", "kraken", "open-meteo-ensemble:gfs025"
    status: SourceStatus
    at: datetime
    latency_ms: int | None = None
    reason: str | None = None  # why it was not OK, one line, never a secret


@dataclass(frozen=True)
class Probability:
    """A model's probability that a contract settles YES, with how much to trust it."""

    p_yes: Decimal           # strictly between 0 and 1
    confidence: Decimal      # 0..1
    model: str               # e.g. "weather-ensemble-kde", "btc15m-asian-digital"
    inputs: tuple[tuple[str, str], ...] = ()  # a summary: sources used, member count, sigma, ...


@dataclass(frozen=True)
class Signal:
    """One evaluation of one market: the model against the market, at one moment."""

    ticker: str
    family: Family
    at: datetime
    model: str
    model_prob: Decimal              # P(YES) by the model
    market_mid: Decimal | None       # P(YES) by the market's mid, None with a one-sided/empty book
    trade_price: Decimal | None      # the price to trade at in `direction` (YES ask for buy_yes, NO ask for buy_no)
    edge_bps: int | None             # (fair value of the side - trade_price - taker fee per contract) in bps of $1
    confidence: Decimal
    direction: Direction
    inputs: tuple[tuple[str, str], ...] = field(default=())

    @property
    def actionable(self) -> bool:
        return self.direction is not Direction.NONE
