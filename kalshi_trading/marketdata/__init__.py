"""Live market data, below the bot and the CLI: the signed WebSocket feed, the REST polling fallback behind the same
interface, wire -> typed event parsing, and the local order book.

`feed.py` holds the interface (`MarketFeed`), sequence checks and book keeping; `feed_ws.py` and `feed_poll.py` are
the two sources; `events.py` the typed events; `book.py` the local book on integer sub-units.
"""
