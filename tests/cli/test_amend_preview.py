"""`kalshi amend` previews and confirms like an order; an applied amend whose read-back fails says it was applied.

In-process (Typer's runner) against the simulator for the previews; a small loopback proxy in front of the
simulator for the read-back failures (it forwards everything, and fails reads of the order after the amend).
"""

from __future__ import annotations

import http.client
import json
import threading
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.models import BookSide, OrderRequest
from tests.e2e.conftest import cent_market, client_for


def _env(base_url: str, tmp_path) -> dict:
    return {"KALSHI_ENV": "sim", "KALSHI_API_BASE": base_url, "KALSHI_DATA_DIR": str(tmp_path),
            "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1", "HOME": str(tmp_path)}


@pytest.fixture
def run(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args, env=None: runner.invoke(app, list(args), env=env or _env(sim.base_url, tmp_path))


@pytest.fixture
def ticker(sim):
    return cent_market(sim)


@pytest.fixture
def bob(sim):
    c = client_for(sim.base_url, sim.create_account(D(1000)))
    yield c
    c.close()


@pytest.fixture
def me(sim):
    c = client_for(sim.base_url, sim.demo_account)
    yield c
    c.close()


def js(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def place(run, *args) -> str:
    return js(run("order", "limit", *args, "--yes", "--json"))["order_id"]


# ------------------------------------------------------------------ the preview: crossing, taker fee, cash
@pytest.mark.parametrize("order,theirs,amend,fills,price_now", [
    # buy YES 5 @ 40, Bob offers 3 YES @ 45: to 50 crosses, 3 fill at 45 as a taker
    (("yes", "5", "40"), (BookSide.ASK, D(3), D("0.45")), "50", D(3), "0.45"),
    # buy NO 4 @ 30 (an ask at YES 70), Bob bids YES 67 (= NO offered at 33): NO 35 crosses, fills at NO 33
    (("no", "4", "30"), (BookSide.BID, D(2), D("0.67")), "35", D(2), "0.33"),
    # sell YES 6 @ 80 from flat, Bob bids 4 YES @ 75: to 70 crosses, fills 4 at 75
    (("yes", "6", "80", "--sell"), (BookSide.BID, D(4), D("0.75")), "70", D(4), "0.75"),
])
def test_a_crossing_amend_is_shown_as_a_taker_and_its_cash_is_exact(run, sim, ticker, me, bob, order, theirs,
                                                                    amend, fills, price_now):
    oid = place(run, ticker, *order)
    book_side, count, price = theirs
    bob.create_order(OrderRequest(ticker, book_side, count, price))
    table = run("amend", oid, "--price", amend, "--yes")
    assert table.exit_code == 0, table.output
    assert "CROSSES THE BOOK" in table.output and "TAKER" in table.output
    assert "goes to the back" in table.output and "taker fee" in table.output
    # the same again on a fresh order, read as JSON, checked against the exchange
    assert run("cancel", "--all", "--yes").exit_code == 0
    bob.create_order(OrderRequest(ticker, book_side, count, price))
    oid2 = place(run, ticker, *order)
    before = me.get_balance().balance
    doc = js(run("amend", oid2, "--price", amend, "--yes", "--json"))
    preview = doc["preview"]
    assert preview["would_cross"] is True and D(preview["cash_before"]) == before
    assert [D(f["count"]) for f in preview["fills_now"]] == [fills]
    assert [D(f["price"]) for f in preview["fills_now"]] == [D(price_now)]
    assert D(preview["taker_fee"]) > 0
    assert D(doc["fill_count"]) == fills
    assert me.get_balance().balance == D(preview["cash_now"])


def test_shrinking_keeps_the_queue_and_releases_collateral_exactly(run, ticker, me):
    oid = place(run, ticker, "yes", "10", "20")
    doc = js(run("amend", oid, "--count", "4", "--yes", "--json"))
    preview = doc["preview"]
    assert preview["requeued"] is False and preview["would_cross"] is False and preview["fills_now"] == []
    # 10 held 2.00 + fee 0.112 -> 0.1120; 4 hold 0.80 + 0.0448: 1.2672 comes back
    assert D(preview["cash_now"]) - D(preview["cash_before"]) == D("1.2672")
    assert me.get_balance().balance == D(preview["cash_now"])
    assert D(doc["remaining_count"]) == D(4)


def test_amend_of_a_no_order_talks_no_prices(run, ticker):
    oid = place(run, ticker, "no", "3", "25")
    out = run("amend", oid, "--price", "0.255", "--yes")
    assert out.exit_code == 2 and "25.5" not in out.output  # off the cent grid, refused on NO terms
    assert "price 0.255 is not on" in out.output and "a NO price" in out.output
    assert "nearest NO prices: 0.25, 0.26" in out.output
    table = run("amend", oid, "--price", "27", "--yes").output
    assert "25¢ -> 27¢" in table and "BUY NO" in table


def test_amend_needs_a_terminal_or_yes_and_changes_nothing_without(run, ticker, me):
    oid = place(run, ticker, "yes", "2", "30")
    out = run("amend", oid, "--price", "31")
    assert out.exit_code == 2 and "nothing was sent" in out.output and "amend preview" in out.output
    assert me.get_order(oid).yes_price == D("0.30")


# ------------------------------------------------------------------ applied, but the read-back fails
class _Proxy:
    """Forwards to the simulator; after an amend went through, reads of that order fail in `mode`."""

    def __init__(self, target: str, mode: str):
        parts = urlsplit(target)
        self.host, self.port, self.mode, self.amended = parts.hostname, parts.port, mode, False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.amended and self.command == "GET" and "/portfolio/orders/" in self.path:
                    return proxy.fail(self)
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if self.command == "POST" and self.path.endswith("/amend") and resp.status == 200:
                    proxy.amended = True
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_DELETE = do_PUT = _any

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the dropped connections are on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}{urlsplit(target).path}"

    def fail(self, handler) -> None:
        if self.mode == "drop":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        status, body = {"503": (503, b'{"error":{"code":"service_unavailable","message":"down"}}'),
                        "404": (404, b'{"error":{"code":"not_found","message":"order not found"}}')}[self.mode]
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Retry-After", "0")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("mode", ["503", "drop", "404"])
def test_an_applied_amend_whose_read_back_fails_says_it_was_applied(run, sim, ticker, me, tmp_path, mode):
    oid = place(run, ticker, "yes", "5", "40")
    proxy = _Proxy(sim.base_url, mode)
    try:
        env = _env(proxy.base_url, tmp_path)
        out = run("amend", oid, "--price", "42", "--count", "3", "--yes", env=env)
        assert out.exit_code == 0, out.output
        assert f"amended order {oid}" in out.stdout and "resting 3" in out.stdout
        assert "the amend was applied, but reading the order back failed" in out.stderr
        proxy.amended = False
        doc = json.loads(run("amend", oid, "--price", "43", "--yes", "--json", env=env).stdout)
    finally:
        proxy.stop()
    assert doc["amended"] is True and doc["order_id"] == oid and D(doc["remaining_count"]) == D(3)
    assert doc["refresh_error"]
    order = me.get_order(oid)  # the exchange has both amends
    assert order.yes_price == D("0.43") and order.remaining_count == D(3)
