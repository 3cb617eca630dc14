"""The dashboard's bots section: every bot of the store as `kalshi auto status --bot NAME` shows it (risk state and
why, markets, positions, P&L by average cost, working orders), its quotes against the exchange's book, its newest
decisions (inputs, targets, what it did and why) and events (risk denials, state changes, reconciliations with
their reasons), and the counts its state keeps.  A running bot's live counters are Prometheus' (`/metrics`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from kalshi_trading.cli.dashboard_sections import RIGHT, badge, cells
from kalshi_trading.cli.render import cents, count, to_jsonable
from kalshi_trading.ops.web.sections import Block, Fields, Note, SectionDoc, Table, Tone

DECISIONS_SHOWN = 15
EVENTS_SHOWN = 20
EVENTS_COUNTED = 500
QUOTE_HEADERS = ("market", "position", "our bid", "book bid", "book ask", "our ask")
DECISION_HEADERS = ("time", "market", "event", "book bid", "book ask", "position", "risk", "targets", "did (why)")
EVENT_HEADERS = ("time", "kind", "reason")


def bots(app_ctx) -> SectionDoc:
    """Every bot of this environment's store, each as `kalshi auto status --bot NAME --json` shows it."""
    from kalshi_trading.auto.runner import status

    store = app_ctx.store
    names = store.bots()
    leases = [lease for lease in store.leases().holders()] if names else []
    docs: list[dict[str, Any]] = []
    states = {}
    for name in names:
        state = app_ctx.bot_state(name)
        states[name] = state
        doc = status(app_ctx.settings.env_data_dir, state, "avg", name)
        doc["leases"] = [{"name": lease.name, "holder": str(lease.holder), "expires": lease.expires.isoformat()}
                         for lease in leases]
        docs.append(doc)
    books = _books(app_ctx.client, sorted({t for d in docs for t in d["markets"]}))
    blocks: list[Block] = []
    if not names:
        blocks.append(Note("no-bots", "no bot has run with this store yet (kalshi auto)"))
    for doc in docs:
        blocks += _bot_blocks(doc, states[doc["bot"]], books, leases)
    return SectionDoc(f"{badge(app_ctx)} {len(names)} bot(s)", tuple(blocks), to_jsonable({"bots": docs}))


def _books(client, tickers: list[str]) -> dict[str, Any]:
    """The books of the bots' markets, one batch read (a market that could not be read is left out)."""
    if not tickers:
        return {}
    return dict(client.get_orderbooks_by_tickers(tickers).found)


def _bot_blocks(doc: dict[str, Any], state, books: dict[str, Any], leases) -> list[Block]:
    name = doc["bot"]
    now = datetime.now(timezone.utc)
    lease = next((x for x in leases if x.name == f"bot/{name}"), None)
    run = f"running (pid {doc['pid']})" if doc["running"] else "not running here"
    if lease is not None and lease.expires > now:
        run += f"; lease held by {lease.holder} until {lease.expires.isoformat()}"
    risk = (doc["risk_state"] or "active").upper()
    rows = [("bot", name), ("process", run), ("environment", doc["env"] or "-"),
            ("markets", ", ".join(doc["markets"]) or "-"),
            ("risk", f"{risk}: {doc['risk_reason']} (since {doc['risk_since']})"),
            ("positions", ", ".join(f"{t} {p}" for t, p in doc["positions"].items()) or "-"),
            ("realized (avg)", doc["realized_pnl"]), ("fees", doc["fees"]),
            ("realized today, net", doc["realized_today_net"]),
            ("working orders", str(len(doc["working_orders"]))), ("last fill", doc["last_fill"] or "-")]
    blocks: list[Block] = [Fields(f"bot-{name}", f"Bot {name}", tuple(rows))]
    if risk == "HALTED":
        blocks.append(Note(f"halted-{name}", f"bot {name} is HALTED: {doc['risk_reason']}; "
                                             "`kalshi auto resume` lets it trade again", Tone.ERROR))
    blocks.append(Table(f"quotes-{name}", "Quotes vs book", QUOTE_HEADERS, cells(_quotes(doc, books)),
                        align=("left", RIGHT, RIGHT, RIGHT, RIGHT, RIGHT)))
    events = state.events(EVENTS_COUNTED)
    decisions = state.decisions(DECISIONS_SHOWN)
    blocks.append(Table(f"decisions-{name}", "Newest decisions", DECISION_HEADERS,
                        cells(_decision_row(d) for d in reversed(decisions))))
    blocks.append(Table(f"events-{name}", "Newest events (risk denials, state changes, reconciliations)",
                        EVENT_HEADERS, cells((e["ts"], e["kind"], e["message"])
                                             for e in reversed(events[-EVENTS_SHOWN:]))))
    kinds = Counter(e["kind"] for e in events)
    counts = [("fills kept in its state", str(len(state.fills()))),
              *((f"events: {kind}", str(n)) for kind, n in sorted(kinds.items()))]
    blocks.append(Fields(f"metrics-{name}", f"Counts (its last {len(events)} events); live counters: /metrics",
                         tuple(counts)))
    return blocks


def _quotes(doc: dict[str, Any], books: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for ticker in doc["markets"]:
        mine = [o for o in doc["working_orders"] if o["ticker"] == ticker]
        book = books.get(ticker)
        bid = book.best_yes_bid if book is not None else None
        ask = book.best_yes_ask if book is not None else None
        rows.append((ticker, doc["positions"].get(ticker, "0"), _ours(mine, "bid"),
                     "unread" if book is None else (f"{cents(bid.price)} x {count(bid.count)}" if bid else "-"),
                     "unread" if book is None else (f"{cents(ask.price)} x {count(ask.count)}" if ask else "-"),
                     _ours(mine, "ask")))
    return rows


def _ours(orders: list[dict[str, Any]], side: str) -> str:
    return ", ".join(f"{o['yes_price']} x {o['remaining']}" for o in orders if o["side"] == side) or "-"


def _decision_row(d: dict[str, Any]) -> tuple[str, ...]:
    inputs = d.get("inputs") or {}
    targets = "; ".join(f"{t.get('side')} {t.get('price')} x {t.get('count')}" for t in d.get("targets") or []
                        if isinstance(t, dict)) or "-"
    did = "; ".join(_action(a) for a in d.get("actions") or [] if isinstance(a, dict)) or "-"
    if inputs.get("held"):
        did = f"waited: {inputs['held']}"
    return (d["ts"], d["ticker"], str(inputs.get("event", "-")), _text(inputs.get("bid")), _text(inputs.get("ask")),
            _text(inputs.get("position")), str(inputs.get("risk", "-")), targets, did)


def _action(a: dict[str, Any]) -> str:
    what = a.get("target") or a.get("order") or {}
    size = what.get("count") or what.get("remaining") or ""
    text = f"{a.get('kind')} {what.get('side', '')} {what.get('price', '')} x {size}".strip()
    extra = [str(a[k]) for k in ("reason", "held", "denied", "rejected") if a.get(k)]
    return text + (f" ({'; '.join(extra)})" if extra else "")


def _text(value: Any) -> str:
    return "-" if value is None else str(value)
