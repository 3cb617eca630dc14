"""Finding a strategy by name: the built-ins, installed plug-ins, or an import path.

`resolve_strategy(spec, context)` is the one place a `--strategy` value (or the bot configuration's
`strategy`) becomes a strategy object; `kalshi auto` calls it and `kalshi backtest` can too:

    from kalshi_trading.auto.strategies.registry import StrategyContext, resolve_strategy
    strategy = resolve_strategy("mypkg.strats:JoinTouch", StrategyContext(underlying=lambda: my_source))

Resolution, first match wins:

1. the built-in names `mm` (market maker) and `edge` (model edge taker).  `signals` is reserved: the signal
   pipeline is not a loop strategy, it runs with `kalshi pipeline run`;
2. an entry point of that name in the group `kalshi_trading.strategies` (an installed package declares
   ``[project.entry-points."kalshi_trading.strategies"] myname = "mypkg.strats:MyStrategy"``);
3. ``package.module:Class`` (a dotted attribute path after the colon): the module is imported from the installed
   packages, else from the current directory.

What is found is called with no arguments (or with ``context=`` when its signature names a `context` parameter:
the underlying price source, for model strategies); an object that already is a strategy is used as it is.  The
result must have a `name` (a short word: the journal tags the bot's orders with it) and a
`targets(event, snapshot)` method.  Anything else (no such module, no such attribute, an import or a constructor
that raises, an object that is not a strategy) is a `UsageError` (exit 2) naming the spec; the traceback of
foreign code that raised goes to the log (`errors.log`).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

from kalshi_trading.auto.botconfig import STRATEGIES, STRATEGY_ENTRY_POINTS, strategy_spec_problem
from kalshi_trading.auto.pricing import UnderlyingSource
from kalshi_trading.auto.types import Strategy
from kalshi_trading.errors import KalshiError, UsageError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = STRATEGY_ENTRY_POINTS
BUILT_IN = STRATEGIES
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[A-Za-z0-9_.:+-]{1,40}")


@dataclass
class StrategyContext:
    """What a strategy's constructor may ask for (a parameter named `context`).

    `underlying`: builds the underlying price source (called once, on first use: a market maker never needs it).
    """

    underlying: Callable[[], UnderlyingSource] | None = None
    _source: UnderlyingSource | None = field(default=None, init=False, repr=False)

    @property
    def taken(self) -> UnderlyingSource | None:
        """The underlying source if a strategy asked for it (else None: it was never built)."""
        return self._source

    def underlying_source(self) -> UnderlyingSource:
        """The underlying price source; UsageError when the caller has none to give."""
        if self._source is None:
            if self.underlying is None:
                raise UsageError("this strategy needs an underlying price feed: pass --underlying FILE.csv "
                                 "(a CSV with a timestamp,price header)")
            self._source = self.underlying()
        return self._source


def _market_maker(context: StrategyContext) -> Strategy:
    from kalshi_trading.auto.strategies.market_maker import MarketMaker

    return MarketMaker()


def _edge_taker(context: StrategyContext) -> Strategy:
    from kalshi_trading.auto.strategies.edge import EdgeTaker

    return EdgeTaker(context.underlying_source())


_BUILT_IN_FACTORIES: dict[str, Callable[[StrategyContext], Strategy]] = {"mm": _market_maker, "edge": _edge_taker}


def resolve_strategy(spec: str, context: StrategyContext | None = None) -> Strategy:
    """The strategy `spec` names (a built-in, an installed entry point, or `package.module:Class`), built.

    Raises `UsageError` (exit 2) naming the spec when it cannot be found, imported, built or is not a strategy;
    a `KalshiError` a constructor raises on purpose (e.g. a ConfigError about its data) passes through unchanged.
    """
    context = context or StrategyContext()
    spec = (spec or "").strip()
    problem = strategy_spec_problem(spec)
    if problem is not None:
        raise UsageError(f"--strategy {spec!r}: {problem}")
    key = spec.lower()
    if key in _BUILT_IN_FACTORIES:
        return _BUILT_IN_FACTORIES[key](context)
    found = _entry_point(spec)
    if found is not None:
        return _build(found, spec, context)
    return _build(_from_path(spec), spec, context)


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _entry_point(spec: str) -> Any | None:
    """The object an installed entry point of that name refers to, loaded; None when none is named so."""
    matches = [ep for ep in _entry_points() if ep.name == spec]
    if not matches:
        return None
    if len({ep.value for ep in matches}) > 1:
        where = "; ".join(f"{ep.value}" for ep in matches)
        raise UsageError(f"--strategy {spec!r}: several installed packages declare it ({where}); give "
                         "package.module:Class instead")
    try:
        return matches[0].load()
    except Exception as exc:  # noqa: BLE001 - a plug-in's import ran foreign code: any failure is the user's to fix
        log.warning("loading the strategy entry point %s = %s failed", spec, matches[0].value, exc_info=True)
        raise UsageError(f"--strategy {spec!r}: loading {matches[0].value} failed: {_describe(exc)} "
                         "(traceback in errors.log)") from None


def _from_path(spec: str) -> Any:
    """`package.module:Attr.Path` -> the object, or a UsageError saying which part is missing."""
    module_name, _, attr_path = spec.partition(":")
    if not _DOTTED.fullmatch(module_name) or not _DOTTED.fullmatch(attr_path):
        raise UsageError(f"--strategy {spec!r} is not of the form package.module:Class")
    module = _import(module_name, spec)
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"--strategy {spec!r}: {module_name} has no {attr_path!r}") from None
    return obj


def _import(module_name: str, spec: str) -> Any:
    """Import `module_name`; a module missing from the installed packages is looked for in the current
    directory (`kalshi` started from a console script does not have it on the path)."""
    cwd = os.getcwd()
    for attempt in (1, 2):
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            itself = module_name == missing or module_name.startswith(missing + ".")
            if itself and attempt == 1 and cwd not in sys.path:
                sys.path.append(cwd)
                importlib.invalidate_caches()
                continue
            if itself:
                raise UsageError(f"--strategy {spec!r}: no module named {missing!r} (installed, or a .py file in "
                                 f"{cwd})") from None
            log.warning("importing the strategy module %s failed", module_name, exc_info=True)
            raise UsageError(f"--strategy {spec!r}: importing {module_name} failed: {_describe(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - the module is foreign code: whatever its import raises is reported
            log.warning("importing the strategy module %s failed", module_name, exc_info=True)
            raise UsageError(f"--strategy {spec!r}: importing {module_name} failed: {_describe(exc)} "
                             "(traceback in errors.log)") from None
    raise AssertionError("unreachable: the second attempt returns or raises")


def _build(found: Any, spec: str, context: StrategyContext) -> Strategy:
    """Call the class or factory found (or take an object that already is a strategy) and check the result."""
    if _looks_like_strategy(found) and not inspect.isclass(found):
        strategy = found
    elif callable(found):
        kwargs = {"context": context} if _takes_context(found) else {}
        try:
            strategy = found(**kwargs)
        except KalshiError:
            raise  # a constructor's own clear error (a missing data file, a bad setting) keeps its exit code
        except Exception as exc:  # noqa: BLE001 - the constructor is foreign code: any failure is reported, not raised
            log.warning("constructing the strategy %s failed", spec, exc_info=True)
            raise UsageError(f"--strategy {spec!r}: constructing {_qualname(found)} failed: {_describe(exc)} "
                             "(traceback in errors.log)") from None
    else:
        raise UsageError(f"--strategy {spec!r}: {_qualname(found)} is a {type(found).__name__}, not a strategy "
                         "class")
    _check(strategy, spec)
    return strategy


def _takes_context(factory: Any) -> bool:
    try:
        return "context" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature: called bare
        return False


def _looks_like_strategy(obj: Any) -> bool:
    return isinstance(getattr(obj, "name", None), str) and callable(getattr(obj, "targets", None))


def _check(strategy: Any, spec: str) -> None:
    """A strategy: a short `name` and a `targets(event, snapshot)` method."""
    what = type(strategy).__name__
    targets = getattr(strategy, "targets", None)
    if not callable(targets):
        raise UsageError(f"--strategy {spec!r}: {what} is not a strategy (it has no targets(event, snapshot) "
                         "method)")
    try:
        inspect.signature(targets).bind(None, None)
    except TypeError:
        raise UsageError(f"--strategy {spec!r}: {what}.targets must take (event, snapshot)") from None
    except ValueError:
        pass  # no signature to check (a builtin): it is called and judged by its answers
    name = getattr(strategy, "name", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(f"--strategy {spec!r}: {what}.name must be a short word (1-40 letters, digits or _.:+-; "
                         f"the journal tags the bot's orders with it), not {name!r}")


def _qualname(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
