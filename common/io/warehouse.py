"""Catalog tables: read by name; write a new version, validate it, then swap it in.

A write lands in a fresh `run=<id>` directory that nothing points at, is checked against the
contract (rows and nulls counted by the write itself, primary keys read back unless the plan
proves them unique), and only then becomes the partition (or table) location in the
metastore: a rerun replaces exactly its own partition, a failed or killed run leaves the
previous version in place, and a contract violation in any output of a run publishes none.
Directories of killed runs are removed by a later write of the same partition once they are
older than a grace period.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from common.conformance import count_columns, count_violations, duplicate_keys, proven_unique, schema_violations
from common.contracts import Table
from common.environments import Environment
from common.errors import ConfigError, ContractViolation, SourceError
from common.job import RunParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["WarehouseReader", "WarehouseWriter", "WriteResult", "described", "metastore_unreachable", "table_exists"]

log = logging.getLogger(__name__)
# A `run=` directory nothing points at is a killed run's once its newest file is this old;
# younger ones may belong to a run still writing.
ORPHAN_GRACE_S = 24 * 3600
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


def metastore_unreachable(exc: BaseException) -> SourceError | None:
    """A catalog call that failed because the metastore service does not answer, as one line.

    Hive's client retries, then every catalog call raises a long Java error naming the client
    class; the run has read and written nothing by then. None when `exc` is something else."""
    text = str(exc)
    if "Could not connect to meta store" not in text and "Unable to instantiate org.apache.hadoop.hive" not in text:
        return None
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    uris = active.sparkContext._jsc.hadoopConfiguration().get("hive.metastore.uris") if active else None
    return SourceError(
        f"the metastore {uris or '(hive.metastore.uris unset)'} does not answer; start it ('make services-status' "
        "locally) or fix its address (the deployment's metastore_uri, or the cluster's hive-site.xml); "
        "nothing was written"
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


class _Fs:
    """Hadoop FileSystem calls (local disk, HDFS or S3 alike); PySpark has no Python API for them."""

    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str):  # noqa: ANN202 - a py4j object
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self._conf)

    def delete(self, uri: str) -> None:
        path, fs = self._path(uri)
        fs.delete(path, True)

    def children(self, uri: str) -> list[str]:
        """The names of the directories right under `uri` (none if it does not exist)."""
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        return [s.getPath().getName() for s in fs.listStatus(path) if s.isDirectory()]

    def newest(self, uri: str) -> float | None:
        """Seconds since the epoch of the newest file under `uri`; None when it holds none."""
        path, fs = self._path(uri)
        if not fs.exists(path):
            return None
        newest, files = None, fs.listFiles(path, True)
        while files.hasNext():
            modified = files.next().getModificationTime() / 1000
            newest = modified if newest is None else max(newest, modified)
        return newest

    def stale_versions(self, parent: str, current: str, grace_s: float) -> list[str]:
        """`run=` directories beside `current` whose newest file is older than `grace_s`.

        The newest file, not the directory: object stores keep no directory times, and a
        concurrent run still writing has fresh files.
        """
        path, fs = self._path(parent)
        if not fs.exists(path):
            return []
        cutoff = (time.time() - grace_s) * 1000
        stale = []
        for status in fs.listStatus(path):
            name = status.getPath().getName()
            if not status.isDirectory() or not name.startswith("run=") or name == current.rstrip("/").rsplit("/", 1)[-1]:
                continue
            newest, files = status.getModificationTime(), fs.listFiles(status.getPath(), True)
            while files.hasNext():
                newest = max(newest, files.next().getModificationTime())
            if newest < cutoff:
                stale.append(status.getPath().toString())
        return stale


class _Metastore:
    """One table's metadata through Spark's public catalog API and SQL only.

    Spark's internal catalog classes change between releases (EMR ships its own Spark build),
    so partitions are read with `DESCRIBE ... PARTITION` and pointed with `ALTER TABLE`.
    """

    def __init__(self, spark: SparkSession, physical: str) -> None:
        self.spark, self.physical = spark, physical
        self._location: str | None = None

    def exists(self) -> bool:
        return table_exists(self.spark, self.physical)

    def schema(self) -> StructType:
        return self.spark.table(self.physical).schema

    def table_location(self) -> str:
        if self._location is None:
            self._location = _location_of(self.spark, self.physical)
        return self._location

    def partition_location(self, ds: str) -> str | None:
        """Where partition ds is read from, or None when the table has no such partition.

        Listed first: Hive's client asked for a partition that does not exist drops its
        connection and reconnects a second later."""
        spec = f"ds = {_literal(ds)}"
        if not self.spark.sql(f"SHOW PARTITIONS {self.physical} PARTITION ({spec})").collect():
            return None
        return _location_of(self.spark, f"{self.physical} PARTITION ({spec})")

    def point_partition(self, ds: str, location: str, *, exists: bool) -> None:
        """Make partition ds read `location`: one metastore update; Spark refreshes the table's caches."""
        spec = f"ds = {_literal(ds)}"
        if exists:
            self.spark.sql(f"ALTER TABLE {self.physical} PARTITION ({spec}) SET LOCATION {_literal(location)}")
        else:
            self.spark.sql(f"ALTER TABLE {self.physical} ADD PARTITION ({spec}) LOCATION {_literal(location)}")

    def point_table(self, location: str) -> None:
        """Make an unpartitioned table read `location`."""
        self.spark.sql(f"ALTER TABLE {self.physical} SET LOCATION {_literal(location)}")
        self._location = location


def _literal(value: str) -> str:
    """A SQL string literal of `value` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def described(spark: SparkSession, target: str) -> dict[str, str]:
    """The details `DESCRIBE TABLE EXTENDED target` gives (Location, Type, Provider, ...).

    The first of each name: a partition's own details come before its table's storage ones."""
    details: dict[str, str] = {}
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {target}").collect():
        if details or row.col_name.startswith("# Detailed"):  # the column rows come first
            details.setdefault(row.col_name, row.data_type)
    return details


def _location_of(spark: SparkSession, target: str) -> str:
    location = described(spark, target).get("Location")
    if not location:
        raise SourceError("the metastore gave no location for a table the run writes; check the table's definition")
    return location


@dataclass(frozen=True)
class _Staged:
    """A validated new version that nothing points at yet."""

    table: Table
    metastore: _Metastore
    parent: str
    location: str
    rows: int
    seconds: float


class WarehouseWriter:
    """Writes the outputs of a run: `write_all`, or `write` for one; refuses qa writes to production.

    Every output is first staged (written as a new version and validated; outputs concurrently,
    as separate Spark jobs) and only when all are valid published, one metastore update each:
    a contract violation in any output publishes none of them.
    """

    def __init__(self, *, env: Environment, lake_root: str | None = None, qa_root: str | None = None,
                 orphan_grace_s: float = ORPHAN_GRACE_S) -> None:
        if lake_root is None or qa_root is None:
            from common.settings import load_settings

            settings = load_settings()
            lake_root, qa_root = lake_root or settings.lake_root, qa_root or settings.qa_root
        self.env = env
        self.lake_root, self.qa_root = lake_root, qa_root
        self.orphan_grace_s = orphan_grace_s

    def __repr__(self) -> str:
        return f"WarehouseWriter(env={self.env.name!r}, branch={self.env.branch!r})"

    def write(self, df: DataFrame, table: Table, p: RunParams) -> WriteResult:
        (result,) = self.write_all([(df, table)], p)
        return result

    def write_all(self, outputs: Sequence[tuple[DataFrame, Table]], p: RunParams) -> list[WriteResult]:
        targets = [self._prepare(df, table, p) for df, table in outputs]  # every refusal before any write
        with ThreadPoolExecutor(max_workers=min(len(targets), MAX_CONCURRENT_WRITES) or 1) as pool:
            futures = [pool.submit(self._stage, df, table, metastore, parent) for df, table, metastore, parent in targets]
            wait(futures)
        staged = [f.result() for f in futures if not f.exception()]
        failed = [f.exception() for f in futures if f.exception()]
        if failed:
            for version in staged:
                _Fs(version.metastore.spark).delete(version.location)
            raise failed[0]
        return [self._publish(version, p) for version in staged]

    def _prepare(self, df: DataFrame, table: Table, p: RunParams) -> tuple[DataFrame, Table, _Metastore, str]:
        """Checks that need no data, the table created if new, and where the new version goes."""
        contract = table.contract
        physical = self.env.output_name(table)
        self.env.check_write(physical)
        if contract.partition_by not in ((), ("ds",)):
            raise ConfigError(f"output {table.name}: outputs are partitioned by ds or not at all")
        problems = schema_violations(df.schema, contract, data_only=True)
        if problems:
            raise ContractViolation(table.name, problems)
        metastore = _Metastore(df.sparkSession, physical)
        self._ensure_table(df.sparkSession, table, physical, metastore)
        root = metastore.table_location()
        # An unpartitioned table points at its current version: new versions go beside it.
        parent = f"{root}/ds={p.ds}" if contract.partition_by else root.split("/run=")[0]
        return df, table, metastore, parent

    def _stage(self, df: DataFrame, table: Table, metastore: _Metastore, parent: str) -> _Staged:
        """Write a new version and validate it; on any failure remove it and raise."""
        from pyspark.sql import Observation

        started = time.perf_counter()
        contract, spark = table.contract, df.sparkSession
        location = f"{parent}/run={uuid.uuid4().hex[:12]}"
        data = df.select(*(c.name for c in contract.data_columns))
        # Rows and nulls are counted by the write itself; keys are read back unless the plan
        # already guarantees them unique (an aggregate grouped by the key, a distinct).
        counts = Observation()
        try:
            data.observe(counts, *count_columns(data, contract)).write.mode("errorifexists").parquet(location)
            rows, problems = count_violations(counts.get)
            key = contract.primary_key
            if rows and key and not proven_unique(data, key):
                problems += duplicate_keys(spark.read.parquet(location).select(*key), contract)
            if problems:
                raise ContractViolation(table.name, problems)
        except BaseException:
            _Fs(spark).delete(location)
            raise
        return _Staged(table, metastore, parent, location, rows, time.perf_counter() - started)

    def _publish(self, version: _Staged, p: RunParams) -> WriteResult:
        """Point the partition (or the table) at the staged version, then remove what it replaced."""
        metastore, location, fs = version.metastore, version.location, _Fs(version.metastore.spark)
        physical = metastore.physical
        if version.table.contract.partition_by:
            previous = metastore.partition_location(p.ds)
            metastore.point_partition(p.ds, location, exists=previous is not None)
            partition = f"ds={p.ds}"
        else:
            previous = metastore.table_location()
            metastore.point_table(location)
            partition = ""
        if previous and previous.rstrip("/") != location and "/run=" in previous:
            fs.delete(previous)  # only the version this write replaced: a concurrent run's files stay
        for orphan in fs.stale_versions(version.parent, location, self.orphan_grace_s):
            log.warning("removed %s: a version no run swapped in (a killed run's) older than the grace period", orphan)
            fs.delete(orphan)
        log.info("wrote %s %s: %d rows", physical, partition, version.rows)
        if not version.rows:
            log.warning("%s %s is empty: check the ds and that the job's inputs hold data for it", physical, partition)
        return WriteResult(
            table=physical, partition=partition, rows=version.rows, location=location, seconds=version.seconds
        )

    def _ensure_table(self, spark: SparkSession, table: Table, physical: str, metastore: _Metastore) -> None:
        if metastore.exists():
            drift = schema_violations(metastore.schema(), table.contract)
            if drift:
                raise ContractViolation(
                    table.name,
                    [f"existing table {physical} differs from the contract: {d}" for d in drift]
                    + ["migrate or drop the table before writing the new contract"],
                )
            return
        # EXTERNAL under the lake root: the files outlive the cluster (a managed table would
        # land in the cluster's default warehouse, HDFS on a stock EMR cluster).
        location = self.env.output_location(table, lake_root=self.lake_root, qa_root=self.qa_root)
        database = physical.split(".")[0]
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}` LOCATION '{location.rsplit('/', 1)[0]}'")
        partitioned = "PARTITIONED BY (ds)" if table.contract.partition_by else ""
        ddl = ", ".join(f"`{c.name}` {c.type}" for c in table.contract.columns)
        spark.sql(f"CREATE TABLE IF NOT EXISTS {physical} ({ddl}) USING parquet {partitioned} LOCATION '{location}'")
