"""The documented forms of Kalshi's tickers and ids, checked before any of them reaches a request.

Each validator takes what a user typed (or a caller passed) and returns its canonical form, or raises
`UsageError` naming the bad value and the expected form:

- market, event and series tickers: ASCII letters, digits, `-`, `.` and `_`, starting with a letter or digit,
  at most 128 characters.  Kalshi's tickers are upper case (`KXHIGHNY-25AUG10-B89.5`), so a ticker typed in
  lower case is taken as the same ticker in upper case.
- order ids: UUIDs (`8-4-4-4-12` hex digits), compared in lower case as the exchange writes them.
- client order ids: chosen by the client (a UUID here); 1-64 ASCII letters, digits, `-`, `_`, `.` or `:`.

This is what keeps `kalshi order status ../../portfolio/balance` from ever becoming a signed request to another
path: nothing but these forms is sent, and the client still percent-encodes every path segment.
"""

from __future__ import annotations

import re

from kalshi_trading.errors import UsageError

_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

TICKER_FORM = "letters, digits, '-', '.' and '_', starting with a letter or digit, at most 128 characters"
ORDER_ID_FORM = "a UUID like 3f2a9c1e-7b4d-4e8a-9f10-2c3d4e5f6a7b"
CLIENT_ORDER_ID_FORM = "1-64 letters, digits, '-', '_', '.' or ':'"


def show(value: object, limit: int = 60) -> str:
    """A bad value as a short, single-line, printable quotation (control characters escaped)."""
    text = value if isinstance(value, str) else repr(value)
    shown = repr(text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _text(value: object, what: str, form: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{_article(what)} {what} is required ({form})")
    return value.strip()


def ticker(value: object, what: str = "market ticker") -> str:
    """A market, event or series ticker in its canonical (upper case) form."""
    text = _text(value, what, TICKER_FORM)
    if not _TICKER.fullmatch(text):  # checked before upper(): 'ı'.upper() is 'I', 'ﬀ'.upper() is 'FF'
        raise UsageError(f"{show(value)} is not {_article(what)} {what}: expected {TICKER_FORM}")
    return text.upper()


def market_ticker(value: object) -> str:
    """A market ticker such as KXHIGHNY-25AUG10-B89.5, upper case."""
    return ticker(value, "market ticker")


def event_ticker(value: object) -> str:
    """An event ticker such as KXHIGHNY-25AUG10, upper case."""
    return ticker(value, "event ticker")


def series_ticker(value: object) -> str:
    """A series ticker such as KXHIGHNY, upper case."""
    return ticker(value, "series ticker")


def order_id(value: object) -> str:
    """An exchange order id (a UUID), lower case."""
    text = _text(value, "order id", ORDER_ID_FORM)
    if not _UUID.fullmatch(text):
        raise UsageError(f"{show(value)} is not an order id: expected {ORDER_ID_FORM}")
    return text.lower()


def client_order_id(value: object) -> str:
    """A client order id as sent to the exchange (unchanged: the exchange matches it exactly)."""
    if not isinstance(value, str) or not _CLIENT_ORDER_ID.fullmatch(value):
        raise UsageError(f"{show(value)} is not a client order id: expected {CLIENT_ORDER_ID_FORM}")
    return value


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"
