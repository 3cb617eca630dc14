"""Engine records -> the WebSocket v2 payloads of reference section 11 (the `msg` of each frame).

Same units and formatting as `wire` (prices "0.5200", counts "10.00", fees 6 dp); timestamps are
`ts_ms` integers (sim time), lifecycle timestamps Unix seconds.
"""

from __future__ import annotations

import uuid
from typing import Any

from kalshi_trading.sim.book import Book
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import ASK, BID, PU, Fill, Order, Position, Trade
from kalshi_trading.sim.wire import count, fee, money, outcome, price

_NS = uuid.UUID("6f1e3f0e-5a7c-4c1e-9a61-0b7a3e4c2d10")
_IDS: dict[str, str] = {}


def market_id(ticker: str) -> str:
    """A stable UUID per ticker (the sim has no separate market ids)."""
    mid = _IDS.get(ticker)
    if mid is None:
        mid = _IDS[ticker] = str(uuid.uuid5(_NS, ticker))
    return mid


def book_side(side: str) -> str:
    """Engine book side -> the WS `side`: bids are the YES side, asks the NO side."""
    return "yes" if side == BID else "no"


def level_price(side: str, p: int, yes_price: bool) -> str:
    """A level's price as shown: YES bids at YES prices; asks at NO prices unless `use_yes_price`."""
    return price(p if side == BID or yes_price else PU - p)


def snapshot(book: Book, yes_price: bool) -> dict:
    """`orderbook_snapshot` msg: both sides ascending by shown price; an empty side is omitted."""
    data: dict[str, Any] = {"market_ticker": book.ticker, "market_id": market_id(book.ticker)}
    yes = [[price(p), count(q)] for p, q in book.depth(BID)]
    yes.reverse()
    if yes_price:
        no = [[price(p), count(q)] for p, q in book.depth(ASK)]
    else:
        no = [[price(PU - p), count(q)] for p, q in book.depth(ASK)]
        no.reverse()
    if yes:
        data["yes_dollars_fp"] = yes
    if no:
        data["no_dollars_fp"] = no
    return data


_PRICES = [price(p) for p in range(PU + 1)]  # every pu price as text (the delta hot path)


def delta(ticker: str, side: str, p: int, change: int, ts_ms: int, yes_price: bool) -> dict:
    bid = side == BID
    return {"market_ticker": ticker, "market_id": _IDS.get(ticker) or market_id(ticker),
            "price_dollars": _PRICES[p if bid or yes_price else PU - p], "delta_fp": count(change),
            "side": "yes" if bid else "no", "ts_ms": ts_ms}


def ticker_state(m: Market, book: Book) -> tuple:
    """What a `ticker` message reports (compared to decide whether to send one)."""
    return book.top() + (m.last_price, m.volume, m.open_interest)


def ticker(m: Market, state: tuple, last_size: int, ts_ms: int) -> dict:
    bb, bsize, ba, asize, last, volume, oi = state
    return {
        "market_ticker": m.ticker,
        "market_id": market_id(m.ticker),
        "price_dollars": price(last),
        "yes_bid_dollars": price(bb),
        "yes_ask_dollars": price(ba),
        "yes_bid_size_fp": count(bsize),
        "yes_ask_size_fp": count(asize),
        "last_trade_size_fp": count(last_size),
        "volume_fp": count(volume),
        "open_interest_fp": count(oi),
        "dollar_volume": volume // 100,  # $1 notional per contract: whole dollars
        "dollar_open_interest": oi // 100,
        "ts_ms": ts_ms,
    }


def trade(t: Trade) -> dict:
    return {
        "trade_id": t.trade_id,
        "market_ticker": t.ticker,
        "yes_price_dollars": price(t.price),
        "no_price_dollars": price(PU - t.price),
        "count_fp": count(t.qty),
        "taker_outcome_side": outcome(t.taker_side),
        "taker_book_side": t.taker_side,
        "is_block_trade": False,
        "ts_ms": t.ts_ms,
    }


def fill(f: Fill, order: Order, post_position: int) -> dict:
    data: dict[str, Any] = {
        "trade_id": f.fill_id,
        "order_id": f.order_id,
        "market_ticker": f.ticker,
        "is_taker": f.is_taker,
        "outcome_side": outcome(f.side),
        "book_side": f.side,
        "yes_price_dollars": price(f.price),
        "count_fp": count(f.qty),
        "fee_cost": fee(f.fee),
        "post_position_fp": count(post_position),
        "ts_ms": f.ts_ms,
    }
    if order.client_order_id:
        data["client_order_id"] = order.client_order_id
    data["subaccount"] = 0
    return data


def position(user_id: str, ticker: str, pos: Position | None, realized_extra: int = 0) -> dict:
    """`market_position`; `pos` None means flat (e.g. settled: `realized_extra` = payout - cost)."""
    if pos is None:
        return {"user_id": user_id, "market_ticker": ticker, "position_fp": "0.00", "position_cost_dollars": "0.0000",
                "realized_pnl_dollars": money(realized_extra), "fees_paid_dollars": "0.0000",
                "position_fee_cost_dollars": "0.0000", "volume_fp": "0.00", "subaccount": 0}
    return {
        "user_id": user_id,
        "market_ticker": ticker,
        "position_fp": count(pos.pos),
        "position_cost_dollars": money(pos.cost),
        "realized_pnl_dollars": money(pos.realized + realized_extra),
        "fees_paid_dollars": money(pos.fees),
        "position_fee_cost_dollars": money(pos.fees if pos.pos else 0),
        "volume_fp": count(pos.traded_count),
        "subaccount": 0,
    }


def user_order(o: Order) -> dict:
    data: dict[str, Any] = {
        "order_id": o.order_id,
        "user_id": o.account.user_id,
        "client_order_id": o.client_order_id,
        "ticker": o.ticker,
        "status": o.status,
        "outcome_side": outcome(o.side),
        "book_side": o.side,
        "yes_price_dollars": price(o.price),
        "fill_count_fp": count(o.filled),
        "remaining_count_fp": count(o.remaining),
        "initial_count_fp": count(o.initial),
        "created_ts_ms": o.created_ms,
        "last_updated_ts_ms": o.updated_ms,
        "subaccount_number": 0,
        "exchange_index": 0,
    }
    if o.expiration_ms:
        data["expiration_ts_ms"] = o.expiration_ms
    return data


def lifecycle(m: Market, event_type: str, t: int) -> dict:
    data: dict[str, Any] = {"market_ticker": m.ticker, "event_type": event_type}
    if event_type in ("created", "activated"):
        data["open_ts"] = m.open_ms // 1000
        data["close_ts"] = m.close_ms // 1000
    elif event_type == "close_date_updated":
        data["close_ts"] = t // 1000
    elif event_type == "deactivated":
        data["is_deactivated"] = True
    elif event_type in ("determined", "settled"):
        data["determination_ts"] = (m.determined_ms or t) // 1000
        if event_type == "settled":
            data["settled_ts"] = t // 1000
        data["result"] = m.result
        if m.result in ("yes", "no"):
            data["settlement_value"] = "1.0000" if m.result == "yes" else "0.0000"
    if event_type == "created":
        data["price_level_structure"] = m.price_level_structure
    return data


def event_lifecycle(e, t: int) -> dict:
    return {"event_ticker": e.event_ticker, "series_ticker": e.series_ticker, "title": e.title,
            "subtitle": e.sub_title, "collateral_return_type": "MECNET" if e.mutually_exclusive else "",
            "strike_date": e.close_ms // 1000, "created_ts": t // 1000}
