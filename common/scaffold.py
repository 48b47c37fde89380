"""`pyspark-jobs new DOMAIN.NAME --inputs db.table,... | --from-sql FILE`: a job that runs as generated.

It writes the job module (`pyspark_jobs/<domain>/<name>.py`), its transform (in the domain's
transforms package, or its transforms module), and a test module with a three-row example,
so that `make lint`, `check`, the test and a local run pass before a line is edited. What a
person must decide is marked `TODO:`. The first input starts as the output (its columns,
partitioned by ds); the others are wired in, ready to join.

Inputs a job already declares are imported from where they are declared; any other table
gets its contract from the live schema (`contracts import`). Everything is checked, and every
file composed, before the first is written: a refusal writes nothing.

With `--from-sql FILE` (one read-only query, as a SparkSqlOperator task ran it) the job comes
with a SqlJob twin running that file (`pyspark_jobs/<domain>/sql/<name>.sql`) into
`<domain>_legacy.<name>`. The tables the query reads are its inputs, found by Spark's parser
as `migrate` finds them (a bare name is a view: the `--inputs` table of that name); the output
contract is the query analysed against empty inputs (`migrate_sql.output_contract`). The
DataFrame job's transform starts as that query run over its input frames, to be rewritten as
DataFrame code and compared with `pyspark-jobs parity`. Its test pins the legacy query's
answer on three rows per input, recorded when the job is generated: the SQL is the
specification the rewrite must keep, and a person checks those rows by hand (a TODO says so).
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from common.contracts import Column, Contract, Table
from common.errors import ParamError
from common.live_schema import literal_code as q
from common.live_schema import table_code

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from common.migrate_sql import ParsedTask
    from common.settings import Settings

__all__ = ["Scaffold", "plan_scaffold", "write_scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Three example values per type, for the generated test's rows: the keys 1, 2, 3 of one input
# meet those of another, the dates surround the example run's ds.
_VALUES = {
    "int": (1, 2, 3), "bigint": (1, 2, 3), "smallint": (1, 2, 3), "tinyint": (1, 2, 3),
    "string": ("a", "b", "c"), "date": (date(1995, 3, 13), date(1995, 3, 14), date(1995, 3, 15)),
    "timestamp": (datetime(1995, 3, 13), datetime(1995, 3, 14), datetime(1995, 3, 15)),
    "double": (1.5, 2.5, 3.5), "float": (1.5, 2.5, 3.5), "boolean": (True, False, True),
}
EXAMPLE_DS = "1995-03-15"  # the run date a generated test renders the legacy SQL with


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


def _value(column: Column, i: int, shift: int = 0) -> object:
    base = column.type.split("(")[0]
    if base == "decimal":
        return Decimal(f"{i + 1}.00")
    if base in ("date", "timestamp"):
        return _VALUES[base][(i + shift) % 3]
    return _VALUES.get(base, ("a", "b", "c"))[i]


def _example_rows(columns: tuple[Column, ...], shift: int = 0) -> list[dict[str, object]]:
    """Three example rows. Each further date column (`shift` counts those of the inputs before)
    starts one day later, so that comparisons between dates keep some rows and drop others."""
    dates = [c.name for c in columns if c.type in ("date", "timestamp")]
    return [{c.name: _value(c, i, shift + dates.index(c.name) if c.name in dates else 0) for c in columns}
            for i in range(3)]


def _date_columns(table: Table) -> int:
    return sum(c.type in ("date", "timestamp") for c in table.contract.data_columns)


def _code(value: object) -> str:
    """A value as the generated test writes it (tests.helpers' D and day); ValueError otherwise."""
    if isinstance(value, Decimal):
        return f'D("{value}")'
    if isinstance(value, datetime):
        return repr(value).removeprefix("datetime.")
    if isinstance(value, date):
        return f'day("{value.isoformat()}")'
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return q(value)
    raise ValueError(f"a {type(value).__name__} value ({value!r})")


def _imports_head(code: str, project: list[str]) -> str:
    """The generated test's import block: datetime if its rows use it, then the project's
    modules and the tests.helpers names they use, sorted as the linter wants them."""
    names = sorted({"assert_frame_equal", "table_frame", *(["D"] if "D(" in code else []),
                    *(["day"] if "day(" in code else [])}, key=_import_order)
    first_party = sorted([*project, f"from tests.helpers import {', '.join(names)}"])
    return ("from datetime import datetime\n\n" if "datetime(" in code else "") + "\n".join(first_party)


def plan_scaffold(connect: Callable[[], tuple[SparkSession, Settings]], name: str, inputs: list[str],
                  root: Path, from_sql: Path | None = None) -> Scaffold:
    """Every file of the new job, or a ParamError naming what to fix; nothing is written here.
    `connect` starts Spark, called only once the cheap checks pass and a live schema or the
    query needs it."""
    from common.live_schema import declared_tables, live_table
    from common.registry import discover

    if not _NAME.fullmatch(name):
        raise ParamError(f"{name!r} is not a job name: give domain.name in lower snake case, e.g. sales.daily_revenue")
    domain, short = name.split(".")
    package = root / "pyspark_jobs" / domain
    module = package / f"{short}.py"
    jobs = discover()
    if name in jobs or module.exists():
        raise ParamError(f"job {name} exists ({module.relative_to(root)}): choose another name")
    if short in ("transforms", "main", "tables", "sql"):
        raise ParamError(f"{short!r} is a name the domain's own modules use: choose another job name")
    sql_path = package / "sql" / f"{short}.sql"
    if from_sql is not None:
        if f"{name}_sql" in jobs or sql_path.exists():
            raise ParamError(f"job {name}_sql or {sql_path.relative_to(root)} exists (the SQL twin's): "
                             "choose another name")
        if not from_sql.is_file():
            raise ParamError(f"--from-sql {from_sql}: no such file: give the .sql file of one read-only query")
    elif not inputs:
        raise ParamError("give --inputs db.table[,db.table...]: the tables the job reads (the first starts as its output)")
    declared = declared_tables()
    session: list = []

    def spark_and_settings() -> tuple[SparkSession, Settings]:
        if not session:
            session.extend(connect())
        return session[0], session[1]

    def resolve(alias: str | None, input_name: str) -> tuple[str, Table, tuple[str, str] | None, bool]:
        """(alias, table, where declared, whether its key is known)"""
        if input_name in declared:
            table = declared[input_name]
            return alias or table.table, table, _declared_at(table), True
        live = live_table(*spark_and_settings(), input_name)
        return alias or live.table.table, live.table, None, live.knows_keys

    query = None
    if from_sql is not None:
        spark = spark_and_settings()[0]
        query = _legacy_query(spark, name, from_sql, inputs)
        tables = [resolve(alias, table_name) for alias, table_name in query.reads.items()]
    else:
        tables = [resolve(None, input_name) for input_name in inputs]
    aliases = [alias for alias, *_ in tables]
    if len(set(aliases)) != len(aliases):
        raise ParamError(f"--inputs name two tables called the same ({', '.join(aliases)}): give each table once")

    first_alias, first, _, _ = tables[0]
    if query is not None:
        result = _query_contract(spark, query, {alias: table for alias, table, *_ in tables}, from_sql)
        columns, key = result.data_columns, ()
    else:
        columns = tuple(replace(c, description="") for c in first.contract.columns if c.name != "ds")
        key = first.contract.primary_key
    output = Table(f"{domain}.{short}", Contract((*columns, Column("ds", "string", nullable=False)),
                                                 partition_by=("ds",), primary_key=key),
                   description="TODO: what a row of this table means.")
    transforms_pkg = package / "transforms"
    transforms_module = package / "transforms.py"
    own = None if query is None else name  # the transform runs the legacy query
    if transforms_module.exists():
        transform_path, transform_import = transforms_module, f"from pyspark_jobs.{domain} import transforms as t"
        transform_code = transforms_module.read_text().rstrip("\n") + "\n\n\n" + \
            _transform(short, aliases, first, columns, own, local_import=True)
    else:
        transform_path = transforms_pkg / f"{short}.py"
        transform_import = f"from pyspark_jobs.{domain}.transforms import {short} as t"
        transform_code = _transform_module(short, aliases, first, columns, own)
    files: dict[Path, str] = {}
    if not package.exists():
        files[package / "__init__.py"] = f'"""Jobs of the {domain} domain."""\n'
    if not transforms_module.exists() and not (transforms_pkg / "__init__.py").exists():
        files[transforms_pkg / "__init__.py"] = f'"""The {domain} jobs\' transforms, one module per job."""\n'
    files[module] = _job_module(name, tables, output, transform_import, first_alias, sql=query is not None)
    files[transform_path] = transform_code
    tests = root / "tests" / "pyspark_jobs" / domain
    for init in (root / "tests" / "pyspark_jobs" / "__init__.py", tests / "__init__.py"):
        if not init.exists():
            files[init] = ""
    if query is not None:
        select = query.select.split("\n", 1)[1]  # without the INSERT's comment _legacy_query put first
        files[sql_path] = select if select.endswith("\n") else select + "\n"
        answer = _legacy_answer(spark, select, tables)
        files[tests / f"test_{short}.py"] = _sql_test_module(name, tables, answer, transform_import)
    else:
        files[tests / f"test_{short}.py"] = _test_module(name, tables, columns, transform_import)
    return Scaffold(name, {path.relative_to(root): text for path, text in files.items()})


def write_scaffold(scaffold: Scaffold, root: Path) -> None:
    for path, text in scaffold.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def _import_order(name: str) -> tuple[int, str]:
    """isort's order by type, as the linter checks it: CONSTANTS, Classes, functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2), name.lower()


def _imports(places: list[tuple[str, str]]) -> list[str]:
    """One `from module import A, B` line per module, sorted as the linter wants them."""
    by_module: dict[str, set[str]] = {}
    for module, name in places:
        by_module.setdefault(module, set()).add(name)
    return [f"from {m} import {', '.join(sorted(names, key=_import_order))}" for m, names in sorted(by_module.items())]


def _job_module(name: str, tables: list, output: Table, transform_import: str, first_alias: str, *,
                sql: bool = False) -> str:
    domain, short = name.split(".")
    cls = _class_name(short)
    imports = _imports([where for _, _, where, _ in tables if where]
                       + ([("common.sql_job", "SqlJob"), ("common.sql_job", "render_sql")] if sql else []))
    consts, inputs = [], []
    for alias, table, where, knows_keys in tables:
        if where:
            inputs.append(f"{q(alias)}: {where[1]}")
        else:
            const = alias.upper()
            consts.append(f"{const} = {table_code(table, key_todo=not knows_keys)}\n")
            inputs.append(f"{q(alias)}: {const}")
    needs_mysql = any(t.is_mysql for _, t, w, _ in tables if not w)
    heads = ", ".join(sorted(["Column", "Contract", "Table", *(["MYSQL"] if needs_mysql else [])], key=_import_order))
    output_code = table_code(output, key_todo="TODO: the columns that identify a row")
    views = ", ".join(q(a) for a, *_ in tables)
    if sql:
        inputs_code, exported = "INPUTS", f'"{cls}", "{cls}Sql", "OUTPUT"'
        consts.append(f"INPUTS = {{{', '.join(inputs)}}}\n")
        body = (f"sql = render_sql({cls}Sql.sql_template(), p.ds, p.values, {cls}Sql.sql_name())\n"
                f'        return {{"{short}": step(t.{short}, {views}, sql=sql)}}')
        twin = f'''

class {cls}Sql(SqlJob):
    """The legacy query as it ran, into a table of its own, to compare with the DataFrame job
    that replaces it: pyspark-jobs parity {name}_sql {name} --ds YYYY-MM-DD"""

    name = "{name}_sql"
    sql_file = "sql/{short}.sql"
    inputs = INPUTS
    outputs = {{"{short}": Table("{domain}_legacy.{short}", OUTPUT.contract)}}
'''
    else:
        inputs_code, exported, twin = f"{{{', '.join(inputs)}}}", f'"{cls}", "OUTPUT"', ""
        body = f'return {{"{short}": step(t.{short}, {views})}}'
    return f'''"""{name}: TODO: what this job computes, for whom."""

from __future__ import annotations

from common.contracts import {heads}
from common.job import Job, RunParams, Step, step{"".join(chr(10) + line for line in imports)}

__all__ = [{exported}]
{"".join(chr(10) + c for c in consts)}
OUTPUT = {output_code}


class {cls}(Job):
    """TODO: one line on what the job computes."""

    name = "{name}"
    inputs = {inputs_code}
    outputs = {{"{short}": OUTPUT}}

    def steps(self, p: RunParams) -> dict[str, Step]:
        {transform_import}

        {body}
{twin}'''


def _transform(short: str, aliases: list[str], first: Table, columns: tuple[Column, ...],
               legacy: str | None = None, *, local_import: bool = False) -> str:
    """The transform's function; with `legacy` (the job's name) it runs the legacy query."""
    select = "".join(f"        {q(c.name)},\n" for c in columns)
    if legacy is not None:
        frames = ", ".join(aliases)
        views = ", ".join(q(a) for a in aliases) + ("," if len(aliases) == 1 else "")
        imported = ("\n    from common.sql_job import run_sql  # goes with the query, once this is DataFrame code\n"
                    if local_import else "")
        return f'''def {short}({", ".join(f"{a}: DataFrame" for a in aliases)}, *, sql: str) -> DataFrame:
    """TODO: what a row of the output is. For now: the legacy query's rows (its SQL, rendered)."""{imported}
    # TODO: rewrite this as DataFrame code (F.col, joins with how=...), then check that both jobs agree:
    # pyspark-jobs parity {legacy}_sql {legacy} --ds YYYY-MM-DD
    return run_sql({frames}, sql=sql, views=({views}), where="{legacy}").select(
{select}    )
'''
    unused = [a for a in aliases[1:]]
    note = (f"\n    # TODO: join {', '.join(unused)} (how=..., on the key columns) and compute the output's columns."
            if unused else "\n    # TODO: compute the output's columns.")
    return f'''def {short}({", ".join(f"{a}: DataFrame" for a in aliases)}) -> DataFrame:
    """TODO: what a row of the output is. For now: the rows of {first.name}, as they are."""{note}
    return {aliases[0]}.select(
{select}    )
'''


def _transform_module(short: str, aliases: list[str], first: Table, columns: tuple[Column, ...],
                      legacy: str | None = None) -> str:
    imported = "\nfrom common.sql_job import run_sql\n" if legacy is not None else ""
    return f'''"""The transform of the {short} job: pure, a DataFrame in, a DataFrame out."""

from __future__ import annotations

from pyspark.sql import DataFrame
{imported}
__all__ = ["{short}"]


{_transform(short, aliases, first, columns, legacy)}'''


def _rows_code(rows: list[dict[str, object]], pad: str = "            ") -> str:
    """Rows as the dicts table_frame takes."""
    return "".join(f"{pad}{{\n" + "".join(f"{pad}    {q(k)}: {_code(v)},\n" for k, v in row.items())
                   + f"{pad}}},\n" for row in rows)


def _tuples_code(rows: list[tuple], pad: str = "            ") -> str:
    return "".join(f"{pad}({', '.join(map(_code, row))}{',' if len(row) == 1 else ''}),\n" for row in rows)


def _list_code(items: str) -> str:
    return f"[\n{items}    ]" if items else "[]"


def _test_module(name: str, tables: list, columns: tuple[Column, ...], transform_import: str) -> str:
    domain, short = name.split(".")
    first_alias = tables[0][0]
    consts, places = {}, []
    for alias, _table, where, _ in tables:
        module, const = where or (f"pyspark_jobs.{domain}.{short}", alias.upper())
        places.append((module, const))
        consts[alias] = const
    rows = _example_rows(columns)
    given = _rows_code(rows)
    expected = _tuples_code([tuple(row.values()) for row in rows])
    others = "".join(f", {alias}=table_frame(spark, {consts[alias]}, [])" for alias, *_ in tables[1:])
    return f'''"""{name}'s transform on three rows whose output is written out by hand."""

from __future__ import annotations

{_imports_head(given, _imports(places))}


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


def _legacy_query(spark: SparkSession, name: str, path: Path, inputs: list[str]) -> ParsedTask:
    """The query read as `migrate` reads a legacy task (it is one: INSERT OVERWRITE into the
    twin's table): Spark's parser finds the tables, which the SQL then reads as views. A bare
    name is a view already; it stands for the `--inputs` table of that name."""
    from common.migrate_dag import LegacyTask, MigrationError, Skipped
    from common.migrate_sql import parse_task

    domain, short = name.split(".")
    head = f"INSERT OVERWRITE TABLE {domain}_legacy.{short} PARTITION (ds='{{{{ ds }}}}')\n"
    task = LegacyTask(name, 1, head + path.read_text(), None, 0, {})  # the file's line n is the task's n + 1
    try:
        parsed = parse_task(spark, task, path)
    except MigrationError as exc:
        # The file's line is in front; Spark's own position and `missing ')'` are the wrapper's.
        text = re.sub(r"(: missing '\)'\.)?\s*\(line \d+, pos \d+\)", "", str(exc).replace(f": task {name}", "", 1))
        fix = ": give one read-only query (SELECT, WITH ... SELECT), no INSERT: the job writes" \
            if "cannot parse" in text else ""
        raise ParamError(f"--from-sql {text}{fix}") from None
    if isinstance(parsed, Skipped):
        raise ParamError(f"--from-sql {path}: {parsed.reason}")
    given = {table_name.split(".")[-1]: table_name for table_name in inputs}
    bare = [alias for alias, table_name in parsed.reads.items() if table_name == f"default.{alias}"]
    unnamed = [alias for alias in bare if alias not in given]
    if unnamed:
        raise ParamError(f"--from-sql {path}: the query reads {unnamed[0]} without its database: "
                         f"name the table in --inputs (e.g. --inputs db.{unnamed[0]})")
    reads = {alias: given[alias] if alias in bare else table_name for alias, table_name in parsed.reads.items()}
    unread = [table_name for table_name in inputs if table_name not in reads.values()]
    if unread:
        raise ParamError(f"--inputs {unread[0]}: the query in {path} does not read it: leave it out "
                         "(with --from-sql the inputs are the tables the query reads)")
    if not reads:
        raise ParamError(f"--from-sql {path}: the query reads no table: a job reads at least one")
    return replace(parsed, reads=reads)


def _query_contract(spark: SparkSession, parsed: ParsedTask, inputs: dict[str, Table], path: Path) -> Contract:
    """The query's output contract, as `migrate` finds it: analysed against empty inputs."""
    from common.migrate_sql import output_contract

    contract = output_contract(spark, parsed, inputs).contract
    if contract.todo:
        raise ParamError(f"--from-sql {path}: {contract.todo}")
    names = [c.name for c in contract.data_columns]
    odd = [n for n in names if not _COLUMN.fullmatch(n)] + [n for i, n in enumerate(names) if n in names[:i]]
    if odd:
        raise ParamError(f"--from-sql {path}: the query's column {odd[0]!r} cannot be a table's: "
                         "give each output column its own name (AS name)")
    return contract


def _legacy_answer(spark: SparkSession, select: str, tables: list) -> list[tuple] | str:
    """The legacy query's rows for three example rows per input (the generated test's
    expected rows); or, in one line, why it gives none the test can write out."""
    from common.sql_job import render_sql, run_sql

    frames, shift = [], 0
    for _, table, *_ in tables:
        rows = _example_rows(table.contract.data_columns, shift)
        frames.append(spark.createDataFrame([tuple(row.values()) for row in rows], table.contract.schema(data_only=True)))
        shift += _date_columns(table)
    views = tuple(alias for alias, *_ in tables)
    try:
        rows = [tuple(row) for row in run_sql(*frames, sql=render_sql(select, EXAMPLE_DS, {}), views=views).collect()]
        for row in rows:
            for value in row:
                _code(value)
    except Exception as exc:  # noqa: BLE001 - the reason goes into the generated test's TODO
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    finally:
        for view in views:
            spark.catalog.dropTempView(view)
    return rows


def _sql_test_module(name: str, tables: list, answer: list[tuple] | str, transform_import: str) -> str:
    domain, short = name.split(".")
    cls = _class_name(short)
    places = [("common.sql_job", "render_sql"), (f"pyspark_jobs.{domain}.{short}", f"{cls}Sql")]
    given, shift = "", 0
    for alias, table, where, _ in tables:
        module, const = where or (f"pyspark_jobs.{domain}.{short}", alias.upper())
        places.append((module, const))
        given += f"    {alias} = table_frame(\n        spark,\n        {const},\n        [\n" \
                 f"{_rows_code(_example_rows(table.contract.data_columns, shift))}        ],\n    )\n"
        shift += _date_columns(table)
    if isinstance(answer, str):
        skip = f"    pytest.skip({q(f'TODO: the example rows do not give an answer to write out ({answer}): give rows that do')})\n"
        note, expected = "", ""
    else:
        skip = ""
        note = ("    # TODO: the query keeps none of these rows: give rows it keeps, and check them by hand.\n"
                if not answer else
                "    # TODO: check these rows by hand, and add the cases that matter (no match, nulls, ties).\n")
        expected = _tuples_code(answer, pad="        ")
    code = given + expected
    return f'''"""{name}'s transform on three rows per input. The expected rows are what the legacy query
(pyspark_jobs/{domain}/sql/{short}.sql) returned for them when the job was generated: the rewrite
as DataFrame code must keep them."""

from __future__ import annotations
{chr(10) + "import pytest" + chr(10) if skip else ""}
{_imports_head(code, _imports(places))}

DS = "{EXAMPLE_DS}"


def test_{short}_gives_the_legacy_querys_answer(spark):
    {transform_import}
{skip}
{given}    sql = render_sql({cls}Sql.sql_template(), DS, {{}})
    result = t.{short}({", ".join(a for a, *_ in tables)}, sql=sql)
{note}    assert_frame_equal(result, {_list_code(expected)})
'''
