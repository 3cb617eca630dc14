"""Recording and replaying market data: the recorder, the recording format, the reader and the replay feed.

It sits on `marketdata` (it writes down what a live feed parsed, and plays it back as the same typed events behind
the same `MarketFeed` interface) and below `trading`.  `docs/recording.md` specifies the format; `schema.py` is its
code.  `history.py` downloads Kalshi's own trades and candles next to a recording.
"""
