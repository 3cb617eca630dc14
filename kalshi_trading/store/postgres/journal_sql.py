"""The PostgreSQL journal's bulk statements: fill ingest through COPY and the trades export.

Ingest.  A batch of fills is copied (COPY) into a temporary table (analyzed, so the planner joins it by index
when it is small), checked against the stored fills in one join (a different fill under a known id refuses the
whole batch), and inserted with one INSERT ... SELECT that also sets
each fill's `before` (its ticker's position before it) from a running sum and its `strategy` from the intent of
its order.  A fill older than some stored fill of its ticker (a late arrival) makes that ticker's `before` be
recomputed from the late fill on.  Fill writers take a transaction-level advisory lock, so running sums are never
computed over a moving table.

Export.  Each fill's position before it is stored, so the export is one ordered index scan; the server labels the
rows (buy/sell of YES/NO) and renders the texts: numeric columns of fixed scale print exactly the export's digits
(`0.5200`, `10.00`, `0.017500`, and price x count to 6 places).  `TRADE_LINES` glues them into the CSV line
`csv.writer` would write (a field holding `,`, `"`, CR or LF quoted, quotes doubled, CRLF at the end).
"""

from __future__ import annotations

from kalshi_trading.store.postgres.codec import FILL_COLUMNS
from kalshi_trading.store.postgres.schema import bytewise

INCOMING = "kalshi_incoming_fills"
STARTS = "kalshi_incoming_starts"
# a connection's own tables for the batch in hand (emptied at every commit)
TEMP_TABLES = (
    (INCOMING, bytewise(f"CREATE TEMP TABLE {INCOMING} (fill_id text, order_id text, trade_id text, ticker text, "
                        "outcome_side text, book_side text, count numeric, yes_price numeric, fee numeric, "
                        "is_taker boolean, created_time timestamptz) ON COMMIT DELETE ROWS")),
    (STARTS, bytewise(f"CREATE TEMP TABLE {STARTS} (ticker text, t0 timestamptz, id0 text, base numeric, "
                      "late boolean) ON COMMIT DELETE ROWS")),
)
COPY_INCOMING = f"COPY {INCOMING} ({', '.join(FILL_COLUMNS)}) FROM STDIN"
# fills stored already leave the batch; each says whether its facts differ from the stored ones (the facts the
# SQLite journal compares, too): such a clash refuses the whole batch
DROP_KNOWN = (f"DELETE FROM {INCOMING} i USING fills f WHERE i.fill_id = f.fill_id "
              "RETURNING i.fill_id, (i.order_id, i.ticker, i.book_side, i.count, i.yes_price, i.created_time) "
              "IS DISTINCT FROM (f.order_id, f.ticker, f.book_side, f.count, f.yes_price, f.created_time)")
# per ticker: the first new fill, the position just before it, and whether a stored fill comes after it
FIND_STARTS = f"""
INSERT INTO {STARTS}
SELECT s.ticker, s.t0, s.id0, coalesce(p.before + p.signed, 0),
       EXISTS (SELECT 1 FROM fills l WHERE l.ticker = s.ticker AND (l.created_time, l.fill_id) > (s.t0, s.id0))
FROM (SELECT DISTINCT ON (ticker) ticker, created_time AS t0, fill_id AS id0 FROM {INCOMING}
      ORDER BY ticker, created_time, fill_id) s
LEFT JOIN LATERAL (SELECT before, signed FROM fills p WHERE p.ticker = s.ticker
                   AND (p.created_time, p.fill_id) < (s.t0, s.id0)
                   ORDER BY p.created_time DESC, p.fill_id DESC LIMIT 1) p ON true
RETURNING late
"""
INSERT_NEW = f"""
INSERT INTO fills (fill_id, order_id, trade_id, ticker, outcome_side, book_side, count, yes_price, fee, is_taker,
                   created_time, before, strategy)
SELECT i.fill_id, i.order_id, i.trade_id, i.ticker, i.outcome_side, i.book_side, i.count, i.yes_price, i.fee,
       i.is_taker, i.created_time,
       s.base + coalesce(sum(CASE WHEN i.book_side = 'bid' THEN i.count ELSE -i.count END)
                         OVER (PARTITION BY i.ticker ORDER BY i.created_time, i.fill_id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0),
       coalesce(tags.strategy, '')
FROM {INCOMING} i JOIN {STARTS} s USING (ticker)
LEFT JOIN (SELECT o.order_id, max(x.strategy) AS strategy FROM order_events o
           JOIN order_events x ON x.client_order_id = o.client_order_id AND x.kind = 'intent'
           WHERE o.order_id IN (SELECT order_id FROM {INCOMING}) AND x.strategy IS NOT NULL
           GROUP BY o.order_id) tags USING (order_id)
ON CONFLICT (fill_id) DO NOTHING
"""
# a late fill: its ticker's positions from it on, recomputed (only rows whose value changes are written)
PLACE_LATE = f"""
UPDATE fills f SET before = w.b
FROM (SELECT x.fill_id, s.base + coalesce(sum(x.signed) OVER (PARTITION BY x.ticker ORDER BY x.created_time, x.fill_id
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS b
      FROM fills x JOIN {STARTS} s ON s.ticker = x.ticker AND s.late
      WHERE (x.created_time, x.fill_id) >= (s.t0, s.id0)) w
WHERE f.fill_id = w.fill_id AND f.before <> w.b
"""
ADVANCE_CURSOR = ("INSERT INTO sync_cursors (which, at) VALUES (%s, %s) ON CONFLICT (which) DO UPDATE "
                  "SET at = greatest(sync_cursors.at, EXCLUDED.at)")
FILL_SELECT = ("fill_id, order_id, trade_id, ticker, outcome_side, book_side, count, yes_price, fee, is_taker, "
               "NULLIF(created_time, '-infinity')")
SETTLEMENT_COLUMNS = ("ticker, event_ticker, market_result, yes_count, yes_total_cost, no_count, no_total_cost, "
                      "revenue, settled_time, fee, value")
SETTLEMENT_SELECT = SETTLEMENT_COLUMNS.replace("settled_time", "NULLIF(settled_time, '-infinity')")
INSERT_SETTLEMENT = (f"INSERT INTO settlements ({SETTLEMENT_COLUMNS}) VALUES ({', '.join(['%s'] * 11)}) "
                     "ON CONFLICT (ticker, settled_time) DO NOTHING")

# -- the trades export --------------------------------------------------------------------------------------------

# label: 0 buys YES, 1 sells YES, 2 buys NO, 3 sells NO (from the fill's side and the position before it)
_LABELLED = """
SELECT created_time, fill_id, order_id, ticker, count, yes_price, fee, is_taker, strategy, label,
       CASE WHEN label < 2 THEN yes_price ELSE 1 - yes_price END AS price
FROM (SELECT *, CASE WHEN book_side = 'bid' THEN (CASE WHEN before < 0 THEN 3 ELSE 0 END)
                     ELSE (CASE WHEN before > 0 THEN 1 ELSE 2 END) END AS label
      FROM fills{where}) labelled
"""
# (expression, free text that may need quoting in CSV), in TradeRow's order
_FIELDS = (
    ("CASE WHEN created_time = '-infinity' THEN '' "
     "ELSE to_char(created_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END", False),
    ("fill_id", True), ("order_id", True), ("ticker", True),
    ("CASE WHEN label < 2 THEN 'yes' ELSE 'no' END", False),
    ("CASE WHEN label IN (1, 3) THEN 'sell' ELSE 'buy' END", False),
    ("count::text", False), ("yes_price::text", False), ("(1 - yes_price)::text", False), ("price::text", False),
    ("(price * count)::text", False), ("fee::text", False),
    ("CASE WHEN is_taker THEN 'true' ELSE 'false' END", False), ("strategy", True),
)


def _quoted(expression: str) -> str:
    """A free-text field as csv.writer writes it (quoted when it holds a comma, a quote, CR or LF)."""
    special = " + ".join(f"strpos({expression}, {c})" for c in ("','", "'\"'", "chr(13)", "chr(10)"))
    return (f"CASE WHEN {special} > 0 THEN '\"' || replace({expression}, '\"', '\"\"') || '\"' "
            f"ELSE {expression} END")


TRADE_ROWS = ("SELECT " + ", ".join(expr for expr, _ in _FIELDS) + f" FROM ({_LABELLED}) l "
              "ORDER BY created_time, fill_id")
TRADE_LINES = ("SELECT concat(" + ", ',', ".join(_quoted(e) if free else e for e, free in _FIELDS)
               + f", E'\\r\\n') FROM ({_LABELLED}) l ORDER BY created_time, fill_id")
