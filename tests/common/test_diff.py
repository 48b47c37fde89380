"""The data diff: tolerances and multisets on hand-built frames, then `pyspark-jobs diff` on
TPC-H outputs written by production and by qa branches, one of which changes a transform, and
`diff --all` choosing exactly the jobs a branch's QA run wrote."""

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
from common.job import Job, step
from common.registry import discover
from common.runner import RunConfig, run_job
from pyspark_jobs.tpch.tables import LINEITEM, NATION
from tests.helpers import D, drop_qa_databases, frame

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


def _nation_names(table: str) -> Table:
    return Table(
        f"{DB}.{table}",
        Contract(
            (
                Column("n_nationkey", "int", nullable=False),
                Column("n_name", "string", nullable=False),
                Column("ds", "string", nullable=False),
            ),
            partition_by=("ds",),
            primary_key=("n_nationkey",),
        ),
    )


def nation_names(nation):  # noqa: ANN001, ANN201
    return nation.select("n_nationkey", "n_name")


class _NationNames(Job):
    name = "tests.diff_nation_names"
    inputs = {"nation": NATION}
    outputs = {"names": _nation_names("nation_names")}

    def steps(self, p):  # noqa: ANN001, ANN201
        return {"names": step(nation_names, "nation")}


class _Unreleased(_NationNames):
    """A job a branch adds: production has never written it."""

    name = "tests.diff_unreleased"
    outputs = {"names": _nation_names("unreleased")}


SUFFIX = DB[-8:]
SAME, CHANGED, NEW = f"pj-diff-same-{SUFFIX}", f"feature/pj-diff-band-{SUFFIX}", f"pj-diff-new-{SUFFIX}"
# What each side's run wrote for DS: production, and each branch's QA run.
WRITES = {
    None: [_DiscountBands, _NationNames],
    SAME: [_DiscountBands],
    CHANGED: [_DiscountBands, _NationNames],
    NEW: [_NationNames, _Unreleased],
}


@pytest.fixture(scope="module")
def written(spark):
    """Production's outputs, an unchanged branch's, a branch whose high band starts at 0.05 and
    a branch that adds a job production has not run."""
    try:
        for branch, jobs in WRITES.items():
            HIGH["edge"] = D("0.05") if branch == CHANGED else D("0.06")
            for job in jobs:
                env = "qa" if branch else "local"
                run_job(RunConfig(job=job.name, ds=DS, env=env, branch=branch, count_inputs=False), spark)
        yield
    finally:
        HIGH["edge"] = D("0.06")
        for branch in (SAME, CHANGED, NEW):
            drop_qa_databases(spark, branch)
        spark.sql(f"DROP DATABASE IF EXISTS {DB} CASCADE")


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


def _not_run(*ran: type[Job]) -> list[str]:
    """Every registered job but the ones a branch's QA run wrote, by name."""
    return sorted(set(discover()) - {job.name for job in ran})


@pytest.mark.services
def test_all_diffs_exactly_the_jobs_the_branch_wrote_and_stores_them(spark, written, capsys, tmp_path):
    argv = ["diff", "--all", "--ds", DS, "--branch", CHANGED, "--out-dir", str(tmp_path), "--format", "json"]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert err == ""
    document = json.loads(out)  # several jobs on stdout are one JSON document
    assert json.loads((tmp_path / "summary.json").read_text()) == document
    assert document["equal"] is False and document["errors"] == {}
    # by name: tests.diff_nation_names, then tests.discount_bands
    assert [(j["job"], j["equal"]) for j in document["jobs"]] == [(_NationNames.name, True), (_DiscountBands.name, False)]
    assert [t["table"] for t in document["jobs"][1]["tables"]] == [LINE_BANDS.name, BAND_COUNTS.name]
    assert document["not_run"] == _not_run(_DiscountBands, _NationNames)
    assert {"tpch.q01", "tpch.q01_sql", _Unreleased.name} <= set(document["not_run"])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"{_DiscountBands.name}.json", f"{_DiscountBands.name}.md", f"{_NationNames.name}.json",
         f"{_NationNames.name}.md", "summary.json", "summary.md"]
    )
    assert json.loads((tmp_path / f"{_NationNames.name}.json").read_text())["equal"] is True

    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith(f"## diff ds={DS}: branch {CHANGED} against prod: **differs**")
    assert f"| `{_DiscountBands.name}` | DIFFERENT |" in summary
    assert f"| `{_NationNames.name}` | identical |" in summary
    assert "Not run by the branch" in summary and "`tpch.q01_sql`" in summary
    assert f"#### `{LINE_BANDS.name}` — DIFFERENT" in summary and "| `discount_band` | string |" in summary


@pytest.mark.services
def test_all_on_an_unchanged_branch_is_identical_and_lists_what_it_did_not_run(spark, written, capsys):
    assert main(["diff", "--all", "--ds", DS, "--branch", SAME]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    first = out.splitlines()[0]
    assert first.startswith(f"diff ds={DS}: branch {SAME} against prod: identical (0 different, 1 identical, ")
    not_run = next(line for line in out.splitlines() if line.startswith("not run by the branch"))
    assert not_run.endswith(": " + ", ".join(_not_run(_DiscountBands)))


@pytest.mark.services
def test_all_narrowed_to_the_changed_jobs_diffs_only_those_and_lists_the_others_as_unchanged(spark, written):
    from common.diff_jobs import diff_branch
    from common.diff_render import render_summary_markdown

    result = diff_branch(ds=DS, branch=CHANGED, changed=[_DiscountBands.name, "tpch.q01"], spark=spark)
    assert [d.job for d in result.diffs] == [_DiscountBands.name]  # q01 changed but not run: not diffed
    assert result.unchanged == [_NationNames.name] and result.status == 1
    assert "tpch.q01" in result.not_run
    assert f"Unchanged by the branch (not diffed): `{_NationNames.name}`." in render_summary_markdown(result)


def test_changed_narrows_all_only(capsys):
    assert main(["diff", _DiscountBands.name, "--changed", "--ds", DS, "--branch", SAME]) == 2
    assert capsys.readouterr().err.strip() == "error: diff --changed narrows --all: give --all, not job names"


@pytest.mark.services
def test_all_reports_a_job_it_cannot_diff_as_that_jobs_error_and_diffs_the_others(spark, written, capsys, tmp_path):
    assert main(["diff", "--all", "--ds", DS, "--branch", NEW, "--out-dir", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"error: {_Unreleased.name}: production has no table {DB}.unreleased: "
        f"run `pyspark-jobs run {_Unreleased.name} --ds {DS} --env prod` first"
    ]
    document = json.loads((tmp_path / "summary.json").read_text())
    assert [(j["job"], j["equal"]) for j in document["jobs"]] == [(_NationNames.name, True)]
    assert list(document["errors"]) == [_Unreleased.name] and document["equal"] is False
    assert f"| `{_Unreleased.name}` | error: production has no table {DB}.unreleased" in (tmp_path / "summary.md").read_text()


@pytest.mark.services
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all", "--branch", "pj-no-such-branch"],
         f"branch 'pj-no-such-branch' wrote no job's outputs for ds={DS} (nothing in qa_pj_no_such_branch__"),
        (["--all", "--branch", SAME, "--ds", "1993-03-02"], f"branch '{SAME}' wrote no job's outputs for ds=1993-03-02 "),
        (["--all", _DiscountBands.name, "--branch", SAME], "diff takes JOB [JOB ...] or --all, not both and not neither"),
        (["--all", "--branch", SAME, "--against", SAME], f"--against {SAME} is the branch itself: "),
    ],
)
def test_all_with_nothing_to_diff_is_one_line_naming_it(spark, written, capsys, args, message):
    argv = ["diff", "--ds", DS, *args]  # a later --ds wins
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1, err


@pytest.mark.services
def test_several_named_jobs_are_one_document_without_a_not_run_list(spark, written, capsys):
    argv = ["diff", _NationNames.name, _DiscountBands.name, "--ds", DS, "--branch", CHANGED, "--format", "markdown"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"## diff ds={DS}: branch {CHANGED} against prod: **differs**\n\n1 different, 1 identical.\n")
    assert "Not run by the branch" not in out
    assert out.count("\n### diff ") == 2
