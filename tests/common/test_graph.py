"""The step graph: evaluation order, shared intermediates found, cycles refused."""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from common.graph import StepGraph
from common.job import step


def _noop(*frames, **_):
    return frames[0]


def test_fan_out_is_cached():
    steps = {
        "lines": step(_noop, "lineitem"),
        "enriched": step(_noop, "lines", "customer"),
        "a": step(_noop, "enriched"),
        "b": step(_noop, "enriched"),
        "c": step(_noop, "lines"),
    }
    graph = StepGraph.build("t.j", steps, {"lineitem", "customer"}, ["a", "b", "c"])
    assert graph.order.index("lines") < graph.order.index("enriched") < graph.order.index("a")
    # lines feeds enriched and c; enriched feeds a and b
    assert graph.cached == ("lines", "enriched")


def test_single_consumer_chain_is_not_cached_unless_declared():
    steps = {"x": step(_noop, "src"), "out": step(_noop, "x")}
    assert StepGraph.build("t.j", steps, {"src"}, ["out"]).cached == ()
    steps = {"x": step(_noop, "src", cache=True), "out": step(_noop, "x")}
    assert StepGraph.build("t.j", steps, {"src"}, ["out"]).cached == ("x",)


def test_an_output_read_by_another_step_is_cached():
    steps = {"daily": step(_noop, "src"), "weekly": step(_noop, "daily")}
    assert StepGraph.build("t.j", steps, {"src"}, ["daily", "weekly"]).cached == ("daily",)


def test_cycle_and_dangling_reads_are_named():
    with pytest.raises(ConfigError, match="cycle: a -> b -> a"):
        StepGraph.build("t.j", {"a": step(_noop, "b"), "b": step(_noop, "a")}, set(), ["a"])
    with pytest.raises(ConfigError, match="reads 'nope'"):
        StepGraph.build("t.j", {"a": step(_noop, "nope")}, {"src"}, ["a"])
    with pytest.raises(ConfigError, match="no step produces output 'out'"):
        StepGraph.build("t.j", {"a": step(_noop, "src")}, {"src"}, ["out"])
