"""Hive-style parquet tables: each version a `run=<id>` directory, published in the metastore.

A run writes its rows under `<table>/<ds column>=<value>/run=<id>/` (split by any further
partition columns inside it: `.../run=<id>/hour=03/`), and publishing points each of those
partitions at its new directory with `ALTER TABLE ... PARTITION ... SET LOCATION`: one metastore
update per partition, through Spark's public SQL only (Spark's internal catalog classes change
between releases and EMR ships its own Spark build). An unpartitioned table is pointed at its
new `run=` directory as a whole. Versions nothing points at stay readable, and restorable, for
the table's retention period after a newer version was written; then a later write of the same
date, or `pyspark-jobs vacuum`, deletes them. A killed run's directory is never published and
goes the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote

from common.contracts import HIVE, Table
from common.errors import SourceError
from common.io.table_format import (
    Staged,
    TableInfo,
    Version,
    columns_sql,
    contract_properties,
    literal,
    location_of,
    properties_sql,
    run_date_value,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["HadoopFs", "HiveFormat", "wall_clock"]

log = logging.getLogger(__name__)
DAY_S = 24 * 3600


class HadoopFs:
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

    def exists(self, uri: str) -> bool:
        path, fs = self._path(uri)
        return bool(fs.exists(path))

    def children(self, uri: str) -> list[str]:
        """The names of the directories right under `uri` (none if it does not exist)."""
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        return sorted(s.getPath().getName() for s in fs.listStatus(path) if s.isDirectory())

    def newest(self, uri: str) -> float | None:
        """Seconds since the epoch of the newest file under `uri`; None when it holds none.

        Files, not the directory: object stores keep no directory times, and a run still
        writing has fresh files."""
        path, fs = self._path(uri)
        if not fs.exists(path):
            return None
        newest, files = None, fs.listFiles(path, True)
        while files.hasNext():
            modified = files.next().getModificationTime() / 1000
            newest = modified if newest is None else max(newest, modified)
        return newest


@dataclass(frozen=True)
class _Layout:
    """Where one table's versions live: `base` holds the `run=` directories of one run date."""

    physical: str
    root: str  # the table's directory (an unpartitioned table's location is its current run=)
    date_column: str | None
    rest: tuple[str, ...]  # partition columns inside a version directory

    @classmethod
    def of(cls, table: Table, physical: str, location: str) -> _Layout:
        """The layout of the table `physical`, whose location the catalog gives as `location`."""
        contract = table.contract
        dates = contract.run_date_columns
        root = location.rstrip("/")
        if not contract.partition_by:
            root = root.split("/run=")[0]
        rest = tuple(c for c in contract.partition_by if c not in dates)
        return cls(physical, root, dates[0] if dates else None, rest)

    def base(self, ds: str) -> str:
        return f"{self.root}/{self.date_column}={run_date_value(self.date_column, ds)}" if self.date_column else self.root

    def bases(self, fs: HadoopFs) -> list[str]:
        if not self.date_column:
            return [self.root]
        prefix = f"{self.date_column}="
        return [f"{self.root}/{name}" for name in fs.children(self.root) if name.startswith(prefix)]

    def date_spec(self, base: str) -> dict[str, str]:
        if not self.date_column:
            return {}
        return {self.date_column: unquote(base.rsplit("/", 1)[-1].split("=", 1)[1])}

    def date_spec_of(self, spec: dict[str, str]) -> dict[str, str]:
        """The run-date part of a partition spec ({} when the table has no run-date column)."""
        return {self.date_column: spec[self.date_column]} if self.date_column else {}

    def partitions_in(self, fs: HadoopFs, version: str, base: str) -> list[dict[str, str]]:
        """The partition specs a version directory holds (its `c=v` subdirectories)."""
        specs = [self.date_spec(base)]
        for column in self.rest:
            specs = [
                {**spec, column: unquote(name.split("=", 1)[1])}
                for spec in specs
                for name in fs.children(f"{version}/{_path(spec, self.rest)}".rstrip("/"))
                if name.startswith(f"{column}=")
            ]
        return specs if (self.date_column or self.rest) else [{}]

    def where(self, spec: dict[str, str]) -> str:
        return ", ".join(f"`{c}` = {literal(v)}" for c, v in spec.items())


def _path(spec: dict[str, str], columns: tuple[str, ...]) -> str:
    return "/".join(f"{c}={spec[c]}" for c in columns if c in spec)


class _Partitions:
    """One table's partition locations, through Spark's public SQL only."""

    def __init__(self, spark: SparkSession, layout: _Layout) -> None:
        self.spark, self.layout = spark, layout

    def point(self, targets: list[tuple[dict[str, str], str]]) -> None:
        """Make each partition read its location: the run date's partitions listed once, the new
        ones added in one statement, the existing ones updated one by one (Spark SQL has no batch
        of that). Listed, not tried: Hive's client asked to add a partition that exists logs the
        refusal at ERROR with a whole stack trace."""
        layout, physical = self.layout, self.layout.physical
        if not (layout.date_column or layout.rest):
            for _, location in targets:
                self.spark.sql(f"ALTER TABLE {physical} SET LOCATION {literal(location)}")
            return
        dates = {frozenset(layout.date_spec_of(spec).items()) for spec, _ in targets}
        existing = {frozenset(spec.items()) for date in dates for spec in self._listed(dict(date))}
        added = [(spec, location) for spec, location in targets if frozenset(spec.items()) not in existing]
        if added:
            self.spark.sql(f"ALTER TABLE {physical} ADD " + " ".join(
                f"PARTITION ({layout.where(spec)}) LOCATION {literal(location)}" for spec, location in added))
        for spec, location in targets:
            if frozenset(spec.items()) in existing:
                self.spark.sql(f"ALTER TABLE {physical} PARTITION ({layout.where(spec)}) SET LOCATION {literal(location)}")

    def current_versions(self, base: str, fs: HadoopFs) -> set[str]:
        """The `run=` directories under `base` that some partition reads now."""
        layout, current = self.layout, set()
        specs = [{}] if not (layout.date_column or layout.rest) else self._specs(base)
        for spec in specs:  # listed: each exists
            location = location_of(self.spark, f"{layout.physical} PARTITION ({layout.where(spec)})" if spec else layout.physical)
            if location and "/run=" in location:
                current.add(location.rstrip("/").split("/run=")[0] + "/run=" + location.split("/run=")[1].split("/")[0])
        return current

    def _specs(self, base: str) -> list[dict[str, str]]:
        return self._listed(self.layout.date_spec(base))

    def _listed(self, date: dict[str, str]) -> list[dict[str, str]]:
        """The partitions of run date `date` ({}: all of them), as SHOW PARTITIONS lists them."""
        where = f" PARTITION ({self.layout.where(date)})" if date else ""
        return [{k: unquote(v) for k, v in (part.split("=", 1) for part in row[0].split("/"))}
                for row in self.spark.sql(f"SHOW PARTITIONS {self.layout.physical}{where}").collect()]


def _run_id(version: str) -> str:
    return version.rstrip("/").rsplit("/run=", 1)[1]


class HiveFormat:
    name = HIVE

    def __init__(self) -> None:
        # Where each table's versions live, looked up once in the catalog for this object's life
        # (one run's writes, one table command): a table's own location never changes.
        self._layouts: dict[str, _Layout] = {}

    def _layout(self, spark: SparkSession, table: Table, physical: str) -> _Layout:
        if physical not in self._layouts:
            self._layouts[physical] = _Layout.of(table, physical, location_of(spark, physical))
        return self._layouts[physical]

    def known(self, table: Table, info: TableInfo) -> None:
        self._layouts[info.physical] = _Layout.of(table, info.physical, info.location)

    def create(self, spark: SparkSession, table: Table, physical: str, location: str) -> None:
        # EXTERNAL under the lake root: the files outlive the cluster.
        partitioned = f"PARTITIONED BY ({', '.join(table.contract.partition_by)})" if table.contract.partition_by else ""
        ddl = columns_sql(table.contract)
        spark.sql(f"CREATE TABLE IF NOT EXISTS {physical} ({ddl}) USING parquet {partitioned} LOCATION {literal(location)} "
                  f"TBLPROPERTIES ({properties_sql(contract_properties(table.contract))})")

    def stage(self, df: DataFrame, table: Table, physical: str, run_id: str, ds: str) -> Staged:
        spark = df.sparkSession
        layout = self._layout(spark, table, physical)
        base = layout.base(ds)
        version = f"{base}/run={run_id}"
        writer = df.write.mode("errorifexists")
        if layout.rest:
            writer = writer.partitionBy(*layout.rest)
        try:
            writer.parquet(version)
            partitions = tuple(layout.partitions_in(HadoopFs(spark), version, base))
        except BaseException:
            HadoopFs(spark).delete(version)
            raise
        return Staged(table, physical, run_id, version, partitions)

    def read_staged(self, spark: SparkSession, staged: Staged) -> DataFrame:
        return spark.read.parquet(staged.handle)

    def discard(self, spark: SparkSession, staged: Staged) -> None:
        HadoopFs(spark).delete(staged.handle)

    def publish(self, spark: SparkSession, staged: Staged) -> str:
        layout = self._layout(spark, staged.table, staged.physical)
        _Partitions(spark, layout).point(
            [(spec, f"{staged.handle}/{_path(spec, layout.rest)}".rstrip("/")) for spec in staged.partitions])
        return staged.handle

    def expire(
        self, spark: SparkSession, table: Table, physical: str, now: float, ds: str | None = None, *, dry_run: bool = False
    ) -> list[str]:
        """Delete the versions replaced longer than the retention period ago (of date `ds`, or all).

        A version was replaced when a newer one was written (its newest file): the previous
        version of a partition stays readable for the whole period after the write that
        replaced it, however old its own files are. With `dry_run`, only list them."""
        fs, layout = HadoopFs(spark), self._layout(spark, table, physical)
        cutoff = now - table.retention_days * DAY_S
        removed = []
        for base in [layout.base(ds)] if ds else layout.bases(fs):
            written = sorted(
                (fs.newest(f"{base}/{name}") or 0.0, f"{base}/{name}") for name in fs.children(base) if name.startswith("run=")
            )
            due = [version for i, (own, version) in enumerate(written)
                   if (written[i + 1][0] if i + 1 < len(written) else own) < cutoff]
            # The metastore is asked which versions partitions read only when one is due: most
            # writes of a date find none, and cost no catalog call here.
            current = _Partitions(spark, layout).current_versions(base, fs) if due else set()
            for version in due:
                if version not in current:
                    if not dry_run:
                        fs.delete(version)
                    removed.append(version)
        return removed

    def remove_orphans(self, spark: SparkSession, table: Table, physical: str, now: float, *,
                       dry_run: bool = False) -> list[str]:
        """Nothing of its own: what a killed run leaves is a `run=` directory no partition points
        at, a version `expire` removes once it is older than the retention period."""
        return []

    def history(self, spark: SparkSession, table: Table, physical: str, ds: str | None) -> list[Version]:
        fs, layout = HadoopFs(spark), self._layout(spark, table, physical)
        base = layout.base(ds) if ds else layout.root
        current = _Partitions(spark, layout).current_versions(base, fs)
        versions = []
        for name in fs.children(base):
            if not name.startswith("run="):
                continue
            version = f"{base}/{name}"
            newest = fs.newest(version)
            written = datetime.fromtimestamp(newest, tz=UTC) if newest else None
            # parquet footers: no data read. The contract's schema, not an inferred one: a killed
            # run's directory holds only uncommitted files (_temporary), which a read skips.
            rows = spark.read.schema(table.contract.schema(data_only=True)).parquet(version).count() if newest else 0
            versions.append(Version(_run_id(version), _run_id(version), written, rows, version in current,
                                    {"location": version}))
        return sorted(versions, key=lambda v: v.written_at or datetime.min.replace(tzinfo=UTC))

    def rollback(self, spark: SparkSession, table: Table, physical: str, ds: str | None, version: str) -> Version:
        fs, layout = HadoopFs(spark), self._layout(spark, table, physical)
        base = layout.base(ds) if ds else layout.root
        target = f"{base}/run={version}"
        if not fs.exists(target) or not fs.newest(target):
            where = f" ds={ds}" if ds else ""
            raise SourceError(
                f"{physical}{where} has no version {version} (never written, or expired after its retention); "
                f"`pyspark-jobs history {physical}{' --ds ' + ds if ds else ''}` lists the versions"
            )
        _Partitions(spark, layout).point(
            [(spec, f"{target}/{_path(spec, layout.rest)}".rstrip("/")) for spec in layout.partitions_in(fs, target, base)])
        (restored,) = [v for v in self.history(spark, table, physical, ds) if v.version == version]
        return restored


def wall_clock() -> float:
    """The wall clock, for retention: the one clock read the table formats make."""
    return time.time()
