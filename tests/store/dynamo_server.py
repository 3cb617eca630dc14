"""A DynamoDB server for the tests: moto's in-process server (`ThreadedMotoServer`) on 127.0.0.1, on a free port.

    url = dynamo_url()          # a fresh, empty store: its own table prefix on this process's server

The server starts on first use, once per test process (so pytest-xdist workers each have their own port), and
stops at exit.  Every URL gets a new table prefix, so tests never see each other's tables.  The AWS credentials of
the test process are dummies (`test`), never real ones.  Where moto or boto3 are missing, the calling test is
skipped with the reason (and fails in CI: `require_store_server`).

`MotoServer` is a server of one's own (for the tests that stop one mid-run): moto keeps its data in the process, so
a server started again on the same port serves the same tables, as a database restarted on its disk would.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import socket
import threading
from typing import Any

from tests.conftest import require_store_server

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test-secret-not-real",
                     "AWS_EC2_METADATA_DISABLED": "true"}
_lock = threading.Lock()
_shared: list["MotoServer"] = []
_prefixes = itertools.count(1)


def use_dummy_credentials() -> None:
    """Point boto3's chain at dummy credentials in this process (a real profile or token is never used)."""
    os.environ.update(DUMMY_CREDENTIALS)
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """moto's DynamoDB in a thread of this process, on 127.0.0.1:`port` (a free one when not given)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, prefix: str | None = None) -> str:
        prefix = prefix or f"t{os.getpid()}x{next(_prefixes)}_"
        return f"dynamodb://us-east-1?endpoint={self.endpoint}&prefix={prefix}"

    def start(self) -> "MotoServer":
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request lines on the test output
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def _available() -> str | None:
    """Why the server cannot run here (None: it can)."""
    for module in ("boto3", "moto.server", "flask", "werkzeug"):
        try:
            __import__(module)
        except ImportError as exc:
            return f"{module} is not installed ({exc}); pip install 'kalshi-trading[dynamodb,dynamodb-test]'"
    return None


def shared_server() -> MotoServer:
    """This process's server, started on first use (the test calling it is skipped when it cannot run)."""
    why = _available()
    if why is not None:
        require_store_server("DynamoDB", why)
    use_dummy_credentials()
    with _lock:
        if not _shared:
            _shared.append(MotoServer().start())
            atexit.register(_shared[0].stop)
    return _shared[0]


def dynamo_url(_tmp: object = None) -> str:
    """A store URL no other test uses (its own table prefix), on this process's server."""
    return shared_server().url()
