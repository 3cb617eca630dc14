"""Settling write-ahead order intents against the exchange, without ever closing one that may still be in flight.

An intent is written (with its writer and a deadline) before its order is sent.  Another process may close it
only when the writer is certainly gone (`intent_owner.liveness`) or the deadline has passed: the deadline is the
longest one `create_order` can take (the retry policy's total plus one attempt, doubled, plus a minute).

Closing an intent as `not_placed` is still a judgement made at one moment: an order sent just before its writer
died can reach the exchange a moment later.  So `not_placed` intents of the recent past are looked at again
whenever more information arrives: an order listed with that client_order_id, a fill of an order the journal
does not know (its order is fetched and its client_order_id compared), and each executor start.  A match is
recorded as placed, with the order id (`TradeJournal.record_late_placement`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Iterable

from kalshi_trading.errors import ApiError
from kalshi_trading.store.journal import LEGACY_IN_FLIGHT_S, NOT_PLACED, OrderEvent, TradeJournal
from kalshi_trading.trading.intent_owner import Liveness, liveness

log = logging.getLogger(__name__)
trades_log = logging.getLogger("kalshi_trading.trades")

RECHECK_AT_START = timedelta(days=1)  # not_placed intents asked about again (one request each) at executor start
RECHECK_BY_FILL = timedelta(days=30)  # a fill of an unknown order is matched against not_placed intents this old
_MARGIN_S = 60.0


def in_flight_limit(client: object) -> timedelta:
    """How long after its intent an order sent through `client` can still reach the exchange.

    The transport retries until its policy's total (`max_total`); the last attempt may start just before that and
    take a connect plus a read timeout (or the transport's whole-attempt deadline when it has one).  Doubled, plus
    a minute, for rate-limiter waits and a slow machine.
    """
    transport = getattr(client, "transport", None)
    retry = getattr(transport, "retry", None)
    total = float(getattr(retry, "max_total", 30.0))
    timeout = getattr(transport, "timeout", (3.05, 10.0))
    attempt = getattr(transport, "attempt_deadline", None)
    if attempt is None:
        attempt = sum(timeout) if isinstance(timeout, tuple) else float(timeout)
    return timedelta(seconds=2 * (total + float(attempt)) + _MARGIN_S)


def may_settle(intent: OrderEvent, now: datetime) -> bool:
    """True when no process can still be sending this intent's order."""
    deadline = intent.deadline or intent.time + timedelta(seconds=LEGACY_IN_FLIGHT_S)
    if now >= deadline:
        return True
    return liveness(intent.owner) is Liveness.GONE


def reconcile(client, journal: TradeJournal, env: str, now: datetime) -> list[tuple[str, str | None, str]]:
    """Settle pending intents nobody can still be sending, then look again at recent `not_placed` ones.

    Returns (client_order_id, order_id or None, status) for every intent whose record changed.
    """
    settled: list[tuple[str, str | None, str]] = []
    for intent in journal.pending_intents():
        if intent.env and intent.env != env.lower():
            continue  # another environment's journal entry; never ask the wrong exchange
        if not may_settle(intent, now):
            log.info("order intent %s may still be in flight (its writer runs; deadline %s): left pending",
                     intent.client_order_id, intent.deadline)
            continue
        order = client.find_order_by_client_id(intent.ticker, intent.client_order_id)
        if order is None:
            journal.mark_reconciled(intent.client_order_id, None, NOT_PLACED)
            settled.append((intent.client_order_id, None, NOT_PLACED))
        else:
            journal.mark_reconciled(intent.client_order_id, order.order_id, order.status)
            settled.append((intent.client_order_id, order.order_id, order.status))
        trades_log.info("RECONCILED cid=%s -> %s", intent.client_order_id, settled[-1][1:])
    just_closed = {cid for cid, _, _ in settled}
    for intent in journal.not_placed_intents(now - RECHECK_AT_START):
        if intent.client_order_id in just_closed or (intent.env and intent.env != env.lower()):
            continue
        order = client.find_order_by_client_id(intent.ticker, intent.client_order_id)
        if order is not None:
            journal.record_late_placement(intent.client_order_id, order.order_id, order.status)
            settled.append((intent.client_order_id, order.order_id, order.status))
    return settled


def relink_from_orders(journal: TradeJournal, orders: Iterable, now: datetime) -> int:
    """Orders just listed by the exchange: any that carries a recent `not_placed` intent's id was placed after all."""
    orders = [o for o in orders if getattr(o, "client_order_id", None)]
    if not orders:
        return 0
    lost = {i.client_order_id for i in journal.not_placed_intents(now - RECHECK_BY_FILL)}
    found = 0
    for order in orders:
        if order.client_order_id in lost:
            journal.record_late_placement(order.client_order_id, order.order_id, order.status)
            lost.discard(order.client_order_id)
            found += 1
    return found


def relink_from_fills(journal: TradeJournal, client, fills: Iterable, now: datetime) -> int:
    """Fills just synced: an order the journal does not know, on a market with a recent `not_placed` intent, is
    fetched; if it carries that intent's client_order_id the intent is recorded as placed."""
    fills = list(fills)
    if not fills:
        return 0
    lost = {i.client_order_id: i for i in journal.not_placed_intents(now - RECHECK_BY_FILL)}
    if not lost:
        return 0
    tickers = {i.ticker for i in lost.values()}
    candidates = {f.order_id for f in fills if f.ticker in tickers}
    unknown = sorted(candidates - journal.known_order_ids(candidates))
    found = 0
    for order_id in unknown:
        try:
            order = client.get_order(order_id)
        except ApiError as exc:  # best effort: the fill is stored either way
            log.warning("could not fetch order %s to match it with an intent: %s", order_id, exc)
            continue
        if order.client_order_id in lost:
            journal.record_late_placement(order.client_order_id, order.order_id, order.status)
            del lost[order.client_order_id]
            found += 1
    return found
