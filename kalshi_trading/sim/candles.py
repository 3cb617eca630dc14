"""Per-minute candles built from trades and sampled quotes; coarser periods are aggregated on read.

A row is a list: [bid o,h,l,c, ask o,h,l,c, price o,h,l,c, price x count sum, volume, open interest]
(prices in pu, counts in cu; price entries None for a minute without trades, quote entries None for a
minute without a quote sample; an empty ask is sampled as PU, as `Book.top` shows it).  Finished minutes are
handed to the store (`flush`) and read back from it on demand, so start-up never loads them.
"""

from __future__ import annotations

from typing import Iterable

MINUTE_S = 60


def _bump(row: list, at: int, value: int) -> None:
    if row[at] is None:
        row[at] = row[at + 1] = row[at + 2] = row[at + 3] = value
    else:
        if value > row[at + 1]:
            row[at + 1] = value
        if value < row[at + 2]:
            row[at + 2] = value
        row[at + 3] = value


class Candles:
    def __init__(self) -> None:
        self.live: dict[tuple[str, int], list] = {}

    def _row(self, ticker: str, ts_ms: int) -> list:
        end = (ts_ms // 1000 // MINUTE_S + 1) * MINUTE_S
        key = (ticker, end)
        row = self.live.get(key)
        if row is None:
            row = self.live[key] = [None] * 12 + [0, 0, 0]
        return row

    def trade(self, ticker: str, ts_ms: int, price: int, count: int) -> None:
        row = self._row(ticker, ts_ms)
        _bump(row, 8, price)
        row[12] += price * count
        row[13] += count

    def quote(self, ticker: str, ts_ms: int, bid: int, ask: int, open_interest: int) -> None:
        row = self._row(ticker, ts_ms)
        _bump(row, 0, bid)
        _bump(row, 4, ask)
        row[14] = open_interest

    def flush(self, now_ms: int) -> list[tuple[str, int, list]]:
        """Every row (for the store to upsert); finished minutes leave memory."""
        rows = [(t, end, row) for (t, end), row in self.live.items()]
        current = now_ms // 1000
        self.live = {k: v for k, v in self.live.items() if k[1] > current}
        return rows

    def live_rows(self, ticker: str) -> dict[int, list]:
        return {end: row for (t, end), row in self.live.items() if t == ticker}


def aggregate(minutes: dict[int, list], start_s: int, end_s: int,
              period_min: int) -> list[tuple[int, list, int | None]]:
    """Fold minute rows into period rows: [(end_period_ts, row, previous close price)] ascending."""
    period = period_min * MINUTE_S
    buckets: dict[int, list] = {}
    for end in sorted(minutes):
        row = minutes[end]
        bucket_end = -(-end // period) * period
        if bucket_end < start_s or bucket_end - period >= end_s:
            continue
        agg = buckets.get(bucket_end)
        if agg is None:
            buckets[bucket_end] = list(row)
            continue
        for base in (0, 4, 8):
            if row[base] is None:
                continue
            if agg[base] is None:
                agg[base:base + 4] = row[base:base + 4]
            else:
                agg[base + 1] = max(agg[base + 1], row[base + 1])
                agg[base + 2] = min(agg[base + 2], row[base + 2])
                agg[base + 3] = row[base + 3]
        agg[12] += row[12]
        agg[13] += row[13]
        if row[0] is not None:  # open interest is sampled with the quote; trade-only minutes have none
            agg[14] = row[14]
    out: list[tuple[int, list, int | None]] = []
    previous = None
    for end in sorted(buckets):
        row = buckets[end]
        out.append((end, row, previous))
        if row[11] is not None:
            previous = row[11]
    return out


def merge(stored: Iterable[tuple[int, list]], live: dict[int, list]) -> dict[int, list]:
    rows = {end: row for end, row in stored}
    rows.update(live)
    return rows
