"""Subaccounts, money moves between them, deposits and balance allocation.

A subaccount is an engine `Account` of its own (cash, positions, orders, fills: the engine needs nothing new)
numbered 1-63 under a primary account (number 0); requests reach it through the `subaccount` parameter (see
`access`).  Transfers move available cash between them (money is conserved: cents in whole micro-dollars).
Deposits record the cash an account was created with (the simulator has no withdrawals).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from kalshi_trading.sim.errors import SimError, bad_request, not_found
from kalshi_trading.sim.records import Account

MAX_SUBACCOUNT = 63
MU_PER_CENT = 10_000


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    primary_id: str
    from_subaccount: int
    to_subaccount: int
    amount_cents: int
    created_ms: int
    client_transfer_id: str


@dataclass(frozen=True)
class Deposit:
    deposit_id: str
    account_id: str
    amount_cents: int
    created_ms: int


class Subaccounts:
    """Who owns which subaccount, the transfers between them, deposits, allocations."""

    def __init__(self) -> None:
        self.children: dict[str, dict[int, str]] = {}  # primary account id -> number -> account id
        self.transfers: list[Transfer] = []
        self.deposits: list[Deposit] = []
        self.allocations: dict[str, tuple[list[dict], str]] = {}  # primary id -> (allocations, reservation)
        self.version = 0

    # ---- accounts -------------------------------------------------------------------------------

    def numbers(self, primary: Account) -> list[int]:
        return [0] + sorted(self.children.get(primary.account_id, {}))

    def primary_of(self, engine, account: Account) -> tuple[Account, int]:
        """(primary account, subaccount number) of any account."""
        for primary_id, kids in self.children.items():
            for number, account_id in kids.items():
                if account_id == account.account_id:
                    return engine.accounts[primary_id], number
        return account, 0

    def account(self, engine, primary: Account, number: int) -> Account:
        """The account behind `number` (0 = primary); 400 out of range, 404 never created."""
        if number == 0:
            return primary
        if not 0 < number <= MAX_SUBACCOUNT:
            raise bad_request(f"subaccount must be 0..{MAX_SUBACCOUNT}", "invalid_parameters", str(number))
        account_id = self.children.get(primary.account_id, {}).get(number)
        if account_id is None:
            raise not_found("subaccount not found", str(number))
        return engine.accounts[account_id]

    def create(self, engine, primary: Account) -> int:
        mine = self.children.setdefault(primary.account_id, {})
        number = max(mine, default=0) + 1
        if number > MAX_SUBACCOUNT:
            raise bad_request(f"at most {MAX_SUBACCOUNT} subaccounts", "invalid_parameters")
        child = Account(f"{primary.account_id}#{number}", primary.user_id, "", "", 0)
        engine.add_account(child)
        mine[number] = child.account_id
        self.version += 1
        return number

    # ---- money ----------------------------------------------------------------------------------

    def transfer(self, engine, primary: Account, transfer_id: str, client_id: str, source: int, target: int,
                 cents: int, now_ms: int) -> Transfer:
        """Move `cents` of available cash from one subaccount to another (409 on a reused client id)."""
        if any(t.primary_id == primary.account_id and t.client_transfer_id == client_id for t in self.transfers):
            raise SimError(409, "transfer_already_exists", "client_transfer_id was already used", client_id)
        if source == target:
            raise bad_request("from_subaccount and to_subaccount must differ", "invalid_parameters")
        if cents <= 0:
            raise bad_request("amount_cents must be positive", "invalid_parameters", str(cents))
        giver = self.account(engine, primary, source)
        taker = self.account(engine, primary, target)
        amount = cents * MU_PER_CENT
        if giver.cash - giver.reserved < amount:
            raise bad_request("insufficient balance for this transfer", "insufficient_balance",
                              f"available {(giver.cash - giver.reserved) / 1e6:.2f}")
        giver.cash -= amount
        taker.cash += amount
        engine.version += 1
        record = Transfer(transfer_id, primary.account_id, source, target, cents, now_ms, client_id)
        self.transfers.append(record)
        self.version += 1
        return record

    def of(self, primary: Account) -> list[Transfer]:
        return [t for t in self.transfers if t.primary_id == primary.account_id]

    def deposit(self, deposit_id: str, account: Account, cents: int, now_ms: int) -> None:
        self.deposits.append(Deposit(deposit_id, account.account_id, cents, now_ms))
        self.version += 1

    # ---- persistence ------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps({
            "children": {p: {str(n): a for n, a in kids.items()} for p, kids in self.children.items()},
            "transfers": [asdict(t) for t in self.transfers],
            "deposits": [asdict(d) for d in self.deposits],
            "allocations": {p: [rows, reservation] for p, (rows, reservation) in self.allocations.items()},
        })

    @classmethod
    def from_json(cls, text: str | None) -> Subaccounts:
        subs = cls()
        if not text:
            return subs
        data = json.loads(text)
        subs.children = {p: {int(n): a for n, a in kids.items()} for p, kids in data["children"].items()}
        subs.transfers = [Transfer(**t) for t in data["transfers"]]
        subs.deposits = [Deposit(**d) for d in data["deposits"]]
        subs.allocations = {p: (rows, reservation) for p, (rows, reservation) in data["allocations"].items()}
        return subs
