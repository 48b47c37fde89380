"""The data diff: tolerances and multisets on hand-built frames, then `pyspark-jobs diff` on
TPC-H outputs written by production and by two qa branches, one of which changes a transform."""

from __future__ import annotations

import json
import uuid

import pytest
from pyspark.sql import functions as F

from common.cli import main
from common.contracts import Column, Contract, Table
from common.diff import Tolerance, diff_frames
from common.diff_jobs import diff_job
from common.diff_render import render_markdown, render_text
from common.environments import Environment
from common.job import Job, step
from common.runner import RunConfig, run_job
from pyspark_jobs.tpch.tables import LINEITEM
from tests.helpers import D, frame

MONEY = "k int, amount decimal(15,2)"


def _only_column(report):
    assert set(report.columns) <= {"amount"}
    return report.columns.get("amount")


def test_money_one_cent_apart_is_within_tolerance_two_cents_is_not(spark):
    prod = frame(spark, MONEY, [(1, D("10.00")), (2, D("10.00")), (3, D("-5.00"))])
    one_cent = frame(spark, MONEY, [(1, D("10.01")), (2, D("9.99")), (3, D("-5.01"))])
    two_cents = frame(spark, MONEY, [(1, D("10.02")), (2, D("10.00")), (3, D("-5.00"))])
    assert diff_frames(prod, one_cent, key=("k",)).equal
    report = diff_frames(prod, two_cents, key=("k",), names=("prod", "branch"))
    amount = _only_column(report)
    assert (amount.differing, amount.rate) == (1, pytest.approx(1 / 3))
    assert amount.examples == [{"key": {"k": 1}, "left": D("10.00"), "right": D("10.02")}]


def test_decimal_tolerance_is_one_unit_of_its_own_scale(spark):
    schema = "k int, amount decimal(38,4)"
    prod = frame(spark, schema, [(1, D("1.0000"))])
    assert diff_frames(prod, frame(spark, schema, [(1, D("1.0001"))]), key=("k",)).equal
    assert not diff_frames(prod, frame(spark, schema, [(1, D("1.0002"))]), key=("k",)).equal


def test_doubles_are_relative_integers_exact_nulls_are_values(spark):
    schema = "k int, x double, n bigint, s string"
    prod = frame(spark, schema, [(1, 1e12, 5, "a"), (2, 1.0, 5, None), (3, None, None, "c"), (4, float("nan"), 1, "d")])
    branch = frame(
        spark, schema, [(1, 1e12 + 1e-3, 6, "a"), (2, 1.0 + 1e-6, 5, "b"), (3, None, None, "c"), (4, 0.0, 1, "d")]
    )
    report = diff_frames(prod, branch, key=("k",))
    # 1e-3 on 1e12 is 1e-15 relative: equal; 1e-6 on 1.0 is not; NaN differs from 0.0
    assert {c: [e["key"]["k"] for e in d.examples] for c, d in report.columns.items()} == {
        "x": [2, 4],
        "n": [1],
        "s": [2],
    }
    loose = diff_frames(prod, branch, key=("k",), tolerance=Tolerance(relative=1e-3))
    assert [e["key"]["k"] for e in loose.columns["x"].examples] == [4]


def test_keys_on_one_side_and_schema_differences_are_reported(spark):
    prod = frame(spark, "k int, a string, gone int", [(1, "x", 0), (2, "y", 0)])
    branch = frame(spark, "k int, a string, added int", [(2, "y", 0), (3, "z", 0)])
    report = diff_frames(prod, branch, key=("k",), names=("prod", "branch"))
    assert (report.only_left, report.only_right) == (1, 1)
    assert report.only_left_examples == [{"key": {"k": 1}}] and report.only_right_examples == [{"key": {"k": 3}}]
    assert report.schema == ["column gone only in prod (int)", "column added only in branch (int)"]
    assert not report.equal and not report.columns


def test_tables_without_a_key_are_compared_as_multisets(spark):
    schema = "band string, lines bigint"
    prod = frame(spark, schema, [("a", 1), ("a", 1), ("b", 2), (None, 3)])
    branch = frame(spark, schema, [("a", 1), ("b", 2), ("b", 2), ("c", 4), (None, 3)])
    report = diff_frames(prod, branch, names=("prod", "branch"))
    assert not report.keyed and not report.equal
    assert (report.left_rows, report.right_rows, report.only_left, report.only_right) == (4, 5, 1, 2)
    assert report.only_left_examples == [{"row": {"band": "a", "lines": 1}, "left": 2, "right": 1}]
    assert report.only_right_examples == [
        {"row": {"band": "b", "lines": 2}, "left": 1, "right": 2},
        {"row": {"band": "c", "lines": 4}, "left": 0, "right": 1},
    ]
    assert "compared as multisets" in render_text([report], title="t")
    shuffled = frame(spark, schema, [(None, 3), ("b", 2), ("a", 1), ("a", 1)])
    assert diff_frames(prod, shuffled).equal


# A TPC-H-shaped job whose branch changes one transform: the discount band's upper edge.
DB = f"pj_diff_{uuid.uuid4().hex[:8]}"
DS = "1993-03-01"
HIGH = {"edge": D("0.06")}  # production's edge; the changed branch moves it to 0.05
LINE_BANDS = Table(
    f"{DB}.line_bands",
    Contract(
        (
            Column("l_orderkey", "bigint", nullable=False),
            Column("l_linenumber", "int", nullable=False),
            Column("discount_band", "string", nullable=False),
            Column("net", "decimal(15,2)", nullable=False),
            Column("ds", "string", nullable=False),
        ),
        partition_by=("ds",),
        primary_key=("l_orderkey", "l_linenumber"),
    ),
)
BAND_COUNTS = Table(
    f"{DB}.band_counts",
    Contract(
        (Column("discount_band", "string"), Column("lines", "bigint"), Column("ds", "string", nullable=False)),
        partition_by=("ds",),
    ),
)


def line_bands(lineitem, *, ds):  # noqa: ANN001, ANN201
    band = (
        F.when(F.col("l_discount") >= F.lit(HIGH["edge"]), "high")
        .when(F.col("l_discount") >= F.lit(D("0.03")), "mid")
        .otherwise("low")
    )
    net = (F.col("l_extendedprice") * (F.lit(1) - F.col("l_discount"))).cast("decimal(15,2)")
    return lineitem.filter(F.col("l_shipdate") < F.to_date(F.lit(ds))).select(
        "l_orderkey", "l_linenumber", band.alias("discount_band"), net.alias("net")
    )


def band_counts(bands):  # noqa: ANN001, ANN201
    return bands.groupBy("discount_band").agg(F.count(F.lit(1)).alias("lines"))


class _DiscountBands(Job):
    name = "tests.discount_bands"
    inputs = {"lineitem": LINEITEM}
    outputs = {"line_bands": LINE_BANDS, "band_counts": BAND_COUNTS}

    def steps(self, p):  # noqa: ANN001, ANN201
        return {"line_bands": step(line_bands, "lineitem", ds=p.ds), "band_counts": step(band_counts, "line_bands")}


SAME, CHANGED = f"pj-diff-same-{DB[-8:]}", f"feature/pj-diff-band-{DB[-8:]}"


@pytest.fixture(scope="module")
def written(spark):
    """Production's outputs, an unchanged branch's and a branch whose high band starts at 0.05."""
    try:
        run_job(RunConfig(job=_DiscountBands.name, ds=DS, count_inputs=False), spark)
        run_job(RunConfig(job=_DiscountBands.name, ds=DS, env="qa", branch=SAME, count_inputs=False), spark)
        HIGH["edge"] = D("0.05")
        run_job(RunConfig(job=_DiscountBands.name, ds=DS, env="qa", branch=CHANGED, count_inputs=False), spark)
        yield
    finally:
        HIGH["edge"] = D("0.06")
        for branch in (None, SAME, CHANGED):
            database = Environment("qa", branch).qa_prefix + DB if branch else DB
            spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


@pytest.mark.services
def test_a_branch_that_changes_the_discount_band_names_the_column_rate_and_keys(spark, written):
    lines = spark.table("tpch.lineitem").filter(F.col("l_shipdate") < F.to_date(F.lit(DS)))
    moved = lines.filter(F.col("l_discount") == D("0.05"))  # exactly the lines whose band changes
    total, changed = lines.count(), moved.count()
    first = [
        (r["l_orderkey"], r["l_linenumber"]) for r in moved.orderBy("l_orderkey", "l_linenumber").limit(3).collect()
    ]
    assert 0 < changed < total

    result = diff_job(_DiscountBands.name, ds=DS, branch=CHANGED, examples=3, spark=spark)
    assert not result.equal
    bands, counts = result.reports
    assert bands.table == LINE_BANDS.name and (bands.left_rows, bands.right_rows) == (total, total)
    assert (bands.only_left, bands.only_right) == (0, 0)
    assert list(bands.columns) == ["discount_band"]
    band = bands.columns["discount_band"]
    assert (band.differing, band.rate) == (changed, pytest.approx(changed / total))
    assert [(e["key"]["l_orderkey"], e["key"]["l_linenumber"]) for e in band.examples] == first
    assert {(e["left"], e["right"]) for e in band.examples} == {("mid", "high")}
    # band_counts has no key: two rows (high, mid) changed their counts on each side
    assert not counts.keyed and (counts.only_left, counts.only_right) == (2, 2)

    markdown = render_markdown(result.reports, title=result.title)
    assert "| `discount_band` | string |" in markdown and f"{changed / total:.2%}" in markdown
    assert f"l_orderkey={first[0][0]}, l_linenumber={first[0][1]}" in markdown


@pytest.mark.services
def test_an_unchanged_branch_is_identical_and_exit_codes_say_so(spark, written, capsys):
    assert diff_job(_DiscountBands.name, ds=DS, branch=SAME, spark=spark).equal
    assert main(["diff", _DiscountBands.name, "--ds", DS, "--branch", SAME]) == 0
    assert "identical" in capsys.readouterr().out
    assert (
        main(["diff", _DiscountBands.name, "--ds", DS, "--branch", CHANGED, "--against", SAME, "--format", "json"]) == 1
    )
    document = json.loads(capsys.readouterr().out)
    assert document["equal"] is False
    assert [t["table"] for t in document["tables"]] == [LINE_BANDS.name, BAND_COUNTS.name]
    assert document["tables"][0]["left"] == f"branch {SAME}"


@pytest.mark.services
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--branch", "pj-no-such-branch"], "branch 'pj-no-such-branch' has no outputs in qa_pj_no_such_branch__"),
        (["--branch", SAME, "--ds", "1993-03-02"], f"branch '{SAME}' has no data for ds=1993-03-02 in "),
        (["--branch", SAME, "--against", "pj-gone"], "branch 'pj-gone' has no outputs in "),
    ],
)
def test_a_missing_side_is_one_line_naming_it_and_the_fix(spark, written, capsys, args, message):
    argv = ["diff", _DiscountBands.name, "--ds", DS, *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}") and "run `pyspark-jobs run tests.discount_bands" in err, err
    assert len(err.splitlines()) == 1
