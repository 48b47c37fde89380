"""`pyspark-jobs check`: every job's steps on empty DataFrames built from its input contracts.

Spark's analyzer resolves every column and type of the plans without reading a row; the
outputs' schemas are then compared with their contracts. A misspelled column or a wrong
type fails here, in seconds, naming the job, the step and its source line — the compile step
PySpark lacks. Analysis runs with ANSI rules, so a string column silently cast to a date or a
number is an error here too.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from common.conformance import closest, schema_violations
from common.errors import PysparkJobsError
from common.graph import StepGraph
from common.job import REQUIRED, Job
from common.registry import discover, get_job

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["Finding", "check_job", "check_jobs", "CHECK_DS"]

log = logging.getLogger(__name__)
CHECK_DS = "2000-01-01"
_NAMED = re.compile(r"`([^`]+)`")


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


_CAST = re.compile(r"cast\(([A-Za-z_][A-Za-z0-9_]*)#\d+L? as (date|timestamp)\)")


def _source(fn: object) -> str:
    try:
        return inspect.getsource(inspect.unwrap(fn))  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


def _implicit_date_casts(df: DataFrame, strings: set[str], code: str) -> list[str]:
    """String columns the analyzer cast to a date or timestamp without the code asking for it.

    ANSI analysis still lets `string_col < DATE '...'` through by casting the column: at run
    time that is a column of nulls (or an error). The analyzed plan shows the cast but not who
    wrote it, so a cast counts as written when the step's code (its source, or its SQL) casts
    that column itself.
    """
    found = []
    for name, type_ in sorted(set(_CAST.findall(df._jdf.queryExecution().analyzed().toString()))):
        written = re.search(rf"\b{name}\b[^\n]*\bcast\b|\bcast\b\W+{name}\b|to_{type_}\W+(F\.col\W+)?{name}\b", code, re.I)
        if name in strings and not written:
            found.append(
                f"string column {name} is compared with or cast to a {type_} implicitly: "
                f"compare it with a string, or cast it on purpose with F.col({name!r}).cast({type_!r})"
            )
    return found


def check_job(spark: SparkSession, job_cls: type[Job]) -> list[Finding]:
    """The findings for one job; an empty list when it is consistent with its contracts."""
    raw = {p.name: "0" for p in job_cls.params if p.default is REQUIRED}
    p = job_cls.parse_params(CHECK_DS, raw)
    job = job_cls()
    try:
        graph = StepGraph.build(job_cls.name, job.steps(p), set(job_cls.inputs), list(job_cls.outputs))
    except PysparkJobsError as exc:
        return [Finding(job_cls.name, "-", "", str(exc))]
    frames: dict[str, DataFrame] = {
        alias: spark.createDataFrame([], table.contract.schema()) for alias, table in job_cls.inputs.items()
    }
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
        strings = {f.name for src in st.inputs for f in frames[src].schema.fields if f.dataType.simpleString() == "string"}
        code = st.kwargs.get("sql") or _source(st.fn)
        findings += [Finding(job_cls.name, name, st.where, m) for m in _implicit_date_casts(df, strings, code)]
        frames[name] = df
    for alias, table in job_cls.outputs.items():
        if alias not in frames:
            continue
        if table.contract.partition_by not in ((), ("ds",)):
            findings.append(Finding(job_cls.name, alias, "", "outputs are partitioned by ds or not at all"))
        for problem in schema_violations(frames[alias].schema, table.contract, data_only=True, check_nullable=True):
            findings.append(
                Finding(job_cls.name, alias, graph.steps[alias].where, f"output {table.name}: {problem}")
            )
    return findings


def check_jobs(names: list[str] | None = None, *, spark: SparkSession | None = None, out: TextIO = sys.stdout) -> bool:
    """Check the named jobs (default: all), print a report, return True when all pass."""
    from pyspark.sql import SparkSession as _Session

    started = time.perf_counter()
    jobs = [get_job(n) for n in names] if names else list(discover().values())
    if spark is None:
        spark = (
            _Session.builder.master("local[1]")
            .appName("pyspark-jobs check")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
    ansi = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "true")
    errors = 0
    try:
        for job_cls in jobs:
            findings = check_job(spark, job_cls)
            errors += len(findings)
            for finding in findings:
                print(finding.render(), file=out)
            if not findings:
                print(f"ok   {job_cls.name}", file=out)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", ansi)
    elapsed = time.perf_counter() - started
    print(f"checked {len(jobs)} job(s): {errors} error(s) in {elapsed:.1f}s", file=out)
    return errors == 0
