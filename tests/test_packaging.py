"""Every folder of code is a package that a built wheel includes."""

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_code_folder_is_packaged():
    found = set(find_packages(str(ROOT), include=["kalshi_trading*"]))
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "kalshi_trading").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert folders <= found, sorted(folders - found)
