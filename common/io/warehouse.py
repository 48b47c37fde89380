"""Catalog tables: read by name; write a new version, validate it, then swap it in.

A write lands in a fresh `run=<id>` directory that nothing points at, is checked against the
contract (rows and nulls counted by the write itself, primary keys read back), and only then
becomes the partition (or table) location in the metastore: a rerun replaces exactly its own
partition, a failed or killed run leaves the previous version in place, and a contract
violation leaves nothing behind. Directories of killed runs are removed by a later write of
the same partition once they are older than a grace period.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.conformance import count_columns, count_violations, duplicate_keys, schema_violations
from common.contracts import Table
from common.environments import Environment
from common.errors import ConfigError, ContractViolation, SourceError
from common.job import RunParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["WarehouseReader", "WarehouseWriter", "WriteResult", "table_exists"]

log = logging.getLogger(__name__)
# A `run=` directory nothing points at is a killed run's once its newest file is this old;
# younger ones may belong to a run still writing.
ORPHAN_GRACE_S = 24 * 3600


def table_exists(spark: SparkSession, physical: str) -> bool:
    database, _, table = physical.partition(".")
    return spark.catalog.databaseExists(database) and spark.catalog.tableExists(table, database)


def conform(df: DataFrame, table: Table, physical: str) -> DataFrame:
    """The contract's columns of a source, or a SourceError naming every drifted column."""
    problems = [p for p in schema_violations(df.schema, table.contract) if not p.startswith("unexpected")]
    if problems:
        raise SourceError(f"source {physical} drifted from the {table.name} contract: " + "; ".join(problems))
    return df.select(*table.contract.names)


@dataclass(frozen=True)
class WarehouseReader:
    env: Environment

    def read(self, spark: SparkSession, table: Table) -> tuple[DataFrame, str]:
        physical = self.env.input_name(table, lambda name: table_exists(spark, name))
        if not table_exists(spark, physical):
            raise SourceError(
                f"table {physical} does not exist in the catalog: load it ('make data' for TPC-H) "
                "or run the job that writes it"
            )
        # Other processes write this catalog too: never trust a cached listing of the table.
        spark.catalog.refreshTable(physical)
        return conform(spark.table(physical), table, physical), physical


@dataclass(frozen=True)
class WriteResult:
    table: str
    partition: str
    rows: int
    location: str


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
    """Locations straight from the catalog: one metastore call each, no SQL to plan.

    `DESCRIBE ... EXTENDED` and `SHOW PARTITIONS` cost a parse, an analysis and a job each;
    these cost a metastore round trip. PySpark exposes neither, hence the JVM calls.
    """

    def __init__(self, spark: SparkSession, physical: str) -> None:
        self._catalog = spark._jsparkSession.sharedState().externalCatalog()
        self._to_scala = spark.sparkContext._jvm.org.apache.spark.api.python.PythonUtils.toScalaMap
        self._database, self._table = physical.split(".")

    def table_location(self) -> str:
        return self._catalog.getTable(self._database, self._table).location().toString()

    def partition_location(self, ds: str) -> str | None:
        found = self._catalog.getPartitionOption(self._database, self._table, self._to_scala({"ds": ds}))
        return found.get().location().toString() if found.isDefined() else None


class WarehouseWriter:
    """Writes one output of a run: `write(df, table, params)`; refuses qa writes to production."""

    def __init__(self, *, env: Environment, orphan_grace_s: float = ORPHAN_GRACE_S) -> None:
        self.env = env
        self.orphan_grace_s = orphan_grace_s

    def __repr__(self) -> str:
        return f"WarehouseWriter(env={self.env.name!r}, branch={self.env.branch!r})"

    def write(self, df: DataFrame, table: Table, p: RunParams) -> WriteResult:
        from pyspark.sql import Observation

        contract = table.contract
        physical = self.env.output_name(table)
        self.env.check_write(physical)
        if contract.partition_by not in ((), ("ds",)):
            raise ConfigError(f"output {table.name}: outputs are partitioned by ds or not at all")
        problems = schema_violations(df.schema, contract, data_only=True)
        if problems:
            raise ContractViolation(table.name, problems)
        spark = df.sparkSession
        self._ensure_table(spark, table, physical)
        metastore = _Metastore(spark, physical)
        root = metastore.table_location()
        # An unpartitioned table points at its current version: new versions go beside it.
        parent = f"{root}/ds={p.ds}" if contract.partition_by else root.split("/run=")[0]
        location = f"{parent}/run={uuid.uuid4().hex[:12]}"
        fs = _Fs(spark)
        data = df.select(*(c.name for c in contract.data_columns))
        # Rows and nulls are counted by the write itself; only the keys are read back.
        counts = Observation()
        try:
            data.observe(counts, *count_columns(data, contract)).write.mode("errorifexists").parquet(location)
            rows, problems = count_violations(counts.get)
            if rows and contract.primary_key:
                problems += duplicate_keys(spark.read.parquet(location).select(*contract.primary_key), contract)
            if problems:
                raise ContractViolation(table.name, problems)
        except BaseException:
            fs.delete(location)
            raise
        ds = p.ds if contract.partition_by else None
        previous = metastore.partition_location(ds) if ds else root
        self._swap(spark, physical, ds, location, exists=previous is not None)
        if previous and previous.rstrip("/") != location and "/run=" in previous:
            fs.delete(previous)  # only the version this write replaced: a concurrent run's files stay
        for orphan in fs.stale_versions(parent, location, self.orphan_grace_s):
            log.warning("removed %s: a version no run swapped in (a killed run's) older than the grace period", orphan)
            fs.delete(orphan)
        partition = f"ds={p.ds}" if contract.partition_by else ""
        log.info("wrote %s %s: %d rows", physical, partition, rows)
        if not rows:
            log.warning("%s %s is empty: check the ds and that the job's inputs hold data for it", physical, partition)
        return WriteResult(table=physical, partition=partition, rows=rows, location=location)

    def _ensure_table(self, spark: SparkSession, table: Table, physical: str) -> None:
        if spark.catalog.tableExists(physical):
            drift = schema_violations(spark.table(physical).schema, table.contract)
            if drift:
                raise ContractViolation(
                    table.name,
                    [f"existing table {physical} differs from the contract: {d}" for d in drift]
                    + ["migrate or drop the table before writing the new contract"],
                )
            return
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{physical.split('.')[0]}`")
        partitioned = "PARTITIONED BY (ds)" if table.contract.partition_by else ""
        ddl = ", ".join(f"`{c.name}` {c.type}" for c in table.contract.columns)
        spark.sql(f"CREATE TABLE IF NOT EXISTS {physical} ({ddl}) USING parquet {partitioned}")

    @staticmethod
    def _swap(spark: SparkSession, physical: str, ds: str | None, location: str, *, exists: bool) -> None:
        """Point the partition (or, without ds, the table) at `location`: one metastore update."""
        if ds is None:
            spark.sql(f"ALTER TABLE {physical} SET LOCATION '{location}'")
        elif exists:
            spark.sql(f"ALTER TABLE {physical} PARTITION (ds='{ds}') SET LOCATION '{location}'")
        else:
            spark.sql(f"ALTER TABLE {physical} ADD PARTITION (ds='{ds}') LOCATION '{location}'")
        # Each ALTER refreshes the table's cached metadata and files itself.
