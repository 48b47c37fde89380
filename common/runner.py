"""Running a job: read inputs, evaluate the step graph, cache shared steps, write outputs.

The base of every run: jobs only wire steps, and this module owns logging, timing, caching
and the summary, so every job runs the same way locally and on EMR.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from common.environments import Environment
from common.errors import PysparkJobsError, SourceError
from common.graph import StepGraph
from common.job import RunParams
from common.registry import get_job
from common.scan_metrics import KEY_CHECK, ScanMetrics, scan_names, warm_up
from common.settings import load_settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from common.contracts import Table
    from common.io.warehouse import WarehouseWriter, WriteResult
    from common.lineage_events import RunLineage

__all__ = ["RunConfig", "RunSummary", "Plan", "plan_job", "run_job", "run_range", "render_range", "StepError",
           "read_inputs", "check_keys"]

log = logging.getLogger(__name__)
SOURCES = ("lake", "trino")


class StepError(PysparkJobsError):
    """A transform failed while its plan was built; names the job, step and source line."""


@dataclass(frozen=True)
class RunConfig:
    job: str
    ds: str
    env: str = "local"
    branch: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    source: str = "lake"
    source_options: Mapping[str, Any] = field(default_factory=dict)
    count_inputs: bool = True


@dataclass
class RunSummary:
    job: str
    ds: str
    env: str
    inputs: list[tuple[str, str, int | None]] = field(default_factory=list)  # alias, where, rows
    outputs: list[WriteResult] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    cached: list[tuple[str, str, int, int]] = field(default_factory=list)  # step, level, rows, bytes
    notes: list[str] = field(default_factory=list)
    app_id: str | None = None  # the Spark application (one for every ds of a backfill)
    json_path: Path | None = None  # where write_json put it

    def as_json(self) -> dict[str, Any]:
        """The summary for machines (Airflow's XCom, lineage): inputs with the rows their scans
        read, outputs with rows and run ids, cached steps with sizes, seconds per phase."""
        return {
            "job": self.job, "ds": self.ds, "env": self.env, "application_id": self.app_id,
            "inputs": [{"alias": a, "from": where, "rows_read": rows} for a, where, rows in self.inputs],
            "outputs": [{"table": o.table, "partition": o.partition, "rows": o.rows, "format": o.format,
                         "run_id": o.run_id, "location": o.location} for o in self.outputs],
            "cached": [{"step": n, "level": lv, "rows": r, "bytes": b} for n, lv, r, b in self.cached],
            "seconds": {what: round(seconds, 3) for what, seconds in self.timings},
            "notes": self.notes,
        }

    def write_json(self, logs: Path) -> Path:
        """The JSON summary in `logs`, named by job, ds and the run id of its writes; its path is
        kept for render()."""
        logs.mkdir(parents=True, exist_ok=True)
        run_id = next((o.run_id for o in self.outputs if o.run_id), None) or uuid.uuid4().hex[:12]
        path = logs / f"summary-{self.job}-{self.ds}-{run_id}.json"
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")
        self.json_path = path
        return path

    def render(self) -> str:
        lines = [f"job {self.job} ds={self.ds} env={self.env}"]
        for alias, where, rows in self.inputs:
            lines.append(f"  input  {alias:<14} {where}  rows={'-' if rows is None else rows}")
        for out in self.outputs:
            lines.append(f"  output {out.table} {out.partition}  rows={out.rows}")
        for name, level, rows, size in self.cached:
            lines.append(f"  cached {name} {level} rows={rows} size={size / 1024:.1f} KiB")
        for what, seconds in self.timings:
            lines.append(f"  time   {what:<28} {seconds:7.2f}s")
        lines += [f"  note   {n}" for n in self.notes]
        lines += [f"  json   {self.json_path}"] if self.json_path else []
        return "\n".join(lines)


def run_logs() -> Path:
    """Where a run's JSON summary goes: next to the run's logs. In a YARN container (EMR's
    cluster mode) its log directory, collected with the container's logs; else var/logs/runs."""
    yarn = os.environ.get("LOG_DIRS", "").split(",")[0]
    return Path(yarn) if yarn else load_settings().var / "logs" / "runs"


def _cache_bytes(spark: SparkSession, before: set[int]) -> int:
    """Memory + disk size of the RDDs persisted since `before`; PySpark exposes no Python API."""
    infos = spark.sparkContext._jsc.sc().getRDDStorageInfo()
    return sum(i.memSize() + i.diskSize() for i in infos if i.id() not in before)


def _persisted_ids(spark: SparkSession) -> set[int]:
    return {i.id() for i in spark.sparkContext._jsc.sc().getRDDStorageInfo()}


def read_inputs(
    spark: SparkSession, inputs: Mapping[str, Table], env: Environment, config: RunConfig
) -> dict[str, tuple[DataFrame, str]]:
    """Each input as (DataFrame, where it came from), by store, environment and source."""
    from common.io.mysql import MysqlReader
    from common.io.warehouse import WarehouseReader

    settings = load_settings()
    mysql: dict[str, MysqlReader] = {}  # one per source, its settings (and secret) read once

    def mysql_reader(source: str) -> MysqlReader:
        if source not in mysql:
            mysql[source] = MysqlReader(settings.mysql_source(source), partitions=settings.jdbc_partitions,
                                        fetch_size=settings.jdbc_fetch_size)
        return mysql[source]

    if config.source == "trino":
        from common.io.trino import TrinoReader

        lake = TrinoReader.from_settings(settings, **dict(config.source_options))
    else:
        lake = WarehouseReader(env)
    frames = {}
    for alias, table in inputs.items():
        if table.is_mysql and not (config.source == "trino" and lake.handles(table)):
            reader = mysql_reader(table.mysql_source)
        else:
            reader = lake
        frames[alias] = reader.read(spark, table)
    return frames


def check_keys(sources: Mapping[str, tuple[DataFrame, str]], inputs: Mapping[str, Table]) -> None:
    """The keys and NOT NULL columns of every input declared `check_keys`, or a SourceError.
    Its Spark jobs are described as key checks: their scans are not the job's reads."""
    checked = [alias for alias, table in inputs.items() if table.check_keys]
    if not checked:
        return
    context = sources[checked[0]][0].sparkSession.sparkContext
    context.setJobDescription(KEY_CHECK)
    try:
        _check_keys(sources, {alias: inputs[alias] for alias in checked})
    finally:
        context.setJobDescription(None)  # type: ignore[arg-type] - None clears it


def _check_keys(sources: Mapping[str, tuple[DataFrame, str]], inputs: Mapping[str, Table]) -> None:
    from common.conformance import data_violations

    for alias, table in inputs.items():
        if not table.check_keys:
            continue
        df, where = sources[alias]
        _, problems = data_violations(df, table.contract)
        if problems:
            raise SourceError(
                f"input {where} breaks the {table.name} contract: {'; '.join(problems)}; "
                "fix the source rows (nothing was written)"
            )


@dataclass
class Plan:
    """A job's inputs and step frames for one run, built lazily: nothing is read or written yet."""

    job: type
    params: RunParams
    env: Environment
    graph: StepGraph
    sources: dict[str, tuple[DataFrame, str]]
    frames: dict[str, DataFrame]
    writer: WarehouseWriter
    spark_start_s: float = 0.0  # starting the Spark session, when the plan started it

    def timings(self, started: float) -> list[tuple[str, float]]:
        """The run's time until now (it began at `started`, a perf_counter) split into starting
        Spark and planning: reading the inputs' definitions and building the steps."""
        total = time.perf_counter() - started
        return ([("start Spark", self.spark_start_s)] if self.spark_start_s else []) + [
            ("plan (read inputs, build steps)", total - self.spark_start_s)]


def plan_job(config: RunConfig, spark: SparkSession | None = None,
             validated: Callable[[], None] | None = None, days: Sequence[str] | None = None) -> Plan:
    """Validate the run, then build every step's DataFrame (analysis only, no action);
    `validated` is called in between. `days` (default: config.ds alone) are the days a
    range_plan job's steps compute."""
    from common.io.warehouse import WarehouseWriter
    from common.session import get_spark

    if config.source not in SOURCES:
        raise PysparkJobsError(f"unknown source {config.source!r}: use one of {', '.join(SOURCES)}")
    job_cls = get_job(config.job)
    p = job_cls.parse_params(config.ds, config.params, days)
    env = Environment(config.env, config.branch)
    graph = StepGraph.build(job_cls.name, job_cls().steps(p), set(job_cls.inputs), list(job_cls.outputs))
    for table in job_cls.outputs.values():
        env.check_write(env.output_name(table))  # refuse before any work is done
    if validated is not None:
        validated()
    spark_start_s = 0.0
    if spark is None:
        t = time.perf_counter()
        spark = get_spark(f"pyspark-jobs {job_cls.name} {days_label(p.days)}")
        spark_start_s = time.perf_counter() - t
        if config.count_inputs:
            warm_up(spark)  # while the inputs are read
    writer = WarehouseWriter(env=env)
    writer.describe_ahead(spark, list(job_cls.outputs.values()))  # while the inputs are read
    try:
        sources = read_inputs(spark, job_cls.inputs, env, config)
        frames: dict[str, DataFrame] = {alias: df for alias, (df, _) in sources.items()}
        for name in graph.order:
            st = graph.steps[name]
            try:
                frames[name] = st.apply(frames)
            except PysparkJobsError:
                raise
            except Exception as exc:
                raise StepError(f"job {job_cls.name}, step {name} [{st.where}]: {str(exc).splitlines()[0]}") from exc
    except BaseException:
        writer.settle()
        raise
    return Plan(job=job_cls, params=p, env=env, graph=graph, sources=sources, frames=frames, writer=writer,
                spark_start_s=spark_start_s)


def days_label(days: Sequence[str]) -> str:
    """`1995-03-01` for one day, `1995-03-01..1995-03-30` for a range."""
    return days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"


def env_label(env: Environment) -> str:
    return env.name if not env.slug else f"qa/{env.slug}"


class Progress:
    """One log line as each phase of a run begins: where a long run is, on a terminal or in a step's log."""

    def __init__(self, job: str, ds: str, phases: list[str]) -> None:
        self.job, self.ds, self.phases, self.done = job, ds, phases, 0
        self.started = time.perf_counter()

    def __call__(self, phase: str) -> None:
        self.done += 1
        log.info("%s ds=%s: [%d/%d] %s (%.1fs)", self.job, self.ds, self.done, len(self.phases),
                 phase, time.perf_counter() - self.started)


def run_job(config: RunConfig, spark: SparkSession | None = None) -> RunSummary:
    """Run the job; its OpenLineage events (START, then COMPLETE or FAIL) go where the
    deployment says (common/lineage_events.py) and never fail the run. A range_plan job runs
    as a range of one day (common/range_plan.py)."""
    from common.lineage_events import RunLineage

    if get_job(config.job).range_plan:
        from common.range_plan import run_days

        (summary,) = run_days(config, [config.ds], spark)
        return summary
    lineage = RunLineage(config)
    try:
        summary = _run_job(config, spark, lineage)
    except BaseException as exc:
        lineage.fail(exc)
        raise
    lineage.complete(summary)
    return summary


def run_range(config: RunConfig, days: list[str], spark: SparkSession | None = None) -> list[RunSummary]:
    """A backfill: `days` in order, in one Spark application, each ds published as its own
    version as soon as it is done (a stop keeps those before it). A range_plan job computes
    them in one plan (common/range_plan.py); any other job runs once per day.

    A day that fails stops the range; the log names the days done and how to resume."""
    if get_job(config.job).range_plan:
        from common.range_plan import run_days

        runs = run_days(config, days, spark)
    else:
        runs = _run_each_day(config, days, spark)
    summaries: list[RunSummary] = []
    started = time.perf_counter()
    try:
        for summary in runs:
            summaries.append(summary)
            log.info("%s backfill: ds=%s done, %d of %d partitions, %d rows written (%.1fs elapsed)", config.job,
                     summary.ds, len(summaries), len(days), sum(out.rows for out in summary.outputs),
                     time.perf_counter() - started)
    except BaseException:
        ds = days[len(summaries)]
        done = f"{summaries[0].ds}..{summaries[-1].ds} published, " if summaries else ""
        log.error("%s: the range stopped at ds=%s after %d of %d partitions (%s"
                  "nothing after it); resume with --ds-from %s --ds-to %s", config.job, ds, len(summaries),
                  len(days), done, ds, days[-1])
        raise
    return summaries


def _run_each_day(config: RunConfig, days: list[str], spark: SparkSession | None) -> Iterator[RunSummary]:
    """The job run for each day in turn, in one session."""
    from dataclasses import replace

    from common.session import get_spark

    spark = spark or get_spark(f"pyspark-jobs {config.job} {days_label(days)}")
    for ds in days:
        yield run_job(replace(config, ds=ds), spark)


def render_range(summaries: list[RunSummary]) -> str:
    """A backfill's summary: one line per partition (rows per output, seconds), then the total;
    each partition's full summary is in its JSON file."""
    first = summaries[0]
    lines = [f"job {first.job} ds={first.ds}..{summaries[-1].ds} env={first.env}: {len(summaries)} partitions "
             f"in application {first.app_id}"]
    for one in summaries:
        rows = "  ".join(f"{out.table} rows={out.rows}" for out in one.outputs)
        lines.append(f"  ds={one.ds}  {rows}  {dict(one.timings).get('total', 0.0):.2f}s")
    lines.append(f"  time   the runs {sum(dict(one.timings).get('total', 0.0) for one in summaries):.2f}s")
    folders = sorted({str(one.json_path.parent) for one in summaries if one.json_path})
    lines += [f"  json   {folder}/summary-{first.job}-<ds>-<run id>.json" for folder in folders]
    return "\n".join(lines)


def _run_job(config: RunConfig, spark: SparkSession | None, lineage: RunLineage) -> RunSummary:
    started = time.perf_counter()
    phases = ["plan: read inputs, build the steps", "cache the shared steps, check input keys",
              "write, check and publish the outputs"] + (["input rows from the scans"] if config.count_inputs else [])
    progress = Progress(config.job, config.ds, phases)

    def validated() -> None:
        lineage.validated = True
        progress(phases[0])

    plan = plan_job(config, spark, validated=validated)
    job_cls, p, env, frames = plan.job, plan.params, plan.env, plan.frames
    spark = next(iter(frames.values())).sparkSession if frames else spark
    lineage.start(plan, spark)
    summary = RunSummary(job=job_cls.name, ds=p.ds, env=env_label(env), app_id=spark.sparkContext.applicationId)
    summary.timings += plan.timings(started)

    scans = ScanMetrics(spark) if config.count_inputs else None  # before the run's first action
    progress(phases[1])
    try:
        cache_shared_steps(plan, spark, summary)
        # All outputs staged at once, then published together: see WarehouseWriter.
        progress(phases[2])
        t = time.perf_counter()
        outputs = job_cls.outputs.items()
        summary.outputs = plan.writer.write_all([(frames[alias], table) for alias, table in outputs], p)
        summary.timings += [(f"write {alias}", out.seconds) for alias, out in zip(job_cls.outputs, summary.outputs)]
        summary.timings.append(("write outputs (concurrent), publish", time.perf_counter() - t))
    finally:
        release_shared_steps(plan)

    if scans is not None:
        progress(phases[3])
    count_input_rows(plan, scans, summary)
    return finish(summary, started)


def cache_shared_steps(plan: Plan, spark: SparkSession, summary: RunSummary) -> None:
    """Persist the shared steps (their sizes and seconds into `summary`) while another thread
    checks the inputs' keys: both are Spark jobs, and both finish before anything is written.
    `release_shared_steps` unpersists them, also after a failure here."""
    from pyspark import StorageLevel

    level = StorageLevel.MEMORY_AND_DISK
    keys = ThreadPoolExecutor(max_workers=1)
    checked = keys.submit(check_keys, plan.sources, plan.job.inputs)
    try:
        for name in plan.graph.cached:
            before = _persisted_ids(spark)
            t = time.perf_counter()
            plan.frames[name] = plan.frames[name].persist(level)
            rows = plan.frames[name].count()
            size = _cache_bytes(spark, before)
            summary.timings.append((f"cache {name}", time.perf_counter() - t))
            summary.cached.append((name, "MEMORY_AND_DISK", rows, size))
            log.info("cached %s at MEMORY_AND_DISK: %d rows, %d bytes", name, rows, size)
        t = time.perf_counter()
        checked.result()
        summary.timings.append(("wait for input key checks", time.perf_counter() - t))
    finally:
        keys.shutdown(wait=True)


def release_shared_steps(plan: Plan) -> None:
    for name in plan.graph.cached:
        plan.frames[name].unpersist()
        log.info("unpersisted %s", name)


def count_input_rows(plan: Plan, scans: ScanMetrics | None, summary: RunSummary) -> None:
    """Each input's rows read by the scans of the executions since `scans` was opened (None: not counted)."""
    if scans is None:
        summary.inputs = [(a, where, None) for a, (_, where) in plan.sources.items()]
        return
    t = time.perf_counter()
    read = scans.rows_read({alias: () if where.startswith("trino ") else scan_names(plan.job.inputs[alias], where)
                            for alias, (_, where) in plan.sources.items()})
    summary.inputs = [(a, where, read[a]) for a, (_, where) in plan.sources.items()]
    summary.notes += [scans.reason] if scans.reason else []
    summary.timings.append(("input rows from the scans' metrics", time.perf_counter() - t))


def finish(summary: RunSummary, started: float) -> RunSummary:
    """The summary's total time, and its JSON file written."""
    summary.timings.append(("total", time.perf_counter() - started))
    try:
        summary.write_json(run_logs())
    except OSError as exc:  # the outputs are published: a summary that cannot be written is a warning
        log.warning("could not write the run's JSON summary: %s", exc)
    return summary  # the caller shows it (the CLI prints it once)
