"""Catalog tables: read by name; write a new version, validate it, then swap it in.

A write lands in a fresh directory that nothing points at, is read back and checked against
the contract, and only then becomes the partition (or table) location in the metastore: a
rerun replaces exactly its own partition, a failed or killed run leaves the previous version
in place, and a contract violation leaves nothing behind.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.conformance import data_violations, schema_violations
from common.contracts import Table
from common.environments import Environment
from common.errors import ConfigError, ContractViolation, SourceError
from common.job import RunParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["WarehouseReader", "WarehouseWriter", "WriteResult", "table_exists"]

log = logging.getLogger(__name__)


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



class WarehouseWriter:
    """Writes one output of a run: `write(df, table, params)`; refuses qa writes to production."""

    def __init__(self, *, env: Environment) -> None:
        self.env = env

    def __repr__(self) -> str:
        return f"WarehouseWriter(env={self.env.name!r}, branch={self.env.branch!r})"

    def write(self, df: DataFrame, table: Table, p: RunParams) -> WriteResult:
        from pyspark.sql import functions as F

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
        if contract.partition_by:
            df = df.withColumn("ds", F.lit(p.ds).cast(contract.column("ds").type))
        df = df.select(*contract.names)

        root = spark.sql(f"DESCRIBE TABLE EXTENDED {physical}").filter("col_name = 'Location'").first()[1]
        parent = f"{root}/ds={p.ds}" if contract.partition_by else root
        location = f"{parent}/run={uuid.uuid4().hex[:12]}"
        fs = _Fs(spark)
        data = df.drop(*contract.partition_by)
        try:
            data.write.mode("errorifexists").parquet(location)
            staged = spark.read.schema(contract.schema(data_only=True)).parquet(location)
            rows, problems = data_violations(staged, contract)
            if problems:
                raise ContractViolation(table.name, problems)
        except BaseException:
            fs.delete(location)
            raise
        previous = self._swap(spark, physical, p.ds if contract.partition_by else None, location)
        if previous and previous.rstrip("/") != location and "/run=" in previous:
            fs.delete(previous)  # only the version this write replaced: a concurrent run's files stay
        partition = f"ds={p.ds}" if contract.partition_by else ""
        log.info("wrote %s %s: %d rows", physical, partition, rows)
        return WriteResult(table=physical, partition=partition, rows=rows, location=location)

    def _ensure_table(self, spark: SparkSession, table: Table, physical: str) -> None:
        database = physical.split(".")[0]
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        if table_exists(spark, physical):
            drift = schema_violations(spark.table(physical).schema, table.contract)
            if drift:
                raise ContractViolation(
                    table.name,
                    [f"existing table {physical} differs from the contract: {d}" for d in drift]
                    + ["migrate or drop the table before writing the new contract"],
                )
            return
        partitioned = "PARTITIONED BY (ds)" if table.contract.partition_by else ""
        ddl = ", ".join(f"`{c.name}` {c.type}" for c in table.contract.columns)
        spark.sql(f"CREATE TABLE IF NOT EXISTS {physical} ({ddl}) USING parquet {partitioned}")

    @staticmethod
    def _swap(spark: SparkSession, physical: str, ds: str | None, location: str) -> str | None:
        """Point the partition (or table) at `location`; return the location it replaced."""
        if ds is None:
            previous = spark.sql(f"DESCRIBE TABLE EXTENDED {physical}").filter("col_name = 'Location'").first()[1]
            spark.sql(f"ALTER TABLE {physical} SET LOCATION '{location}'")
        else:
            spec = f"PARTITION (ds='{ds}')"
            previous = None
            if spark.sql(f"SHOW PARTITIONS {physical} {spec}").count() > 0:
                described = spark.sql(f"DESCRIBE TABLE EXTENDED {physical} {spec}")
                previous = described.filter("col_name = 'Location'").first()[1]
                spark.sql(f"ALTER TABLE {physical} {spec} SET LOCATION '{location}'")
            else:
                spark.sql(f"ALTER TABLE {physical} ADD {spec} LOCATION '{location}'")
        spark.catalog.refreshTable(physical)
        return previous
