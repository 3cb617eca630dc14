"""Fixtures of the dashboard's tests: Debian's Chromium driven by Playwright, and `kalshi dashboard` processes.

The browser: Playwright's sync API over /usr/bin/chromium (never `playwright install`: nothing is downloaded).
Where Chromium or Playwright is missing the browser tests skip, naming what is missing; CI sets
KALSHI_REQUIRE_BROWSER=1 (`.ci/run`) and such a test fails instead, as the store tests do for their servers.

Screenshots go to `tests/artifacts/` (ignored by git; the path is printed), one file per test and page.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import bob, client, sim  # noqa: F401  (the simulator, its demo account, a counterparty)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BROWSER_SKIP = "browser unavailable:"
ROOT = Path(__file__).resolve().parents[2]


def require_browser(why: str) -> None:
    """Skip the calling test for want of a browser (`why`); fail instead when KALSHI_REQUIRE_BROWSER=1 (CI)."""
    message = f"{BROWSER_SKIP} {why}"
    if os.environ.get("KALSHI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (CI must run the browser tests)", pytrace=False)
    pytest.skip(message)


def browser_missing() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install 'kalshi-trading[web-test]')"
    return None


@pytest.fixture(scope="session")
def browser():
    why = browser_missing()
    if why is not None:
        require_browser(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def shoot(request):
    """`shoot(page, name)` saves a full-page screenshot as tests/artifacts/<test>-<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def save(tab, name: str) -> Path:
        path = ARTIFACTS / f"{test}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return save


def sim_env(server, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `kalshi` process on the test's simulator, with its own data and log directories."""
    account = server.demo_account
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(KALSHI_ENV="sim", KALSHI_API_BASE=server.base_url, KALSHI_API_KEY_ID=account.key_id,
               KALSHI_PRIVATE_KEY_PATH=str(account.private_key_path), KALSHI_DATA_DIR=str(tmp_path / "data"),
               KALSHI_LOG_DIR=str(tmp_path / "logs"), NO_COLOR="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


class Dashboard:
    """A `kalshi dashboard` process: its address and token read from what it prints at start."""

    def __init__(self, env: dict[str, str], *args: str, refresh: str = "0.3", wait: float = 60.0):
        command = [sys.executable, "-m", "kalshi_trading", "dashboard", "--port", "0", "--refresh", refresh, *args]
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.printed: list[str] = []
        self.errors: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_errors, daemon=True).start()
        self.url = self._wait_for(r"dashboard at (http://\S+)", wait).rstrip("/")
        token = self._wait_for(r"(?:kill-switch token: (\S+)|token: kept in .*)", wait)
        self.token = token or ""

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _pump_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line)

    def _wait_for(self, pattern: str, wait: float) -> str:
        while True:
            try:
                line = self.lines.get(timeout=wait)
            except queue.Empty:
                raise AssertionError(f"the dashboard printed no {pattern!r} within {wait} s") from None
            if line is None:
                raise AssertionError(f"the dashboard exited ({self.proc.wait()}): {''.join(self.errors)}")
            self.printed.append(line)
            match = re.search(pattern, line)
            if match:
                return match.group(1) or ""

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM, then its exit code, the rest of its stdout, and its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        rest = []
        while True:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            rest.append(line)
        return self.proc.returncode, "".join(self.printed + rest), "".join(self.errors)


@pytest.fixture
def dashboards():
    """`dashboards(env, *args)` starts a dashboard; every one still running is stopped at the end."""
    started: list[Dashboard] = []

    def start(env: dict[str, str], *args: str, **kw) -> Dashboard:
        d = Dashboard(env, *args, **kw)
        started.append(d)
        return d

    try:
        yield start
    finally:
        for d in started:
            if d.proc.poll() is None:
                d.stop()
