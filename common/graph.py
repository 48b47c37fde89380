"""A job's step graph: validation, evaluation order, and which intermediates to cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from common.errors import ConfigError
from common.job import Step

__all__ = ["StepGraph"]


@dataclass(frozen=True)
class StepGraph:
    order: tuple[str, ...]  # steps in evaluation order
    steps: Mapping[str, Step]
    cached: tuple[str, ...]  # shared intermediates, persisted once

    @classmethod
    def build(cls, job_name: str, steps: Mapping[str, Step], inputs: set[str], outputs: list[str]) -> StepGraph:
        missing = [o for o in outputs if o not in steps]
        if missing:
            raise ConfigError(f"job {job_name}: no step produces output {missing[0]!r}")
        for name, st in steps.items():
            if name in inputs:
                raise ConfigError(f"job {job_name}: step {name!r} has the name of an input")
            for src in st.inputs:
                if src not in steps and src not in inputs:
                    raise ConfigError(f"job {job_name}: step {name!r} reads {src!r}, which is neither an input nor a step")
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2 or name in inputs:
                return
            if state.get(name) == 1:
                raise ConfigError(f"job {job_name}: steps form a cycle: {' -> '.join((*path, name))}")
            state[name] = 1
            for src in steps[name].inputs:
                visit(src, (*path, name))
            state[name] = 2
            order.append(name)

        for name in steps:
            visit(name, ())
        consumers: dict[str, int] = {name: 0 for name in steps}
        for st in steps.values():
            for src in set(st.inputs):
                if src in consumers:
                    consumers[src] += 1
        for out in outputs:
            if consumers[out]:
                consumers[out] += 1  # the write is a consumer too
        cached = tuple(n for n in order if steps[n].cache or consumers[n] >= 2)
        return cls(order=tuple(order), steps=steps, cached=cached)
