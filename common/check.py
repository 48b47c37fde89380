"""`pyspark-jobs check`: every job's steps on empty DataFrames built from its input contracts.

Spark's analyzer resolves every column and type of the plans without reading a row; the
outputs' schemas are then compared with their contracts (a `range_plan` job's outputs with
their `ds` column, which carries each row's day; other jobs' without it: the writer adds it).
A misspelled column or a wrong type fails here, in seconds, naming the job, the step and its
source line — the compile step PySpark lacks. Every cast the analyzer inserts that can fail or
lose data (string to number, date or boolean, narrowing, timestamp to date) is a finding too
(see common.casts), and so is an input whose contract differs from the one its producing job
writes (see common.lineage).
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from common.casts import implicit_casts
from common.conformance import closest, schema_violations
from common.contracts import Contract
from common.errors import PysparkJobsError
from common.graph import StepGraph
from common.job import REQUIRED, Job, Step
from common.lineage import contract_mismatches
from common.registry import broken_modules, discover, get_job

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["Finding", "check_job", "check_jobs", "CHECK_DS"]

log = logging.getLogger(__name__)
CHECK_DS = "2000-01-01"
_NAMED = re.compile(r"`([^`]+)`")
_DS_COLUMN = re.compile(r"\bcolumn ds\b")


@dataclass(frozen=True)
class Finding:
    job: str
    step: str
    where: str
    message: str

    def render(self) -> str:
        place = f"step {self.step}" + (f" [{self.where}]" if self.where else "")
        return f"FAIL {self.job}: {place}: {self.message}"


def _analysis_message(exc: Exception, available: list[str]) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"\s*;\s*line \d+ pos \d+.*$", "", text)
    names = _NAMED.findall(text)
    if "UNRESOLVED_COLUMN" in text and names:
        missing = names[0].split(".")[-1]
        return f"column {missing} does not exist{closest(missing, available) or ''}: {text}"
    return text


def _line_in_sql(sql_file: str, sql: str, column: str) -> str:
    """The first line of the query naming the column; placeholders render on their own line."""
    for number, text in enumerate(sql.splitlines(), 1):
        if re.search(rf"\b{re.escape(column)}\b", text):
            return f"{sql_file}:{number}, the column's first mention"
    return ""


def _implicit_cast_findings(job: str, name: str, st: Step, df: DataFrame, inputs: list[DataFrame]) -> list[Finding]:
    """A finding per lossy cast the analyzer inserted in this step (not in its inputs): the
    column, both types and the cast to write."""
    findings = []
    for cast in implicit_casts(df, inputs):
        if st.origin:
            line = _line_in_sql(st.origin, st.kwargs.get("sql", ""), cast.column) or f"{st.origin}, the query"
            fix = f"CAST({cast.column} AS {cast.target.upper()})"
        else:
            line = f"{st.where.rsplit('(', 1)[-1].rstrip(')')}, the step's definition line"
            fix = f"F.col({cast.column!r}).cast({cast.target!r})"
        findings.append(
            Finding(
                job,
                name,
                line,
                f"implicit cast of {cast.column} from {cast.source} to {cast.target}, which can fail or lose "
                f"data (a null when ANSI is off): write {fix}, or compare with a value of type {cast.source}",
            )
        )
    return findings


def check_job(spark: SparkSession, job_cls: type[Job], empty: dict[Contract, DataFrame] | None = None) -> list[Finding]:
    """The findings for one job; an empty list when it is consistent with its contracts.

    `empty` holds an empty frame per contract, shared across jobs: a frame is built once.
    """
    empty = {} if empty is None else empty
    todo = [Finding(job_cls.name, alias, "", f"{kind} {table.name}: contract to fill in ({table.contract.todo})")
            for kind, tables in (("input", job_cls.inputs), ("output", job_cls.outputs))
            for alias, table in tables.items() if table.contract.todo]
    if todo:
        return todo
    raw = {p.name: "0" for p in job_cls.params if p.default is REQUIRED}
    p = job_cls.parse_params(CHECK_DS, raw)
    job = job_cls()
    try:
        graph = StepGraph.build(job_cls.name, job.steps(p), set(job_cls.inputs), list(job_cls.outputs))
    except PysparkJobsError as exc:
        return [Finding(job_cls.name, "-", "", str(exc))]
    except Exception as exc:  # a bug in the job's own steps(): one line, not a traceback
        return [Finding(job_cls.name, "-", "", f"steps() raised {type(exc).__name__}: {exc}")]
    for table in job_cls.inputs.values():
        if table.contract not in empty:
            empty[table.contract] = table.contract.empty_frame(spark)
    frames: dict[str, DataFrame] = {alias: empty[table.contract] for alias, table in job_cls.inputs.items()}
    findings: list[Finding] = []
    for name in graph.order:
        st = graph.steps[name]
        if any(src not in frames for src in st.inputs):
            continue  # an upstream step already failed
        available = sorted({c for src in st.inputs for c in frames[src].columns})
        try:
            df = st.apply(frames)
            df.schema  # noqa: B018 - forces analysis, reads no data
        except Exception as exc:  # the analyzer's AnalysisException, or a Python error in the transform
            findings.append(Finding(job_cls.name, name, st.where, _analysis_message(exc, available)))
            continue
        findings += _implicit_cast_findings(job_cls.name, name, st, df, [frames[src] for src in st.inputs])
        frames[name] = df
    # A range_plan job's outputs carry ds, the day of each row; any other job's get it from the writer.
    ranged = job_cls.range_plan
    for alias, table in job_cls.outputs.items():
        if alias not in frames:
            continue
        schema = frames[alias].schema
        for problem in schema_violations(schema, table.contract, data_only=not ranged, check_nullable=True):
            hint = " (the job declares range_plan: each output carries ds, its rows' day)" if (
                ranged and _DS_COLUMN.search(problem)) else ""
            findings.append(
                Finding(job_cls.name, alias, graph.steps[alias].where, f"output {table.name}: {problem}{hint}")
            )
    return findings


def check_jobs(names: list[str] | None = None, *, spark: SparkSession | None = None, out: TextIO = sys.stdout) -> bool:
    """Check the named jobs (default: all), print a report, return True when all pass."""
    from pyspark.sql import SparkSession as _Session

    started = time.perf_counter()
    jobs = [get_job(n) for n in names] if names else list(discover().values())
    archive = None
    spark = spark or _Session.getActiveSession()  # a session someone else started stays theirs
    if spark is None:
        # createDataFrame imports pandas (about 1 s): done while the JVM starts, not after.
        threading.Thread(target=importlib.import_module, args=("pandas",), daemon=True).start()
        from common.class_archive import ClassArchive
        from common.settings import load_settings

        archive = ClassArchive(load_settings().var / "cds")
        spark = (
            _Session.builder.master("local[1]")
            .appName("pyspark-jobs check")
            # A short run: the C2 compiler's threads would take the cores the analysis needs.
            .config("spark.driver.extraJavaOptions", f"-XX:TieredStopAtLevel=1 {archive.java_options()}".strip())
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
    errors = 0
    if not names:  # the modules that hold no checkable job because they do not import
        for module, error in broken_modules().items():
            print(f"FAIL {module}: the module does not import, its jobs are not checked: {error}", file=out)
            errors += 1
    ansi = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        everyone = list(discover().values())
        empty: dict[Contract, DataFrame] = {}
        for job_cls in jobs:
            findings = check_job(spark, job_cls, empty)
            findings += [Finding(job_cls.name, alias, "", problem) for alias, problem in contract_mismatches(job_cls, everyone)]
            errors += len(findings)
            for finding in findings:
                print(finding.render(), file=out)
            if not findings:
                print(f"ok   {job_cls.name}", file=out)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
    elapsed = time.perf_counter() - started
    print(f"checked {len(jobs)} job(s): {errors} error(s) in {elapsed:.1f}s", file=out)
    if archive is not None:
        archive.finish(spark)
    return errors == 0
