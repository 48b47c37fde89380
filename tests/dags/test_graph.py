"""Task order from declared tables: outputs feeding inputs, with cycles refused."""

from __future__ import annotations

import pytest

from pj_airflow.graph import (
    DependencyCycleError,
    DependencyError,
    infer_dependencies,
    topological_order,
)


def meta(inputs: list[str], outputs: list[str]) -> dict:
    return {"inputs": {t.split(".")[1]: t for t in inputs}, "outputs": {t.split(".")[1]: t for t in outputs}}


JOBS = {
    "a.load": meta(["raw.orders"], ["stage.orders"]),
    "a.enrich": meta(["stage.orders", "raw.customers"], ["stage.enriched"]),
    "a.report": meta(["stage.enriched", "stage.orders"], ["reports.daily"]),
    "a.other": meta(["raw.customers"], ["reports.customers"]),
}


def test_an_output_feeding_an_input_becomes_an_edge():
    assert infer_dependencies(JOBS) == {
        "a.load": set(),
        "a.enrich": {"a.load"},
        "a.report": {"a.enrich", "a.load"},
        "a.other": set(),
    }


def test_order_respects_every_edge():
    order = topological_order(infer_dependencies(JOBS))
    assert order.index("a.load") < order.index("a.enrich") < order.index("a.report")


def test_a_cycle_is_an_error_that_names_it():
    jobs = {"b.one": meta(["x.b"], ["x.a"]), "b.two": meta(["x.a"], ["x.b"])}
    with pytest.raises(DependencyCycleError, match=r"cycle: b\.(one|two) -> b\.(one|two) -> b\.(one|two)"):
        topological_order(infer_dependencies(jobs))


def test_two_producers_of_one_table_are_refused():
    jobs = {"c.one": meta([], ["x.t"]), "c.two": meta([], ["x.t"])}
    with pytest.raises(DependencyError, match="both write x.t"):
        infer_dependencies(jobs)
