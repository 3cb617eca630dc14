"""Engine records -> the reference's JSON shapes (sections 3-6).  No legacy keys are emitted.

`$` strings have 4 decimals (6 when a value needs them; fees always 6), counts 2 decimals,
times RFC 3339; integer cents only in `balance`, `portfolio_value`, `revenue`, `value`.
"""

from __future__ import annotations

from typing import Any

from kalshi_trading.sim.book import Book
from kalshi_trading.sim.catalogue import Event, Series
from kalshi_trading.sim.clock import fmt_time
from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import ASK, BID, CU, PU, Account, Fill, Order, Position, Settlement, Trade


def price(pu: int) -> str:
    """pu -> "0.5200"."""
    return f"{pu // 10_000}.{pu % 10_000:04d}"


def count(cu: int) -> str:
    sign = "-" if cu < 0 else ""
    cu = abs(cu)
    return f"{sign}{cu // 100}.{cu % 100:02d}"


def money(mu: int, places: int = 4) -> str:
    """Micro-dollars -> dollars with 4 decimals, or 6 when the value has sub-$0.0001 parts."""
    sign = "-" if mu < 0 else ""
    mu = abs(mu)
    if places == 4 and mu % 100 == 0:
        return f"{sign}{mu // 1_000_000}.{(mu % 1_000_000) // 100:04d}"
    return f"{sign}{mu // 1_000_000}.{mu % 1_000_000:06d}"


def fee(mu: int) -> str:
    return money(mu, 6)


def outcome(side: str) -> str:
    return "yes" if side == BID else "no"


# ---- market data ---------------------------------------------------------------------------------


def market(m: Market, book: Book | None, now_ms: int) -> dict:
    bb, bsize, ba, asize = book.top() if book is not None else (0, 0, PU, 0)
    data: dict[str, Any] = {
        "ticker": m.ticker,
        "event_ticker": m.event_ticker,
        "market_type": "binary",
        "title": m.title,
        "subtitle": m.subtitle,
        "yes_sub_title": m.yes_sub_title,
        "no_sub_title": m.no_sub_title,
        "created_time": fmt_time(m.created_ms),
        "updated_time": fmt_time(m.updated_ms),
        "open_time": fmt_time(m.open_ms),
        "close_time": fmt_time(m.close_ms),
        "expected_expiration_time": fmt_time(m.expected_expiration_ms),
        "expiration_time": fmt_time(m.latest_expiration_ms),
        "latest_expiration_time": fmt_time(m.latest_expiration_ms),
        "settlement_timer_seconds": m.settlement_timer_seconds,
        "status": m.status,
        "yes_bid_dollars": price(bb),
        "yes_bid_size_fp": count(bsize),
        "yes_ask_dollars": price(ba),
        "yes_ask_size_fp": count(asize),
        "no_bid_dollars": price(PU - ba),  # an empty side: bid 0, ask 1 (see Book.top)
        "no_ask_dollars": price(PU - bb),
        "last_price_dollars": price(m.last_price),
        "volume_fp": count(m.volume),
        "volume_24h_fp": count(m.volume_24h(now_ms)),
        "open_interest_fp": count(m.open_interest),
        "result": m.result if m.status in ("determined", "finalized") else "",
        "can_close_early": m.can_close_early,
        "notional_value_dollars": "1.0000",
        "previous_yes_bid_dollars": price(m.previous_yes_bid),
        "previous_yes_ask_dollars": price(m.previous_yes_ask or PU),  # 0 = no ask (states before Book.top's PU)
        "previous_price_dollars": price(m.previous_price),
        "liquidity_dollars": "0.0000",
        "expiration_value": m.expiration_value,
        "rules_primary": m.rules_primary,
        "rules_secondary": m.rules_secondary,
        "price_level_structure": m.price_level_structure,
        "price_ranges": [{"start": _p4(a), "end": _p4(b), "step": _p4(c)} for a, b, c in m.price_ranges],
        "fee_waiver_expiration_time": None,
        "early_close_condition": None,
        "is_provisional": False,
        "exchange_index": 0,
    }
    if m.strike_type:
        data["strike_type"] = m.strike_type
        data["floor_strike"] = m.floor_strike
        data["cap_strike"] = m.cap_strike
    if m.status == "finalized" and m.settled_ms is not None:
        data["settlement_ts"] = fmt_time(m.settled_ms)
        if m.result in ("yes", "no"):
            data["settlement_value_dollars"] = "1.0000" if m.result == "yes" else "0.0000"
    return data


def _p4(text: str) -> str:
    from decimal import Decimal

    return str(Decimal(text).quantize(Decimal("0.0001")))


def orderbook(book: Book, depth: int) -> dict:
    """Bids only on both sides, ascending (best last); asks shown as NO bids at 1 - price."""
    yes = [[price(p), count(q)] for p, q in book.depth(BID, depth)]
    no = [[price(PU - p), count(q)] for p, q in book.depth(ASK, depth)]
    yes.reverse()
    no.reverse()
    return {"yes_dollars": yes, "no_dollars": no}


def trade(t: Trade) -> dict:
    return {
        "trade_id": t.trade_id,
        "ticker": t.ticker,
        "count_fp": count(t.qty),
        "yes_price_dollars": price(t.price),
        "no_price_dollars": price(PU - t.price),
        "taker_outcome_side": outcome(t.taker_side),
        "taker_book_side": t.taker_side,
        "created_time": fmt_time(t.ts_ms),
        "is_block_trade": False,
    }


def _ohlc(o: int, h: int, lo: int, c: int) -> dict:
    return {"open_dollars": price(o), "low_dollars": price(lo), "high_dollars": price(h), "close_dollars": price(c)}


def candles(rows: list[tuple[int, list, int | None]], start_s: int, period_min: int, synthetic: bool) -> list[dict]:
    """`candles.aggregate` rows over a market's history -> the 3.30.0 MarketCandlestick list of the
    periods ending at or after `start_s`.

    `yes_bid`/`yes_ask` are required strings: a period without a quote sample carries the last
    sampled close (an empty side is bid 0 / ask 1, as in `Book.top`).  `price` keys are optional and
    omitted, never null: OHLC/mean/min/max only with trades, `previous_dollars` (the last traded price
    before the period) whenever a trade came before.  `synthetic` prepends the latest candle before
    `start_s` projected to the first period boundary: its quotes, no prices, `previous_dollars` = the
    last traded price up to it, no volume.
    """
    bid = ask = last_trade = None
    oi = 0
    before: dict | None = None
    before_trade = None
    out: list[dict] = []
    for end_ts, row, _ in rows:
        if row[0] is not None:
            bids, asks = row[0:4], [a or PU for a in row[4:8]]  # 0 = an empty ask in rows stored before PU
            bid, ask, oi = bids[3], asks[3], row[14]
        else:
            bids = [0 if bid is None else bid] * 4
            asks = [PU if ask is None else ask] * 4
        prices: dict = {}
        if row[8] is not None:
            prices = _ohlc(row[8], row[9], row[10], row[11])
            prices["mean_dollars"] = money(_per_contract(row[12], row[13])) if row[13] else price(row[11])
        if last_trade is not None:
            prices["previous_dollars"] = price(last_trade)
        if row[8] is not None:
            prices["min_dollars"], prices["max_dollars"] = price(row[10]), price(row[9])
            last_trade = row[11]
        candle = {"end_period_ts": end_ts, "yes_bid": _ohlc(*bids), "yes_ask": _ohlc(*asks), "price": prices,
                  "volume_fp": count(row[13]), "open_interest_fp": count(oi)}
        if end_ts < start_s:
            before, before_trade = candle, last_trade
        else:
            out.append(candle)
    if synthetic and before is not None:
        span = period_min * 60
        out.insert(0, {"end_period_ts": -(-start_s // span) * span, "yes_bid": before["yes_bid"],
                       "yes_ask": before["yes_ask"],
                       "price": {} if before_trade is None else {"previous_dollars": price(before_trade)},
                       "volume_fp": count(0), "open_interest_fp": before["open_interest_fp"]})
    return out


def event(e: Event, markets: list[dict] | None = None) -> dict:
    data: dict[str, Any] = {
        "event_ticker": e.event_ticker,
        "series_ticker": e.series_ticker,
        "title": e.title,
        "sub_title": e.sub_title,
        "collateral_return_type": "MECNET" if e.mutually_exclusive else "",
        "mutually_exclusive": e.mutually_exclusive,
        "settlement_sources": None,
        "strike_date": fmt_time(e.close_ms),
        "strike_period": None,
        "product_metadata": None,
        "last_updated_ts": fmt_time(e.created_ms),
        "fee_type_override": None,
        "fee_multiplier_override": None,
        "exchange_index": 0,
    }
    if markets is not None:
        data["markets"] = markets
    return data


def series(s: Series, volume_cu: int | None = None) -> dict:
    data: dict[str, Any] = {
        "ticker": s.ticker,
        "frequency": s.frequency,
        "title": s.title,
        "category": s.category,
        "categories": [s.category],
        "tags": list(s.tags),
        "settlement_sources": [{"name": s.settlement_source[0], "url": s.settlement_source[1]}],
        "contract_url": s.contract_url,
        "contract_terms_url": s.contract_url + "/terms",
        "product_metadata": None,
        "fee_type": s.fee_type,
        "fee_multiplier": int(s.fee_multiplier) if s.fee_multiplier.isdigit() else float(s.fee_multiplier),
        "additional_prohibitions": [],
        "exchange_index": 0,
    }
    if volume_cu is not None:
        data["volume_fp"] = count(volume_cu)
    return data


# ---- portfolio -----------------------------------------------------------------------------------


def order(o: Order) -> dict:
    return {
        "order_id": o.order_id,
        "user_id": o.account.user_id,
        "client_order_id": o.client_order_id,
        "ticker": o.ticker,
        "outcome_side": outcome(o.side),
        "book_side": o.side,
        "type": "limit",
        "status": o.status,
        "yes_price_dollars": price(o.price),
        "no_price_dollars": price(PU - o.price),
        "fill_count_fp": count(o.filled),
        "remaining_count_fp": count(o.remaining),
        "initial_count_fp": count(o.initial),
        "taker_fill_cost_dollars": money(o.taker_cost),
        "maker_fill_cost_dollars": money(o.maker_cost),
        "taker_fees_dollars": money(o.taker_fees),
        "maker_fees_dollars": money(o.maker_fees),
        "expiration_time": fmt_time(o.expiration_ms) if o.expiration_ms else None,
        "created_time": fmt_time(o.created_ms),
        "last_update_time": fmt_time(o.updated_ms),
        "self_trade_prevention_type": o.stp,
        "order_group_id": o.order_group_id,
        "cancel_order_on_pause": o.cancel_on_pause,
        "subaccount_number": 0,
        "exchange_index": 0,
    }


def _per_contract(total_mu: int, count_cu: int) -> int:
    """Micro-dollars per whole contract, rounded half-even to $0.000001 (integer arithmetic)."""
    q, r = divmod(total_mu * CU, count_cu)
    if 2 * r > count_cu or (2 * r == count_cu and q % 2):
        q += 1
    return q


def averages(o: Order) -> dict:
    """average_fill_price (YES price per contract) and average_fee_paid (fee per contract), only
    after fills; both from the same totals as the order's fills (costs in mu = pu x cu)."""
    if not o.filled:
        return {}
    leg = o.taker_cost + o.maker_cost  # the order's own leg: YES cost for a bid, NO cost for an ask
    yes = leg if o.side == BID else PU * o.filled - leg
    return {"average_fill_price": money(_per_contract(yes, o.filled)),
            "average_fee_paid": fee(_per_contract(o.taker_fees + o.maker_fees, o.filled))}


def create_result(o: Order, now_ms: int) -> dict:
    data: dict[str, Any] = {
        "order_id": o.order_id,
        "client_order_id": o.client_order_id,
        "fill_count": count(o.filled),
        "remaining_count": count(o.remaining),
        "ts_ms": now_ms,
    }
    data.update(averages(o))
    return data


def fill(f: Fill) -> dict:
    return {
        "fill_id": f.fill_id,
        "trade_id": f.fill_id,
        "order_id": f.order_id,
        "ticker": f.ticker,
        "market_ticker": f.ticker,
        "exchange_index": 0,
        "outcome_side": outcome(f.side),
        "book_side": f.side,
        "count_fp": count(f.qty),
        "yes_price_dollars": price(f.price),
        "no_price_dollars": price(PU - f.price),
        "is_taker": f.is_taker,
        "fee_cost": fee(f.fee),
        "created_time": fmt_time(f.ts_ms),
        "ts": f.ts_ms // 1000,
        "subaccount_number": 0,
    }


def settlement(s: Settlement) -> dict:
    return {
        "ticker": s.ticker,
        "event_ticker": s.event_ticker,
        "exchange_index": 0,
        "market_result": s.result,
        "yes_count_fp": count(s.yes_count),
        "yes_total_cost_dollars": money(s.yes_cost),
        "no_count_fp": count(s.no_count),
        "no_total_cost_dollars": money(s.no_cost),
        "revenue": s.revenue_mu // 10_000,
        "settled_time": fmt_time(s.ts_ms),
        "fee_cost": fee(s.fee),
        "value": s.value,
    }


def market_position(p: Position) -> dict:
    return {
        "ticker": p.ticker,
        "exchange_index": 0,
        "position_fp": count(p.pos),
        "total_traded_dollars": money(p.total_traded),
        "market_exposure_dollars": money(p.cost),
        "realized_pnl_dollars": money(p.realized),
        "fees_paid_dollars": money(p.fees),
        "last_updated_ts": fmt_time(p.updated_ms),
    }


def event_position(event_ticker: str, positions: list[Position]) -> dict:
    return {
        "event_ticker": event_ticker,
        "total_cost_dollars": money(sum(p.total_traded for p in positions)),
        "total_cost_shares_fp": count(sum(p.traded_count for p in positions)),
        "event_exposure_dollars": money(sum(p.cost for p in positions)),
        "realized_pnl_dollars": money(sum(p.realized for p in positions)),
        "fees_paid_dollars": money(sum(p.fees for p in positions)),
    }


def balance(account: Account, portfolio_value_mu: int, now_ms: int) -> dict:
    available = account.cash - account.reserved
    return {
        "balance": available // 10_000,
        "balance_dollars": money(available),
        "portfolio_value": portfolio_value_mu // 10_000,
        "updated_ts": now_ms // 1000,
        "balance_breakdown": [{"exchange_index": 0, "balance": money(available)}],
    }
