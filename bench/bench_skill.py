"""Signal skill on the simulator: Brier score, log loss and a 10-bin calibration table of each family's model
against the market mid at signal time, as `kalshi paper report --calibration` prints them.

Run:  python bench/bench_skill.py [--seed 7] [--weather-markets 200] [--btc-markets 200] [--start 2026-01-05]

A replayable seeded run, all in this process: the simulator (the seed, its background makers, a manual clock from
--start) and the real pipeline (discovery, the collectors asking the simulator's /ext copies of the outside sources,
the models, the paper-trading engine in `simulate` mode), in two phases on one exchange and one signal store:

- KXHIGHNY: a cycle every 2 simulated hours (discovery: the coming climate day's event, all its brackets) until
  --weather-markets brackets have signals;
- KXBTC15M: contract after contract (the nearest only), cycles 10, 5 and 2 minutes before the close and every 10 s
  in the final minute (there the pipeline's own spot samples make the window's average so far), until
  --btc-markets contracts have signals.

Then time runs on until everything evaluated has settled, and the real CLI prints the report.  The simulator keeps
settled markets in its historical tier for 14 days; this run takes a month, so the bench keeps them for its whole
length (`sim.history.HISTORY_KEEP_MS`) and the report can score every market at the end.  The same seed and start
give the same table.  The simulated makers are informed but not perfect (weather: a forecast error that shrinks
towards the close; KXBTC15M: the index 20 s late, no drift, no averaging), so this measures the models against
those makers, not against Kalshi's.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalshi_trading.api.client import KalshiClient  # noqa: E402
from kalshi_trading.api.retry import RetryPolicy  # noqa: E402
from kalshi_trading.cli.main import app  # noqa: E402
from kalshi_trading.config import load_private_key  # noqa: E402
from kalshi_trading.signals.discovery import DiscoveryConfig, Discoverer  # noqa: E402
from kalshi_trading.signals.engine import Engine  # noqa: E402
from kalshi_trading.signals.live import build_sources, outside_data  # noqa: E402
from kalshi_trading.signals.modes import EngineMode  # noqa: E402
from kalshi_trading.signals.outside import SourcesConfig, sim_root_of  # noqa: E402
from kalshi_trading.signals.pipeline import Pipeline  # noqa: E402
from kalshi_trading.signals.profiles import DEFAULT_MODELS, PRESETS, PipelineConfig  # noqa: E402
from kalshi_trading.signals.types import Family  # noqa: E402
from kalshi_trading.sim import history  # noqa: E402
from kalshi_trading.sim.clock import ManualClock, ms_to_dt  # noqa: E402
from kalshi_trading.sim.runtime import start_embedded  # noqa: E402
from kalshi_trading.store.sqlite.signals import SqliteSignalStore  # noqa: E402
from kalshi_trading.trading.fees import FeeSchedule  # noqa: E402

WEATHER_STEP_S = 2 * 3600
BTC_OFFSETS_S = (600, 300, 120, 60, 50, 40, 30, 20, 10)  # seconds before a contract's close
WINDOW_S = 900
SETTLE_S = 26 * 3600  # long enough for the last climate day to close, be determined and settle
PROFILE = dataclasses.replace(PRESETS["aggressive"], cooldown_s=0)


@dataclasses.dataclass
class Run:
    """What one bench run did (the report's text is in `report`)."""

    cycles: int = 0
    weather_markets: int = 0
    btc_markets: int = 0
    wall_s: float = 0.0
    report: str = ""


def _client(server) -> KalshiClient:
    account = server.demo_account
    return KalshiClient.build(server.base_url, account.key_id, load_private_key(account.private_key_path), env="sim",
                              rate_tier=None, retry=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05))


def _phase(pipeline: Pipeline, series: str, **discovery: int) -> Pipeline:
    config = PipelineConfig(profile=PROFILE, interval_s=1.0, discovery=DiscoveryConfig(series=(series,), **discovery))
    return dataclasses.replace(pipeline, config=config)


def _weather(pipeline: Pipeline, advance: Callable[[float], None], wanted: int, run: Run) -> None:
    evaluated: set[str] = set()
    while len(evaluated) < wanted:
        advance(WEATHER_STEP_S)
        result = pipeline.cycle()
        run.cycles += 1
        evaluated |= {s.ticker for s in result.signals if s.family is Family.WEATHER}
    run.weather_markets = len(evaluated)


def _btc15m(pipeline: Pipeline, advance: Callable[[float], None], now: Callable[[], datetime], wanted: int,
            run: Run) -> None:
    evaluated: set[str] = set()
    while len(evaluated) < wanted:
        t = now()
        close = datetime.fromtimestamp((int(t.timestamp()) // WINDOW_S + 1) * WINDOW_S, tz=timezone.utc)
        if (close - t).total_seconds() <= BTC_OFFSETS_S[0]:
            close += timedelta(seconds=WINDOW_S)
        for offset in BTC_OFFSETS_S:
            advance((close - timedelta(seconds=offset) - now()).total_seconds())
            result = pipeline.cycle()
            run.cycles += 1
            evaluated |= {s.ticker for s in result.signals if s.family is Family.BTC15M}
    run.btc_markets = len(evaluated)


def run_bench(seed: int, weather_markets: int, btc_markets: int, start: datetime, directory: Path) -> Run:
    """The whole run in `directory` (see the module docstring); returns what it did and the report's text."""
    kept, history.HISTORY_KEEP_MS = history.HISTORY_KEEP_MS, 90 * 86_400_000  # every settled market, for the report
    run = Run()
    began = time.perf_counter()
    clock = ManualClock(int(start.timestamp() * 1000))
    server = start_embedded(directory / "sim", seed=seed, clock=clock, rate_limits=False)
    client = _client(server)
    store = SqliteSignalStore.open(directory / "sim" / "signals.sqlite")

    def now() -> datetime:
        return ms_to_dt(clock.now_ms())

    def advance(seconds: float) -> None:
        if seconds > 0:
            server.exchange.advance(seconds)

    data = outside_data(SourcesConfig(), now, sim_root=sim_root_of(server.base_url))
    try:
        engine = Engine(client, store, PROFILE, EngineMode.SIMULATE, clock=now)
        pipeline = Pipeline(Discoverer(client, spot=data.spot), store, PipelineConfig(), engine,
                            build_sources(DEFAULT_MODELS, data), FeeSchedule(client).for_market, now,
                            prepare=data.prepare)
        _weather(_phase(pipeline, "KXHIGHNY"), advance, weather_markets, run)
        _btc15m(_phase(pipeline, "KXBTC15M", btc15m_next_margin_s=0), advance, now, btc_markets, run)
        advance(SETTLE_S)
        env = {"KALSHI_ENV": "sim", "KALSHI_API_BASE": server.base_url, "KALSHI_DATA_DIR": str(directory),
               "KALSHI_LOG_DIR": str(directory / "logs"), "KALSHI_STORE": "", "NO_COLOR": "1"}
        result = CliRunner().invoke(app, ["paper", "report", "--calibration"], env=env)
        if result.exit_code != 0:
            raise RuntimeError(f"kalshi paper report failed ({result.exit_code}): {result.output}")
        run.report = result.stdout
    finally:
        data.close()
        store.close()
        client.close()
        server.stop()
        history.HISTORY_KEEP_MS = kept
    run.wall_s = time.perf_counter() - began
    return run


def main(argv: list[str] | None = None) -> Run:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weather-markets", type=int, default=200)
    parser.add_argument("--btc-markets", type=int, default=200)
    parser.add_argument("--start", default="2026-01-05", help="simulated start (UTC date or ISO time)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the run here (default: a temporary dir)")
    args = parser.parse_args(argv)
    logging.getLogger("kalshi_trading").setLevel(logging.ERROR)  # a flaky venue's warnings are expected here
    start = datetime.fromisoformat(args.start)
    start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-skill-") as tmp:
        directory = args.data_dir or Path(tmp)
        os.makedirs(directory, exist_ok=True)
        run = run_bench(args.seed, args.weather_markets, args.btc_markets, start, directory)
    print(f"Signal skill: seed {args.seed}, start {start.isoformat()}, {run.weather_markets} KXHIGHNY brackets and "
          f"{run.btc_markets} KXBTC15M contracts evaluated in {run.cycles} cycles ({run.wall_s:.0f} s wall)\n")
    print(run.report)
    return run


if __name__ == "__main__":
    main()
