"""Reading a dashboard page in the browser, and the CLI's `--json` documents to compare it with."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.cli.render import cents, count, usd


def cli(env: dict[str, str], *args: str):
    """The real CLI in-process on the same settings as the dashboard (its environment)."""
    result = CliRunner().invoke(app, list(args), env=env)
    return result


def cli_json(env: dict[str, str], *args: str) -> dict:
    result = cli(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def open_page(page, url: str, name: str, token: str = "") -> None:
    """Open a page and wait until its section is fresh (read and shown)."""
    page.goto(f"{url}/{name}" + (f"?token={token}" if token else ""))
    page.wait_for_selector("#freshness.fresh")
    page.evaluate("window.__kalshiLoaded = true")  # gone if the page ever reloads


def not_reloaded(page) -> bool:
    return page.evaluate("window.__kalshiLoaded === true")


def table(page, block: str) -> list[list[str]]:
    """The body rows of a table block, as the page shows them."""
    return page.eval_on_selector_all(f'[data-block="{block}"] table tbody tr',
                                     "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def fields(page, block: str) -> dict[str, str]:
    """A fields block as label -> value."""
    rows = page.eval_on_selector_all(f'[data-block="{block}"] table tr',
                                     "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])")
    return dict(rows)


def text(page, selector: str) -> str:
    return page.inner_text(selector)


def money(value: str | None, signed: bool = False) -> str:
    """A `--json` money string as the CLI's tables show it."""
    return usd(None if value is None else Decimal(value), signed)


def position_text(value: str) -> str:
    pos = Decimal(value)
    if pos == 0:
        return "flat"
    return f"{count(abs(pos))} {'YES' if pos > 0 else 'NO'}"


def expected_totals(doc: dict) -> dict[str, str]:
    """`kalshi portfolio`'s totals table, from its `--json` document."""
    return {"cash available": money(doc["balance"]), "portfolio value": money(doc["portfolio_value"]),
            "realized P&L": money(doc["realized_pnl"], True), "unrealized P&L": money(doc["unrealized_pnl"], True),
            "fees paid": money(doc["fees_paid"]), "net P&L": money(doc["net_pnl"], True)}


def expected_positions(doc: dict) -> list[list[str]]:
    return [[p["ticker"], position_text(p["position"]), cents(Decimal(p["mark"])) if p["mark"] else "-",
             p["mark_source"], money(p["cost_basis"]), money(p["market_value"]), money(p["unrealized_pnl"], True)]
            for p in doc["positions"]]


def eventually(read, expected, what: str, timeout: float = 60.0):
    """Wait until `read()` equals `expected` (the page updates by itself); the last value otherwise."""
    import time

    end = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() > end:
            assert value == expected, f"{what}: {value!r} != {expected!r}"
            return value
        time.sleep(0.1)
