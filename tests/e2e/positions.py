"""Many open positions on a running simulator, made through its in-process engine (fast, and independent of
any fault injection on its HTTP front).  Used by the batch-read tests and by bench/bench_latency.py."""

from __future__ import annotations

from decimal import Decimal

from kalshi_trading.sim.market import Market
from kalshi_trading.sim.records import ASK, BID, CU, PU

CLONE_EVENT = "KXBATCH-CLONES"
YEAR_MS = 365 * 86_400_000


def active_cent_markets(server) -> list[str]:
    """Tickers of active markets on the one-cent grid, sorted."""
    return sorted(t for t, m in server.exchange.engine.markets.items()
                  if m.status == "active" and m.price_level_structure == "linear_cent")


def ensure_markets(server, n: int, copies_only: bool = False) -> list[str]:
    """`n` active one-cent markets: copies of an existing one (own tickers, closing in a year) as needed, or
    for all `n` with `copies_only` (so none closes while a benchmark runs on the wall clock)."""
    engine = server.exchange.engine
    with server.exchange.lock:
        have = active_cent_markets(server)
        source = engine.markets[have[0]]
        now = server.exchange.clock.now_ms()
        copies = n if copies_only else n - len(have)
        for i in range(copies):
            terms = {name: getattr(source, name) for name in Market.TERMS}
            far = now + YEAR_MS
            terms.update(ticker=f"KXBATCH-{i:04d}", event_ticker=CLONE_EVENT, created_ms=now, open_ms=now,
                         close_ms=far, expected_expiration_ms=far, latest_expiration_ms=far)
            market = Market(**terms)
            market.status = "active"
            engine.add_market(market)
    if copies_only:
        return [f"KXBATCH-{i:04d}" for i in range(n)]
    return active_cent_markets(server)[:n] if n else []


def open_positions(server, n: int, maker_balance: Decimal = Decimal("100000"), copies_only: bool = False
                   ) -> list[str]:
    """The demo account buys 1 YES at 50c in each of `n` markets from a maker who also rests a bid at 40c and an
    ask at 60c there (so every book is two-sided and the mark is the mid, 50c).  Returns the tickers, sorted."""
    tickers = ensure_markets(server, n, copies_only)
    maker_key = server.create_account(maker_balance).key_id
    engine = server.exchange.engine
    with server.exchange.lock:
        demo = engine.by_key[server.demo_account.key_id]
        maker = engine.by_key[maker_key]
        for ticker in tickers:
            engine.place(maker, ticker, ASK, 50 * PU // 100, CU)
            engine.place(demo, ticker, BID, 50 * PU // 100, CU)
            engine.place(maker, ticker, BID, 40 * PU // 100, 5 * CU)
            engine.place(maker, ticker, ASK, 60 * PU // 100, 5 * CU)
        server.exchange.engine.version += 1
    server.save()
    return tickers
