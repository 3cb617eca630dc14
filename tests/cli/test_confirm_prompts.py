"""The `[y/N]` prompts of order, market, amend and cancel on a real pty: Ctrl-C exits 130 (the README's
"interrupted"), Ctrl-D answers No (exit 0, nothing sent), `n` declines, `y` goes ahead."""

from __future__ import annotations

import os
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.pty_keys import press_ctrl_c

from kalshi_trading.models import BookSide, OrderRequest
from tests.e2e.conftest import cent_market, client_for

pexpect = pytest.importorskip("pexpect")

REPO = Path(__file__).resolve().parents[2]
PROMPT = "[y/N]: "


@pytest.fixture
def ticker(sim):
    return cent_market(sim)


@pytest.fixture
def me(sim):
    c = client_for(sim.base_url, sim.demo_account)
    yield c
    c.close()


@pytest.fixture
def kalshi(sim, tmp_path):
    """Start `kalshi ARGS...` on a pty against the simulator; returns the child at its prompt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_ENV="sim", KALSHI_API_BASE=sim.base_url, KALSHI_DATA_DIR=str(tmp_path),
               KALSHI_LOG_DIR=str(tmp_path / "logs"), NO_COLOR="1", TERM="dumb", HOME=str(tmp_path),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    children = []

    def start(*args: str):
        child = pexpect.spawn(sys.executable, ["-m", "kalshi_trading", *args], env=env, cwd=str(tmp_path),
                              encoding="utf-8", timeout=30, dimensions=(50, 200))
        children.append(child)
        child.expect_exact(PROMPT)
        return child

    yield start
    for child in children:
        if child.isalive():
            child.terminate(force=True)


def finish(child) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    out = child.before
    child.close()
    return child.exitstatus, out


def resting(me, ticker) -> list:
    return list(me.iter_orders(ticker=ticker, status="resting"))


@pytest.mark.parametrize("args", [
    ("order", "limit", "{t}", "yes", "2", "30"),
    ("order", "limit", "{t}", "no", "1.5", "0.45", "--tif", "ioc"),
    ("order", "market", "{t}", "yes", "1"),
])
def test_ctrl_c_at_an_order_prompt_exits_130_and_sends_nothing(kalshi, sim, ticker, me, args):
    bob = client_for(sim.base_url, sim.create_account(D(1000)))
    bob.create_order(OrderRequest(ticker, BookSide.ASK, D(5), D("0.60")))  # something for a market order
    child = kalshi(*[a.format(t=ticker) for a in args])
    press_ctrl_c(child)
    status, out = finish(child)
    assert status == 130, out
    assert "interrupted" in out and "Traceback" not in out and "Aborted" not in out
    assert resting(me, ticker) == [] and me.get_positions(ticker=ticker).markets == ()
    bob.close()


def test_ctrl_c_at_amend_and_cancel_prompts_exits_130_and_changes_nothing(kalshi, ticker, me):
    me.create_order(OrderRequest(ticker, BookSide.BID, D(4), D("0.30")))
    [order] = resting(me, ticker)
    for args in (("amend", order.order_id, "--price", "35"), ("cancel", order.order_id),
                 ("cancel", "--all")):
        child = kalshi(*args)
        press_ctrl_c(child)
        status, out = finish(child)
        assert status == 130, (args, out)
        assert "interrupted" in out and "Traceback" not in out
    [still] = resting(me, ticker)
    assert still.order_id == order.order_id and still.yes_price == D("0.30") and still.remaining_count == D(4)


def test_end_of_input_answers_no(kalshi, ticker, me):
    child = kalshi("order", "limit", ticker, "yes", "2", "30")
    child.sendeof()
    status, out = finish(child)
    assert status == 0 and "not sent" in out
    me.create_order(OrderRequest(ticker, BookSide.BID, D(1), D("0.20")))
    [order] = resting(me, ticker)
    child = kalshi("amend", order.order_id, "--count", "3")
    child.sendeof()
    assert finish(child)[0] == 0
    assert [o.remaining_count for o in resting(me, ticker)] == [D(1)]


def test_n_declines_and_y_goes_ahead(kalshi, ticker, me):
    me.create_order(OrderRequest(ticker, BookSide.BID, D(1), D("0.20")))
    [order] = resting(me, ticker)
    child = kalshi("amend", order.order_id, "--price", "22")
    child.sendline("n")
    status, out = finish(child)
    assert status == 0 and "not sent" in out
    assert resting(me, ticker)[0].yes_price == D("0.20")
    child = kalshi("amend", order.order_id, "--price", "22")
    child.sendline("y")
    status, out = finish(child)
    assert status == 0 and "amended" in out, out
    assert resting(me, ticker)[0].yes_price == D("0.22")
