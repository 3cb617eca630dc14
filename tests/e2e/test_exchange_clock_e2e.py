"""A simulator served faster than life, recorded and replayed on the exchange's own clock (`--clock exchange`):
the recorder fits how the exchange's time ran against the receive time, and the replay stretches the receive
times by it, so a backtest of a sped-up session sees the exchange's hours, not the wall clock's minutes."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from kalshi_trading.cli.main import app
from kalshi_trading.errors import UsageError
from kalshi_trading.replay.reader import Recording
from kalshi_trading.replay.schema import parse_ts
from kalshi_trading.sim.runtime import start_embedded
from tests.e2e.test_record_replay_e2e import Session, markets

SPEED = 30


@pytest.fixture
def fast(tmp_path):
    srv = start_embedded(tmp_path / "sim", seed=5, speed=SPEED, participants=True)
    try:
        yield srv
    finally:
        srv.stop()


def span(directory, exchange_time: bool) -> float:
    times = [r.ts_recv for r in Recording(directory).records([], exchange_time=exchange_time)]
    return (parse_ts(times[-1]) - parse_ts(times[0])).total_seconds()


def test_a_sped_up_session_replays_on_the_exchanges_clock(fast, tmp_path):
    tickers = markets(fast, 1)
    session = Session(fast, tmp_path / "rec", tickers)
    session.wait(lambda: session.recorder.counts.deltas >= 50 and session.recorder.counts.trades >= 2, "activity")
    time.sleep(2.0)  # a couple of seconds of receive time, so the fit has a span to measure
    session.close()
    fit = Recording(tmp_path / "rec").sessions[session.writer.session].clock
    assert fit is not None and SPEED / 2 < fit.rate < SPEED * 2, fit  # the exchange ran about SPEED times faster
    receive, exchange = span(tmp_path / "rec", False), span(tmp_path / "rec", True)
    assert exchange == pytest.approx(receive * fit.rate, rel=1e-3)
    result = CliRunner().invoke(app, ["backtest", "--data", str(tmp_path / "rec"), "--clock", "exchange", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["backtest"]["clock"] == "exchange"
    assert doc["backtest"]["recorded_seconds"] == pytest.approx(exchange, rel=0.05)
    wrong = CliRunner().invoke(app, ["backtest", "--data", str(tmp_path / "rec"), "--clock", "wall"])
    assert wrong.exit_code == 2 and "--clock must be receive or exchange" in wrong.output


def test_a_session_without_a_fitted_clock_is_refused_on_the_exchange_clock(fast, tmp_path):
    session = Session(fast, tmp_path / "rec", markets(fast, 1))
    session.wait(lambda: session.recorder.counts.snapshots >= 1, "the first snapshot")
    session.stop.set()
    session.thread.join()
    session.feed.stop()
    session.writer.close(parse_ts("2026-11-30T00:00:00.000000Z"), session.recorder.counts.as_dict())  # no clock
    with pytest.raises(UsageError, match="has no exchange clock"):
        list(Recording(tmp_path / "rec").records([], exchange_time=True))
