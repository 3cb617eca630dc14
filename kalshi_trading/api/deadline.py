"""One deadline per attempt, for all of it: connect, send, the response headers and the whole body.

`requests` only has per-operation timeouts: the read timeout restarts on every byte, so a server that sends
one byte every few seconds keeps a request open for ever.  Here every socket read of an attempt waits at most
`min(read timeout, time left)`, and the body is streamed with a check per chunk and a size cap, so an attempt
ends by its deadline however the server misbehaves.

The adapter's connections take the deadline of the attempt running in their thread (`DeadlineAdapter.send`).
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any, Callable

from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import HTTPResponse
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError
from urllib3.poolmanager import ProxyManager

CHUNK = 64 * 1024


class DeadlineExceeded(TimeoutError):
    """The attempt's deadline passed (a socket timeout, so every layer treats it as a read timeout)."""


class BodyTooLarge(Exception):
    """The response body is larger than the cap."""


class BodyUnreadable(Exception):
    """The connection broke (or the encoding was bad) while the body was read."""


class Deadline:
    """A point in time an attempt must end by, and the socket timeout that respects it."""

    def __init__(self, seconds: float, read_timeout: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.read_timeout = read_timeout
        self._clock = clock
        self.at = clock() + seconds

    def left(self) -> float:
        return self.at - self._clock()

    def expired(self) -> bool:
        return self.left() <= 0

    def check(self) -> None:
        if self.expired():
            raise DeadlineExceeded(f"no complete answer within {self.seconds:g} s")

    def socket_timeout(self) -> float:
        """The timeout for the next socket operation: the read timeout, shrunk to the time left."""
        left = self.left()
        if left <= 0:
            raise DeadlineExceeded(f"no complete answer within {self.seconds:g} s")
        return min(self.read_timeout, left)


class _DeadlineReader(io.RawIOBase):
    """The response stream http.client reads headers and body from: each read within the deadline."""

    def __init__(self, sock: Any, deadline: Deadline):
        super().__init__()
        self._sock = sock
        # A real SocketIO underneath keeps the socket's reference count right: a connection http.client closes
        # after a `Connection: close` answer stays readable until this stream is closed.
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._deadline.socket_timeout())
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """The connection's socket as http.client sees it while it reads one response."""

    def __init__(self, sock: Any, deadline: Deadline):
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if mode != "rb":
            return self._sock.makefile(mode, *args, **kwargs)
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineHTTPConnection(HTTPConnection):
    """urllib3's connection, sending and reading within the deadline of the attempt running in this thread."""

    attempts: threading.local  # set per adapter (see _pool_classes)

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = getattr(self.attempts, "deadline", None)
        if deadline is not None and self.sock is not None and isinstance(self.timeout, (int, float)):
            # A reused connection still carries the last read's (shrunk) timeout: reset it for sending.
            self.sock.settimeout(max(min(self.timeout, deadline.left()), 0.001))
        super().request(*args, **kwargs)

    # urllib3 narrows http.client's return type here itself (and ignores the override the same way)
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        deadline = getattr(self.attempts, "deadline", None)
        real = self.sock
        if deadline is None or real is None:
            return super().getresponse()
        self.sock = _DeadlineSocket(real, deadline)
        try:
            return super().getresponse()
        finally:
            if self.sock is not None:  # http.client drops its socket when the server closes the connection
                self.sock = real


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, HTTPSConnection):
    """The same over TLS."""


def _pool_classes(attempts: threading.local) -> dict[str, type]:
    http = type("DeadlineHTTPConnection", (_DeadlineHTTPConnection,), {"attempts": attempts})
    https = type("DeadlineHTTPSConnection", (_DeadlineHTTPSConnection,), {"attempts": attempts})
    return {
        "http": type("DeadlineHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("DeadlineHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections honour one deadline per request (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._attempts = threading.local()
        self._pool_classes = _pool_classes(self._attempts)
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # a SOCKS manager brings its own connection classes
            manager.pool_classes_by_scheme = self._pool_classes
        return manager

    def send_within(self, request: PreparedRequest, deadline: Deadline, **kwargs: Any) -> Response:
        """`send`, streamed, with every socket operation of this request bounded by `deadline`."""
        self._attempts.deadline = deadline
        try:
            return self.send(request, stream=True, **kwargs)
        finally:
            self._attempts.deadline = None


def read_body(response: Response, deadline: Deadline | None, limit: int) -> bytes:
    """The whole (decoded) body, refusing more than `limit` bytes and checking the deadline per chunk.

    Raises DeadlineExceeded, BodyTooLarge or BodyUnreadable; always closes the response.
    """
    cap = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"
    try:
        declared = (response.headers.get("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"response body of {declared} bytes is over the {cap} limit")
        body = bytearray()
        for chunk in response.raw.stream(CHUNK, decode_content=True):
            body += chunk
            if len(body) > limit:
                raise BodyTooLarge(f"response body is over the {cap} limit")
            if deadline is not None:
                deadline.check()
        return bytes(body)
    except DeadlineExceeded:
        raise
    except (ReadTimeoutError, TimeoutError):
        raise DeadlineExceeded("timed out reading the response") from None
    except (ProtocolError, DecodeError, SSLError, OSError) as exc:
        # urllib3 wraps the reason as (text, inner error): the text is the readable part
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise BodyUnreadable(reason) from None
    finally:
        response.close()
