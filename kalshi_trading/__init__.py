"""kalshi-trading: a toolkit and CLI for trading Kalshi's binary event contracts."""

__version__ = "0.1.0"
