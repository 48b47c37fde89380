"""Trino's `lake` catalog (hive connector on the metastore service and S3) reads what the jobs
write: three TPC-H reports written to S3 return the same rows through Trino as through Spark.
With the lake on S3, `--source trino` reads the job's inputs through `lake` by default."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.runner import RunConfig, run_job
from common.slug import branch_slug
from tests.helpers import data_files, drop_qa_databases, trino_rows

pytestmark = pytest.mark.services

BRANCH = "qa-test/trino-lake"
DS = "1995-03-15"
JOBS = ("tpch.q01", "tpch.q03", "tpch.q10")  # decimals, dates, strings, counts; 4, 10 and 20 rows


def normalized(rows) -> list[tuple]:
    """Rows as comparable tuples: Spark and Trino both give Decimal, date, str, int, float."""
    return sorted(tuple(float(v) if isinstance(v, float) else v for v in row) for row in rows)


@pytest.fixture(scope="module")
def reports(spark, s3_inputs):
    mp = pytest.MonkeyPatch()
    mp.setenv("PYSPARK_JOBS_QA_ROOT", "s3://pyspark-jobs-lake/qa")
    try:
        yield [run_job(RunConfig(job=job, ds=DS, env="qa", branch=BRANCH), spark=spark) for job in JOBS]
    finally:
        mp.undo()
        drop_qa_databases(spark, BRANCH)


def test_trino_lake_returns_the_rows_spark_wrote_to_s3(spark, reports):
    for summary in reports:
        [out] = summary.outputs
        files = data_files(spark, out.table, DS)
        root = f"s3://pyspark-jobs-lake/qa/{branch_slug(BRANCH)}/tpch_reports/"
        assert files and all(f.startswith(root) for f in files), files
        columns = [f.name for f in spark.table(out.table).schema if f.name != "ds"]
        spark_rows = spark.table(out.table).where(f"ds = '{DS}'").select(*columns).collect()
        database, table = out.table.split(".")
        through_trino = trino_rows(f"SELECT {', '.join(columns)} FROM lake.{database}.{table} WHERE ds = '{DS}'")
        assert spark_rows, f"{out.table} is empty"
        assert normalized(through_trino) == normalized(tuple(r) for r in spark_rows), out.table
        assert any(isinstance(v, Decimal) for v in through_trino[0]), "money reaches Trino as decimal"


def test_with_the_lake_on_s3_a_trino_run_reads_its_inputs_through_lake_by_default(spark, s3_inputs, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setenv("PYSPARK_JOBS_LAKE_ROOT", "s3://pyspark-jobs-lake/prod")
    monkeypatch.setenv("PYSPARK_JOBS_QA_ROOT", "s3://pyspark-jobs-lake/qa")
    monkeypatch.delenv("PYSPARK_JOBS_TRINO_TABLES", raising=False)
    branches = {"spark": f"{BRANCH}-spark", "trino": f"{BRANCH}-via-trino"}
    try:
        direct = run_job(RunConfig(job="tpch.q01", ds=DS, env="qa", branch=branches["spark"]), spark=spark)
        through = run_job(RunConfig(job="tpch.q01", ds=DS, env="qa", branch=branches["trino"], source="trino",
                                    source_options={"cache_dir": tmp_path / "cache"}), spark=spark)
        [where] = [w for alias, w, _ in through.inputs if alias == "lineitem"]
        assert where.startswith("trino lake.tpch.lineitem, "), where
        [from_spark], [from_trino] = (summary.outputs for summary in (direct, through))
        columns = [f.name for f in spark.table(from_spark.table).schema if f.name != "ds"]
        expected = spark.table(from_spark.table).where(f"ds = '{DS}'").select(*columns).collect()
        got = spark.table(from_trino.table).where(f"ds = '{DS}'").select(*columns).collect()
        assert len(expected) == 4  # q01: one row per (returnflag, linestatus) pair at every scale
        assert normalized(tuple(r) for r in got) == normalized(tuple(r) for r in expected)
    finally:
        for branch in branches.values():
            drop_qa_databases(spark, branch)
