"""Outside-data collectors: Open-Meteo weather members, bitcoin spot from five venues, Crypto.com candles/index/stream.

- `cycle.Collector`: one cycle of everything, concurrently (`collect(climate_days) -> CycleSample`).
- `weather`, `bitcoin`, `tickers`: the sources in their documented shapes (data-sources.md sections 1 and 2).
- `cryptocom_ws.CryptoComStream`: the pushed ticker and index, heartbeats answered.
- `fetch`: one request, and every way it can fail turned into a `SourceHealth`.

A source that fails never raises out of a collector: it is logged with the reason and skipped for the cycle.
"""
