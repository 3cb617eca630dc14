"""Engine records in integer sub-units.

Units: prices `pu` = $0.0001 (0..10,000), counts `cu` = 0.01 contract, money `mu` = $0.000001
(= one pu times one cu, so price x count is exact).  Facts (fills, trades, settlements) are
immutable NamedTuples (cheap to build on the hot path); lifecycles (orders, positions, accounts)
are small mutable objects with `__slots__`.
"""

from __future__ import annotations

from typing import NamedTuple

PU = 10_000  # price units per dollar
CU = 100  # count units per contract
MU_PER_PU = 100  # money units per price unit ($0.0001 = 100 micro-dollars)
MU_PER_DOLLAR = 1_000_000

BID = "bid"
ASK = "ask"
RESTING = "resting"
CANCELED = "canceled"
EXECUTED = "executed"
GTC = "good_till_canceled"
IOC = "immediate_or_cancel"
FOK = "fill_or_kill"
STP_TAKER = "taker_at_cross"
STP_MAKER = "maker"


class Fill(NamedTuple):
    fill_id: str
    order_id: str
    ticker: str
    side: str  # book side of this account's order
    qty: int  # cu (not `count`, which would hide tuple.count)
    price: int  # pu, YES price
    is_taker: bool
    fee: int  # mu
    ts_ms: int


class Trade(NamedTuple):
    trade_id: str
    ticker: str
    qty: int  # cu
    price: int
    taker_side: str
    ts_ms: int


class Settlement(NamedTuple):
    ticker: str
    event_ticker: str
    result: str  # yes | no | void
    yes_count: int  # cu
    yes_cost: int  # mu
    no_count: int
    no_cost: int
    revenue_mu: int  # cash paid out
    fee: int  # mu, fees paid in the market
    value: int | None  # cents per YES contract
    ts_ms: int


class Order:
    __slots__ = (
        "order_id", "seq", "account", "ticker", "side", "price", "initial", "remaining", "filled",
        "status", "client_order_id", "tif", "stp", "post_only", "reduce_only", "expiration_ms",
        "created_ms", "updated_ms", "taker_cost", "maker_cost", "taker_fees", "maker_fees",
        "reserved", "covered", "order_group_id", "cancel_on_pause",
    )

    def __init__(self, order_id: str, seq: int, account: "Account", ticker: str, side: str, price: int,
                 count: int, tif: str, stp: str, now_ms: int, client_order_id: str = ""):
        self.order_id = order_id
        self.seq = seq
        self.account = account
        self.ticker = ticker
        self.side = side
        self.price = price
        self.initial = count
        self.remaining = count
        self.filled = 0
        self.status = RESTING
        self.client_order_id = client_order_id
        self.tif = tif
        self.stp = stp
        self.post_only = False
        self.reduce_only = False
        self.expiration_ms: int | None = None
        self.created_ms = now_ms
        self.updated_ms = now_ms
        self.taker_cost = 0
        self.maker_cost = 0
        self.taker_fees = 0
        self.maker_fees = 0
        self.reserved = 0  # mu held against this order's remaining count
        self.covered = 0  # cu of the remaining count covered by an opposite position
        self.order_group_id: str | None = None
        self.cancel_on_pause = False

    @property
    def live(self) -> bool:
        return self.status == RESTING


class Position:
    """One signed netted position (+YES / -NO) and its P&L counters."""

    __slots__ = ("ticker", "pos", "cost", "total_traded", "traded_count", "realized", "fees",
                 "committed_yes", "committed_no", "updated_ms")

    def __init__(self, ticker: str):
        self.ticker = ticker
        self.pos = 0  # cu, + YES, - NO
        self.cost = 0  # mu, cost basis of the open position (excl. fees)
        self.total_traded = 0  # mu, leg cost of every fill
        self.traded_count = 0  # cu, contracts of every fill
        self.realized = 0  # mu
        self.fees = 0  # mu
        self.committed_yes = 0  # cu of a YES position promised to resting asks
        self.committed_no = 0  # cu of a NO position promised to resting bids
        self.updated_ms = 0


class Account:
    __slots__ = ("account_id", "user_id", "key_id", "public_key_pem", "cash", "reserved", "house",
                 "positions", "fills", "settlements", "client_ids", "orders")

    def __init__(self, account_id: str, user_id: str, key_id: str, public_key_pem: str, cash: int,
                 house: bool = False):
        self.account_id = account_id
        self.user_id = user_id
        self.key_id = key_id
        self.public_key_pem = public_key_pem
        self.cash = cash  # mu, total cash including what is reserved
        self.reserved = 0  # mu held for resting orders
        self.house = house  # background participant: no collateral, no history kept
        self.positions: dict[str, Position] = {}
        self.fills: list[Fill] = []
        self.settlements: list[Settlement] = []
        self.client_ids: set[str] = set()
        self.orders: list[Order] = []  # every order of a user account, oldest first

    @property
    def available(self) -> int:
        return self.cash - self.reserved
