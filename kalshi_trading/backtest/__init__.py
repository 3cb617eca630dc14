"""Backtests: a recording replayed through the bot's own loop against an in-process, queue-aware exchange port
(`engine.run_backtest`, `kalshi backtest`; README "Backtesting")."""
