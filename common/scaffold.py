"""`pyspark-jobs new DOMAIN.NAME --inputs db.table,...`: a job that runs as generated.

It writes the job module (`pyspark_jobs/<domain>/<name>.py`), its transform (in the domain's
transforms package, or its transforms module), and a test module with a three-row example,
so that `make lint`, `check`, the test and a local run pass before a line is edited. What a
person must decide is marked `TODO:`. The first input starts as the output (its columns,
partitioned by ds); the others are wired in, ready to join.

Inputs a job already declares are imported from where they are declared; any other table
gets its contract from the live schema (`contracts import`). Everything is checked, and every
file composed, before the first is written: a refusal writes nothing.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from common.contracts import Column, Contract, Table
from common.errors import ParamError
from common.live_schema import literal_code as q
from common.live_schema import table_code

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from common.settings import Settings

__all__ = ["Scaffold", "plan_scaffold", "write_scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
# Three example values per type, for the generated test's rows.
_EXAMPLES = {
    "int": ("1", "2", "3"), "bigint": ("1", "2", "3"), "smallint": ("1", "2", "3"), "tinyint": ("1", "2", "3"),
    "string": ('"a"', '"b"', '"c"'), "date": ('day("1995-03-13")', 'day("1995-03-14")', 'day("1995-03-15")'),
    "double": ("1.5", "2.5", "3.5"), "float": ("1.5", "2.5", "3.5"), "boolean": ("True", "False", "True"),
}


@dataclass(frozen=True)
class Scaffold:
    job: str
    files: dict[Path, str]  # path relative to the repository root -> content

    def lines(self) -> list[str]:
        return [f"wrote {path}" for path in self.files]


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _declared_at(table: Table) -> tuple[str, str] | None:
    """(module, constant) of a job module that declares `table` under a name, or None."""
    found = []
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("pyspark_jobs.") or module is None:
            continue
        for constant, value in vars(module).items():
            if isinstance(value, Table) and value.name == table.name and constant.isupper():
                found.append((0 if module_name.endswith(".tables") else 1, module_name, constant))
    return min(found)[1:] if found else None


def _example(column: Column, i: int) -> str:
    base = column.type.split("(")[0]
    if base == "decimal":
        return f'D("{i + 1}.00")'
    return _EXAMPLES.get(base, ('"a"', '"b"', '"c"'))[i]


def plan_scaffold(spark: SparkSession | None, settings: Settings | None, name: str, inputs: list[str],
                  root: Path) -> Scaffold:
    """Every file of the new job, or a ParamError naming what to fix; nothing is written here."""
    from common.live_schema import declared_tables, live_table
    from common.registry import discover

    if not _NAME.fullmatch(name):
        raise ParamError(f"{name!r} is not a job name: give domain.name in lower snake case, e.g. sales.daily_revenue")
    domain, short = name.split(".")
    package = root / "pyspark_jobs" / domain
    module = package / f"{short}.py"
    if name in discover() or module.exists():
        raise ParamError(f"job {name} exists ({module.relative_to(root)}): choose another name")
    if short in ("transforms", "main", "tables", "sql"):
        raise ParamError(f"{short!r} is a name the domain's own modules use: choose another job name")
    if not inputs:
        raise ParamError("give --inputs db.table[,db.table...]: the tables the job reads (the first starts as its output)")
    declared = declared_tables()
    tables: list[tuple[str, Table, tuple[str, str] | None, bool]] = []  # alias, table, where declared, key known
    for input_name in inputs:
        if input_name in declared:
            table = declared[input_name]
            tables.append((table.table, table, _declared_at(table), True))
        else:
            if spark is None or settings is None:
                raise ParamError(f"{input_name} is declared by no job: its contract is read from the live schema")
            live = live_table(spark, settings, input_name)
            tables.append((live.table.table, live.table, None, live.knows_keys))
    aliases = [alias for alias, *_ in tables]
    if len(set(aliases)) != len(aliases):
        raise ParamError(f"--inputs name two tables called the same ({', '.join(aliases)}): give each table once")

    first_alias, first, _, _ = tables[0]
    columns = tuple(replace(c, description="") for c in first.contract.columns if c.name != "ds")
    output = Table(f"{domain}.{short}", Contract((*columns, Column("ds", "string", nullable=False)),
                                                 partition_by=("ds",), primary_key=first.contract.primary_key),
                   description="TODO: what a row of this table means.")
    transforms_pkg = package / "transforms"
    transforms_module = package / "transforms.py"
    if transforms_module.exists():
        transform_path, transform_import = transforms_module, f"from pyspark_jobs.{domain} import transforms as t"
        transform_code = transforms_module.read_text().rstrip("\n") + "\n\n\n" + _transform(short, aliases, first, columns)
    else:
        transform_path = transforms_pkg / f"{short}.py"
        transform_import = f"from pyspark_jobs.{domain}.transforms import {short} as t"
        transform_code = _transform_module(short, aliases, first, columns)
    files: dict[Path, str] = {}
    if not package.exists():
        files[package / "__init__.py"] = f'"""Jobs of the {domain} domain."""\n'
    if not transforms_module.exists() and not (transforms_pkg / "__init__.py").exists():
        files[transforms_pkg / "__init__.py"] = f'"""The {domain} jobs\' transforms, one module per job."""\n'
    files[module] = _job_module(name, tables, output, transform_import, first_alias)
    files[transform_path] = transform_code
    tests = root / "tests" / "pyspark_jobs" / domain
    for init in (root / "tests" / "pyspark_jobs" / "__init__.py", tests / "__init__.py"):
        if not init.exists():
            files[init] = ""
    files[tests / f"test_{short}.py"] = _test_module(name, tables, columns, transform_import)
    return Scaffold(name, {path.relative_to(root): text for path, text in files.items()})


def write_scaffold(scaffold: Scaffold, root: Path) -> None:
    for path, text in scaffold.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def _imports(places: list[tuple[str, str]]) -> list[str]:
    """One `from module import A, B` line per module, sorted as the linter wants them."""
    by_module: dict[str, set[str]] = {}
    for module, name in places:
        by_module.setdefault(module, set()).add(name)
    return [f"from {m} import {', '.join(sorted(names))}" for m, names in sorted(by_module.items())]


def _job_module(name: str, tables: list, output: Table, transform_import: str, first_alias: str) -> str:
    domain, short = name.split(".")
    imports = _imports([where for _, _, where, _ in tables if where])
    consts, inputs = [], []
    for alias, table, where, knows_keys in tables:
        if where:
            inputs.append(f"{q(alias)}: {where[1]}")
        else:
            const = alias.upper()
            consts.append(f"{const} = {table_code(table, key_todo=not knows_keys)}\n")
            inputs.append(f"{q(alias)}: {const}")
    needs_mysql = any(t.is_mysql for _, t, w, _ in tables if not w)
    heads = ", ".join(sorted(["Column", "Contract", "Table", *(["MYSQL"] if needs_mysql else [])]))
    output_code = table_code(output, key_todo="TODO: the columns that identify a row")
    others = ", ".join(q(a) for a, *_ in tables[1:])
    return f'''"""{name}: TODO: what this job computes, for whom."""

from __future__ import annotations

from common.contracts import {heads}
from common.job import Job, RunParams, Step, step
{chr(10).join(imports)}

__all__ = ["{_class_name(short)}", "OUTPUT"]
{"".join(chr(10) + c for c in consts)}
OUTPUT = {output_code}


class {_class_name(short)}(Job):
    """TODO: one line on what the job computes."""

    name = "{name}"
    inputs = {{{", ".join(inputs)}}}
    outputs = {{"{short}": OUTPUT}}

    def steps(self, p: RunParams) -> dict[str, Step]:
        {transform_import}

        return {{"{short}": step(t.{short}, {q(first_alias)}{", " + others if others else ""})}}
'''


def _transform(short: str, aliases: list[str], first: Table, columns: tuple[Column, ...]) -> str:
    params = ", ".join(f"{a}: DataFrame" for a in aliases)
    unused = [a for a in aliases[1:]]
    note = (f"\n    # TODO: join {', '.join(unused)} (how=..., on the key columns) and compute the output's columns."
            if unused else "\n    # TODO: compute the output's columns.")
    select = "".join(f"        {q(c.name)},\n" for c in columns)
    return f'''def {short}({params}) -> DataFrame:
    """TODO: what a row of the output is. For now: the rows of {first.name}, as they are."""{note}
    return {aliases[0]}.select(
{select}    )
'''


def _transform_module(short: str, aliases: list[str], first: Table, columns: tuple[Column, ...]) -> str:
    return f'''"""The transform of the {short} job: pure, a DataFrame in, a DataFrame out."""

from __future__ import annotations

from pyspark.sql import DataFrame

__all__ = ["{short}"]


{_transform(short, aliases, first, columns)}'''


def _test_module(name: str, tables: list, columns: tuple[Column, ...], transform_import: str) -> str:
    domain, short = name.split(".")
    first_alias = tables[0][0]
    consts, places = {}, []
    for alias, _table, where, _ in tables:
        module, const = where or (f"pyspark_jobs.{domain}.{short}", alias.upper())
        places.append((module, const))
        consts[alias] = const
    imports = _imports(places)
    given = "".join("            {\n" + "".join(f"                {q(c.name)}: {_example(c, i)},\n" for c in columns)
                    + "            },\n" for i in range(3))
    expected = "".join(f"            ({', '.join(_example(c, i) for c in columns)}{',' if len(columns) == 1 else ''}),\n"
                       for i in range(3))
    others = "".join(f", {alias}=table_frame(spark, {consts[alias]}, [])" for alias, *_ in tables[1:])
    helpers = sorted({"assert_frame_equal", "table_frame", *(["D"] if "D(" in given else []),
                      *(["day"] if "day(" in given else [])}, key=lambda n: (not n.isupper(), n))
    return f'''"""{name}'s transform on three rows whose output is written out by hand."""

from __future__ import annotations

{chr(10).join(sorted(imports))}
from tests.helpers import {", ".join(helpers)}


def test_{short}_keeps_the_rows_of_{first_alias}(spark):
    {transform_import}

    {first_alias} = table_frame(
        spark,
        {consts[first_alias]},
        [
{given}        ],
    )
    # TODO: give the other inputs rows too once the transform joins them.
    result = t.{short}({first_alias}{others})
    assert_frame_equal(
        result,
        [
{expected}        ],
    )
'''
