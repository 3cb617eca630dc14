"""`kalshi menu`: an interactive numbered menu over the same services and commands as the subcommands.

The menu is a loop a trader trusts: every order is previewed and confirmed (default No), bad input is
explained and asked again, a service error is printed as `error: ...` and the menu continues, Ctrl-C
inside an action returns to the menu, and Ctrl-C at the menu, end of input or Exit leave with exit code 0.

Answers are read with plain `input()` (no click prompts), so the menu can be driven through a pty.
Non-interactive actions call the subcommands' own functions, so they print exactly what `kalshi ...` prints.
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Optional, TypeVar, overload

import typer

from kalshi_trading.cli import commands_orders, commands_portfolio
from kalshi_trading.cli.commands_market import get_market, search_markets
from kalshi_trading.cli.parsing import parse_count, parse_price
from kalshi_trading.cli.render import cents, env_badge, style
from kalshi_trading.cli.views import (
    render_book,
    render_market,
    render_markets,
    render_order_result,
    render_orders,
    render_preview,
)
from kalshi_trading.errors import KalshiError, NotFoundError, UsageError

log = logging.getLogger(__name__)

T = TypeVar("T")
BOOK_DEPTH = 10
SEARCH_LIMIT = 20
HISTORY_LIMIT = 20
DEFAULT_CSV = "trades.csv"
_NUMBER = re.compile(r"[0-9]{1,4}")  # a menu or row number: ASCII digits only (not ², ٣ or other digits)


class _Quit(Exception):
    """End of input at a prompt: leave the menu."""


class _Back(Exception):
    """A blank answer where one is needed: return to the menu without doing anything."""


@dataclass
class Session:
    """What the menu remembers between actions (offered as defaults at later prompts)."""

    ctx: typer.Context
    ticker: Optional[str] = None
    order_id: Optional[str] = None
    found: list = field(default_factory=list)

    @property
    def app(self):
        return self.ctx.obj

    @property
    def badge(self) -> str:
        return env_badge(self.app.settings.env_label)


# ------------------------------------------------------------------ prompts
def _say(text: str = "", err: bool = False) -> None:
    typer.echo(text, err=err)


def _read(prompt: str) -> str:
    """One line from the user; end of input leaves the menu."""
    try:
        return input(prompt).strip()
    except EOFError:
        raise _Quit from None


@overload
def ask(label: str, parse: Callable[[str], T], default: Optional[str] = None,
        optional: Literal[False] = False) -> T: ...


@overload
def ask(label: str, parse: Callable[[str], T], default: Optional[str] = None, *, optional: bool) -> Optional[T]: ...


def ask(label: str, parse: Callable[[str], T], default: Optional[str] = None, optional: bool = False) -> Optional[T]:
    """Ask until `parse` accepts the answer (it refuses with UsageError, which is shown).

    A blank answer takes `default`; with no default it is None when `optional`, else back to the menu.
    """
    suffix = f" [{default}]" if default else ""
    while True:
        text = _read(f"{label}{suffix}: ") or (default or "")
        if not text:
            if optional:
                return None
            raise _Back
        try:
            return parse(text)
        except UsageError as exc:
            _say(f"error: {exc}", err=True)


def confirm(question: str) -> bool:
    """y or yes sends; blank, n or no declines; anything else is asked again."""
    while True:
        answer = _read(f"{question} [y/N]: ").lower()
        if answer in ("", "n", "no"):
            return False
        if answer in ("y", "yes"):
            return True
        _say("please answer y or n", err=True)


def ask_market(s: Session):
    """A market ticker (or its row number in the last search), re-asked until the exchange knows it."""

    def fetch(text: str):
        if _NUMBER.fullmatch(text) and 1 <= int(text) <= len(s.found):
            text = s.found[int(text) - 1]
        try:
            return get_market(s.app.client, text)
        except NotFoundError:
            raise UsageError(f"no market {text.upper()} (search with option 2)") from None

    market = ask("Market ticker (or # from the last search)", fetch, s.ticker)
    s.ticker = market.ticker
    return market


def ask_order(s: Session, allow_all: bool = False):
    """An order id (re-asked until the exchange knows it); with `allow_all`, the word `all` returns None."""

    def fetch(text: str):
        if allow_all and text.lower() == "all":
            return None
        try:
            return s.app.executor.status(text)
        except NotFoundError:
            raise UsageError(f"no order {text}") from None

    label = "Order id, or 'all'" if allow_all else "Order id"
    return ask(label, fetch, s.order_id)


def csv_path(text: str) -> Path:
    """A file the export can write: refused (and asked again) unless its directory exists and is writable and
    the name is free or an ordinary file."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UsageError("a file name cannot hold control characters")
    try:
        path = Path(text).expanduser()
        if path.is_dir():
            raise UsageError(f"{path} is a directory; give a file name")
        if path.exists() and not path.is_file():
            raise UsageError(f"{path} is not a regular file; give the name of a CSV file")
        if not path.parent.is_dir():
            raise UsageError(f"directory {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write in {path.parent}")
    except OSError as exc:
        raise UsageError(f"cannot use {text!r}: {exc.strerror or exc}") from None
    except RuntimeError as exc:  # expanduser of an unknown ~user
        raise UsageError(f"cannot use {text!r}: {exc}") from None
    return path


# ------------------------------------------------------------------ actions
def show_portfolio(s: Session) -> None:
    commands_portfolio.portfolio(s.ctx, method="fifo", json_output=False)


def search(s: Session) -> None:
    query = _read("Search words (blank: all open markets): ")
    found = search_markets(s.app.client, query or None, None, None, "open", SEARCH_LIMIT)
    s.found = [m.ticker for m in found]
    _say(f"{s.badge} {len(found)} market(s)")
    _say(_numbered(render_markets(found), len(found)))


def _numbered(table_text: str, rows: int) -> str:
    """Prefix the table's data rows with 1, 2, ... so a row can be picked by number."""
    if not rows:
        return table_text
    lines = table_text.splitlines()
    head = len(lines) - rows
    width = len(str(rows))
    out = [" " * (width + 2) + line for line in lines[:head]]
    out += [f"{i:>{width}}  {line}" for i, line in enumerate(lines[head:], start=1)]
    return "\n".join(out)


def view_market(s: Session) -> None:
    market = ask_market(s)
    book = s.app.client.get_orderbook(market.ticker, BOOK_DEPTH)
    _say(f"{s.badge} {market.ticker}")
    _say(render_market(market))
    _say()
    _say(f"order book ({market.status})")
    _say(render_book(book, BOOK_DEPTH))


def _order_terms(s: Session):
    market = ask_market(s)
    from kalshi_trading.trading.executor import parse_action, parse_side

    side = ask("Contract (yes/no)", parse_side)
    action = ask("Buy or sell", parse_action, "buy")
    qty = ask("Contracts (steps of 0.01)", parse_count)
    return market, side, action, qty


def limit_order(s: Session) -> None:
    market, side, action, qty = _order_terms(s)
    price = ask("Limit price (cents 1-99, or dollars 0.xx)", parse_price)
    send_order(s, market, side, action, qty, price, "good_till_canceled")


def market_order(s: Session) -> None:
    market, side, action, qty = _order_terms(s)
    worst = ask("Worst price to accept (blank: best price + 5¢)", parse_price, optional=True)
    price = s.app.executor.market_order_price(market, side, action, qty, worst)
    _say(f"market order: immediate-or-cancel at {cents(price)} (Kalshi has no true market orders)")
    send_order(s, market, side, action, qty, price, "immediate_or_cancel")


def send_order(s: Session, market, side, action, qty, price, tif_name: str) -> None:
    """Preview, confirm (default No), place, show the result."""
    from kalshi_trading.models import TimeInForce

    tif = TimeInForce(tif_name)
    ex = s.app.executor
    preview = ex.preview(market.ticker, side, action, qty, price, time_in_force=tif, market=market)
    _say(render_preview(preview))
    question = "Send this order?"
    if preview.env == "PROD":
        question = style("REAL MONEY on PROD. ", fg="red", bold=True) + question
    if not confirm(question):
        _say("not sent")
        return
    try:
        result = ex.place_limit_order(market.ticker, side, action, qty, price, time_in_force=tif, market=market)
    except KeyboardInterrupt:
        # The order may have reached the exchange; its intent stays journalled and is reconciled on the next start.
        _say("\ninterrupted while sending: the order may have been placed; check open orders (6)", err=True)
        raise
    s.order_id = result.order_id
    _say(render_order_result(result))


def show_open_orders(s: Session) -> None:
    commands_orders.orders(s.ctx, ticker=None, json_output=False)


def cancel(s: Session) -> None:
    order = ask_order(s, allow_all=True)
    if order is None:
        if confirm(f"{s.badge} cancel ALL open orders?"):
            commands_orders.cancel(s.ctx, order_id=None, all_orders=True, ticker=None, yes=True, json_output=False)
        else:
            _say("nothing cancelled")
        return
    _say(render_orders([order]))
    if confirm(f"{s.badge} cancel order {order.order_id} ({order.ticker})?"):
        commands_orders.cancel(s.ctx, order_id=order.order_id, all_orders=False, ticker=None, yes=True,
                               json_output=False)
    else:
        _say("nothing cancelled")


def order_status(s: Session) -> None:
    order = ask_order(s)
    s.order_id = order.order_id
    commands_orders.order_status(s.ctx, order_id=order.order_id, json_output=False)


def history(s: Session) -> None:
    commands_portfolio.history(s.ctx, since=None, until=None, ticker=None, limit=HISTORY_LIMIT, json_output=False)


def export(s: Session) -> None:
    path = ask("CSV file to write", csv_path, DEFAULT_CSV)
    force = path.exists()
    if force and not confirm(f"{path} exists. Overwrite?"):
        _say("nothing written")
        return
    commands_portfolio.export_trades(s.ctx, out=path, since=None, until=None, ticker=None, lots=False,
                                     method="fifo", force=force, json_output=False)


ACTIONS: tuple[tuple[str, Callable[[Session], None]], ...] = (
    ("view portfolio summary", show_portfolio),
    ("search markets", search),
    ("view a market and its order book", view_market),
    ("place a limit order", limit_order),
    ("place a market order", market_order),
    ("view open orders", show_open_orders),
    ("cancel an order (or all)", cancel),
    ("check order status", order_status),
    ("view recent trade history", history),
    ("export trades to CSV", export),
)


# ------------------------------------------------------------------ the loop
def render_menu(badge: str) -> str:
    lines = ["", f"{badge} kalshi menu"]
    lines += [f"  {number:>2}  {label}" for number, (label, _) in enumerate(ACTIONS, start=1)]
    lines.append(f"  {0:>2}  exit")
    return "\n".join(lines)


def parse_choice(text: str) -> int:
    """A menu number in ASCII digits (`str.isdigit` would also take `²` or `٣`)."""
    if _NUMBER.fullmatch(text) and int(text) <= len(ACTIONS):
        return int(text)
    raise UsageError(f"{text!r} is not on the menu: choose a number from 0 to {len(ACTIONS)}")


def _os_message(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {exc.strerror}" if where and exc.strerror else str(exc)


def run_action(s: Session, number: int) -> bool:
    """Run one action; False when the user ended input and the menu should close."""
    label, action = ACTIONS[number - 1]
    try:
        action(s)
    except _Quit:
        return False
    except _Back:
        _say("(back to the menu)")
    except KeyboardInterrupt:
        _say("\n(interrupted; back to the menu)", err=True)
    except typer.Exit:  # a reused command chose to stop; the menu carries on
        pass
    except KalshiError as exc:
        log.warning("menu: %s failed: %s", label, exc)
        _say(f"error: {exc}", err=True)
    except OSError as exc:  # a file or device the action could not use (e.g. the export's target)
        log.warning("menu: %s failed: %s", label, exc)
        _say(f"error: {_os_message(exc)}", err=True)
    except Exception as exc:  # the menu is a top level: an unforeseen error is a message, and the loop goes on
        log.error("menu: %s failed", label, exc_info=True)
        if s.app.debug:
            traceback.print_exc()
        _say(f"unexpected error: {type(exc).__name__}: {exc} (details in errors.log)", err=True)
    return True


def menu(ctx: typer.Context) -> None:
    """Interactive numbered menu: portfolio, markets, orders, history and export, until you choose Exit.

    Every order is previewed and confirmed. Ctrl-C in an action returns here; Ctrl-C here, Ctrl-D or 0 leaves.

    Example:  kalshi menu
    """
    s = Session(ctx)
    badge = s.badge
    while True:
        _say(render_menu(badge))
        try:
            number = ask(f"Choose 0-{len(ACTIONS)}", parse_choice, optional=True)
        except (KeyboardInterrupt, _Quit):
            break
        if number == 0:
            break
        if number is not None and not run_action(s, number):
            break
    _say("\ngoodbye")


def register(app: typer.Typer) -> None:
    app.command("menu")(menu)
