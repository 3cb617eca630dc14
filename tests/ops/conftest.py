"""The simulator fixtures for the ops tests that drive a manual trader."""

from tests.e2e.conftest import bob, client, sim  # noqa: F401  (the simulator, its demo account, a counterparty)
