"""The import graph keeps design.md's one-way layers, and has no circle (docs/architecture.md draws it).

Every `import` in the package counts, lazy ones inside functions too: a circle hidden in a function is still a
circle a newcomer has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "kalshi_trading"

# layer -> rank; a module may import its own layer and any layer of a LOWER rank, nothing above
RANK = {
    "domain": 0,  # money, models, errors, ids, pricing: facts and rules, no I/O
    "config": 1, "notify_settings": 1,  # the settings (notify_settings: the notification channels', read by config)
    "api": 2, "store": 2,
    "marketdata": 3,  # the feed signs its handshake with api's signer and reads wire numbers with api.parse
    "replay": 3.5,  # recorder and replay feed: on marketdata (its tap, events, books); marketdata never imports it
    "trading": 4,
    "auto": 5, "signals": 5, "ops": 5,
    "backtest": 5,  # the bot's loop on a recording: auto's loop, replay's feed, an in-process exchange port
    "cli": 6,
}
DOMAIN = {"money", "models", "errors", "ids", "pricing", "__init__"}
# the simulator is a separate program: it may use only the domain
SIM_MAY_IMPORT = {"domain", "sim"}


def layer_of(module: str) -> str:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head == "__main__":  # `python -m kalshi_trading` is the CLI's entry point
        return "cli"
    if head in DOMAIN:
        return "domain"
    return head


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                 for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in type_only:  # `if TYPE_CHECKING:` imports never run, so they make no circle
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kalshi_trading"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("kalshi_trading"):
                found.add(mod)
                # `from kalshi_trading.x import y` may name a submodule y
                for a in node.names:
                    if (PKG.parent / (mod.replace(".", "/") + f"/{a.name}.py")).exists():
                        found.add(f"{mod}.{a.name}")
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        g[module_name(path)] = {m for m in imports_of(path)}
    return g


def test_layers_point_down():
    wrong = []
    for mod, deps in graph().items():
        src = layer_of(mod)
        for dep in deps:
            dst = layer_of(dep)
            if src == "sim":
                if dst not in SIM_MAY_IMPORT:
                    wrong.append(f"{mod} -> {dep} (the simulator imports only the domain)")
            elif dst == "sim":
                if src != "cli":  # the CLI starts and controls the simulator; nothing else knows it exists
                    wrong.append(f"{mod} -> {dep} (only the CLI may start the simulator)")
            elif RANK.get(dst, 0) > RANK.get(src, 0):
                wrong.append(f"{mod} -> {dep} ({src} may not import {dst})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circle():
    g = graph()
    # Tarjan's strongly connected components over modules; a package's __init__ importing its own submodules
    # for re-export is not a circle unless a submodule imports the package back.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not cycles, cycles


# the only places a database driver may be imported: the storage adapters, and the simulator (a separate program
# with its own database)
DRIVERS = ("sqlite3", "psycopg", "psycopg2", "boto3", "botocore")


def drivers_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in DRIVERS)
    return found


def test_no_database_driver_outside_the_store_and_the_simulator():
    """No SQL outside an adapter: a module outside `store/` (and `sim/`) that imports a database driver is a
    storage backend in the wrong place.  `store/`'s own interfaces (everything but its adapter subpackages) are
    driver-free too."""
    wrong = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        may = rel[0] == "sim" or (rel[0] == "store" and len(rel) >= 3)  # sim/..., store/<adapter>/...
        drivers = drivers_of(path)
        if drivers and not may:
            wrong.append(f"{module_name(path)} imports {', '.join(sorted(drivers))}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_driver_check_sees_an_import():
    assert "sqlite3" in drivers_of(PKG / "store" / "sqlite" / "botstate.py")


def test_the_checker_sees_lazy_imports():
    """The graph includes imports inside functions (it would be blind to lazy circles otherwise):
    cli.main imports the context only inside its root callback."""
    assert "kalshi_trading.cli.context" in graph()["kalshi_trading.cli.main"]
