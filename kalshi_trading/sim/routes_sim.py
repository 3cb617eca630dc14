"""Simulator-only routes (not part of Kalshi's API): the simulated underlying, for model strategies.

A client reaches these only through a pluggable underlying source that a user chooses; against the
real exchange the path answers 404 like any unknown path.
"""

from __future__ import annotations

from decimal import Decimal

from kalshi_trading.sim.clock import fmt_time
from kalshi_trading.sim.errors import not_found
from kalshi_trading.sim.params import Request

# series -> what the world simulates for it
UNDERLYINGS = ("KXBTCD", "KXBTC15M")


def underlying(app, req: Request):
    series = req.match["series"].upper()
    if series not in UNDERLYINGS:
        raise not_found("no simulated underlying for this series", series)
    ex = app.exchange
    # Model quantities are floats in the world; the wire carries decimal strings like every price.
    price = Decimal(repr(ex.world.spot)).quantize(Decimal("0.01"))
    return 200, {"series_ticker": series, "price": str(price), "volatility": str(Decimal(repr(ex.world.vol))),
                 "ts": fmt_time(ex.clock.now_ms())}
