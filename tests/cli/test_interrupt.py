"""Ctrl-C while waiting for the exchange: a short message, exit code 130, no traceback, nothing left behind."""

import os
import signal
import socket
import subprocess
import sys
import time


def test_interrupted_while_waiting_for_the_exchange(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    port = silent.getsockname()[1]
    env = {**os.environ, "KALSHI_ENV": "sim", "KALSHI_API_BASE": f"http://127.0.0.1:{port}/trade-api/v2",
           "KALSHI_DATA_DIR": str(tmp_path), "KALSHI_LOG_DIR": str(tmp_path / "logs"), "NO_COLOR": "1",
           "KALSHI_READ_TIMEOUT": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_trading", "balance"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        conn, _ = silent.accept()  # the request has been sent; the command now waits for an answer
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        silent.close()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    conn.close()
