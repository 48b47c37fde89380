"""`pyspark-jobs migrate`: a legacy DAG's SparkSqlOperator tasks written as SqlJobs and a new DAG.

Everything is written into a temporary folder first and moved into place only when every task
has been read: a DAG that fails to migrate leaves nothing behind. The new DAG's order is
inferred from the jobs' tables; it is compared with the old DAG's `>>`/`<<` order, through the
tasks left alone, and any difference is reported.
"""

from __future__ import annotations

import graphlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common.contracts import MYSQL, Table
from common.live_schema import literal_code as _q
from common.live_schema import read_contract, table_code
from common.migrate_dag import LegacyDag, MigrationError, Skipped, read_dag
from common.migrate_sql import ParsedTask, output_contract, parse_task

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from common.settings import MysqlSettings

__all__ = ["Migration", "migrate", "order_differences"]


@dataclass
class Migration:
    dag: LegacyDag
    domain: str
    jobs: dict[str, str] = field(default_factory=dict)  # task id -> job name
    outputs: dict[str, Table] = field(default_factory=dict)  # task id -> output table
    todo: list[str] = field(default_factory=list)  # tables whose contract is to be written
    skipped: list[Skipped] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    dag_file: Path | None = None

    def render(self) -> str:
        lines = [f"migrated {len(self.jobs)} task(s) of DAG {self.dag.dag_id} ({self.dag.path}) into {self.domain}:"]
        lines += [f"  {task} -> job {job} (writes {self.outputs[task].name})" for task, job in self.jobs.items()]
        lines += [f"  TODO: {t}" for t in self.todo]
        if self.skipped:
            lines.append("left alone (not converted):")
            lines += [f"  {s.task_id} (line {s.line}): {s.reason}" for s in self.skipped]
        lines.append(f"new DAG: {self.dag_file}")
        lines += [f"  order differs: {d}" for d in self.differences] or ["  task order: the same as the old DAG's"]
        return "\n".join(lines)


def _closure(edges: set[tuple[str, str]], nodes: set[str]) -> set[tuple[str, str]]:
    """(a, b) for every a that runs before b, following paths through any task."""
    down: dict[str, set[str]] = {}
    for up, to in edges:
        down.setdefault(up, set()).add(to)
    pairs = set()
    for start in nodes:
        seen, stack = set(), list(down.get(start, ()))
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack += down.get(node, ())
        pairs |= {(start, n) for n in seen if n in nodes}
    return pairs


def order_differences(old: set[tuple[str, str]], new: set[tuple[str, str]], nodes: set[str]) -> list[str]:
    """Pairs the old DAG orders and the new one does not, and the reverse."""
    before, after = _closure(old, nodes), _closure(new, nodes)
    return ([f"the old DAG runs {a} before {b}; the new DAG does not ({b} reads no table {a} writes)"
             for a, b in sorted(before - after)]
            + [f"the new DAG runs {a} before {b} ({b} reads a table {a} writes); the old DAG does not"
               for a, b in sorted(after - before)])


def _module(task_id: str) -> str:
    name = re.sub(r"\W", "_", task_id.lower())
    return f"t_{name}" if name[0].isdigit() else name


def _job_code(parsed: ParsedTask, m: Migration, inputs: dict[str, Table], producers: dict[str, str]) -> str:
    task, module = parsed.task, _module(parsed.task.task_id)
    cls = "".join(part.capitalize() for part in module.split("_")) + "Sql"
    imports = sorted({f"from pyspark_jobs.{m.domain}.{producers[t.name]} import OUTPUT as {producers[t.name].upper()}"
                      for t in inputs.values() if t.name in producers})
    entries = "".join(f"    {_q(alias)}: {producers[t.name].upper() if t.name in producers else table_code(t, '    ')},\n"
                      for alias, t in inputs.items())
    every = [*inputs.values(), m.outputs[task.task_id]]
    names = (["MYSQL"] if any(t.store == MYSQL for t in every) else []) + ["Column", "Contract", "Table"] \
        + (["todo_contract"] if any(t.contract.todo for t in every) else [])
    params = "".join(f"        Param({_q(p.name)}, {p.type.__name__}, {_q(p.default)}),\n" for p in parsed.params)
    origin = task.sql_file.name if task.sql_file else "inline SQL"
    todo = "# TODO(migrate): write the contracts marked todo_contract(...); `pyspark-jobs check` fails until then.\n" \
        if any(t.contract.todo for t in every) else ""
    return f'''"""Task {task.task_id} of DAG {m.dag.dag_id} ({origin}), written by `pyspark-jobs migrate`.

The legacy SQL runs unchanged but for the tables it reads, named by their views below.
"""

from __future__ import annotations

from common.contracts import {", ".join(names)}
{"from common.job import Param" + chr(10) if params else ""}from common.sql_job import SqlJob
{"".join(line + chr(10) for line in imports)}
__all__ = ["INPUTS", "OUTPUT", "{cls}"]

{todo}INPUTS = {{
{entries}}}
OUTPUT = {table_code(m.outputs[task.task_id])}


class {cls}(SqlJob):
    """{task.task_id} of the legacy DAG {m.dag.dag_id}."""

    name = "{m.domain}.{module}"
    sql_file = "sql/{module}.sql"
    inputs = INPUTS
    outputs = {{{_q(m.outputs[task.task_id].name.split(".")[1])}: OUTPUT}}
{f"    params = ({chr(10)}{params}    ){chr(10)}" if params else ""}'''


def _dag_code(m: Migration, order: list[str]) -> str:
    jobs = "".join(f"        {_q(m.jobs[t])},\n" for t in order)
    return f'''"""{m.dag.doc.splitlines()[0] if m.dag.doc else m.dag.dag_id}

Written by `pyspark-jobs migrate` from {m.dag.path.name}: one SqlJob per SparkSqlOperator task,
ordered by the tables they read and write.
"""

from __future__ import annotations

from datetime import datetime

from pj_airflow import jobs_dag

dag = jobs_dag(
    "{m.dag.dag_id}_jobs",
    [
{jobs}    ],
    schedule={m.dag.schedule.replace("'", '"')},
    start_date={m.dag.start_date},
    doc_md=__doc__,
)
'''


def _data_order(parsed: list[ParsedTask], producers: dict[str, str]) -> tuple[list[ParsedTask], set]:
    by_id = {p.task.task_id: p for p in parsed}
    edges = {(producers[t], p.task.task_id) for p in parsed for t in p.reads.values()
             if t in producers and producers[t] != p.task.task_id}
    sorter = graphlib.TopologicalSorter({p.task.task_id: {u for u, d in edges if d == p.task.task_id} for p in parsed})
    try:
        return [by_id[t] for t in sorter.static_order()], edges
    except graphlib.CycleError as exc:
        raise MigrationError(f"{parsed[0].task.task_id}: the tasks read each other's tables in a cycle: "
                             f"{' -> '.join(exc.args[1])}") from None


def _stage(files: dict[Path, str]) -> list[Path]:
    """Write every file into a temporary folder, then move them into place; refuse to overwrite."""
    existing = [p for p, text in files.items() if p.exists() and not (p.name == "__init__.py" and p.stat().st_size == 0
                                                                       and not text)]
    if existing:
        raise MigrationError(f"{existing[0]}: already exists; migrate writes new files only (move it away first)")
    with tempfile.TemporaryDirectory(prefix="pj-migrate-") as tmp:
        staged = []
        for n, (path, text) in enumerate(files.items()):
            (Path(tmp) / str(n)).write_text(text)
            staged.append((Path(tmp) / str(n), path))
        for source, target in staged:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)
    return list(files)


def migrate(spark: SparkSession, dag_file: Path, into: Path, dags_dir: Path,
            mysql: MysqlSettings | None = None) -> Migration:
    """Read `dag_file`, write one SqlJob per convertible task under `into` and the DAG under `dags_dir`."""
    if into.resolve().parent.name != "pyspark_jobs" or not into.name.isidentifier():
        raise MigrationError(f"{into}: --into must be a package folder pyspark_jobs/<domain>, where jobs are found")
    m = Migration(read_dag(dag_file), into.name)
    m.skipped = list(m.dag.skipped)
    parsed: list[ParsedTask] = []
    for task in m.dag.tasks:
        found = parse_task(spark, task, dag_file)
        (m.skipped if isinstance(found, Skipped) else parsed).append(found)
    if not parsed:
        raise MigrationError(f"{dag_file}:1: no task can be converted: "
                             + "; ".join(f"{s.task_id}: {s.reason}" for s in m.skipped))
    producers: dict[str, str] = {}
    for p in parsed:
        if p.output in producers:
            raise MigrationError(f"{dag_file}:{p.task.line}: task {p.task.task_id}: writes {p.output}, "
                                 f"as task {producers[p.output]} does: a table needs one producer")
        producers[p.output] = p.task.task_id
    ordered, new_edges = _data_order(parsed, producers)
    sources: dict[str, Table] = {}
    files: dict[Path, str] = {}
    modules = {p.output: _module(p.task.task_id) for p in parsed}
    for p in ordered:
        inputs = {alias: m.outputs[producers[t]] if t in producers else
                  sources.setdefault(t, read_contract(spark, mysql, t)) for alias, t in p.reads.items()}
        m.outputs[p.task.task_id] = output_contract(spark, p, inputs)
        m.jobs[p.task.task_id] = f"{m.domain}.{_module(p.task.task_id)}"
        module = _module(p.task.task_id)
        files[into / f"{module}.py"] = _job_code(p, m, inputs, modules)
        files[into / "sql" / f"{module}.sql"] = p.select.rstrip().rstrip(";").rstrip() + "\n"
    m.todo = sorted({f"{t.name}: {t.contract.todo}" for t in [*sources.values(), *m.outputs.values()]
                     if t.contract.todo})
    if not (into / "__init__.py").exists():
        files[into / "__init__.py"] = ""
    m.dag_file = dags_dir / f"{m.dag.dag_id}_jobs.py"
    files[m.dag_file] = _dag_code(m, [p.task.task_id for p in ordered])
    m.differences = order_differences(m.dag.edges, new_edges, {p.task.task_id for p in parsed})
    m.written = _stage(files)
    return m
