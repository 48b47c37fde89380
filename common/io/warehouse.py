"""Catalog tables: read by name; write a new version, validate it, then publish it.

Each output is written in its table's format (common/io/iceberg.py, common/io/hive.py) as a
version readers do not see yet, checked against the contract (rows and nulls counted by the
write itself, primary keys read back unless the plan proves them unique), and only when every
output of the run is valid are they published, one after the other: a rerun replaces exactly
the partitions it wrote, a failed or killed run leaves the previous versions in place, and a
contract violation in any output publishes none. Replaced versions stay readable for each
table's retention period, then the next write of the table (or `pyspark-jobs vacuum`) removes
them.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator, Sequence

from common.conformance import count_columns, count_violations, duplicate_keys, proven_unique, schema_violations
from common.contracts import HIVE, ICEBERG, Table
from common.environments import Environment
from common.errors import ContractViolation, EmptyOutput, SourceError
from common.io import hive
from common.io.iceberg import WAP_ID
from common.io.table_format import Staged, TableFormat, TableInfo, describe, described, format_for, literal
from common.job import RunParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["WarehouseReader", "WarehouseWriter", "WriteResult", "described", "metastore_unreachable", "store_failed",
           "partition_exists", "table_exists"]

log = logging.getLogger(__name__)
# Outputs of one run staged at once: each is its own Spark job, sharing the cluster's cores.
MAX_CONCURRENT_WRITES = 4


def table_exists(spark: SparkSession, physical: str) -> bool:
    database, _, table = physical.partition(".")
    return spark.catalog.databaseExists(database) and spark.catalog.tableExists(f"{database}.{table}")


def conform(df: DataFrame, table: Table, physical: str) -> DataFrame:
    """The contract's columns of a source, or a SourceError naming every drifted column."""
    problems = [p for p in schema_violations(df.schema, table.contract) if not p.startswith("unexpected")]
    if problems:
        raise SourceError(f"source {physical} drifted from the {table.name} contract: " + "; ".join(problems))
    return df.select(*table.contract.names)


def _hadoop_setting(key: str) -> str | None:
    """A setting of the running session's Hadoop configuration (where a failed call went), if any."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    return active.sparkContext._jsc.hadoopConfiguration().get(key) if active else None


_WHOLE = "each output partition holds its previous version or the new one whole: rerun once it answers"


def metastore_unreachable(exc: BaseException, outcome: str = _WHOLE) -> SourceError | None:
    """A catalog call that failed because the metastore service does not answer, as one line
    ending in `outcome` (what the caller left as it was).

    Hive's client retries, then every catalog call raises a long Java error naming the client
    class; the run has read and written nothing by then. None when `exc` is something else."""
    text = str(exc)
    if "Could not connect to meta store" not in text and "Unable to instantiate org.apache.hadoop.hive" not in text:
        return None
    uris = _hadoop_setting("hive.metastore.uris")
    return SourceError(
        f"the metastore {uris or '(hive.metastore.uris unset)'} does not answer; start it ('make services-status' "
        "locally) or fix its address (the deployment's metastore_uri, or the cluster's hive-site.xml); "
        f"{outcome}"
    )


_S3A = ("org.apache.hadoop.fs.s3a.", "com.amazonaws.SdkClientException", "com.amazonaws.services.s3.")
# What went wrong, as the AWS SDK and S3A word it; the first of these found names the cause.
_S3_CAUSES = ("Connection reset", "Connection refused", "Read timed out", "connect timed out", "SlowDown",
              "Access Denied", "AccessDenied", "NoSuchBucket", "Unable to execute HTTP request")


def store_failed(exc: BaseException, outcome: str = _WHOLE) -> SourceError | None:
    """A Spark job that failed because S3 (s3a) kept failing after its retries, as one line naming
    the endpoint and the cause and ending in `outcome`. None when `exc` is something else."""
    text = str(exc)
    if not any(marker in text for marker in _S3A):
        return None
    endpoint = _hadoop_setting("fs.s3a.endpoint")
    cause = next((cause for cause in _S3_CAUSES if cause in text), text.strip().splitlines()[0][:200])
    return SourceError(
        f"S3 ({endpoint or 'the default endpoint'}) failed after the s3a retries: "
        f"{cause}; check the store and its address "
        f"(fs.s3a.endpoint; 'make services-status' locally); {outcome}"
    )


@dataclass(frozen=True)
class WarehouseReader:
    env: Environment

    def read(self, spark: SparkSession, table: Table) -> tuple[DataFrame, str]:
        from pyspark.errors import AnalysisException

        physical = self.env.input_name(table, lambda name: table_exists(spark, name))
        try:
            # Other processes write this catalog too: never trust a cached listing of the table.
            spark.catalog.refreshTable(physical)
        except AnalysisException:
            if table_exists(spark, physical):
                raise
            raise SourceError(
                f"table {physical} does not exist in the catalog: load it ('make data' for TPC-H) "
                "or run the job that writes it"
            ) from None
        return conform(spark.table(physical), table, physical), physical


@dataclass(frozen=True)
class WriteResult:
    table: str
    partition: str
    rows: int
    location: str
    seconds: float = 0.0  # staging: writing and validating the new version
    format: str = ""
    run_id: str = ""  # the version's run id, as `pyspark-jobs history` lists it


def partition_exists(spark: SparkSession, physical: str, column: str, value: str) -> bool:
    """Whether the table holds rows for a partition value, in any format (a metadata-only scan)."""
    from pyspark.sql import functions as F

    return bool(spark.table(physical).filter(F.col(column) == value).limit(1).count())


@contextmanager
def _staging(spark: SparkSession, run_id: str) -> Iterator[None]:
    """While a run stages its outputs, Iceberg writes commit unpublished snapshots under its id."""
    spark.conf.set(WAP_ID, run_id)
    try:
        yield
    finally:
        spark.conf.unset(WAP_ID)


class WarehouseWriter:
    """Writes the outputs of a run: `write_all`, or `write` for one; refuses qa writes to production.

    Every output is first staged (written as a version readers do not see, and validated;
    outputs concurrently, as separate Spark jobs) and only when all are valid published: a
    contract violation in any output publishes none of them.

    `ranged=True` takes the outputs of a `range_plan` job: frames holding the rows of several
    days, each carrying its `ds`; the run writes those of `p.ds` (the column itself is the
    partition's, not written as data).
    """

    def __init__(self, *, env: Environment, lake_root: str | None = None, qa_root: str | None = None) -> None:
        if lake_root is None or qa_root is None:
            from common.settings import load_settings

            settings = load_settings()
            lake_root, qa_root = lake_root or settings.lake_root, qa_root or settings.qa_root
        self.env = env
        self.lake_root, self.qa_root = lake_root, qa_root
        self._ahead: dict[str, Future[TableInfo | None]] = {}

    def describe_ahead(self, spark: SparkSession, tables: Sequence[Table]) -> None:
        """Describe the output tables in the background while the run reads its inputs and builds
        its steps: a process's first Iceberg statement loads Iceberg's catalog and opens its own
        metastore connection (about a second). `write_all` takes each description as it needs it;
        a table created meanwhile by another run is handled as any creation race."""
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="describe-outputs")
        for table in tables:
            physical = self.env.output_name(table)
            self._ahead[physical] = pool.submit(describe, spark, physical)
        pool.shutdown(wait=False)

    def settle(self) -> None:
        """Wait for the descriptions still under way, their failures dropped: a run that fails
        before writing (the metastore not answering, say) ends after them, so nothing they log
        follows the run's own error."""
        wait(list(self._ahead.values()))
        self._ahead.clear()

    def __repr__(self) -> str:
        return f"WarehouseWriter(env={self.env.name!r}, branch={self.env.branch!r})"

    @property
    def _env_flags(self) -> str:
        """The environment as the table commands take it: a qa branch migrates its own copy."""
        return f" --env qa --branch {self.env.branch}" if self.env.name == "qa" else ""

    def write(self, df: DataFrame, table: Table, p: RunParams) -> WriteResult:
        (result,) = self.write_all([(df, table)], p)
        return result

    def write_all(self, outputs: Sequence[tuple[DataFrame, Table]], p: RunParams, *,
                  ranged: bool = False) -> list[WriteResult]:
        targets = [self._prepare(df, table, ranged) for df, table in outputs]  # every refusal before any write
        if not targets:
            return []
        spark, run_id = targets[0][0].sparkSession, uuid.uuid4().hex[:12]
        with _staging(spark, run_id), ThreadPoolExecutor(max_workers=min(len(targets), MAX_CONCURRENT_WRITES)) as pool:
            futures = [pool.submit(self._stage, df, table, physical, fmt, run_id, p, ranged)
                       for df, table, physical, fmt in targets]
            wait(futures)
        staged = [(f.result(), fmt) for f, (_, _, _, fmt) in zip(futures, targets) if not f.exception()]
        failed = [f.exception() for f in futures if f.exception()]
        if failed:
            for version, fmt in staged:
                fmt.discard(spark, version)
            raise failed[0]
        results: list[WriteResult] = []
        for i, (version, fmt) in enumerate(staged):
            try:
                results.append(self._publish(spark, version, fmt, p))
            except BaseException:
                # Outputs are published one after the other: those before stay published, the
                # rest keep their previous version and their staged ones are discarded.
                for later, later_fmt in staged[i + 1:]:
                    later_fmt.discard(spark, later)
                if results:
                    log.error("published %s before the failure; %s keep their previous versions: rerun the job",
                              ", ".join(r.table for r in results), ", ".join(v.physical for v, _ in staged[i:]))
                raise
        return results

    def _prepare(self, df: DataFrame, table: Table, ranged: bool = False) -> tuple[DataFrame, Table, str, TableFormat]:
        """Checks that need no data, and the table created if new."""
        physical = self.env.output_name(table)
        self.env.check_write(physical)
        problems = schema_violations(df.schema, table.contract, data_only=not ranged)
        if problems:
            raise ContractViolation(table.name, problems)
        fmt = format_for(table.format)
        self._ensure_table(df.sparkSession, table, physical, fmt)
        return df, table, physical, fmt

    def _stage(self, df: DataFrame, table: Table, physical: str, fmt: TableFormat, run_id: str, p: RunParams,
               ranged: bool = False) -> Staged:
        """Write a version readers do not see and validate it; on any failure discard it and raise."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        started = time.perf_counter()
        contract, spark = table.contract, df.sparkSession
        if ranged:
            df = df.filter(F.col("ds") == p.ds)
        data = df.select(*(c.name for c in contract.data_columns))
        # Rows and nulls are counted by the write itself; keys are read back unless the plan
        # already guarantees them unique (an aggregate grouped by the key, a distinct).
        counts = Observation()
        staged = fmt.stage(data.observe(counts, *count_columns(data, contract)), table, physical, run_id, p.ds)
        try:
            # An empty write reports no observed counts (waiting for them would never end).
            rows, problems = (0, []) if staged.empty else count_violations(counts.get)
            key = contract.primary_key
            # Rows of one ds: a plan that proves (key, ds) unique proves the key unique in them.
            if rows and key and not (proven_unique(df, (*key, "ds")) if ranged else proven_unique(data, key)):
                problems += duplicate_keys(fmt.read_staged(spark, staged).select(*key), contract)
            if problems:
                raise ContractViolation(table.name, problems)
            if not rows and not table.allow_empty:
                raise EmptyOutput(
                    f"{physical} ds={p.ds}: the run produced no rows, so no output of it was published (the previous "
                    "versions stay): its inputs most likely hold no data for this ds yet; rerun once they do, or "
                    f"declare Table({table.name!r}, ..., allow_empty=True) if an empty day is a valid result"
                )
        except BaseException:
            fmt.discard(spark, staged)
            raise
        return replace(staged, rows=rows, seconds=time.perf_counter() - started)

    def _publish(self, spark: SparkSession, staged: Staged, fmt: TableFormat, p: RunParams) -> WriteResult:
        """Make the staged version the one readers see, then expire versions past the table's retention."""
        location = fmt.publish(spark, staged)
        partition = ",".join("/".join(f"{c}={v}" for c, v in spec.items()) for spec in staged.partitions)
        try:
            for removed in fmt.expire(spark, staged.table, staged.physical, hive.wall_clock(), p.ds):
                log.info("removed %s: replaced longer than the retention period ago", removed)
        except Exception as exc:  # noqa: BLE001 - the run's data is published; maintenance can wait
            log.warning("%s: expiring old versions failed (%s); `pyspark-jobs vacuum` retries it",
                        staged.physical, str(exc).splitlines()[0])
        log.info("wrote %s %s: %d rows", staged.physical, partition, staged.rows)
        if not staged.rows:
            log.warning("%s %s is empty: check the ds and that the job's inputs hold data for it", staged.physical, partition)
        return WriteResult(table=staged.physical, partition=partition, rows=staged.rows, location=location,
                           seconds=staged.seconds, format=fmt.name, run_id=staged.run_id)

    def _ensure_table(self, spark: SparkSession, table: Table, physical: str, fmt: TableFormat) -> None:
        """The table created if new, else checked against the contract; described once either
        way, and what the description says handed to the format (which then asks no more)."""
        ahead = self._ahead.pop(physical, None)
        info = ahead.result() if ahead is not None else describe(spark, physical)
        if info is None:
            try:
                self._create(spark, table, physical, fmt)
            except Exception as exc:
                # Runs of other dates start at once (a backfill, max_active_runs > 1): another one
                # may create the table or its database between the check and the CREATE.
                if "AlreadyExists" not in str(exc) and "already exists" not in str(exc):
                    raise
                log.info("%s was created by another run meanwhile", physical)
                spark.catalog.refreshTable(physical)
            else:
                fmt.known(table, self._described(spark, physical))
                return
            info = self._described(spark, physical)
        if info.format != table.format:
            raise ContractViolation(table.name, [
                f"existing table {physical} is a {info.format} table but the contract declares format {table.format!r}; "
                + (f"convert it with `pyspark-jobs migrate-table {table.name}{self._env_flags} --apply`, or declare "
                   f"format={info.format!r}" if (info.format, table.format) == (HIVE, ICEBERG) else
                   f"declare format={info.format!r}, or drop the table to recreate it as {table.format}")
            ])
        drift = schema_violations(info.schema(), table.contract)
        if drift:
            raise ContractViolation(
                table.name,
                [f"existing table {physical} differs from the contract: {d}" for d in drift]
                + [f"review and apply the change with `pyspark-jobs migrate-table {table.name}{self._env_flags}`"],
            )
        fmt.known(table, info)

    @staticmethod
    def _described(spark: SparkSession, physical: str) -> TableInfo:
        info = describe(spark, physical)
        if info is None:
            raise SourceError(f"table {physical} was created but the catalog does not find it; check the metastore")
        return info

    def _create(self, spark: SparkSession, table: Table, physical: str, fmt: TableFormat) -> None:
        # EXTERNAL under the lake root: the files outlive the cluster (a managed table would
        # land in the cluster's default warehouse, HDFS on a stock EMR cluster).
        location = self.env.output_location(table, lake_root=self.lake_root, qa_root=self.qa_root)
        database = physical.split(".")[0]
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}` LOCATION {literal(location.rsplit('/', 1)[0])}")
        fmt.create(spark, table, physical, location)
