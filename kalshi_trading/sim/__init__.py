"""The simulated Kalshi exchange: matching engine, accounts, market catalogue, HTTP + WebSocket server, faults.

A separate program that happens to live in the package: it imports only the domain
(`kalshi_trading.money`, `kalshi_trading.errors`), never the client.  Public entry
points live in `kalshi_trading.sim.runtime`; nothing heavy is imported here.
"""
