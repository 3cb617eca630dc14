"""Using the simulator: accounts with keys, an embedded server, and the CLI's operations.

State lives under a data directory (`<data_dir>/sim`; a directory already named `sim` is used
as is).  A process that changes the exchange holds an exclusive lock on `<sim dir>/lock` for
as long as it does, so two processes never overwrite each other's state.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from kalshi_trading.errors import KalshiError, StorageError
from kalshi_trading.sim.records import Account

if TYPE_CHECKING:  # imported when a server starts (the CLI's other commands never pay for them)
    from kalshi_trading.sim.clock import Clock
    from kalshi_trading.sim.ext_ws import MarketWsParams
    from kalshi_trading.sim.faults import FaultSpec
    from kalshi_trading.sim.http import App, SimHTTPServer
    from kalshi_trading.sim.ratelimit import RateLimits

log = logging.getLogger(__name__)

DEFAULT_BALANCE = Decimal("1000")
SAVE_EVERY_S = 0.5
PULSE_S = 0.2  # wall seconds between background syncs at most...
PULSE_STEPS = 1  # ...and at most this many simulation steps: at x60 the world moves every 1/60 s, not in bursts


class SimBusy(KalshiError):
    """Another process is running this simulated exchange."""


@dataclass(frozen=True)
class SimAccount:
    key_id: str
    private_key_path: Path


@contextmanager
def _database_errors(directory: Path) -> Iterator[None]:
    """Failures of the simulator's own database become a StorageError naming its directory (exit 3, not 1)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"cannot use the simulator's directory {directory}: {exc}", path=directory) from None


def sim_dir(data_dir: Path) -> Path:
    data_dir = Path(data_dir).expanduser()
    return data_dir if data_dir.name == "sim" else data_dir / "sim"


class _Lock:
    """An exclusive advisory lock on a file (released on close or process exit)."""

    def __init__(self, directory: Path):
        import fcntl

        self._fd: int | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # a data directory that is a file, read-only, or cannot exist: exit 3, not 1
            raise StorageError(f"cannot use the simulator's directory {directory}: {exc.strerror or exc}",
                               path=directory) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise SimBusy(f"another process is running the simulated exchange in {directory}; stop it first") from None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Session:
    """Opened state: store + exchange (+ lock), saved on close."""

    def __init__(self, data_dir: Path, *, seed: int | None = None, speed: float = 1.0, participants: bool = True,
                 clock=None):
        from kalshi_trading.sim import store as store_mod

        self.dir = sim_dir(data_dir)
        self.lock = _Lock(self.dir)
        self.save_lock = threading.Lock()  # a snapshot is taken and written whole (a reset wipes in between)
        try:
            self.store = store_mod.Store(self.dir)
            docs = self.store.read()
            self.fresh = "meta" not in docs
            if not self.fresh:
                self.exchange = store_mod.load(docs, speed=speed, participants=participants, clock=clock)
            else:
                self.exchange = _fresh(seed or 0, speed, participants, clock)
            self.extra = json.loads(docs.get("demo", "{}"))
        except BaseException:
            self.lock.release()
            raise

    def save(self) -> None:
        from kalshi_trading.sim import store as store_mod

        with self.save_lock:
            exchange = self.exchange
            with exchange.lock:
                docs = store_mod.dump(exchange)
                rows = exchange.candles.flush(exchange.clock.now_ms())
            docs["demo"] = json.dumps(self.extra)
            self.store.write(docs, rows)

    def close(self, save: bool = True) -> None:
        try:
            if save:
                self.save()
            self.store.close()
        finally:
            self.lock.release()


def _fresh(seed: int, speed: float, participants: bool, clock):
    from kalshi_trading.sim.clock import SimClock
    from kalshi_trading.sim.exchange import SimExchange

    clock = clock or SimClock(int(time.time() * 1000), speed=speed)
    ex = SimExchange(clock, seed=seed, participants=participants)
    ex.list_due(ex.sim_ms)
    return ex


def _new_account(session: _Session, balance: Decimal, name: str) -> SimAccount:
    from kalshi_trading.sim.auth import generate_key_pair

    key_id = str(uuid.uuid4())
    path = session.dir / "keys" / f"{name}-{key_id}.pem"
    public_pem = generate_key_pair(path)
    cash = int(Decimal(balance) * 1_000_000)
    if cash < 0:
        raise ValueError("balance must not be negative")
    ex = session.exchange
    with ex.lock:
        account = ex.engine.add_account(Account(key_id, str(uuid.uuid4()), key_id, public_pem, cash))
        ex.extras.subaccounts.deposit(str(uuid.uuid4()), account, cash // 10_000, ex.clock.now_ms())
    return SimAccount(key_id, path)


def ensure_demo_account(data_dir: Path, balance: Decimal = DEFAULT_BALANCE) -> SimAccount:
    """Create the exchange and a demo account (RSA key, PEM 0600) on first use; idempotent."""
    session = _Session(data_dir)
    try:
        account = _demo(session, balance)
    finally:
        session.close()
    return account


def _demo(session: _Session, balance: Decimal) -> SimAccount:
    demo = session.extra.get("demo")
    if demo and demo["key_id"] in session.exchange.engine.by_key and Path(demo["path"]).exists():
        return SimAccount(demo["key_id"], Path(demo["path"]))
    account = _new_account(session, balance, "demo")
    session.extra["demo"] = {"key_id": account.key_id, "path": str(account.private_key_path)}
    return account


def create_account(data_dir: Path, balance: Decimal) -> SimAccount:
    """An extra account with its own key pair (e.g. two accounts trading against each other)."""
    session = _Session(data_dir)
    try:
        return _new_account(session, balance, "account")
    finally:
        session.close()


class SimServer:
    """The exchange served over loopback HTTP in daemon threads; saves on change and on stop."""

    def __init__(self, session: _Session, host: str, port: int, faults: FaultSpec | str | None,
                 rate_limits: RateLimits | bool, participants: bool, ws_ping_interval: float = 10.0,
                 market_ws: MarketWsParams | None = None):
        self._session = session
        self._market_ws = market_ws
        self._ws_ping_interval = ws_ping_interval
        self.exchange = session.exchange
        self._host, self._port = host, port
        self._faults = faults
        self._rate_limits = rate_limits
        self._participants = participants
        self._httpd: SimHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._dirty = threading.Event()
        self.app: App | None = None  # set by start()
        self.control_token = secrets.token_urlsafe(32)  # for `kalshi sim ...` of other processes (server.json)

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.host_port
        return f"http://{host}:{port}/trade-api/v2"

    @property
    def ws_url(self) -> str:
        """The WebSocket feed, on the REST port."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.host_port
        return f"ws://{host}:{port}/trade-api/ws/v2"

    def _running_app(self) -> App:
        if self.app is None:
            raise RuntimeError("server not started")
        return self.app

    # ---- WebSocket fault hooks (tests): each acts once --------------------------------------

    def drop_next_delta(self) -> None:
        """The next order book delta is not sent (its seq is used: a gap)."""
        self._running_app().feed.drop_next_delta()

    def duplicate_next_delta(self) -> None:
        """The next order book delta is sent twice (same seq)."""
        self._running_app().feed.duplicate_next_delta()

    def close_connections(self) -> int:
        """Drop every WebSocket connection now (no close frame); return how many."""
        return self._running_app().feed.close_connections()

    def start(self) -> "SimServer":
        from kalshi_trading.sim.faults import FaultSpec
        from kalshi_trading.sim.http import App, SimHTTPServer
        from kalshi_trading.sim.ratelimit import RateLimits

        if self._httpd is not None:
            return self
        limits = self._rate_limits
        if limits is True:
            limits = RateLimits()
        faults = self._faults
        if not isinstance(faults, FaultSpec):
            faults = FaultSpec.parse(faults if faults is not None else os.environ.get("KALSHI_SIM_FAULTS"))
        app = self.app = App(self.exchange, self._session.store, limits or False, faults,
                             on_change=self._dirty.set, ws_ping_interval=self._ws_ping_interval,
                             market_ws=self._market_ws)
        app.control = self  # the /sim/control routes (see routes_control)
        if self.exchange.prime():  # two-sided books before the first request
            self._dirty.set()
        httpd = self._httpd = SimHTTPServer((self._host, self._port), app)
        serve = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                 name="sim-http", daemon=True)
        pulse = threading.Thread(target=self._pulse, name="sim-pulse", daemon=True)
        self._threads = [serve, pulse]
        for t in self._threads:
            t.start()
        log.info("simulated exchange serving at %s", self.base_url)
        _write_server_file(self._session.dir, self.base_url, self.control_token)
        return self

    def _pulse(self) -> None:
        """Advance the simulation in the background and save when something changed."""
        last_saved = self.exchange.engine.version
        last_save_at = time.monotonic()
        while not self._stopping.wait(self.pulse_interval()):
            try:
                self.exchange.sync()
                if self.exchange.engine.version != last_saved and time.monotonic() - last_save_at >= SAVE_EVERY_S:
                    last_saved = self.exchange.engine.version
                    last_save_at = time.monotonic()
                    self._session.save()
            except Exception:  # the pulse must not die silently; log and keep serving
                log.exception("simulator pulse failed")

    def pulse_interval(self) -> float:
        """Wall seconds between background syncs: PULSE_S, or less on a fast clock, so that the world (the makers'
        repricing) is published as it happens and not in bursts a bot would see only after its next order had
        already met them (at x60 a 0.2-s pulse would be 12 simulated seconds)."""
        from kalshi_trading.sim.exchange import STEP_MS

        speed = getattr(self.exchange.clock, "speed", 1.0)
        return min(PULSE_S, PULSE_STEPS * STEP_MS / 1000.0 / max(speed, 1e-9))

    def save(self) -> None:
        self._session.save()

    # ---- for the control routes (sim.control) -------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._session.dir

    def demo_info(self) -> dict:
        return self._session.extra.get("demo") or {}

    def changed(self) -> None:
        """Save soon (the pulse saves what changed)."""
        self._dirty.set()

    def replace_exchange(self, balance: Decimal) -> SimAccount:
        """Wipe the saved exchange and serve a fresh one with a new demo account (under the old one's lock)."""
        from kalshi_trading.sim.feed import Feed

        session = self._session
        with session.save_lock, self.exchange.lock:
            session.store.wipe()
            _remove_keys(session.dir)
            fresh = _fresh(0, getattr(self.exchange.clock, "speed", 1.0), self._participants, None)
            session.exchange = self.exchange = fresh
            session.extra = {}
            account = _demo(session, balance)
            app = self._running_app()
            app.feed.shutdown()
            app.feed = Feed(fresh, app.feed.spec)
            app.exchange = fresh
        fresh.prime()
        session.save()
        return account

    def create_account(self, balance: Decimal = DEFAULT_BALANCE) -> SimAccount:
        """Another account on the running exchange (the module-level one needs the lock)."""
        account = _new_account(self._session, balance, "account")
        self._dirty.set()
        return account

    @property
    def demo_account(self) -> SimAccount:
        demo = self._session.extra["demo"]
        return SimAccount(demo["key_id"], Path(demo["path"]))

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        _remove_server_file(self._session.dir)
        if self.app is not None:
            self.app.feed.shutdown()
            self.app.market_ws.shutdown()
        if self._httpd is not None:
            # shutdown() waits for serve_forever's next poll; a dummy connection wakes it at once
            closer = threading.Thread(target=self._httpd.shutdown, daemon=True)
            closer.start()
            try:
                import socket

                socket.create_connection(self._httpd.host_port, timeout=1).close()
            except OSError:
                pass
            closer.join(timeout=5)
            self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._session.close(save=True)

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def start_embedded(data_dir: Path, *, host: str = "127.0.0.1", port: int = 0, seed: int | None = None,
                   speed: float = 1.0, faults: str | None = None, participants: bool = True,
                   rate_limits: RateLimits | bool = True, clock: Clock | None = None, ws_ping_interval: float = 10.0,
                   balance: Decimal = DEFAULT_BALANCE, market_ws: MarketWsParams | None = None,
                   flaky_venue: bool = True) -> SimServer:
    """Load (or create) the exchange under `data_dir` and serve it; `seed` applies to a new exchange.

    `rate_limits` may be True (generous defaults), False (off) or a `RateLimits`; `faults` a spec
    string (default: env KALSHI_SIM_FAULTS); `clock` an injected clock (tests); `ws_ping_interval`
    the WebSocket heartbeat period in seconds; `balance` the demo account's cash when it is created;
    `market_ws` the timing of the loopback Crypto.com market stream (heartbeats; `/ext` routes in routes_outside);
    `flaky_venue=False` keeps every outside bitcoin venue well (by default one is now and then stale or failing, by
    the seed and the time: a test of something else would otherwise fail at some times of day).
    """
    with _database_errors(sim_dir(data_dir)):
        session = _Session(data_dir, seed=seed, speed=speed, participants=participants, clock=clock)
        session.exchange.flaky_venue = flaky_venue
        try:
            if not session.extra.get("demo"):
                _demo(session, balance)
            if session.fresh:
                session.save()  # so other processes see the new exchange at once
            server = SimServer(session, host, port, faults, rate_limits, participants, ws_ping_interval, market_ws)
            return server.start()
        except BaseException:
            session.close(save=False)
            raise


# ---- CLI operations ----------------------------------------------------------------------------


def sim_status(data_dir: Path) -> dict:
    """A summary of the exchange state (read-only; works while a server runs)."""
    from kalshi_trading.sim import store as store_mod
    from kalshi_trading.sim.clock import fmt_time

    directory = sim_dir(data_dir)
    if not (directory / store_mod.DB_NAME).exists():
        return {"exists": False, "data_dir": str(directory)}
    st = store_mod.Store(directory)
    try:
        docs = st.read()
    finally:
        st.close()
    if "meta" not in docs:
        return {"exists": False, "data_dir": str(directory)}
    meta = json.loads(docs["meta"])
    markets = json.loads(docs["markets"])
    accounts = [a for a in json.loads(docs["accounts"]) if not a["house"]]
    demo = json.loads(docs.get("demo", "{}")).get("demo") or {}
    by_status: dict[str, int] = {}
    for m in markets:
        by_status[m["status"]] = by_status.get(m["status"], 0) + 1
    demo_row = next((a for a in accounts if a["key_id"] == demo.get("key_id")), None)
    return {
        "exists": True,
        "data_dir": str(directory),
        "sim_time": fmt_time(meta.get("clock_ms", meta["sim_ms"])),
        "saved_at": fmt_time(meta["wall_ms"]),
        "seed": meta["seed"],
        "markets": by_status,
        "events": len(json.loads(docs["events"])),
        "accounts": len(accounts),
        "demo_key_id": demo.get("key_id"),
        "demo_private_key_path": demo.get("path"),
        "demo_cash_dollars": str(Decimal(demo_row["cash"]) / 1_000_000) if demo_row else None,
    }


def sim_reset(data_dir: Path, balance: Decimal = DEFAULT_BALANCE) -> SimAccount:
    """Wipe the exchange and start again with a fresh demo account."""
    directory = sim_dir(data_dir)
    lock = _Lock(directory)
    try:
        from kalshi_trading.sim import store as store_mod

        st = store_mod.Store(directory)
        st.wipe()
        st.close()
        for old in (directory / "keys").glob("*.pem") if (directory / "keys").exists() else ():
            old.unlink()
    finally:
        lock.release()
    return ensure_demo_account(data_dir, balance)


def sim_advance(data_dir: Path, seconds: float) -> dict:
    """Move simulated time forward; markets that expire settle on the simulated underlying."""
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    from kalshi_trading.sim.control import advance_exchange

    session = _Session(data_dir)
    try:
        result = advance_exchange(session.exchange, seconds)
    finally:
        session.close()
    return result


def _remove_keys(directory: Path) -> None:
    for old in (directory / "keys").glob("*.pem") if (directory / "keys").exists() else ():
        old.unlink()


def sim_settle(data_dir: Path, ticker: str, result: str) -> dict:
    """Settle one market now with `result` (yes | no | void)."""
    session = _Session(data_dir)
    try:
        market = session.exchange.settle(ticker, result)
        out = {"ticker": market.ticker, "result": market.result, "status": market.status}
    finally:
        session.close()
    return out


def demo_account(data_dir: Path, balance: Decimal = DEFAULT_BALANCE) -> SimAccount:
    """The demo account's key, read without taking the exchange lock (so a client can use it while
    `kalshi sim serve` runs); created on first use."""
    with _database_errors(sim_dir(data_dir)):
        return _demo_account(data_dir, balance)


def _demo_account(data_dir: Path, balance: Decimal) -> SimAccount:
    from kalshi_trading.sim import store as store_mod

    path = sim_dir(data_dir) / store_mod.DB_NAME
    if path.exists():
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM kv WHERE key = 'demo'").fetchone()
        except sqlite3.Error:
            row = None
        finally:
            conn.close()
        demo = json.loads(row[0]).get("demo") if row else None
        if demo and Path(demo["path"]).exists():
            return SimAccount(demo["key_id"], Path(demo["path"]))
    return ensure_demo_account(data_dir, balance)


SERVER_FILE = "server.json"


def _write_server_file(directory: Path, base_url: str, control_token: str) -> None:
    """Tell other processes where this exchange is served and the token of its control routes (mode 0600,
    like the keys beside it; removed again on stop)."""
    path = directory / SERVER_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps({"base_url": base_url, "pid": os.getpid(), "control_token": control_token}))
    os.replace(tmp, path)


def _remove_server_file(directory: Path) -> None:
    path = directory / SERVER_FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_server(data_dir: Path) -> str | None:
    """The base URL of a live process serving this exchange (e.g. `kalshi sim serve`), or None."""
    found = running_control(data_dir)
    return found[0] if found is not None else None


def running_control(data_dir: Path) -> tuple[str, str] | None:
    """(base URL, control token) of a live process serving this exchange, or None."""
    try:
        info = json.loads((sim_dir(data_dir) / SERVER_FILE).read_text())
        pid, url, token = int(info["pid"]), str(info["base_url"]), str(info.get("control_token", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's process
    return url, token
