"""The signal pipeline: market discovery, outside-data collectors, probability models and the paper-trading engine.

Layer: between `trading/` (which it places orders through) and `cli/`. `types.py` holds the facts every part shares.
"""
