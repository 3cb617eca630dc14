"""A strategy module whose import fails (the plug-in tests load it by path)."""

raise RuntimeError("this module is broken on purpose")
