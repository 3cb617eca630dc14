"""A strategy module that imports a package that is not installed (the plug-in tests load it by path)."""

import no_such_dependency_xyz  # noqa: F401

STRATEGY = None
