"""`python -m kalshi_trading` runs the same CLI as the `kalshi` console script."""

from kalshi_trading.cli.main import run

if __name__ == "__main__":
    run()
