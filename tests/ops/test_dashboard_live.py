"""The dashboard live, in Chromium, on the real simulator: an order and a fill show up without a reload; with the
exchange down the page says what is stale and since when and keeps the last figures (never zeros), then recovers.
Screenshots: tests/artifacts/."""

from __future__ import annotations

import threading
from decimal import Decimal as D

from kalshi_trading.models import BookSide, OrderRequest, TimeInForce
from tests.e2e.conftest import cent_market, client_for
from tests.e2e.proxy import Action, Proxy
from tests.ops.conftest import sim_env
from tests.ops.pages import (
    cli_json,
    eventually,
    expected_positions,
    expected_totals,
    fields,
    not_reloaded,
    open_page,
    table,
)


def test_an_order_and_a_fill_arrive_without_reloading(sim, tmp_path, browser, page, dashboards, shoot):
    env = sim_env(sim, tmp_path)
    t = cent_market(sim)
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    me = client_for(sim.base_url, sim.demo_account)
    bob.create_order(OrderRequest(t, BookSide.ASK, D(5), D("0.40")))
    board = dashboards(env)
    open_page(page, board.url, "portfolio")
    assert table(page, "positions") == [] and fields(page, "totals")["realized P&L"] == "$0.00"
    orders_tab = browser.new_page()
    open_page(orders_tab, board.url, "orders")
    assert table(orders_tab, "orders") == []

    resting = me.create_order(OrderRequest(t, BookSide.BID, D(2), D("0.20")))
    orders_tab.wait_for_function("id => document.querySelector('[data-block=orders]').textContent.includes(id)",
                                 arg=resting.order_id)
    assert table(orders_tab, "orders")[0][:4] == [resting.order_id, t, "buy YES @ 20¢", "2"]
    me.create_order(OrderRequest(t, BookSide.BID, D(3), D("0.40"), time_in_force=TimeInForce.IOC))  # a fill
    page.wait_for_function("t => [...document.querySelectorAll('[data-block=positions] td')]"
                           ".some(c => c.textContent === t)", arg=t)
    doc = cli_json(env, "portfolio")
    assert expected_positions(doc)[0][:2] == [t, "3 YES"]
    eventually(lambda: table(page, "positions"), expected_positions(doc), "positions after the fill")
    eventually(lambda: fields(page, "totals"), expected_totals(doc), "totals after the fill")
    assert not_reloaded(page) and not_reloaded(orders_tab)
    shoot(page, "portfolio-after-fill")
    me.cancel_order(resting.order_id)
    orders_tab.wait_for_selector('[data-block="orders"] .empty')
    assert not_reloaded(orders_tab)
    shoot(orders_tab, "orders-after-cancel")
    orders_tab.close()
    bob.close()
    me.close()


def test_with_the_exchange_down_the_page_says_what_is_stale_and_since_when(sim, tmp_path, page, dashboards, shoot):
    down = threading.Event()
    down.set()  # down from the start: nothing read yet
    proxy = Proxy(sim.base_url.split("/trade-api")[0],
                  lambda method, path, query: Action(status=503, body={"error": {"code": "down"}})
                  if down.is_set() else None).start()
    try:
        env = sim_env(sim, tmp_path, KALSHI_API_BASE=proxy.base_url)
        t = cent_market(sim)
        me = client_for(sim.base_url, sim.demo_account)
        resting = me.create_order(OrderRequest(t, BookSide.BID, D(2), D("0.20")))
        board = dashboards(env)
        page.goto(f"{board.url}/portfolio")
        page.wait_for_selector("#freshness.stale", timeout=90_000)
        line = page.inner_text("#freshness")
        assert line.startswith("STALE: exchange unavailable since ")
        assert "nothing read yet: no figures are shown" in line
        assert page.locator('[data-block="totals"]').count() == 0 and page.locator("td").count() == 0
        page.wait_for_selector('[data-source="exchange"].down')
        shoot(page, "portfolio-never-read")

        down.clear()
        open_page(page, board.url, "orders")
        before = table(page, "orders")
        assert before[0][0] == resting.order_id
        assert page.inner_text('[data-source="exchange"]').startswith("exchange: ok")

        down.set()
        page.wait_for_selector("#freshness.stale", timeout=90_000)
        line = page.inner_text("#freshness")
        assert line.startswith("STALE: exchange unavailable since ") and "showing the read of" in line
        assert table(page, "orders") == before  # the last good read stays, marked stale: never zeros
        assert page.eval_on_selector("main", "m => m.classList.contains('is-stale')")
        page.wait_for_selector('[data-source="exchange"].down')
        assert page.inner_text('[data-source="exchange"]').startswith("exchange: DOWN since ")
        assert not_reloaded(page)
        shoot(page, "orders-exchange-down")

        down.clear()
        page.wait_for_selector("#freshness.fresh", timeout=90_000)
        assert table(page, "orders") == before and not_reloaded(page)
        me.close()
    finally:
        proxy.stop()
