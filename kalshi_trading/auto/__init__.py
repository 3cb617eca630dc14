"""The bot: pricing, strategies, the risk engine and its configuration (the loop comes later).

`auto` may import `trading`, `api` and the domain; never `cli` or `sim`.
"""
