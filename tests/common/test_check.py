"""`pyspark-jobs check` on copies of real jobs with real mistakes planted in them: each is
caught without reading data, and the finding names the job, the step and the column."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date

import pytest
from pyspark.sql import functions as F

from common.casts import is_lossy
from common.check import check_jobs
from common.cli import main
from common.contracts import Column, Contract, Table
from common.job import Job, step
from pyspark_jobs.demo import transforms as demo
from pyspark_jobs.demo.daily_revenue import DailyRevenue
from pyspark_jobs.demo.legacy import RevenueBySegmentSql
from tests.conftest import ROOT


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


def _as_lines(lineitem):
    """The demo's `lines` step's columns, so a planted filter is the only change."""
    return lineitem.select("l_orderkey", "l_shipmode", F.col("l_shipdate").cast("string").alias("ds"),
                           F.lit(1).alias("revenue"))


def shipped_before(lineitem, *, ds):
    return _as_lines(lineitem.filter(F.col("l_shipmode") < F.lit(date.fromisoformat(ds))))


class StringVsDate(DailyRevenue):
    name = "tests.check.string_vs_date"

    def steps(self, p):
        return {**super().steps(p), "lines": step(shipped_before, "lineitem", ds=p.ds)}


def shipmode_below(lineitem, *, quantity):
    return shipped_before(lineitem.filter(F.col("l_shipmode") < quantity), ds="2000-01-01")


class StringVsInteger(DailyRevenue):
    name = "tests.check.string_vs_integer"

    def steps(self, p):
        return {**super().steps(p), "lines": step(shipmode_below, "lineitem", quantity=5)}


def price_times_comment(lineitem):
    return _as_lines(lineitem.filter((F.col("l_extendedprice") * F.col("l_comment")) > 0))


class DecimalTimesString(DailyRevenue):
    name = "tests.check.decimal_times_string"

    def steps(self, p):
        return {**super().steps(p), "lines": step(price_times_comment, "lineitem")}


def shipmode_cast_on_purpose(lineitem):
    wanted = F.col("l_shipmode").cast("bigint") < F.lit(5).cast("bigint")
    return _as_lines(lineitem.filter(wanted & (F.col("l_shipdate") < F.lit("2000-01-01").cast("date"))))


class ExplicitCasts(DailyRevenue):
    name = "tests.check.explicit_casts"

    def steps(self, p):
        return {**super().steps(p), "lines": step(shipmode_cast_on_purpose, "lineitem")}


class BrokenSteps(DailyRevenue):
    name = "tests.check.broken_steps"

    def steps(self, p):
        raise KeyError("enriched")


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


def top_customers_without_ds(enriched, *, top_n):
    return demo.top_customers(enriched, top_n=top_n).drop("ds")


class OutputWithoutDs(DailyRevenue):
    name = "tests.check.output_without_ds"

    def steps(self, p):
        return {**super().steps(p), "top_customers": step(top_customers_without_ds, "enriched", top_n=p.top_n)}


def _sql_variant(name: str, old: str, new: str) -> type[RevenueBySegmentSql]:
    template = RevenueBySegmentSql.sql_template().replace(old, new)
    assert new in template
    return type(name, (RevenueBySegmentSql,), {"name": f"tests.check.{name}", "sql_template": classmethod(lambda cls: template)})


_SHIPPED = "l_shipdate = date '{{ ds }}'"
SqlStringVsInteger = _sql_variant("sql_string_vs_integer", _SHIPPED, f"{_SHIPPED} and l_shipmode < 5")
SqlStringVsDate = _sql_variant("sql_string_vs_date", _SHIPPED, "l_shipmode = date '{{ ds }}'")
SqlDecimalTimesString = _sql_variant("sql_decimal_times_string", _SHIPPED, f"{_SHIPPED} and l_extendedprice * l_comment > 0")
SqlExplicitCasts = _sql_variant("sql_explicit_casts", _SHIPPED, f"{_SHIPPED} and cast(l_shipmode as bigint) < 5")
SqlUndefinedName = _sql_variant("sql_undefined_name", _SHIPPED, "l_shipdate = date '{{ yesterday_ds }}'")
SqlUndefinedParam = _sql_variant("sql_undefined_param", _SHIPPED, "l_shipdate = date '{{ params.day }}'")
SqlInsert = _sql_variant("sql_insert", "select", "insert overwrite table demo.revenue_by_segment select")


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
        (StringVsDate, "lines", ["implicit cast of l_shipmode from string to date", "F.col('l_shipmode').cast('date')"]),
        (StringVsInteger, "lines", ["[", "test_check.py:", "the step's definition line]", "implicit cast of l_shipmode from string to bigint"]),
        (DecimalTimesString, "lines", ["implicit cast of l_comment from string to double", "F.col('l_comment').cast('double')"]),
        (SqlStringVsInteger, "revenue_by_segment", ["revenue_by_segment.sql:13,", "l_shipmode from string to bigint", "CAST(l_shipmode AS BIGINT)"]),
        (SqlStringVsDate, "revenue_by_segment", ["implicit cast of l_shipmode from string to date", "CAST(l_shipmode AS DATE)"]),
        (SqlDecimalTimesString, "revenue_by_segment", ["implicit cast of l_comment from string to double"]),
        (BrokenSteps, "-", ["steps() raised KeyError: 'enriched'"]),
        (AggregateType, "revenue_by_shipmode", ["column revenue is double, contract says decimal(38,4)"]),
        (OutputColumnMissing, "revenue_by_segment", ["missing column orders bigint"]),
        (NullableIntoNotNull, "revenue_by_segment", ["column n_name may be null but the contract says NOT NULL"]),
        (OutputWithoutDs, "top_customers", ["output demo.top_customers: missing column ds string (the job declares "
                                            "range_plan: each output carries ds, its rows' day)"]),
        (SqlColumnTypo, "revenue_by_segment", ["column c_segment does not exist (closest: c_mktsegment", "revenue_by_segment.sql]"]),
        (SqlUndefinedName, "-", ["pyspark_jobs/demo/sql/revenue_by_segment.sql:13:", "'yesterday_ds'", "not in Airflow's context"]),
        (SqlUndefinedParam, "-", ["pyspark_jobs/demo/sql/revenue_by_segment.sql:13:", "params.day", "params: none"]),
        (SqlInsert, "revenue_by_segment", ["exactly one query", "Syntax error at or near 'table'", "(line 2, pos 17)"]),
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


@pytest.mark.parametrize("job", [ExplicitCasts, SqlExplicitCasts])
def test_casts_the_code_writes_are_not_findings(spark, job):
    ok, text = _report(spark, job.name)
    assert ok, text


@pytest.mark.parametrize(
    ("source", "target", "lossy"),
    [
        ("string", "int", True),
        ("string", "boolean", True),
        ("string", "timestamp", True),
        ("decimal(12,2)", "decimal(10,2)", True),
        ("decimal(12,2)", "decimal(12,1)", True),
        ("decimal(12,2)", "decimal(14,2)", False),
        ("decimal(36,2)", "decimal(38,6)", False),
        ("decimal(38,6)", "decimal(38,4)", True),
        ("double", "decimal(38,4)", True),
        ("float", "double", False),
        ("bigint", "int", True),
        ("int", "bigint", False),
        ("timestamp", "date", True),
        ("date", "timestamp", False),
    ],
)
def test_which_casts_lose_data(source, target, lossy):
    assert is_lossy(source, target) is lossy


def test_unknown_job_is_a_usage_error(capsys):
    assert main(["check", "tests.check.no_such_job"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: unknown job 'tests.check.no_such_job'")


def test_step_errors_point_at_the_source_line(spark):
    _, text = _report(spark, SelectTypo.name)
    assert "tests.common.test_check.segment_typo (" in text and "test_check.py:" in text



# -- contracts across jobs ---------------------------------------------------------------


def _segments_reader(name: str, read: Table) -> type[Job]:
    """A job reading the demo's segment report through the contract `read` declares for it."""
    out = Table(f"tests_check.{name}", Contract(tuple(c for c in read.contract.columns if c.name in ("n_name", "orders"))))

    def segment_orders(segments):
        return segments.select("n_name", "orders")

    return type(name, (Job,), {"name": f"tests.check.{name}", "inputs": {"segments": read}, "outputs": {"orders": out},
                               "steps": lambda self, p: {"orders": step(segment_orders, "segments")}})


_SEGMENT = "demo.revenue_by_segment"
SegmentsSubset = _segments_reader(
    "segments_subset",
    Table(_SEGMENT, Contract((Column("n_name", "string", nullable=False), Column("orders", "bigint", nullable=False)))),
)
SegmentsMismatch = _segments_reader(
    "segments_mismatch",
    Table(_SEGMENT, Contract((Column("n_name", "string", nullable=False), Column("orders", "int", nullable=False)))),
)
SegmentsUnwritten = _segments_reader(
    "segments_unwritten",
    Table("tests_check.nobody_writes", Contract((Column("n_name", "string"), Column("orders", "bigint")))),
)


def test_a_subset_of_the_producers_columns_passes(spark):
    ok, text = _report(spark, SegmentsSubset.name)
    assert ok, text


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (
            SegmentsMismatch,
            "input demo.revenue_by_segment declares orders int NOT NULL, but job demo.daily_revenue writes orders bigint NOT NULL",
        ),
        (SegmentsUnwritten, "input tests_check.nobody_writes is written by no job and is not a declared source"),
    ],
)
def test_an_input_disagreeing_with_its_producer_names_both(spark, job, expected):
    ok, text = _report(spark, job.name)
    assert not ok
    assert f"FAIL {job.name}: step segments: {expected}" in text, text


def test_an_implicit_cast_is_reported_by_its_step_only(spark):
    # `lines` (l_shipmode compared with 5, and with a date) feeds `enriched` and the three
    # reports: their plans hold both casts too, as the subtree of their input, and must not
    # report them again.
    _, text = _report(spark, StringVsInteger.name)
    casts = [line for line in text.splitlines() if "implicit cast of l_shipmode" in line]
    assert [c.split(" [")[0] for c in casts] == [f"FAIL {StringVsInteger.name}: step lines"] * 2, text
    assert "to bigint" in casts[0] and "to date" in casts[1], text


def test_the_first_check_writes_a_class_archive_that_later_checks_map(tmp_path):
    env = {**os.environ, "PYSPARK_JOBS_VAR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("SPARK_CONF_DIR", None)
    first = subprocess.run([sys.executable, "-m", "common.cli", "check", "tpch.q01"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    (archive,) = (tmp_path / "cds").iterdir()  # whole: renamed only once its JVM had exited
    assert archive.name.startswith("check-") and archive.suffix == ".jsa"
    # A later check's JVM loads Spark's classes from it: the JVM's own class-loading log says so.
    log = tmp_path / "classes.log"
    code = ("from pyspark.sql import SparkSession\nfrom common.class_archive import ClassArchive\n"
            "from common.check import check_jobs\nimport pathlib, sys\n"
            "a = ClassArchive(pathlib.Path(sys.argv[1]))\n"
            "spark = SparkSession.builder.master('local[1]').config('spark.driver.extraJavaOptions', "
            "a.java_options() + ' -Xlog:class+load=info:file=' + sys.argv[2]).getOrCreate()\n"
            "sys.exit(0 if check_jobs(['tpch.q01'], spark=spark) else 1)\n")
    second = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cds"), str(log)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    analyzer = [line for line in log.read_text().splitlines() if "org.apache.spark.sql.catalyst.analysis.Analyzer " in line]
    assert analyzer and "shared objects file (top)" in analyzer[0], analyzer
