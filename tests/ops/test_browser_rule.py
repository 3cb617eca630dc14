"""Without Chromium (or Playwright) the browser tests skip, naming what is missing; in CI
(KALSHI_REQUIRE_BROWSER=1) they fail instead."""

from __future__ import annotations

import pytest

from tests.ops import conftest


def test_a_missing_browser_skips_here_and_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "CHROMIUM", tmp_path / "no-chromium")
    why = conftest.browser_missing()
    assert why == f"{tmp_path / 'no-chromium'} is missing (apt-get install chromium)"
    monkeypatch.delenv("KALSHI_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="browser unavailable: .*no-chromium is missing"):
        conftest.require_browser(why)
    monkeypatch.setenv("KALSHI_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        conftest.require_browser(why)
