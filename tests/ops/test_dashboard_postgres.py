"""The dashboard over a PostgreSQL store (the storage port, no private files): the portfolio page shows what
`kalshi portfolio --json` shows on the same store; with the server killed the page says the store is down and
since when and keeps the last figures; the exchange-only page stays fresh; a restarted server is read again."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kalshi_trading.models import BookSide, OrderRequest
from tests.e2e.conftest import cent_market, client_for
from tests.ops.conftest import sim_env
from tests.ops.pages import cli, cli_json, eventually, expected_positions, expected_totals, fields, open_page, table
from tests.store import pg_server


@pytest.fixture
def cluster():
    why = pg_server.unavailable()
    if why is not None:
        from tests.conftest import require_store_server

        require_store_server("PostgreSQL", why)
    with pg_server.throwaway_cluster() as c:
        yield c


def test_the_portfolio_page_reads_a_postgresql_store_and_says_when_it_goes_down(sim, tmp_path, cluster, browser,
                                                                                page, dashboards, shoot):
    url = cluster.url(cluster.create_database())
    env = sim_env(sim, tmp_path, KALSHI_STORE=url)
    t = cent_market(sim)
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    bob.create_order(OrderRequest(t, BookSide.ASK, D(6), D("0.40")))
    assert cli(env, "order", "limit", t, "yes", "6", "40", "--yes").exit_code == 0
    bob.create_order(OrderRequest(t, BookSide.BID, D(2), D("0.47")))
    assert cli(env, "order", "limit", t, "no", "2", "53", "--tif", "ioc", "--yes").exit_code == 0
    assert cli(env, "order", "limit", t, "yes", "1", "5", "--yes").exit_code == 0  # rests
    doc = cli_json(env, "portfolio")
    assert D(doc["realized_pnl"]) == D("0.14") and doc["positions"][0]["position"] == "4.00"
    board = dashboards(env)
    open_page(page, board.url, "portfolio")
    assert fields(page, "totals") == expected_totals(doc)
    assert table(page, "positions") == expected_positions(doc)
    shoot(page, "portfolio-postgresql")
    orders = browser.new_page()
    open_page(orders, board.url, "orders")
    shown = table(page, "positions")

    cluster.kill()
    page.wait_for_selector("#freshness.stale", timeout=90_000)
    line = page.inner_text("#freshness")
    assert line.startswith("STALE: store unavailable since ") and "showing the read of" in line, line
    assert table(page, "positions") == shown and fields(page, "totals") == expected_totals(doc)  # never zeros
    page.wait_for_selector('[data-source="store"].down')
    page.wait_for_selector('nav a[data-nav="portfolio"].stale')  # every page's link says whether it is stale
    assert page.get_attribute('nav a[data-nav="portfolio"]', "title").startswith("stale since ")
    assert page.locator('nav a[data-nav="orders"].stale').count() == 0
    shoot(page, "portfolio-store-down")
    assert orders.locator("#freshness.fresh").count() == 1  # the exchange's own page reads on
    assert len(table(orders, "orders")) == 1

    cluster.start()
    page.wait_for_selector("#freshness.fresh", timeout=90_000)
    eventually(lambda: fields(page, "totals"), expected_totals(cli_json(env, "portfolio")), "totals after restart")
    orders.close()
    bob.close()
