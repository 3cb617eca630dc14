"""A running bot's leases: several bots may share one store (and one exchange account), each trading its own
markets.  At start a bot leases its name (`bot/<name>`) and every market it trades (`market/<ticker>`), all or none,
before it touches any order there; a market another live bot holds refuses the start (exit 3) naming the holder and
the expiry.  The loop's housekeeping renews the leases (every third of their time to live); a clean stop releases
them.  A crashed bot's leases lapse after their time to live, and another bot may then take its markets over: its
start-up reconciliation adopts or cancels the dead bot's orders there (`--on-start`).

A renewal that finds a market's lease taken over (this bot stalled past its expiry, and another took the market)
gives that market up: the loop cancels the bot's own orders there and trades it no more this run.  While the store
does not answer, the bot goes on until the lease it holds would lapse, then gives those markets up as well: after
that moment another bot may trade them.  Losing the lease on its own name (another process now runs as this bot)
stops the run.

Lease times are the wall clock's (UTC), not the exchange's: a simulated exchange's clock may run faster.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from kalshi_trading.errors import StorageError
from kalshi_trading.store.journal import IntentOwner
from kalshi_trading.store.lease import Lease, LeaseHeld, LeaseHolder, LeaseLost, LeaseStore
from kalshi_trading.trading.intent_owner import Liveness, current_owner, liveness

log = logging.getLogger(__name__)

MARKET_PREFIX = "market/"
BOT_PREFIX = "bot/"


def market_lease(ticker: str) -> str:
    return MARKET_PREFIX + ticker


def bot_lease(bot: str) -> str:
    return BOT_PREFIX + bot


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def current_holder(bot: str, started: datetime | None = None) -> LeaseHolder:
    """This process as the holder of bot `bot`'s leases (host, boot, pid and the time this run started)."""
    owner = current_owner()
    return LeaseHolder(f"bot {bot}", owner.host, owner.pid, owner.boot_id or "", started or utc_now(), owner.pid_ns,
                       owner.start_ticks)


def holder_gone(holder: LeaseHolder) -> bool:
    """Whether the holder is certainly no longer running (a process of this machine that ended, or of an earlier
    boot of it); a holder on another machine, or one that cannot be judged from here, is not."""
    return liveness(IntentOwner(holder.host, holder.boot_id or None, holder.pid_ns, holder.pid,
                                holder.start_ticks)) is Liveness.GONE


def foreign_markets(store: LeaseStore, bot: str, now: datetime | None = None) -> frozenset[str]:
    """Markets whose lease a bot other than `bot` holds now (their orders and positions are that bot's)."""
    now = now or utc_now()
    return frozenset(lease.name[len(MARKET_PREFIX):] for lease in store.holders(MARKET_PREFIX)
                     if lease.holder.name != f"bot {bot}" and not lease.expired(now))


class MarketLeases:
    """The leases of one bot run over its markets (see the module docstring)."""

    def __init__(self, store: LeaseStore, holder: LeaseHolder, bot: str, tickers: Iterable[str], *,
                 ttl: Callable[[], float], clock: Callable[[], datetime] = utc_now,
                 on_bot_lost: Callable[[str], None] | None = None):
        self.store = store
        self.holder = holder
        self.bot = bot
        self.tickers = tuple(tickers)
        self._ttl = ttl
        self._clock = clock
        self.on_bot_lost = on_bot_lost or (lambda why: None)  # the run sets it: stop
        self.expires: dict[str, datetime] = {}  # lease name -> when it lapses unless renewed (the held ones)
        self.foreign: frozenset[str] = frozenset()  # markets whose lease another bot holds now

    @property
    def every(self) -> float:
        """Wall seconds between renewals: a third of the time to live, so two renewals may fail before it lapses."""
        return max(0.5, self._ttl() / 3)

    def names(self) -> list[str]:
        return [bot_lease(self.bot), *(market_lease(t) for t in self.tickers)]

    def acquire(self) -> list[Lease]:
        """Take every lease, all or none (LeaseHeld, exit 3, names the holder and the expiry).  A lease whose holder
        is certainly gone (a crashed bot of this machine) is taken over at once, without waiting for it to lapse."""
        names = self.names()
        for _ in range(len(names) + 1):  # each round frees the leases of one dead holder
            now = self._clock()
            try:
                taken = self.store.acquire(names, self.holder, now=now, ttl_seconds=self._ttl())
                break
            except LeaseHeld as exc:
                dead = exc.lease.holder
                if not holder_gone(dead):
                    raise
                log.warning("%s is held by %s, which is no longer running: taking it over", exc.lease.name, dead)
                self.store.release(names, dead)
        else:
            raise StorageError(f"could not lease {', '.join(names)}: their holders keep changing")
        self.expires = {lease.name: lease.expires for lease in taken}
        self._see_others(now)
        log.info("leased %s until %s", ", ".join(self.expires), min(self.expires.values()).isoformat())
        return taken

    def holds(self, ticker: str) -> bool:
        """Whether this bot certainly still holds `ticker`'s lease now (by its own clock, no store read): a loop
        that stalled past the expiry renews before it sends anything there."""
        expires = self.expires.get(market_lease(ticker))
        return expires is not None and self._clock() < expires

    def renew(self) -> dict[str, str]:
        """Renew every lease held; returns the markets given up, each with why (the caller stops trading them)."""
        now = self._clock()
        lost: dict[str, str] = {}
        for name in list(self.expires):
            why = self._renew(name, now)
            if why is None:
                continue
            del self.expires[name]
            log.error("%s; stopping trading there", why)
            if name == bot_lease(self.bot):
                self.on_bot_lost(why)  # the run stops; the market leases still held are released at its end
                lost.update({t: why for t in self.tickers})
                break
            lost[name[len(MARKET_PREFIX):]] = why
        self._see_others(now)
        return lost

    def _renew(self, name: str, now: datetime) -> str | None:
        """Renew one lease; None when it is still held, else why it is not."""
        try:
            self.expires[name] = self.store.renew(name, self.holder, now=now, ttl_seconds=self._ttl()).expires
        except LeaseLost as exc:
            return str(exc)
        except StorageError as exc:
            if now + timedelta(seconds=self.every) < self.expires[name]:
                log.warning("could not renew the lease on %s (%s); it holds until %s", name, exc,
                            self.expires[name].isoformat())
                return None
            return f"the lease on {name} could not be renewed before it lapses ({exc})"
        return None

    def _see_others(self, now: datetime) -> None:
        """Which markets other bots hold (their positions are theirs to reconcile)."""
        try:
            held = self.store.holders(MARKET_PREFIX)
        except StorageError as exc:
            log.warning("could not list the market leases: %s", exc)
            return
        self.foreign = frozenset(lease.name[len(MARKET_PREFIX):] for lease in held
                                 if lease.holder != self.holder and not lease.expired(now))

    def release(self) -> None:
        """Free every lease still held (a clean stop); a store that does not answer lets them lapse instead."""
        if not self.expires:
            return
        try:
            self.store.release(list(self.expires), self.holder)
        except StorageError as exc:
            log.warning("could not release the leases (%s); they lapse at their expiry", exc)
        self.expires = {}
