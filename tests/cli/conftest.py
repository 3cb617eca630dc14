from tests.e2e.conftest import sim  # noqa: F401  (the simulator fixture)
