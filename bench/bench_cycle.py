"""Signal-pipeline cycle time: every outside source answering after injected latency, concurrent vs sequential.

Run:  python bench/bench_cycle.py [--rounds 10] [--latency 0.1] [--only collectors|pipeline]

Two cases, each printing a table of medians.

**The whole pipeline on the simulator** (`pipeline`): the simulator in this process with its outside sources'
faults set to `ext.*.latency=<latency>` (every /ext request answers after 100 ms), and the real pipeline: discovery
of 20 markets (the coming climate day's 7 KXHIGHNY brackets, the nearest KXBTC15M contract, 12 KXBTCD strikes
around the spot: the nearest by the strike rule and 11 named), the real collectors (4 bitcoin venues, 2 weather
models, Crypto.com candles and index: 8 requests), the models, and the engine in `sim` mode placing real
immediate-or-cancel orders through the executor (up to 5 a cycle).  Ours starts collecting as the cycle starts
(`OutsideData.prepare`), so the sources are in flight while discovery reads the exchange, and asks them
concurrently; the sequential alternative asks them one after another, then discovers.  The table splits a cycle
into discovery's exchange reads, the rest of the time until the engine (waiting for the outside sources, the
models, storing the cycle's rows), and the engine (the order round trips); the goal is a cycle within 1.5x the
slowest single source plus those exchange round trips.

**The collectors alone** (`collectors`):

One loopback HTTP server per source (Coinbase, Kraken, Bitstamp, Crypto.com, Open-Meteo ensemble), in another
process, each answering every request after `--latency` seconds in the shapes of data-sources.md.  A cycle asks
4 ticker sources, 2 weather models (31 and 51 members, one request each to the ensemble server) and Crypto.com's
candles and index: 8 requests.  Then it models 20 markets (a 7-bracket KXHIGHNY event, one KXBTC15M and a
12-strike KXBTCD ladder) and computes their edges against a book.  The same `Collector` runs concurrently (ours)
and sequentially (`concurrent=False`), rounds interleaved so machine noise hits both alike.  Order round trips
belong to the paper-trading engine and are not in this number.  Prints medians; the goal is a cycle within 1.5x
the slowest single source.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from urllib.parse import parse_qs, urlsplit

from tabulate import tabulate

SOURCES = ("coinbase", "kraken", "bitstamp", "cryptocom", "open-meteo-ensemble")


def body_for(source: str, path: str, query: dict[str, list[str]]) -> dict:
    now = datetime.now(timezone.utc)
    ms = int(now.timestamp() * 1000)
    px = 100_000 + random.uniform(-50, 50)
    bid, ask = f"{px - 0.5:.2f}", f"{px + 0.5:.2f}"
    if source == "coinbase":
        return {"trade_id": 1, "price": f"{px:.2f}", "size": "0.01", "bid": bid, "ask": ask, "volume": "1",
                "time": now.isoformat().replace("+00:00", "Z")}
    if source == "kraken":
        return {"error": [], "result": {"XXBTZUSD": {"a": [ask, "1", "1.000"], "b": [bid, "1", "1.000"],
                                                     "c": [f"{px:.2f}", "0.1"]}}}
    if source == "bitstamp":
        return {"timestamp": str(int(now.timestamp())), "last": f"{px:.2f}", "bid": bid, "ask": ask}
    if source == "cryptocom" and path.endswith("get-tickers"):
        return {"id": 1, "method": "public/get-tickers", "code": 0,
                "result": {"data": [{"i": "BTC_USD", "a": f"{px:.2f}", "b": bid, "k": ask, "t": ms}]}}
    if source == "cryptocom" and path.endswith("get-candlestick"):
        rows, c = [], 100_000.0
        for i in range(60):
            c *= 1 + random.gauss(0, 0.0008)
            rows.append({"o": f"{c:.2f}", "h": f"{c:.2f}", "l": f"{c:.2f}", "c": f"{c:.2f}", "v": "1",
                         "t": ms - (60 - i) * 60_000})
        return {"id": 1, "method": "public/get-candlestick", "code": 0,
                "result": {"interval": "1m", "instrument_name": "BTC_USD", "data": rows}}
    if source == "cryptocom":
        return {"id": 1, "method": "public/get-valuations", "code": 0,
                "result": {"instrument_name": "BTCUSD-INDEX", "data": [{"v": f"{px:.5f}", "t": ms}]}}
    n = 51 if "ecmwf" in query.get("models", [""])[0] else 31
    today = (now - timedelta(hours=5)).date()
    times = [(today + timedelta(days=i)).isoformat() for i in range(3)]
    daily: dict = {"time": times, "temperature_2m_max": [45.0, 46.0, 47.0]}
    for m in range(1, n):
        daily[f"temperature_2m_max_member{m:02d}"] = [round(45 + random.gauss(0, 2), 1) for _ in times]
    return {"latitude": 40.78, "longitude": -73.97, "utc_offset_seconds": -18000, "timezone": "America/New_York",
            "daily_units": {"time": "iso8601", "temperature_2m_max": "°F"}, "daily": daily}


def serve(queue, latency: float) -> None:
    ports = {}
    for source in SOURCES:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            name = source

            def do_GET(self):  # noqa: N802
                time.sleep(latency)
                parts = urlsplit(self.path)
                data = json.dumps(body_for(self.name, parts.path, parse_qs(parts.query))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        Thread(target=server.serve_forever, daemon=True).start()
        ports[source] = server.server_address[1]
    queue.put(ports)
    while True:
        time.sleep(3600)


def build(ports: dict[str, int], concurrent: bool):
    from kalshi_trading.signals.collectors.bitcoin import HistoryConfig, SpotConfig, TickerSource
    from kalshi_trading.signals.collectors.cycle import Collector, CollectorConfig
    from kalshi_trading.signals.collectors.tickers import Venue
    from kalshi_trading.signals.collectors.weather import WeatherConfig

    def base(source: str) -> str:
        return f"http://127.0.0.1:{ports[source]}/ext/{source}"

    cfg = CollectorConfig(
        weather=WeatherConfig(ensemble_base=base("open-meteo-ensemble"), forecast_base=base("open-meteo-ensemble")),
        spot=SpotConfig(tuple(TickerSource(Venue(v), base(v), core=v != "cryptocom")
                              for v in ("coinbase", "kraken", "bitstamp", "cryptocom"))),
        history=HistoryConfig(base_url=base("cryptocom")))
    return Collector(cfg, concurrent=concurrent)


def model_20_markets(cycle, day: date) -> int:
    """Probabilities and edges for 7 weather brackets, 1 up/down and a 12-strike ladder: 20 signals."""
    from kalshi_trading.signals.models.btc import estimate_volatility, ladder_probability, updown_probability
    from kalshi_trading.signals.models.edge import edge
    from kalshi_trading.signals.models.weather import Bracket, event_probabilities, members_for_day
    from kalshi_trading.signals.types import Family

    now = cycle.at
    brackets = [Bracket("less", None, Decimal(40))] + [Bracket("between", Decimal(a), Decimal(a + 1))
                                                        for a in range(40, 50, 2)] + [Bracket("greater", Decimal(49))]
    probs = event_probabilities(members_for_day(cycle.weather.for_day(day)), brackets)
    vol = estimate_volatility(cycle.history.candles)
    spot, used = cycle.spot.spot, cycle.spot.sources_used
    probs.append(updown_probability(spot, spot.quantize(Decimal("0.01")), now, now + timedelta(minutes=7), vol,
                                    sources=used))
    for k in range(12):
        strike = spot.quantize(Decimal(1)) + (k - 6) * 250
        p = ladder_probability("greater", strike, None, spot, now, now + timedelta(minutes=40), vol, sources=used)
        if p is not None:
            probs.append(p)
    signals = [edge(p, ticker=f"T{i}", family=Family.WEATHER, at=now, yes_ask=Decimal("0.50"),
                    no_ask=Decimal("0.52")) for i, p in enumerate(probs)]
    return len(signals)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--only", choices=("collectors", "pipeline"), default=None)
    args = parser.parse_args()
    if args.only != "collectors":
        pipeline_case(args.rounds, args.latency)
    if args.only != "pipeline":
        collectors_case(args.rounds, args.latency)


def collectors_case(rounds: int, latency: float) -> None:
    class Args:
        pass

    args = Args()
    args.rounds, args.latency = rounds, latency
    queue: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=serve, args=(queue, args.latency), daemon=True)
    proc.start()
    ports = queue.get(timeout=10)
    day = (datetime.now(timezone.utc) - timedelta(hours=5)).date()
    contenders = {"concurrent (ours)": build(ports, True), "sequential": build(ports, False)}
    collect_ms: dict[str, list[float]] = {n: [] for n in contenders}
    total_ms: dict[str, list[float]] = {n: [] for n in contenders}
    markets, requests, degraded = 0, 0, 0
    try:
        for c in contenders.values():  # warm the connections
            c.collect([day])
        for _ in range(args.rounds):
            for name, c in contenders.items():
                t0 = time.perf_counter()
                cycle = c.collect([day])
                t1 = time.perf_counter()
                markets = model_20_markets(cycle, day)
                t2 = time.perf_counter()
                collect_ms[name].append((t1 - t0) * 1000)
                total_ms[name].append((t2 - t0) * 1000)
                requests = len(cycle.health)
                degraded += len(cycle.degraded)
    finally:
        for c in contenders.values():
            c.close()
        proc.terminate()
    slowest = args.latency * 1000
    rows = []
    for name in contenders:
        col, tot = statistics.median(collect_ms[name]), statistics.median(total_ms[name])
        rows.append((name, f"{col:.0f}", f"{tot - col:.1f}", f"{tot:.0f}", f"{tot / slowest:.2f}x"))
    print(f"Collection cycle: {requests} requests to 5 loopback servers, each answering after {slowest:.0f} ms; "
          f"then {markets} markets modelled ({args.rounds} rounds, median; {degraded} degraded source answers)")
    print(tabulate(rows, headers=["cycle", "collect ms", "model ms", "total ms", "vs slowest source"],
                   disable_numparse=True))
    ratio = statistics.median(total_ms["sequential"]) / statistics.median(total_ms["concurrent (ours)"])
    print(f"\nsequential / concurrent: {ratio:.1f}x  (goal: concurrent within 1.5x the slowest single source)")


class Timed:
    """Times every call of one method of an object (the discoverer's `discover`, the engine's `run`)."""

    def __init__(self, inner, method: str):
        self.inner, self.method, self.last = inner, method, 0.0

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name != self.method:
            return attr

        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return attr(*a, **k)
            finally:
                self.last = time.perf_counter() - t0

        return timed


def _contender(server, client, directory, concurrent: bool, strikes: tuple[str, ...]):
    from kalshi_trading.signals.discovery import Discoverer, DiscoveryConfig
    from kalshi_trading.signals.engine import Engine, ExecutorPlacer
    from kalshi_trading.signals.live import build_sources, outside_data
    from kalshi_trading.signals.modes import EngineMode
    from kalshi_trading.signals.outside import SourcesConfig, sim_root_of
    from kalshi_trading.signals.pipeline import Pipeline
    from kalshi_trading.signals.profiles import DEFAULT_MODELS, PRESETS, PipelineConfig
    from kalshi_trading.sim.clock import ms_to_dt
    from kalshi_trading.store.sqlite.journal import SqliteJournal
    from kalshi_trading.store.sqlite.signals import SqliteSignalStore
    from kalshi_trading.trading.executor import Executor
    from kalshi_trading.trading.fees import FeeSchedule

    import dataclasses

    name = "concurrent" if concurrent else "sequential"
    profile = dataclasses.replace(PRESETS["aggressive"], order_size=Decimal(1), cooldown_s=0, max_orders_per_cycle=5,
                                  max_orders_per_day=100_000, max_inventory=Decimal(10_000),
                                  max_total_exposure=Decimal(100_000), max_orders_per_minute=100_000)
    config = PipelineConfig(profile=profile, discovery=DiscoveryConfig(
        series=("KXHIGHNY", "KXBTC15M", "KXBTCD"), tickers=strikes, btc15m_next_margin_s=0))

    def now():
        return ms_to_dt(server.exchange.clock.now_ms())

    store = SqliteSignalStore.open(directory / f"{name}-signals.sqlite")
    journal = SqliteJournal.open(directory / f"{name}-journal.sqlite")
    data = outside_data(SourcesConfig(), now, sim_root=sim_root_of(server.base_url), concurrent=concurrent)
    placer = ExecutorPlacer(Executor(client, journal, "sim"))
    engine = Timed(Engine(client, store, profile, EngineMode.SIM, placer=placer, clock=now), "run")
    spot = Timed(data, "spot")  # discovery's wait for the KXBTCD spot (the outside sources, not the exchange)
    discoverer = Timed(Discoverer(client, spot=spot.spot), "discover")

    def everything_first(at) -> None:  # the sequential alternative: collect (one by one), then the rest
        data.sample(at)

    pipeline = Pipeline(discoverer, store, config, engine, build_sources(DEFAULT_MODELS, data),
                        FeeSchedule(client).for_market, now, prepare=data.prepare if concurrent else everything_first)
    return pipeline, (discoverer, spot), engine, (data.close, store.close, journal.close)


def _strikes(client, server) -> tuple[str, ...]:
    """11 KXBTCD strikes nearest the spot on the events closing first, besides the one the strike rule picks
    (the nearest on the first event): 7 + 1 + 12 = 20 markets in all."""
    from kalshi_trading.sim.clock import ms_to_dt

    now = ms_to_dt(server.exchange.clock.now_ms())
    spot = client.get_sim_underlying("KXBTCD").price
    ladder = sorted((m for m in client.iter_markets(series_ticker="KXBTCD", status="open", page_size=1000)
                     if m.floor_strike is not None and m.close_time is not None
                     and m.close_time > now + timedelta(minutes=10)),
                    key=lambda m: (m.close_time, abs(m.floor_strike - spot), m.ticker))
    return tuple(m.ticker for m in ladder[1:12])


def pipeline_case(rounds: int, latency: float) -> None:
    import tempfile
    from pathlib import Path

    from kalshi_trading.api.client import KalshiClient
    from kalshi_trading.config import load_private_key
    from kalshi_trading.sim.runtime import start_embedded

    directory = Path(tempfile.mkdtemp(prefix="bench-cycle-"))
    server = start_embedded(directory / "sim", seed=5, faults=f"ext.*.latency={latency}", rate_limits=False)
    account = server.demo_account
    client = KalshiClient.build(server.base_url, account.key_id, load_private_key(account.private_key_path),
                                env="sim", rate_tier=None)
    closers = []
    rows_ms: dict[str, dict[str, list[float]]] = {}
    markets = attempts = 0
    try:
        strikes = _strikes(client, server)
        contenders = {}
        for concurrent in (True, False):
            pipeline, discoverer, engine, close = _contender(server, client, directory, concurrent, strikes)
            closers.extend(close)
            contenders["concurrent (ours)" if concurrent else "sequential"] = (pipeline, discoverer, engine)
        for pipeline, _, _ in contenders.values():  # warm the connections
            pipeline.cycle()
            pipeline.release()
        for _ in range(rounds):
            for name, (pipeline, (discoverer, spot), engine) in contenders.items():
                t0 = time.perf_counter()
                result = pipeline.cycle()
                total = time.perf_counter() - t0
                pipeline.release()
                parts = rows_ms.setdefault(name, {"total": [], "reads": [], "engine": [], "rest": []})
                reads = discoverer.last - spot.last  # discovery's exchange reads, without its wait for the spot
                parts["total"].append(total * 1000)
                parts["reads"].append(reads * 1000)
                parts["engine"].append(engine.last * 1000)
                parts["rest"].append((total - reads - engine.last) * 1000)
                spot.last = 0.0
                markets, attempts = result.markets, attempts + sum(1 for a in result.attempts if a.order_id)
    finally:
        for close in closers:
            close()
        client.close()
        server.stop()
    slowest = latency * 1000
    table = []
    for name, parts in rows_ms.items():
        med = {k: statistics.median(v) for k, v in parts.items()}
        goal = 1.5 * slowest + med["reads"] + med["engine"]
        table.append((name, f"{med['total']:.0f}", f"{med['reads']:.0f}", f"{med['rest']:.0f}",
                      f"{med['engine']:.0f}", f"{goal:.0f}", f"{med['total'] / goal:.2f}"))
    print(f"Pipeline cycle on the simulator: {markets} markets, 8 outside requests each answering after "
          f"{slowest:.0f} ms (ext.*.latency), real orders in sim mode ({attempts} placed); {rounds} rounds, median ms")
    print(tabulate(table, headers=["cycle", "total", "exchange reads", "outside sources + models", "engine (orders)",
                                   "goal: 1.5x slowest + exchange", "total / goal"],
                   disable_numparse=True))
    print()


if __name__ == "__main__":
    main()
