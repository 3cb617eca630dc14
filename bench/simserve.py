"""What the simulator benchmarks share: a private `sim` environment, the real CLI in a subprocess, and
`kalshi sim serve` for the length of a `with` block."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

FOREIGN = ("KALSHI_API_BASE", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_WS_BASE")


def sim_env(tmp: str, **extra: str) -> dict[str, str]:
    """The `sim` environment with its data and logs under `tmp`, and none of the caller's exchange settings."""
    env = {**os.environ, "KALSHI_DATA_DIR": os.path.join(tmp, "data"), "KALSHI_LOG_DIR": os.path.join(tmp, "logs"),
           "KALSHI_ENV": "sim", **extra}
    for name in FOREIGN:
        env.pop(name, None)
    return env


def kalshi(env: dict[str, str], *args: str, timeout: float = 300, cwd: str | None = None) -> str:
    """`kalshi ARGS` in a subprocess; its stdout, or SystemExit with the end of its stderr."""
    out = subprocess.run([sys.executable, "-m", "kalshi_trading", *args], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"kalshi {' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out.stdout


@contextmanager
def served(env: dict[str, str], speed: float, seed: int) -> Iterator[str]:
    """`kalshi sim serve --speed S --seed N` while the block runs; yields its base URL, also set as
    `env["KALSHI_API_BASE"]` so that the CLI calls in the block reach it."""
    server = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "sim", "serve", "--speed", str(speed),
                               "--seed", str(seed)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        base = ""
        assert server.stdout is not None
        for line in server.stdout:  # "base url:         http://127.0.0.1:PORT/trade-api/v2", once it listens
            if line.startswith("base url:"):
                base = line.split(":", 1)[1].strip()
                break
        if not base:
            raise SystemExit(f"kalshi sim serve ended without serving (exit {server.wait(30)})")
        env["KALSHI_API_BASE"] = base
        yield base
    finally:
        server.terminate()
        server.wait(30)
