"""Apache Iceberg tables: each version a snapshot, staged unpublished, audited, then published.

Iceberg's own write-audit-publish: with `spark.wap.id` set (the writer sets it to the run id
while it stages) a dynamic partition overwrite commits a snapshot that readers do not see;
the writer validates that snapshot's rows, and publishing cherry-picks it onto the table's
current state (`system.cherrypick_snapshot`: a fast-forward when nothing else committed in
between, else Iceberg re-applies the partition replacement after checking nothing else
replaced the same partitions). A reader that planned its scan on the previous snapshot
finishes on it. Each published snapshot carries the run id and the run date; replaced
snapshots expire after the table's retention period (`system.expire_snapshots`, which also
deletes the files only they reference).

The table lives in Spark's own catalog through `SparkSessionCatalog` (common/settings.py's
ICEBERG_SPARK_CONF), backed by the Hive metastore or Glue as the deployment says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from common.contracts import ICEBERG, Table
from common.errors import SourceError
from common.io.table_format import (
    Staged,
    TableInfo,
    Version,
    columns_sql,
    contract_properties,
    literal,
    properties_sql,
    run_date_value,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["IcebergFormat", "WAP_ID", "RUN_ID_PROPERTY", "DS_PROPERTY"]

WAP_ID = "spark.wap.id"  # session setting: writes commit staged snapshots under this id
RUN_ID_PROPERTY = "pyspark-jobs.run-id"
DS_PROPERTY = "pyspark-jobs.ds"
ROLLBACK_PROPERTY = "pyspark-jobs.rollback-to"
DAY_MS = 24 * 3600 * 1000
COMMIT_RETRIES = 20  # Iceberg's default, 4, lost commits with 10 runs of one table at once
_CATALOG = "spark_catalog"
# Files no snapshot references are orphans only once no write can still commit them: a run
# taking longer than this would lose its files to a vacuum running meanwhile.
ORPHAN_MIN_AGE_DAYS = 1.0


def _with_run_date(df: DataFrame, table: Table, ds: str) -> DataFrame:
    from pyspark.sql import functions as F

    columns = table.contract.run_date_columns
    df = df.select(*(F.lit(run_date_value(c, ds)).alias(c) if c in columns else F.col(c) for c in table.contract.names))
    return df


def _writer(df: DataFrame, physical: str, properties: dict[str, str]) -> Any:
    """`df.writeTo(physical)`, each snapshot it commits carrying `properties`."""
    writer = df.writeTo(physical)
    for key, value in properties.items():
        writer = writer.option(f"snapshot-property.{key}", value)
    return writer


def _date_is_the_partition(table: Table) -> bool:
    """A run of date D replaces exactly the rows of D (the whole table without a run-date column)."""
    return set(table.contract.partition_by) <= set(table.contract.run_date_columns)


def _replaced_rows(table: Table, ds: str) -> Any:
    from pyspark.sql import functions as F

    dates = table.contract.run_date_columns
    return F.col(dates[0]) == F.lit(run_date_value(dates[0], ds)) if dates else F.lit(True)


class IcebergFormat:
    name = ICEBERG

    def create(self, spark: SparkSession, table: Table, physical: str, location: str) -> None:
        contract = table.contract
        ddl = columns_sql(contract)
        partitioned = f"PARTITIONED BY ({', '.join(f'`{c}`' for c in contract.partition_by)})" if contract.partition_by else ""
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {physical} ({ddl}) USING iceberg {partitioned} "
            f"LOCATION {literal(location)} TBLPROPERTIES ({properties_sql(_properties(table))})"
        )

    def known(self, table: Table, info: TableInfo) -> None:
        pass  # Iceberg's catalog loads the table's metadata at each use (cache-enabled=false)

    @staticmethod
    def convert_sql(table: Table, physical: str) -> str:
        """The statement that turns the Hive-style parquet table `physical` into this format, in
        place: Iceberg's `migrate` makes each partition's current files (a Hive partition's
        location: its current `run=` version) the first snapshot, without copying them, and drops
        the Hive definition it kept as a backup (an external table: its files stay)."""
        props = ", ".join(f"{literal(k)}, {literal(v)}" for k, v in _properties(table).items())
        return (f"CALL {_CATALOG}.system.migrate(table => {literal(physical)}, properties => map({props}), "
                "drop_backup => true)")

    def stage(self, df: DataFrame, table: Table, physical: str, run_id: str, ds: str) -> Staged:
        spark = df.sparkSession
        if spark.conf.get(WAP_ID, None) != run_id:
            raise RuntimeError(f"{WAP_ID} must be the run id while staging Iceberg writes")  # the writer sets it
        properties = {RUN_ID_PROPERTY: run_id, DS_PROPERTY: ds}
        try:
            _writer(_with_run_date(df, table, ds), physical, properties).overwritePartitions()
        except Exception as exc:
            if "CommitFailedException" not in str(exc):
                raise
            raise SourceError(
                f"{physical}: other runs kept committing to the table while run {run_id} staged its version, and "
                f"Iceberg's commit retries ran out (table property commit.retry.num-retries); nothing of this run "
                "was published: run it again"
            ) from None
        staged = self._staged(spark, physical, run_id)
        empty = not staged  # a dynamic overwrite commits a snapshot exactly when it wrote data files
        if empty and _date_is_the_partition(table):
            # No rows: stage the date's replacement by no rows instead.
            nothing = spark.createDataFrame([], spark.table(physical).schema)
            _writer(nothing, physical, properties).overwrite(_replaced_rows(table, ds))
            staged = self._staged(spark, physical, run_id)
        if not staged:  # no rows, and the table has partition columns besides the date: nothing replaced
            return Staged(table, physical, run_id, None, (), empty=True)
        if len(staged) != 1:
            raise SourceError(f"{physical}: expected one staged snapshot of run {run_id}, found {len(staged)}")
        dates = table.contract.run_date_columns
        partitions = ({dates[0]: run_date_value(dates[0], ds)},) if dates else ({},)
        return Staged(table, physical, run_id, staged[0], partitions, empty=empty)

    @staticmethod
    def _staged(spark: SparkSession, physical: str, run_id: str) -> list[int]:
        return [r.snapshot_id for r in spark.sql(
            f"SELECT snapshot_id FROM {physical}.snapshots WHERE summary['wap.id'] = {literal(run_id)}"
        ).collect()]

    def read_staged(self, spark: SparkSession, staged: Staged) -> DataFrame:
        if staged.handle is None:
            return spark.createDataFrame([], spark.table(staged.physical).schema)
        from functools import reduce

        from pyspark.sql import functions as F

        # The staged snapshot holds the whole table: the run's checks are about its own partitions.
        df = spark.read.option("snapshot-id", staged.handle).table(staged.physical)
        specs = [reduce(lambda a, b: a & b, (F.col(c) == F.lit(v) for c, v in spec.items()))
                 for spec in staged.partitions if spec]
        return df.filter(reduce(lambda a, b: a | b, specs)) if specs else df

    def discard(self, spark: SparkSession, staged: Staged) -> None:
        if staged.handle is None:
            return
        spark.sql(
            f"CALL {_CATALOG}.system.expire_snapshots(table => {literal(staged.physical)}, "
            f"snapshot_ids => array({int(staged.handle)}))"
        ).collect()

    def publish(self, spark: SparkSession, staged: Staged) -> str:
        if staged.handle is None:
            return f"{staged.physical} (unchanged: the run wrote no rows)"
        try:
            (row,) = spark.sql(
                f"CALL {_CATALOG}.system.cherrypick_snapshot({literal(staged.physical)}, {int(staged.handle)})"
            ).collect()
        except Exception as exc:
            if "cherry-pick" not in str(exc).lower():
                raise
            spec = ", ".join("/".join(f"{c}={v}" for c, v in p.items()) for p in staged.partitions) or "the table"
            why = ("another run published the same partition after this run staged its version: that run's "
                   "version stands" if "changed partition" in str(exc) else
                   "another run committed to the table while this run emptied its partition, which Iceberg "
                   "publishes only as a fast-forward")
            raise SourceError(
                f"{staged.physical} {spec}: {why}; nothing of run {staged.run_id} was published to it; run the job "
                "again to replace it"
            ) from None
        return f"{staged.physical}@{row.current_snapshot_id}"

    def expire(
        self, spark: SparkSession, table: Table, physical: str, now: float, ds: str | None = None, *, dry_run: bool = False
    ) -> list[str]:
        """Expire the snapshots replaced longer than the retention period ago; deletes their files.

        Whole-table: Iceberg expires snapshots, not partitions (`ds` is ignored). With `dry_run`,
        only list them: the snapshots older than the cutoff but the current one, as
        `expire_snapshots(retain_last => 1)` chooses them."""
        at = _timestamp(now - table.retention_days * DAY_MS / 1000)
        # The procedure runs Spark jobs over every manifest: call it only when a snapshot is due.
        due = [r.snapshot_id for r in spark.sql(
            f"SELECT snapshot_id FROM {physical}.snapshots WHERE committed_at < TIMESTAMP {at} ORDER BY committed_at"
        ).collect()]
        if not due:
            return []
        (current,) = spark.sql(
            f"SELECT snapshot_id FROM {physical}.history WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1"
        ).collect()
        older = [s for s in due if s != current.snapshot_id]
        if dry_run:
            return [f"{physical} snapshot {s}" for s in older]
        row = spark.sql(
            f"CALL {_CATALOG}.system.expire_snapshots(table => {literal(physical)}, "
            f"older_than => TIMESTAMP {at}, retain_last => 1)"
        ).collect()[0]
        kept = {r.snapshot_id for r in spark.sql(f"SELECT snapshot_id FROM {physical}.snapshots").collect()}
        removed = [f"{physical} snapshot {s}" for s in older if s not in kept]
        files = int(row.deleted_data_files_count)
        return removed + ([f"{physical}: {files} data files of expired snapshots"] if files else [])

    def remove_orphans(self, spark: SparkSession, table: Table, physical: str, now: float, *,
                       dry_run: bool = False) -> list[str]:
        """Delete the files under the table's location that no snapshot or branch references (a
        killed run's data files, a failed commit's manifests) and that were written before the
        retention period, or `ORPHAN_MIN_AGE_DAYS` if longer: a write in progress has files no
        snapshot references yet, and it must not lose them. With `dry_run`, only list them.

        `system.remove_orphan_files` lists the whole location (one Spark job over its files):
        `vacuum` calls it, a run's own publication does not."""
        days = max(table.retention_days, ORPHAN_MIN_AGE_DAYS)
        rows = spark.sql(
            f"CALL {_CATALOG}.system.remove_orphan_files(table => {literal(physical)}, "
            f"older_than => TIMESTAMP {_timestamp(now - days * DAY_MS / 1000)}, dry_run => {str(dry_run).lower()})"
        ).collect()
        return [f"{physical}: orphan file {row.orphan_file_location}" for row in rows]

    def history(self, spark: SparkSession, table: Table, physical: str, ds: str | None) -> list[Version]:
        """The published snapshots that wrote date `ds` (every published one without `ds`), oldest first.

        The current version of the date is the newest of them still in the table's lineage."""
        snapshots = {r.snapshot_id: r for r in spark.sql(
            f"SELECT snapshot_id, committed_at, summary FROM {physical}.snapshots").collect()}
        lineage = [r.snapshot_id for r in spark.sql(
            f"SELECT snapshot_id FROM {physical}.history WHERE is_current_ancestor ORDER BY made_current_at").collect()]
        versions: list[Version] = []
        for snapshot_id in lineage:
            row = snapshots.get(snapshot_id)
            if row is None:  # expired
                continue
            summary = self._summary(row, snapshots)
            rows = int(summary["added-records"]) if "added-records" in summary else None
            # The first snapshot, written by no run, is the table's state when it was converted
            # (`migrate-table`) or filled elsewhere: a version of each date it holds rows of.
            inherited = snapshot_id == lineage[0] and RUN_ID_PROPERTY not in summary
            if ds is not None and summary.get(DS_PROPERTY) != ds:
                if not inherited:
                    continue
                # ds is given only for a table with a run date column (the commands refuse it otherwise)
                rows = self._rows_at(spark, table, physical, snapshot_id, ds).count()
                if not rows:
                    continue
            versions.append(Version(
                version=str(snapshot_id), run_id=summary.get(RUN_ID_PROPERTY, ""),
                written_at=row.committed_at.replace(tzinfo=UTC) if row.committed_at else None,
                rows=rows, current=False,
                detail={k: v for k, v in (("operation", summary.get("operation", "")),
                                          ("rollback of", summary.get(ROLLBACK_PROPERTY, "")),
                                          ("written by", "no run: the table as converted" if inherited else "")) if v},
            ))
        if versions:
            versions[-1] = Version(**{**versions[-1].__dict__, "current": True})
        return versions

    def rollback(self, spark: SparkSession, table: Table, physical: str, ds: str | None, version: str) -> Version:
        """Point date `ds` (the whole table without it) back at the rows of snapshot `version`.

        A new snapshot replacing the partition with exactly those rows: the versions in between
        stay in the history, and a rollback can itself be rolled back."""
        from pyspark.sql import functions as F

        known = {v.version: v for v in self.history(spark, table, physical, ds)}
        if version not in known:
            where = f" ds={ds}" if ds else ""
            raise SourceError(
                f"{physical}{where} has no version {version} (never written, or expired after its retention); "
                f"`pyspark-jobs history {physical}{' --ds ' + ds if ds else ''}` lists the versions"
            )
        old = self._rows_at(spark, table, physical, int(version), ds)
        properties = {RUN_ID_PROPERTY: f"rollback-{version}", ROLLBACK_PROPERTY: version, **({DS_PROPERTY: ds} if ds else {})}
        if old.limit(1).count():
            _writer(old, physical, properties).overwritePartitions()
        else:  # the version held no rows: the partition (the table, without ds) is emptied
            _writer(old, physical, properties).overwrite(_replaced_rows(table, ds) if ds else F.lit(True))
        return self.history(spark, table, physical, ds)[-1]

    @staticmethod
    def _rows_at(spark: SparkSession, table: Table, physical: str, snapshot_id: int, ds: str | None) -> DataFrame:
        """Snapshot `snapshot_id`'s rows of date `ds` (all of them without ds or a run date column)."""
        from pyspark.sql import functions as F

        old = spark.read.option("snapshot-id", int(snapshot_id)).table(physical)
        dates = table.contract.run_date_columns
        return old.filter(F.col(dates[0]) == run_date_value(dates[0], ds)) if ds is not None and dates else old

    @staticmethod
    def _summary(row: Any, snapshots: dict[int, Any]) -> dict[str, str]:
        """A snapshot's summary; a cherry-picked copy's run properties are its source's."""
        summary = dict(row.summary or {})
        source = summary.get("source-snapshot-id")
        if source and RUN_ID_PROPERTY not in summary and int(source) in snapshots:
            origin = dict(snapshots[int(source)].summary or {})
            summary.update({k: v for k, v in origin.items() if k.startswith("pyspark-jobs.")})
        return summary


def _properties(table: Table) -> dict[str, str]:
    return {
        "format-version": "2",
        "write.wap.enabled": "true",  # writes under spark.wap.id stay staged until published
        "history.expire.max-snapshot-age-ms": str(int(table.retention_days * DAY_MS)),
        "history.expire.min-snapshots-to-keep": "1",
        # Runs of other dates commit to the same table at once (a backfill, max_active_runs
        # above 1): each commit retries on a newer base, with jittered backoff, this often.
        "commit.retry.num-retries": str(COMMIT_RETRIES),
        **contract_properties(table.contract),
    }


def _timestamp(epoch_s: float) -> str:
    """A SQL timestamp literal's text (UTC, the session's time zone) for `epoch_s`."""
    return literal(datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
