"""The parity diff (common.diff's engine with parity's key and cent): on frames with known
differences, and on a deliberately altered TPC-H job."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from common.contracts import Table
from common.diff import Tolerance, diff_frames
from common.job import step
from common.parity import parity_report, render_parity
from common.runner import RunConfig, run_job
from pyspark_jobs.tpch.q03 import Q03, RESULT
from tests.helpers import frame

SCHEMA = "k int, name string, amount double"


def test_equal_frames_are_equal_within_tolerance(spark):
    left = frame(spark, SCHEMA, [(1, "a", 1.0), (2, "b", 2.0)])
    right = frame(spark, SCHEMA, [(2, "b", 2.001), (1, "a", 1.0)])
    report = diff_frames(left, right, key=("k",), tolerance=Tolerance(absolute=0.01))
    assert report.equal, render_parity(report)


def test_every_kind_of_difference_is_reported(spark):
    left = frame(spark, SCHEMA, [(1, "a", 1.0), (2, "b", 2.0), (3, "c", 3.0)])
    right = frame(spark, SCHEMA, [(1, "a", 1.5), (2, "B", 2.0), (4, "d", 4.0)])
    report = diff_frames(left, right, key=("k",), tolerance=Tolerance(absolute=0.01), names=("legacy", "new"))
    assert not report.equal
    assert (report.left_rows, report.right_rows) == (3, 3)
    assert (report.only_left_examples, report.only_right_examples) == ([{"key": {"k": 3}}], [{"key": {"k": 4}}])
    assert {c: (d.differing, d.examples) for c, d in report.columns.items()} == {
        "name": (1, [{"key": {"k": 2}, "left": "b", "right": "B"}]),
        "amount": (1, [{"key": {"k": 1}, "left": 1.0, "right": 1.5}]),
    }
    text = render_parity(report)
    assert "key(s) only in legacy, e.g. (k=3)" in text and "(k=1): 1.0 -> 1.5" in text


def _bump_first(df, *, key: int):
    """The deliberate mistake: one order's revenue off by 100."""
    bumped = F.when(F.col("l_orderkey") == key, F.col("revenue") + F.lit(100)).otherwise(F.col("revenue"))
    return df.withColumn("revenue", bumped.cast("decimal(38,4)"))


class _AlteredQ03(Q03):
    name = "tests.q03_altered"
    outputs = {"q03": Table("pj_parity.q03", RESULT)}

    def steps(self, p):
        steps = dict(super().steps(p))
        steps["q03_true"] = steps.pop("q03")
        steps["q03"] = step(_bump_first, "q03_true", key=self.key)
        return steps

    key = 0


@pytest.mark.services
def test_parity_names_the_rows_an_altered_job_gets_wrong(spark):
    ds = "1998-12-01"
    run_job(RunConfig(job="tpch.q03_sql", ds=ds, count_inputs=False), spark)
    first = spark.table("tpch_legacy.q03").filter(F.col("ds") == ds).orderBy(F.col("revenue").desc()).first()
    _AlteredQ03.key = int(first["l_orderkey"])
    try:
        run_job(RunConfig(job="tests.q03_altered", ds=ds, count_inputs=False), spark)
        report = parity_report("tpch.q03_sql", "tests.q03_altered", ds=ds, spark=spark)
    finally:
        spark.sql("DROP DATABASE IF EXISTS pj_parity CASCADE")
    assert not report.equal
    assert report.only_left == report.only_right == 0
    assert list(report.columns) == ["revenue"]
    revenue = report.columns["revenue"]
    assert revenue.differing == 1 and revenue.examples[0]["key"]["l_orderkey"] == first["l_orderkey"]
    assert revenue.examples[0]["right"] - revenue.examples[0]["left"] == 100
    assert f"l_orderkey={first['l_orderkey']}" in render_parity(report)
