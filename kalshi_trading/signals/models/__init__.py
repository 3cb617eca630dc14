"""Probability models (numpy/scipy, the `model` extra) and the edge of a probability against the book.

- `weather`: KXHIGHNY bracket probabilities from ensemble members (`event_probabilities`, `bracket_probability`).
- `btc`: KXBTC15M up/down (`updown_probability`) and the KXBTCD ladder (`ladder_probability`), with
  `estimate_volatility` from candles.
- `edge`: `edge(probability, ...) -> Signal`, net of the taker fee.
"""
