"""Who may use the dashboard: bound to loopback, pages are open to loopback host names only (a page of another site
rebound to 127.0.0.1 is refused); bound to anything else, it needs --token-file and every request needs the token,
in a header, as a bearer token or in `?token=` (the page then sends it itself).  Bad options are refused (exit 2)
before anything is bound; an unusable token file is exit 3."""

from __future__ import annotations

import os
import socket
import stat

import httpx
import pytest

from tests.ops.conftest import sim_env
from tests.ops.pages import cli


@pytest.fixture
def env(sim, tmp_path):
    return sim_env(sim, tmp_path)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_binding_beyond_loopback_without_a_token_file_is_refused(env, host):
    result = cli(env, "dashboard", "--host", host)
    assert result.exit_code == 2, result.output
    assert f"binding to {host} (not loopback)" in result.stderr and "--token-file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("args, words", [
    (["--method", "lifo"], "--method must be fifo or avg"),
    (["--refresh", "0"], "out of range"),
    (["--refresh", "1e3"], "is not a number"),
    (["--port", "70000"], "out of range"),
    (["--port", "-1"], "not a whole number"),
])
def test_bad_options_are_usage_errors(env, args, words):
    result = cli(env, "dashboard", *args)
    assert result.exit_code == 2 and words in result.output, result.output


def test_a_port_in_use_is_a_usage_error_naming_it(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli(env, "dashboard", "--port", str(port))
    assert result.exit_code == 2 and f"cannot bind 127.0.0.1:{port}" in result.stderr, result.output


def test_token_files(env, tmp_path):
    short = tmp_path / "short"
    short.write_text("abc\n")
    result = cli(env, "dashboard", "--token-file", str(short), "--port", "70000")
    assert result.exit_code == 2  # options are checked first: nothing was read
    result = cli(env, "dashboard", "--token-file", str(short), "--host", "0.0.0.0", "--method", "x")
    assert result.exit_code == 2
    with socket.socket() as taken:  # stops the run after the token file is read: a bound port
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = cli(env, "dashboard", "--token-file", str(short), "--port", port)
        assert result.exit_code == 3 and "must hold one token of at least 16 characters" in result.stderr
        made = tmp_path / "made"
        result = cli(env, "dashboard", "--token-file", str(made), "--port", port)
        assert result.exit_code == 2  # the port, after the token file was made
        assert stat.S_IMODE(made.stat().st_mode) == 0o600 and len(made.read_text().strip()) >= 32
        os.chmod(made, 0o644)
        result = cli(env, "dashboard", "--token-file", str(made), "--port", port)
        assert f"warning: the token file {made} may be read by other users; chmod 600 {made}" in result.stderr
        folder = tmp_path / "folder"
        folder.mkdir()
        result = cli(env, "dashboard", "--token-file", str(folder), "--port", port)
        assert result.exit_code == 3 and f"cannot use the token file {folder}" in result.stderr


def test_loopback_pages_answer_only_to_loopback_host_names(env, dashboards):
    board = dashboards(env)
    with httpx.Client(base_url=board.url) as http:
        assert http.get("/portfolio").status_code == 200
        assert http.get("/portfolio", headers={"Host": "localhost"}).status_code == 200
        rebound = http.get("/api/section/portfolio", headers={"Host": "attacker.example:8050"})
        assert rebound.status_code == 403
        page = http.get("/portfolio")
        assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in \
            page.headers["content-security-policy"]
        assert http.get("/metrics").text.startswith("# HELP")


def test_beyond_loopback_every_request_needs_the_token(env, tmp_path, page, dashboards, shoot):
    token_file = tmp_path / "token"
    board = dashboards(env, "--host", "0.0.0.0", "--token-file", str(token_file))
    token = token_file.read_text().strip()
    assert token not in "".join(board.printed) and f"token: kept in {token_file}" in "".join(board.printed)
    url = board.url.replace("0.0.0.0", "127.0.0.1")
    with httpx.Client(base_url=url) as http:
        for path in ("/", "/portfolio", "/orders", "/api/section/orders", "/api/health", "/metrics"):
            assert http.get(path).status_code == 401, path
            assert http.get(path, headers={"X-Dashboard-Token": "x" + token}).status_code == 401, path
        assert http.get("/api/section/orders", headers={"X-Dashboard-Token": token}).status_code == 200
        assert http.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert http.get(f"/portfolio?token={token}").status_code == 200
        assert http.post("/api/kill", json={"confirm": True}).status_code == 401
        assert http.get("/assets/dashboard.js").status_code == 200  # the page's code: no data in it
    page.goto(f"{url}/?token={token}")  # the link to open: the page sends the token on every request itself
    page.wait_for_selector("#freshness.fresh")
    assert page.url.endswith(f"/portfolio?token={token}")
    page.click("text=Open orders")
    page.wait_for_selector("#freshness.fresh")
    assert "/orders?token=" in page.url
    shoot(page, "orders-with-token")
