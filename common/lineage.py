"""Contracts across jobs: a table has one contract, the one its producing job writes.

A job reading another job's output declares exactly the producer's contract, or a subset of
its columns; a table no job writes must be declared a source (`Table(..., source=True)`).
Reads only job metadata: no Spark session.
"""

from __future__ import annotations

from typing import Iterable

from common.contracts import Column, Table
from common.job import Job

__all__ = ["producers", "contract_mismatches"]


def producers(jobs: Iterable[type[Job]]) -> dict[str, list[tuple[type[Job], Table]]]:
    """Table name -> the jobs writing it, with the Table each declares."""
    written: dict[str, list[tuple[type[Job], Table]]] = {}
    for job in jobs:
        for table in job.outputs.values():
            written.setdefault(table.name, []).append((job, table))
    return written


def _render(column: Column) -> str:
    return f"{column.name} {column.type}{'' if column.nullable else ' NOT NULL'}"


def _differences(read: Table, written: Table, maker: str) -> list[str]:
    wrote = {c.name: c for c in written.contract.columns}
    found = []
    for column in read.contract.columns:
        theirs = wrote.get(column.name)
        if theirs is None:
            found.append(f"declares {_render(column)}, which job {maker} does not write")
        elif (theirs.type, theirs.nullable) != (column.type, column.nullable):
            found.append(f"declares {_render(column)}, but job {maker} writes {_render(theirs)}")
    return found


def _one_per_declaration(makers: list[tuple[type[Job], Table]]) -> list[tuple[type[Job], Table]]:
    """The first producer by name of each distinct Table: a subclass writing its parent's table repeats it."""
    chosen: dict[Table, tuple[type[Job], Table]] = {}
    for maker, table in sorted(makers, key=lambda m: m[0].name):
        chosen.setdefault(table, (maker, table))
    return list(chosen.values())


def contract_mismatches(job: type[Job], everyone: Iterable[type[Job]]) -> list[tuple[str, str]]:
    """(input alias, problem) for each input of `job` that disagrees with its producer."""
    written = producers(everyone)
    found = []
    for alias, table in job.inputs.items():
        makers = _one_per_declaration([(p, t) for p, t in written.get(table.name, []) if p is not job])
        if not makers and not table.source:
            problem = f"input {table.name} is written by no job and is not a declared source (Table(..., source=True))"
            found.append((alias, problem))
        for maker, declared in makers:
            found += [(alias, f"input {table.name} {d}") for d in _differences(table, declared, maker.name)]
    return found
