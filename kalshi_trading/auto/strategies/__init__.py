"""Strategies: objects that turn events and a market snapshot into the orders they want working."""

from kalshi_trading.auto.strategies.base import Strategy
from kalshi_trading.auto.strategies.edge import EdgeTaker
from kalshi_trading.auto.strategies.market_maker import MarketMaker

__all__ = ["Strategy", "MarketMaker", "EdgeTaker"]
