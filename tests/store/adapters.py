"""The storage adapters every contract suite runs against: a name, and how to make a fresh, empty store URL for one
test (SQLite in the test's directory; a new database on this process's throwaway PostgreSQL cluster; new tables
on the shared moto DynamoDB server).  A new adapter is one line here."""

from __future__ import annotations

from typing import Callable

from tests.store import pg_server
from tests.store.dynamo_server import dynamo_url

ADAPTERS: dict[str, Callable[[object], str]] = {
    "sqlite": lambda tmp: f"sqlite://{tmp}/store/",
    "postgresql": lambda tmp: pg_server.fresh_url(),
    "dynamodb": dynamo_url,
}
