"""`resolve_strategy`: built-ins, the reserved name, installed entry points, `module:Class` paths, and every way a
spec can be wrong (each a UsageError naming the spec); `GuardedStrategy`: a strategy that raises or answers
nonsense is stopped, once, with the reason."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from kalshi_trading.auto.botconfig import MarketConfig
from kalshi_trading.auto.pricing import RecordedUnderlying
from kalshi_trading.auto.strategies import EdgeTaker, MarketMaker
from kalshi_trading.auto.strategies.guard import GuardedStrategy
from kalshi_trading.auto.strategies.registry import ENTRY_POINT_GROUP, StrategyContext, resolve_strategy
from kalshi_trading.auto.types import MarketSnapshot, SimpleBookView, TargetOrder, TimerEvent
from kalshi_trading.errors import ConfigError, UsageError
from kalshi_trading.models import BookSide
from kalshi_trading.money import GRIDS
from tests.auto import plugin_strategies as plugins

P = "tests.auto.plugin_strategies"
NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def source():
    return RecordedUnderlying([(NOW - timedelta(seconds=i), 100.0) for i in range(10)])


# --- found --------------------------------------------------------------------------------------------------------
def test_built_ins_and_their_context():
    assert isinstance(resolve_strategy("mm"), MarketMaker)
    assert isinstance(resolve_strategy(" MM "), MarketMaker)
    ctx = StrategyContext(underlying=source)
    edge = resolve_strategy("edge", ctx)
    assert isinstance(edge, EdgeTaker) and ctx.taken is edge.source
    mm_ctx = StrategyContext(underlying=lambda: pytest.fail("a market maker never needs the underlying"))
    resolve_strategy("mm", mm_ctx)
    assert mm_ctx.taken is None
    with pytest.raises(UsageError, match="--underlying"):
        resolve_strategy("edge")


@pytest.mark.parametrize("spec", ["signals", "SIGNALS", " signals"])
def test_signals_is_reserved_for_the_pipeline(spec):
    with pytest.raises(UsageError, match="kalshi pipeline run") as err:
        resolve_strategy(spec)
    assert repr(spec.strip()) in str(err.value)


@pytest.mark.parametrize("attr, kind", [("JoinTouch", plugins.JoinTouch), ("make_join", plugins.JoinTouch),
                                        ("INSTANCE", plugins.JoinTouch), ("RaisesOnNth", plugins.RaisesOnNth)])
def test_module_paths_classes_factories_and_instances(attr, kind):
    assert isinstance(resolve_strategy(f"{P}:{attr}"), kind)


def test_a_constructor_asking_for_the_context_gets_it():
    ctx = StrategyContext(underlying=source)
    made = resolve_strategy(f"{P}:WantsContext", ctx)
    assert made.source is ctx.taken is not None
    with pytest.raises(UsageError, match="--underlying"):  # asked for a feed nobody can give: the user's fix
        resolve_strategy(f"{P}:WantsContext")


def test_a_constructors_own_clear_error_keeps_its_kind():
    def broken():
        raise ConfigError("no such price file", fix="check the path")

    with pytest.raises(ConfigError):
        resolve_strategy("edge", StrategyContext(underlying=broken))


def test_a_module_in_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "my_cwd_strategy.py").write_text(
        "class Mine:\n    name = 'mine'\n\n    def targets(self, event, snapshot):\n        return []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_cwd_strategy", raising=False)
    assert resolve_strategy("my_cwd_strategy:Mine").name == "mine"
    sys.modules.pop("my_cwd_strategy", None)


# --- entry points --------------------------------------------------------------------------------------------------
def _distribution(root, name, entries):
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Packages 'installed' on a path of their own (their dist-info declares the entry points)."""
    def install(name, entries):
        _distribution(tmp_path / name, name, entries)
        monkeypatch.syspath_prepend(str(tmp_path / name))
    return install


def test_an_installed_entry_point_by_name(installed):
    installed("joinpkg", {"join-touch": f"{P}:JoinTouch", "mm": f"{P}:NoName"})
    assert isinstance(resolve_strategy("join-touch"), plugins.JoinTouch)
    assert isinstance(resolve_strategy("mm"), MarketMaker)  # a built-in name is never shadowed
    with pytest.raises(UsageError, match=r"installed: join-touch, mm"):
        resolve_strategy("nonesuch")


def test_entry_points_that_cannot_load_or_clash(installed):
    installed("brokenpkg", {"broken": "tests.auto.plugin_broken_import:X", "twice": f"{P}:JoinTouch"})
    installed("otherpkg", {"twice": f"{P}:RaisesOnNth"})
    with pytest.raises(UsageError, match=r"'broken': loading .* failed: RuntimeError: this module is broken"):
        resolve_strategy("broken")
    with pytest.raises(UsageError, match="several installed packages declare it"):
        resolve_strategy("twice")


# --- wrong specs ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, message", [
    ("", "is empty"),
    ("   ", "is empty"),
    ("nonesuch", "no such strategy .*built-in: mm, edge"),
    ("no_such_module_xyz:Thing", "no module named 'no_such_module_xyz'"),
    ("tests.auto.no_such_module:Thing", "no module named 'tests.auto.no_such_module'"),
    ("tests.auto.plugin_broken_import:X", "importing .* failed: RuntimeError: this module is broken on purpose"),
    ("tests.auto.plugin_missing_dependency:STRATEGY", "importing .* failed: ModuleNotFoundError: .*no_such_dep"),
    (f"{P}:Nope", "has no 'Nope'"),
    (f"{P}:JoinTouch.nope", "has no 'JoinTouch.nope'"),
    (f"{P}:NOT_CALLABLE", "is a int, not a strategy class"),
    (f"{P}:NoTargets", "NoTargets is not a strategy"),
    (f"{P}:NoName", "NoName.name must be a short word"),
    (f"{P}:BadName", "BadName.name must be a short word"),
    (f"{P}:WrongSignature", r"targets must take \(event, snapshot\)"),
    (f"{P}:RaisesInInit", "constructing RaisesInInit failed: RuntimeError: cannot start: no model file"),
    (f"{P}:NeedsArguments", "constructing NeedsArguments failed: TypeError"),
    ("a:b:c", "not of the form package.module:Class"),
    (f"{P}:", "not of the form"),
    (":JoinTouch", "not of the form"),
    ("1mod:X", "not of the form"),
    (f"{P}:Join-Touch", "not of the form"),
    ("../evil:X", "not of the form"),
])
def test_every_wrong_spec_is_a_usage_error_naming_it(spec, message):
    with pytest.raises(UsageError, match=message) as err:
        resolve_strategy(spec)
    if spec.strip():
        assert repr(spec.strip()) in str(err.value)


def test_foreign_tracebacks_go_to_the_log(caplog):
    with caplog.at_level(logging.WARNING, logger="kalshi_trading"), pytest.raises(UsageError):
        resolve_strategy(f"{P}:RaisesInInit")
    assert any(r.exc_info and "cannot start" in str(r.exc_info[1]) for r in caplog.records)


# --- the guard -----------------------------------------------------------------------------------------------------
def snapshot(ticker="KX-T"):
    return MarketSnapshot(ticker=ticker, book=SimpleBookView.top(D("0.40"), D(5), D("0.45"), D(5)), position=D(0),
                          working=(), config=MarketConfig(), grid=GRIDS["linear_cent"], fee_type="quadratic",
                          fee_multiplier=D(1), now=NOW)


class Scripted:
    """Answers what it is told to, counting its calls."""

    name = "scripted"

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def targets(self, event, snap):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


GOOD = TargetOrder("KX-T", BookSide.BID, D("0.40"), D(1), "s:bid")


def test_the_guard_passes_good_answers_through():
    inner = Scripted([GOOD], (GOOD,), [])
    guard = GuardedStrategy(inner)
    assert guard.name == "scripted"
    assert [guard.targets(TimerEvent(NOW), snapshot()) for _ in range(3)] == [[GOOD], [GOOD], []]
    assert guard.failure is None


@pytest.mark.parametrize("answer, message", [
    (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
    (KeyError("price"), "KeyError: 'price'"),
    (RuntimeError(), "RuntimeError"),
    (None, "returned a NoneType, not a list"),
    ({"bid": 1}, "returned a dict, not a list"),
    ([("bid", 0.4, 1)], "returned a tuple among its orders"),
    ([TargetOrder("OTHER", BookSide.BID, D("0.40"), D(1))], "for KX-T returned an order on OTHER"),
    ([TargetOrder("KX-T", "bid", D("0.40"), D(1))], "book_side is 'bid'"),  # type: ignore[arg-type]
    ([TargetOrder("KX-T", BookSide.BID, 0.4, D(1))], "yes_price is 0.4, not a finite Decimal"),  # type: ignore
    ([TargetOrder("KX-T", BookSide.BID, D("NaN"), D(1))], "yes_price is Decimal"),
    ([TargetOrder("KX-T", BookSide.BID, D("0.40"), D(0))], "count is 0, not positive"),
])
def test_a_failing_strategy_is_stopped_once_with_the_reason(answer, message, caplog):
    told = []
    inner = Scripted(answer, [GOOD])
    guard = GuardedStrategy(inner, on_failure=told.append)
    with caplog.at_level(logging.ERROR, logger="kalshi_trading"):
        assert guard.targets(TimerEvent(NOW), snapshot()) == []
    assert guard.targets(TimerEvent(NOW), snapshot()) == []  # stopped for good: not asked again
    assert inner.calls == 1 and len(told) == 1 and told[0] is guard.failure
    assert message in guard.failure.error and guard.failure.ticker == "KX-T"
    assert "strategy scripted raised" in guard.failure.reason() and "errors.log" in guard.failure.reason()
    assert [r for r in caplog.records if r.exc_info]  # the traceback is logged


def test_a_failing_placed_hook_is_reported_at_the_next_decision():
    class Hooked(Scripted):
        def placed(self, target, order_id):
            raise ValueError("bad bookkeeping")

    told = []
    guard = GuardedStrategy(Hooked([GOOD], [GOOD]), on_failure=told.append)
    assert guard.targets(TimerEvent(NOW), snapshot()) == [GOOD]
    guard.placed(GOOD, "order-1")  # inside the write path: remembered, nothing raised, nobody told yet
    assert told == [] and guard.failure is not None and guard.failure.where == "placed"
    assert guard.targets(TimerEvent(NOW), snapshot()) == []
    assert told == [guard.failure]


# --- the configuration file's `strategy` ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["mm", "edge", "mypkg.strats:Mine", "mypkg:Outer.Inner"])
def test_the_config_file_names_any_strategy_spec(value):
    from kalshi_trading.auto.botconfig import parse_config

    assert parse_config(f'strategy = "{value}"', "toml").strategy == value


@pytest.mark.parametrize("value, message", [("signals", "kalshi pipeline run"), ("scalp", "no such strategy"),
                                            ("a:b:c", "not of the form"), ("", "empty"), ("3", "no such strategy")])
def test_the_config_file_refuses_what_cannot_be_a_strategy(value, message):
    from kalshi_trading.auto.botconfig import parse_config

    with pytest.raises(ConfigError, match=message):
        parse_config(f'strategy = "{value}"', "toml")
