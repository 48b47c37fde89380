"""Task dependencies from job metadata: a job that writes a table runs before every job that
reads it. Pure standard library, so it is tested without Airflow."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping

__all__ = ["DependencyCycleError", "DependencyError", "infer_dependencies", "topological_order"]


class DependencyError(ValueError):
    """The jobs of a DAG can't be ordered; the message names the jobs and tables."""


class DependencyCycleError(DependencyError):
    """The dependencies (inferred or set by hand) form a cycle."""


def infer_dependencies(meta: Mapping[str, Mapping]) -> dict[str, set[str]]:
    """`{job: {upstream jobs}}` from `Job.describe()` dicts: outputs feeding inputs."""
    producers: dict[str, str] = {}
    for job, info in meta.items():
        for table in info["outputs"].values():
            if table in producers:
                raise DependencyError(
                    f"jobs {producers[table]} and {job} both write {table}: a DAG needs one producer per table"
                )
            producers[table] = job
    upstream: dict[str, set[str]] = {job: set() for job in meta}
    for job, info in meta.items():
        for table in info["inputs"].values():
            producer = producers.get(table)
            if producer is not None and producer != job:
                upstream[job].add(producer)
    return upstream


def topological_order(upstream: Mapping[str, Iterable[str]]) -> list[str]:
    """Jobs in an order that respects `upstream`; a cycle raises DependencyCycleError."""
    sorter = graphlib.TopologicalSorter({job: sorted(ups) for job, ups in sorted(upstream.items())})
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise DependencyCycleError(
            f"job dependencies form a cycle: {' -> '.join(cycle)}; remove one of these edges "
            "(an output feeding an input, or a dependency set by hand)"
        ) from None
