"""Issue 10 item 4: every attempt has one deadline (connect + the whole answer), then retries, then exit 6.

The real CLI runs as subprocesses, all at once, against misbehaving servers in front of the real simulator:
a body that trickles in a byte at a time (faster than the read timeout, so only the deadline can end it),
headers that never end, and a server that takes the request and never answers.  The timeouts are made small
through the documented variables.  Nothing here asserts on timings: a missing deadline shows as a command
that never ends (the subprocess wait fails).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal as D

import pytest

from kalshi_trading.api.client import KalshiClient, OrderOutcomeUnknown
from kalshi_trading.api.retry import RetryPolicy
from kalshi_trading.config import load_private_key
from kalshi_trading.models import BookSide, OrderRequest
from tests.api.badserver import BadServer, forwarded_then, silent, slow_headers, trickle
from tests.api.conftest import UNKNOWN_ORDER, assert_one_line_failure, cli_env

FAST = {"KALSHI_CONNECT_TIMEOUT": "0.2", "KALSHI_READ_TIMEOUT": "0.5"}  # one attempt: at most 0.7 s
GAP = 0.1  # seconds between trickled bytes: well inside the read timeout

READS = [
    ["config", "check"], ["balance"], ["markets"], ["market", "{t}"], ["exchange", "status"],
    ["order", "status", UNKNOWN_ORDER], ["orders"], ["sync"], ["positions"],
]


def run_all(jobs, tmp_path):
    """Start every (server, args) CLI run at once; return [(args, returncode, stdout, stderr)]."""
    procs = []
    for n, (server, sim, args) in enumerate(jobs):
        home = tmp_path / f"user{n}"
        home.mkdir()
        env = {**cli_env(server, sim, home, **FAST), "PATH": "/usr/bin:/bin"}
        env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "SYSTEMROOT")})
        procs.append((args, subprocess.Popen([sys.executable, "-m", "kalshi_trading", *args], cwd=home, env=env,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    results = []
    try:
        for args, proc in procs:
            out, err = proc.communicate(timeout=180)  # a command without a deadline would never end
            results.append((args, proc.returncode, out, err))
    finally:
        for _, proc in procs:
            proc.kill()
    return results


@pytest.fixture
def faulty(sim):
    """Three servers in front of the simulator: every GET trickles / has endless headers / is never answered."""
    servers = {name: BadServer(upstream=sim.base_url) for name in ("trickle", "slow_headers", "silent")}
    servers["trickle"].on("GET", ".*", trickle(GAP))
    servers["slow_headers"].on("GET", ".*", slow_headers(GAP))
    servers["silent"].on("GET", ".*", silent())
    yield servers
    for server in servers.values():
        server.stop()


def test_slow_or_silent_servers_end_every_read_command_with_exit_6(sim, faulty, ticker, tmp_path):
    jobs = [(faulty["trickle"], sim, [a.replace("{t}", ticker) for a in args]) for args in READS]
    jobs += [(faulty["slow_headers"], sim, [a.replace("{t}", ticker) for a in args])
             for args in (["market", "{t}"], ["orders"])]
    jobs += [(faulty["silent"], sim, [a.replace("{t}", ticker) for a in args]) for args in (["balance"], ["sync"])]
    results = run_all(jobs, tmp_path)
    for (server, _, _), (args, code, out, err) in zip(jobs, results, strict=True):
        line = assert_one_line_failure(code, err, out, 6)
        if server is faulty["silent"]:
            assert "nothing received for 0.5 s" in line, (args, line)
        else:  # bytes kept coming: only the deadline could end these attempts
            assert "no complete answer within 0.7 s" in line, (args, line)
        assert "gave up after" in line, (args, line)  # retried first
    for name, server in faulty.items():
        assert len(server.requests("GET")) > len([j for j in jobs if j[0] is server]), name  # attempts were repeated


def test_an_order_whose_answer_trickles_is_retried_with_its_id_and_never_placed_twice(sim, bad, ticker, tmp_path):
    """The exchange takes the order but its answer never completes: retried with the same client_order_id until
    retries run out, then exit 6 saying the outcome is unknown; the exchange holds exactly one such order."""
    bad.on("POST", "/portfolio/events/orders", forwarded_then(trickle(GAP)))
    [(args, code, out, err)] = run_all([(bad, sim, ["order", "limit", ticker, "yes", "1", "5", "--yes"])], tmp_path)
    line = assert_one_line_failure(code, err, out, 6)
    assert "may or may not have been placed" in line
    posts = bad.requests("POST", "/portfolio/events/orders$")
    assert len(posts) > 1 and len({p.body for p in posts}) == 1  # the same request, the same client_order_id
    cid = json.loads(posts[0].body)["client_order_id"]
    mine = [o for o in sim.exchange.engine.orders.values() if o.client_order_id == cid]
    assert len(mine) == 1


def test_one_trickled_answer_then_a_good_one_recovers_the_order(sim, bad, ticker, tmp_path):
    bad.on("POST", "/portfolio/events/orders", forwarded_then(trickle(GAP)), times=1)
    [(args, code, out, err)] = run_all([(bad, sim, ["order", "limit", ticker, "yes", "1", "5", "--yes",
                                                    "--json"])], tmp_path)
    assert code == 0, err
    posts = bad.requests("POST", "/portfolio/events/orders$")
    cid = json.loads(posts[0].body)["client_order_id"]
    assert len(posts) == 2 and [o.client_order_id for o in sim.exchange.engine.orders.values()].count(cid) == 1


def test_a_read_after_a_trickled_attempt_succeeds(sim, bad, tmp_path):
    bad.on("GET", "/portfolio/balance", trickle(GAP), times=1)
    [(args, code, out, err)] = run_all([(bad, sim, ["balance", "--json"])], tmp_path)
    assert code == 0, err
    assert '"balance"' in out and len(bad.requests("GET", "/portfolio/balance")) == 2


def test_client_create_order_keeps_its_id_through_deadline_retries(sim, bad, ticker):
    """The library path the bot uses: same guarantee without the CLI."""
    bad.on("POST", "/portfolio/events/orders", forwarded_then(trickle(GAP)))
    account = sim.demo_account
    client = KalshiClient.build(bad.base_url, account.key_id, load_private_key(account.private_key_path),
                                rate_tier=None, timeout=(0.2, 0.5),
                                retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02))
    request = OrderRequest(ticker, BookSide.BID, D(1), D("0.05"), client_order_id="deadline-test-1")
    with pytest.raises(OrderOutcomeUnknown) as info:
        client.create_order(request)
    client.close()
    assert info.value.client_order_id == "deadline-test-1"
    assert len(bad.requests("POST")) == 3
    assert [o.client_order_id for o in sim.exchange.engine.orders.values()].count("deadline-test-1") == 1


def test_the_deadline_holds_over_tls(tmp_path, monkeypatch):
    """Production is HTTPS: the same deadline on a TLS connection, and the pool still works afterwards."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from kalshi_trading.errors import TransientError
    from tests.api.badserver import answer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
    server = BadServer(tls=context)
    up = {"exchange_active": True, "trading_active": True}
    for behaviour in (answer(up), trickle(GAP), slow_headers(GAP), answer(up)):
        server.on("GET", "/exchange/status", behaviour, times=1)
    client = KalshiClient.build(server.base_url, None, None, rate_tier=None, timeout=(0.3, 0.5),
                                retry=RetryPolicy(max_attempts=1))
    try:
        assert client.get_exchange_status().exchange_active
        for _ in range(2):
            with pytest.raises(TransientError, match="no complete answer within 0.8 s"):
                client.get_exchange_status()
        assert client.get_exchange_status().trading_active
    finally:
        client.close()
        server.stop()
