"""`pyspark-jobs check` on copies of real jobs with real mistakes planted in them: each is
caught without reading data, and the finding names the job, the step and the column."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pyspark.sql import functions as F

from common.check import check_jobs
from common.job import step
from pyspark_jobs.demo import transforms as demo
from pyspark_jobs.demo.daily_revenue import DailyRevenue
from pyspark_jobs.demo.legacy import RevenueBySegmentSql


def _report(spark, *names: str) -> tuple[bool, str]:
    out = io.StringIO()
    ok = check_jobs(list(names), spark=spark, out=out)
    return ok, out.getvalue()


def test_every_shipped_job_passes(spark):
    ok, text = _report(spark, "demo.daily_revenue", "tpch.q01", "tpch.q01_sql", "tpch.q21")
    assert ok, text
    assert text.strip().splitlines()[-1].startswith("checked 4 job(s): 0 error(s) in ")


# -- the planted mistakes ---------------------------------------------------------------


def segment_typo(enriched):
    return enriched.groupBy("n_name", "c_mktsegmnt").agg(F.count(F.lit(1)).alias("orders"))


class SelectTypo(DailyRevenue):
    name = "tests.check.select_typo"

    def steps(self, p):
        return {**super().steps(p), "revenue_by_segment": step(segment_typo, "enriched")}


def enrich_wrong_key(lines, orders, customer, nation):
    joined = lines.join(orders, on=F.col("l_orderkey") == F.col("o_orderkey"), how="inner")
    return joined.join(customer, on="custkey", how="inner")


class JoinKeyMissing(DailyRevenue):
    name = "tests.check.join_key_missing"

    def steps(self, p):
        return {**super().steps(p), "enriched": step(enrich_wrong_key, "lines", "orders", "customer", "nation")}


def shipped_before(lineitem, *, ds):
    return lineitem.filter(F.col("l_shipmode") < F.lit(date.fromisoformat(ds))).select(
        "l_orderkey", "l_shipmode", F.col("l_shipdate").alias("ship_date"), F.lit(1).alias("revenue")
    )


class StringVsDate(DailyRevenue):
    name = "tests.check.string_vs_date"

    def steps(self, p):
        return {**super().steps(p), "lines": step(shipped_before, "lineitem", ds=p.ds)}


def mode_revenue_as_double(enriched):
    return demo.revenue_by_shipmode(enriched).withColumn("revenue", F.col("revenue").cast("double"))


class AggregateType(DailyRevenue):
    name = "tests.check.aggregate_type"

    def steps(self, p):
        return {**super().steps(p), "revenue_by_shipmode": step(mode_revenue_as_double, "enriched")}


def segment_without_orders(enriched):
    return demo.revenue_by_segment(enriched).drop("orders")


class OutputColumnMissing(DailyRevenue):
    name = "tests.check.output_column_missing"

    def steps(self, p):
        return {**super().steps(p), "revenue_by_segment": step(segment_without_orders, "enriched")}


def nations_left_joined(lines, orders, customer, nation):
    enriched = demo.enrich_lines(lines, orders, customer, nation).drop("n_name")
    names = nation.select(F.col("n_nationkey").alias("key"), "n_name")
    keyed = enriched.join(customer.select("c_custkey", "c_nationkey"), on="c_custkey", how="inner")
    return keyed.join(names, on=F.col("c_nationkey") == F.col("key"), how="left").drop("key", "c_nationkey")


class NullableIntoNotNull(DailyRevenue):
    name = "tests.check.nullable_into_not_null"

    def steps(self, p):
        return {**super().steps(p), "enriched": step(nations_left_joined, "lines", "orders", "customer", "nation")}


class SqlColumnTypo(RevenueBySegmentSql):
    name = "tests.check.sql_column_typo"

    @classmethod
    def sql_template(cls) -> str:
        return RevenueBySegmentSql.sql_template().replace("group by\n\tn_name,\n\tc_mktsegment", "group by\n\tn_name,\n\tc_segment")


@pytest.mark.parametrize(
    ("job", "step_name", "expected"),
    [
        (SelectTypo, "revenue_by_segment", ["column c_mktsegmnt does not exist (closest: c_mktsegment)"]),
        (JoinKeyMissing, "enriched", ["custkey", "cannot be resolved"]),
        (StringVsDate, "lines", ["string column l_shipmode is compared with or cast to a date implicitly"]),
        (AggregateType, "revenue_by_shipmode", ["column revenue is double, contract says decimal(38,4)"]),
        (OutputColumnMissing, "revenue_by_segment", ["missing column orders bigint"]),
        (NullableIntoNotNull, "revenue_by_segment", ["column n_name may be null but the contract says NOT NULL"]),
        (SqlColumnTypo, "revenue_by_segment", ["column c_segment does not exist (closest: c_mktsegment", "revenue_by_segment.sql]"]),
    ],
)
def test_planted_mistake_is_named(spark, job, step_name, expected):
    ok, text = _report(spark, job.name)
    assert not ok
    fails = [line for line in text.splitlines() if line.startswith("FAIL")]
    assert fails, text
    first = fails[0]
    assert first.startswith(f"FAIL {job.name}: step {step_name}"), text
    for fragment in expected:
        assert fragment in first, text
    assert text.strip().splitlines()[-1].startswith("checked 1 job(s): ")


def test_step_errors_point_at_the_source_line(spark):
    _, text = _report(spark, SelectTypo.name)
    assert "tests.common.test_check.segment_typo (" in text and "test_check.py:" in text

