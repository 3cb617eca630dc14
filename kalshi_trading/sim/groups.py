"""Order groups (reference section 6): a cap on contracts matched in a rolling 15 s; hitting it
cancels the group's resting orders and blocks new ones until the group is reset."""

from __future__ import annotations

from collections import deque

from kalshi_trading.sim.records import Account

WINDOW_MS = 15_000


class OrderGroup:
    __slots__ = ("group_id", "account", "limit", "fills", "triggered")

    def __init__(self, group_id: str, account: Account, limit: int | None):
        self.group_id = group_id
        self.account = account
        self.limit = limit  # cu, None = no cap
        self.fills: deque[tuple[int, int]] = deque()
        self.triggered = False

    def record(self, now_ms: int, count: int) -> bool:
        """Note a fill; True when this fill takes the group over its cap."""
        self.fills.append((now_ms, count))
        while self.fills and self.fills[0][0] <= now_ms - WINDOW_MS:
            self.fills.popleft()
        if self.limit is not None and not self.triggered and sum(c for _, c in self.fills) >= self.limit:
            self.triggered = True
            return True
        return False

    def to_state(self) -> list:
        return [self.group_id, self.account.account_id, self.limit, list(self.fills), self.triggered]
