"""`kalshi --help` stays light: heavy libraries load only in the commands that use them."""

import subprocess
import sys

HEAVY = ("requests", "cryptography", "numpy", "scipy", "websockets", "sqlite3", "kalshi_trading.api.client",
         "kalshi_trading.sim.engine", "kalshi_trading.trading.executor")


def test_help_imports_nothing_heavy():
    code = ("import sys, runpy; sys.argv = ['kalshi', '--help']\n"
            "try:\n    runpy.run_module('kalshi_trading', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-500:]
