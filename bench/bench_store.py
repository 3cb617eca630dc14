"""Storage backends side by side: journal ingest (fills/s) and the trades export, SQLite and PostgreSQL in one run.

    python bench/bench_store.py                          # 1,000,000 fills, median of 3 rounds
    python bench/bench_store.py --fills 200000 --rounds 3
    python bench/bench_store.py --pg-url postgresql://me@db.example/bench   # an existing server (a scratch database)

Without --pg-url a throwaway PostgreSQL 15 cluster is started in a temporary directory on this machine (loopback,
PostgreSQL's durable defaults: fsync and synchronous commit on) and removed afterwards.  SQLite runs as in
production (WAL, synchronous=FULL).  Every round starts from an empty store (a new directory, a new schema).

Rows: ingest of all N fills in one `record_fills` (one transaction, as `kalshi sync` does), in batches of 1,000
(a paged sync), and one commit per fill (a small sample: what a bot writing each fill as it comes pays); the
trades export of the N fills through `export_trades` (what `kalshi export-trades` runs, less the sync).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

from bench_pnl import synthetic_fills
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: the package and its test cluster

from kalshi_trading.store import Store, open_store  # noqa: E402
from kalshi_trading.trading.csv_export import export_trades  # noqa: E402

Opener = Callable[[], Store]


def median_time(fn: Callable[[], object], rounds: int, setup: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(rounds):
        setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Backend:
    """Fresh, empty stores of one backend, one per round (closed at the end)."""

    def __init__(self, name: str, fresh_url: Callable[[], str]):
        self.name = name
        self._fresh_url = fresh_url
        self._open: list[Store] = []

    def fresh(self) -> Store:
        store = open_store(self._fresh_url(), env="bench")
        self._open.append(store)
        return store

    def close(self) -> None:
        for store in self._open:
            store.close()


def bench_ingest(backend: Backend, fills: list, rounds: int, per_commit: int) -> list[tuple]:
    holder: dict[str, Store] = {}

    def setup() -> None:
        holder["store"] = backend.fresh()
        holder["store"].journal()  # the schema or file is made before the clock starts

    def all_at_once() -> None:
        assert holder["store"].journal().record_fills(fills) == len(fills)

    def pages() -> None:
        journal = holder["store"].journal()
        for start in range(0, len(fills), 1000):
            journal.record_fills(fills[start:start + 1000])

    def one_each() -> None:
        journal = holder["store"].journal()
        for f in fills[:per_commit]:
            journal.record_fills([f])

    return [
        (backend.name, "ingest: one record_fills, one transaction", len(fills),
         median_time(all_at_once, rounds, setup)),
        (backend.name, "ingest: batches of 1,000 fills", len(fills), median_time(pages, rounds, setup)),
        (backend.name, "ingest: one transaction per fill", per_commit, median_time(one_each, rounds, setup)),
    ]


def bench_export(backend: Backend, fills: list, rounds: int, workdir: Path) -> list[tuple]:
    journal = backend.fresh().journal()
    journal.record_fills(fills)
    out = workdir / f"{backend.name}.csv"
    seconds = median_time(lambda: export_trades(journal, out, force=True), rounds)
    return [(backend.name, "export-trades: all fills to CSV", len(fills), seconds)]


def postgres_urls(pg_url: str | None) -> Iterator[Callable[[], str]]:
    """Fresh database URLs: a new database per round on the given server (or on a throwaway cluster)."""
    if pg_url is not None:
        import psycopg

        def on_server() -> str:
            name = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
            return pg_url.rsplit("/", 1)[0] + "/" + name

        yield on_server
        return
    from tests.store.pg_server import DURABLE, Cluster, unavailable

    why = unavailable()
    if why is not None:
        sys.exit(f"no PostgreSQL to measure: {why} (or give --pg-url)")
    cluster = Cluster(DURABLE, directory="/var/tmp")
    try:
        cluster.start()
        yield lambda: cluster.url(cluster.create_database())
    finally:
        cluster.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fills", type=int, default=1_000_000, help="fills ingested and exported")
    parser.add_argument("--tickers", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-commit", type=int, default=500, help="fills for the one-transaction-per-fill row")
    parser.add_argument("--pg-url", help="an existing PostgreSQL server (its user may create databases)")
    args = parser.parse_args()

    fills = synthetic_fills(args.fills, args.tickers)
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        counter = iter(range(10**6))
        lite = Backend("SQLite", lambda: f"sqlite://{workdir}/sqlite-{next(counter)}/")
        for fresh_pg in postgres_urls(args.pg_url):
            pg = Backend("PostgreSQL", fresh_pg)
            try:
                for backend in (lite, pg):
                    rows += bench_ingest(backend, fills, args.rounds, args.per_commit)
                for backend in (lite, pg):
                    rows += bench_export(backend, fills, args.rounds, workdir)
            finally:
                lite.close()
                pg.close()
    print(f"{args.fills:,} fills over {args.tickers:,} tickers; median of {args.rounds} rounds; SQLite WAL + "
          "synchronous=FULL; PostgreSQL 15 on loopback, fsync and synchronous_commit on")
    rows.sort(key=lambda r: (r[1], r[0] != "SQLite"))
    print(tabulate([(what, name, f"{n:,}", f"{s:.3f}", f"{n / s:,.0f}") for name, what, n, s in rows],
                   headers=["measure", "backend", "rows", "seconds", "rows/s"], disable_numparse=True))


if __name__ == "__main__":
    main()
