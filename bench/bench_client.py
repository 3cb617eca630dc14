"""Foundation benchmark: signed GET throughput, signing and key-load cost, CLI start-up.

Run:  python bench/bench_client.py [--requests 2000] [--rounds 5]

Prints tables of medians.  Everything is compared with its obvious alternative in the same run:
- our client vs a bare `requests.Session` with the same signing (the floor for requests) vs the official
  `kalshi_python_sync` SDK when installed, against one loopback stdlib HTTP server in another process;
- `kalshi --help` vs `--help` of a minimal two-command Typer app.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tabulate import tabulate

BALANCE = json.dumps({"balance": 100000, "balance_dollars": "1000.0000", "portfolio_value": 0,
                      "updated_ts": 1700000000}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # or the benchmark measures Nagle/delayed-ACK stalls

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BALANCE)))
        self.end_headers()
        self.wfile.write(BALANCE)

    def log_message(self, *args):
        pass


def serve(port_queue):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def make_key(tmp: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp / "bench.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return key, path


def rate(fn, n: int) -> float:
    fn()  # warm the connection
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def ours(base: str, key):
    from kalshi_trading.api.client import KalshiClient

    client = KalshiClient.build(base, "bench-key-id", key, rate_tier=None)
    return client.get_balance


def bare(base: str, key):
    import requests
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    session = requests.Session()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    url = base + "/portfolio/balance"
    path = "/trade-api/v2/portfolio/balance"

    def call():
        ts = str(int(time.time() * 1000))
        sig = key.sign(f"{ts}GET{path}".encode(), pss, hashes.SHA256())
        r = session.get(url, headers={"KALSHI-ACCESS-KEY": "bench-key-id", "KALSHI-ACCESS-TIMESTAMP": ts,
                                      "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()})
        return r.json()

    return call


def official(base: str, key_path: Path):
    try:
        import kalshi_python_sync as sdk  # type: ignore
    except ImportError:
        return None
    config = sdk.Configuration(host=base)
    config.api_key_id = "bench-key-id"
    config.private_key_pem = key_path.read_text()
    client = sdk.KalshiClient(config)
    return client.get_balance


def startup(cmd: list[str], runs: int, extra_env: dict | None = None) -> float:
    times = []
    env = {**os.environ, "NO_COLOR": "1", **(extra_env or {})}
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


MINIMAL_TYPER = textwrap.dedent('''
    import typer
    app = typer.Typer()
    @app.command()
    def hello(name: str):
        """Say hello."""
        print(name)
    @app.command()
    def bye(name: str):
        """Say bye."""
        print(name)
    app()
''')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(queue,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{queue.get(timeout=10)}/trade-api/v2"

    with tempfile.TemporaryDirectory() as tmp:
        key, key_path = make_key(Path(tmp))
        contenders = {"kalshi_trading client": ours(base, key), "bare requests.Session + signing": bare(base, key)}
        sdk_call = official(base, key_path)
        if sdk_call is not None:
            contenders["official kalshi_python_sync"] = sdk_call
        results: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):  # interleave rounds so machine noise hits every contender alike
            for name, fn in contenders.items():
                results[name].append(rate(fn, args.requests))
        medians = {name: statistics.median(v) for name, v in results.items()}
        floor = medians["bare requests.Session + signing"]
        rows = [(name, f"{m:,.0f}", f"{m / floor:.2f}x") for name, m in medians.items()]
        if "official kalshi_python_sync" in medians:
            ratio = medians["kalshi_trading client"] / medians["official kalshi_python_sync"]
            rows.append(("ours / official", "", f"{ratio:.2f}x"))
        else:
            rows.append(("official kalshi_python_sync", "not installed", ""))
        print(f"Signed GET /portfolio/balance over loopback ({args.requests} requests x {args.rounds} rounds, median)")
        print(tabulate(rows, headers=["client", "requests/s", "vs bare floor"], disable_numparse=True))
        print()

        from kalshi_trading.api.signer import Signer
        from kalshi_trading.config import load_private_key

        signer = Signer("bench-key-id", key)
        sign_us = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for i in range(500):
                signer.sign("GET", "/trade-api/v2/portfolio/balance", 1700000000000 + i)
            sign_us.append((time.perf_counter() - t0) / 500 * 1e6)
        load_ms = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            load_private_key(key_path)
            load_ms.append((time.perf_counter() - t0) * 1000)
        print(tabulate([("RSA-PSS signature", f"{statistics.median(sign_us):.0f} µs"),
                        ("private key load (PEM, 2048-bit)", f"{statistics.median(load_ms):.2f} ms")],
                       headers=["operation", "median"], disable_numparse=True))
        print()

        minimal = Path(tmp) / "minimal_typer.py"
        minimal.write_text(MINIMAL_TYPER)
        runs = max(5, args.rounds * 2)
        sim_env = {"KALSHI_ENV": "sim", "KALSHI_DATA_DIR": str(Path(tmp) / "data"),
                   "KALSHI_LOG_DIR": str(Path(tmp) / "logs"), "KALSHI_API_BASE": ""}
        balance_cmd = [sys.executable, "-m", "kalshi_trading", "balance"]
        startup(balance_cmd, 1, sim_env)  # first use creates the simulator state and demo key; not timed
        ours_t, floor_t, balance_t = [], [], []
        for _ in range(runs):
            ours_t.append(startup([sys.executable, "-m", "kalshi_trading", "--help"], 1))
            floor_t.append(startup([sys.executable, str(minimal), "--help"], 1))
            balance_t.append(startup(balance_cmd, 1, sim_env))
        o, f, b = statistics.median(ours_t), statistics.median(floor_t), statistics.median(balance_t)
        print(f"CLI start-up, {runs} cold processes each (median)")
        print(tabulate([("kalshi --help", f"{o * 1000:.0f} ms", f"{o / f:.2f}x", "1.00x"),
                        ("minimal two-command Typer app --help", f"{f * 1000:.0f} ms", "1.00x", f"{f / o:.2f}x"),
                        ("kalshi balance (sim: embedded exchange start included)", f"{b * 1000:.0f} ms",
                         f"{b / f:.2f}x", f"{b / o:.2f}x")],
                       headers=["command", "wall time", "vs minimal Typer", "vs kalshi --help"],
                       disable_numparse=True))
    server.terminate()


if __name__ == "__main__":
    main()
