"""`pyspark-jobs parity --legacy DAG_FILE`: each migrated job against the legacy task it replaces.

The legacy side runs as SparkSqlOperator ran it: each task's SQL rendered by Jinja with
Airflow's context for the ds (common.templates, as the migrated SqlJob renders it), handed
to `spark-sql` (a process of its own, with the deployment's catalog and Spark's defaults), in
the old DAG's order, one `spark-sql` per ds. Before it runs, the statements are renamed into
a scratch database (dropped afterwards, with its files), so that nothing real is written:

- every table a legacy task writes: its INSERT's target and any later task's read of it, so a
  downstream task reads its upstream's legacy result, as in the old DAG;
- every MySQL table the migrated jobs read: the legacy SQL named it as a lake table (the copy
  the old pipeline kept); it is read once through the framework's MySQL reader into the scratch
  database, so `spark-sql` never holds a credential.

The migrated side is each job's written output for the ds in the environment (run the jobs
first). The two are compared by common.diff: on the output's primary key (numbers within the
tolerance), or, where it has none, as multisets of rows, every value exact.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from common.contracts import Column, Contract, Table
from common.diff import DiffReport, Tolerance, diff_frames
from common.errors import ConfigError, SourceError
from common.migrate_dag import LegacyTask, Skipped, read_dag
from common.migrate_sql import rename_tables, split_insert
from common.sql_job import render_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from common.environments import Environment
    from common.job import Job

__all__ = ["LegacyPair", "legacy_pairs", "legacy_parity"]

log = logging.getLogger(__name__)
SPARK_SQL_TIMEOUT_S = 3600
_EMPTY = Contract((Column("x", "int"),))  # the scratch tables' names are all Environment is asked for
_CHAR = re.compile(r"\b(?:var)?char\(\d+\)", re.I)
_ERROR = re.compile(r"^(?:Error in query|org\.apache\.spark\.\S+Exception|\[\w+\]).*", re.M)


@dataclass(frozen=True)
class LegacyPair:
    """A legacy task and the job that writes its table now."""

    task: LegacyTask
    table: Table  # the job's output: the table the task's INSERT writes
    job: type[Job]


def legacy_pairs(dag_file: Path, jobs: Sequence[str] = ()) -> tuple[list[LegacyPair], list[LegacyPair]]:
    """The pairs the legacy run needs (the tasks of `jobs`, default all, and every task upstream
    of them in the old DAG), in the DAG's order, and those to compare; a ConfigError naming a
    task no job replaces yet, or a job no task of the DAG stands for."""
    from common.registry import discover

    dag = read_dag(dag_file)
    writers = {table.name: (job, table) for job in discover().values() for table in job.outputs.values()}
    pairs, missing = [], []
    for task in _in_order(dag.tasks, dag.edges):
        split = split_insert(task)
        if isinstance(split, Skipped):
            continue  # `migrate` lists why it left the task alone
        output = split[0]
        if output not in writers:
            missing.append(f"{task.task_id} ({output})")
            continue
        job, table = writers[output]
        pairs.append(LegacyPair(task, table, job))
    if missing:
        raise ConfigError(f"{dag_file}: no job writes the table of task {missing[0]}"
                          f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: "
                          f"`pyspark-jobs migrate {dag_file} --into pyspark_jobs/<domain>` first")
    if not jobs:
        return pairs, pairs
    unknown = sorted(set(jobs) - {p.job.name for p in pairs})
    if unknown:
        raise ConfigError(f"{dag_file}: no task of the DAG writes what job {unknown[0]} writes")
    compared = [p for p in pairs if p.job.name in jobs]
    needed = {p.task.task_id for p in compared}
    while grown := {u for u, d in dag.edges if d in needed and u not in needed} & {p.task.task_id for p in pairs}:
        needed |= grown
    return [p for p in pairs if p.task.task_id in needed], compared


def legacy_parity(
    dag_file: Path,
    days: Sequence[str],
    *,
    env: Environment,
    jobs: Sequence[str] = (),
    tolerance: float = 0.01,
    spark: SparkSession | None = None,
) -> list[tuple[str, LegacyPair, DiffReport]]:
    """(ds, pair, report) for every ds and every task of the DAG a job replaces (of `jobs`, when
    given), in order. The jobs' outputs must exist for every ds: checked before `spark-sql` runs."""
    from common.diff_jobs import read_output
    from common.session import get_spark

    run, compared = legacy_pairs(dag_file, jobs)
    spark = spark or get_spark("pyspark-jobs parity --legacy")
    ours = {(ds, p.task.task_id): read_output(spark, env, p.table, ds=ds, job=p.job.name)
            for ds in days for p in compared}
    scratch = _Scratch(spark, env)
    try:
        renames = scratch.prepare(run)
        results = []
        for ds in days:
            _spark_sql([_legacy_statement(p.task, ds, renames) for p in run], ds, [p.task.task_id for p in run])
            for p in compared:
                legacy = scratch.read(p.table, ds)
                # The same SQL on the same engine: rows matched on the contract's key, else as
                # multisets (every value exact); numbers within the tolerance only on a key.
                report = diff_frames(legacy, ours[ds, p.task.task_id], key=p.table.contract.primary_key,
                                     tolerance=Tolerance(absolute=tolerance),
                                     names=(f"legacy task {p.task.task_id}", p.job.name), table=p.table.name)
                results.append((ds, p, report))
        return results
    finally:
        scratch.drop()


def _in_order(tasks: list[LegacyTask], edges: set[tuple[str, str]]) -> list[LegacyTask]:
    """The tasks in an order the DAG allows (upstream first; the file's order otherwise)."""
    ids = [t.task_id for t in tasks]
    done: list[str] = []
    while len(done) < len(ids):
        ready = next(t for t in ids if t not in done and all(u in done for u, d in edges if d == t and u in ids))
        done.append(ready)
    by_id = {t.task_id: t for t in tasks}
    return [by_id[t] for t in done]


def _legacy_statement(task: LegacyTask, ds: str, renames: dict[str, str]) -> str:
    """The task's statement as Airflow renders it for ds, its tables renamed into the scratch database."""
    rendered = render_sql(task.sql, ds, task.params, f"task {task.task_id}")
    return rename_tables(rendered, renames).strip().rstrip(";")


def _spark_sql(statements: list[str], ds: str, tasks: list[str]) -> None:
    """The statements run by one `spark-sql -f`, as the legacy tasks of ds ran; a SourceError
    with spark-sql's first error line when one fails."""
    from common.session import on_cluster, prepare_local_conf_dir

    env = dict(os.environ)
    command = ["spark-sql"]
    if not on_cluster():
        import pyspark

        env["SPARK_CONF_DIR"] = str(prepare_local_conf_dir())
        command = [str(Path(pyspark.__file__).parent / "bin" / "spark-sql"), "--master",
                   os.environ.get("PYSPARK_JOBS_MASTER", "local[2]")]
    with tempfile.TemporaryDirectory(prefix="pj-legacy-") as work:
        script = Path(work) / f"legacy-{ds}.sql"
        script.write_text("".join(f"{s};\n" for s in statements))
        log.info("spark-sql: the legacy tasks %s for ds=%s", ", ".join(tasks), ds)
        done = subprocess.run([*command, "-S", "-f", str(script)], env=env, cwd=work, capture_output=True, text=True,
                              timeout=SPARK_SQL_TIMEOUT_S, check=False)
    if done.returncode:
        found = _ERROR.search(done.stderr)
        why = found.group(0).strip() if found else (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SourceError(f"spark-sql failed on the legacy tasks of ds={ds} ({', '.join(tasks)}): {why[:500]}")


class _Scratch:
    """The scratch database the legacy run writes: in the environment's namespace, dropped with its files."""

    def __init__(self, spark: SparkSession, env: Environment) -> None:
        self.spark, self.env = spark, env
        self.database = f"parity_{uuid.uuid4().hex[:10]}"
        self.tables: dict[str, str] = {}  # real table name -> scratch physical name
        self.created: str | None = None

    def _physical(self, name: str) -> str:
        scratch = Table(f"{self.database}.{name.replace('.', '__')}", _EMPTY)
        physical = self.env.output_name(scratch)
        self.env.check_write(physical)
        return physical

    def prepare(self, pairs: list[LegacyPair]) -> dict[str, str]:
        from pyspark.sql import functions as F

        from common.runner import RunConfig, read_inputs
        from common.settings import load_settings

        settings = load_settings()
        anchor = Table(f"{self.database}.t", _EMPTY)
        location = self.env.output_location(anchor, lake_root=settings.lake_root, qa_root=settings.qa_root)
        database = self.env.output_name(anchor).partition(".")[0]
        self.spark.sql(f"CREATE DATABASE {database} LOCATION '{location.rsplit('/', 1)[0]}'")
        self.created = database
        for p in pairs:
            contract = p.table.contract
            physical = self.tables[p.table.name] = self._physical(p.table.name)
            partitioned = f" PARTITIONED BY ({', '.join(contract.partition_by)})" if contract.partition_by else ""
            # Strings as strings: a CHAR(n) column (the type of a MySQL column the query passes
            # on) would be padded by spark-sql, where the framework's sessions read CHAR as STRING.
            columns = _CHAR.sub("string", contract.ddl().replace(" NOT NULL", ""))
            self.spark.sql(f"CREATE TABLE {physical} ({columns}) USING parquet{partitioned}")
        # Every MySQL input of the jobs, read once (one reader per source, its secret read once).
        mysql = {table.name: table for p in pairs for table in p.job.inputs.values()
                 if table.is_mysql and table.name not in self.tables}
        if mysql:
            config = RunConfig(job=pairs[0].job.name, ds="2000-01-01", env=self.env.name, branch=self.env.branch)
            for name, (df, _) in read_inputs(self.spark, mysql, self.env, config).items():
                # As the lake copy of the old pipeline held it: CHAR(n) and VARCHAR(n) as plain
                # strings (no type kept in the column's metadata, so no padding on read).
                plain = [F.col(c).cast("string").alias(c) if kind == "string" else F.col(c) for c, kind in df.dtypes]
                physical = self.tables[name] = self._physical(name)
                df.select(*plain).write.format("parquet").saveAsTable(physical)
        return dict(self.tables)

    def read(self, table: Table, ds: str) -> DataFrame:
        from common.diff_jobs import run_date_rows

        physical = self.tables[table.name]
        self.spark.catalog.refreshTable(physical)
        return run_date_rows(self.spark.table(physical), table, ds)

    def drop(self) -> None:
        if self.created:
            self.spark.sql(f"DROP DATABASE IF EXISTS {self.created} CASCADE")
