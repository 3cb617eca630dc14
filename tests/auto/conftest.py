"""The real simulator's fixtures (tests/e2e/conftest.py) for the bot's tests that need an exchange."""

from tests.e2e.conftest import bob, client, executor, journal, sim  # noqa: F401  (fixtures, found by name)
