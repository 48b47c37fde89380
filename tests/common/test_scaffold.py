"""`pyspark-jobs new`: a generated job is green as generated (lint, check, its own test, a run
at SF0.01), in a copy of the repository, also from a legacy query with its SqlJob twin; a
refusal writes nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.helpers import mysql_connection, repository_copy

pytestmark = [pytest.mark.services, pytest.mark.slow]

DS = "1995-03-15"
# A legacy query as a SparkSqlOperator task ran it: tables named db.table, the run date templated.
LEGACY_SQL = """-- Orders placed before the run date, by priority, with the quantity still to ship.
SELECT o_orderpriority, count(*) AS order_count, sum(l_quantity) AS quantity
FROM tpch.orders
JOIN tpch.lineitem ON l_orderkey = o_orderkey
WHERE o_orderdate < DATE '{{ ds }}' AND l_shipdate >= DATE '{{ ds }}'
GROUP BY o_orderpriority
"""


def _in(repo, env, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=repo, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    target = tmp_path_factory.mktemp("scaffold") / "repo"
    return target, repository_copy(target)


@pytest.fixture(scope="module")
def sql_files(tmp_path_factory):
    """Query files outside the repository copy, whose tree the refusals must leave unchanged."""
    folder = tmp_path_factory.mktemp("sql")
    (folder / "priorities.sql").write_text(LEGACY_SQL)
    (folder / "insert.sql").write_text("INSERT OVERWRITE TABLE sales.report SELECT * FROM tpch.orders\n")
    return folder


def _tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if ".venv" not in p.parts and "__pycache__" not in p.parts}


def test_a_generated_job_passes_lint_check_its_test_and_a_run(spark, repo):
    root, env = repo
    made = _in(root, env, sys.executable, "-m", "common.cli", "new", "scaffolded.order_copy",
               "--inputs", "tpch.orders,tpch.customer")
    assert made.returncode == 0, made.stderr[-2000:]
    written = ["pyspark_jobs/scaffolded/order_copy.py", "pyspark_jobs/scaffolded/transforms/order_copy.py",
               "tests/pyspark_jobs/scaffolded/test_order_copy.py"]
    assert all(f"wrote {path}" in made.stdout for path in written), made.stdout
    assert not (ROOT / "pyspark_jobs" / "scaffolded").exists()
    try:
        for step in (
            [str(ROOT / ".venv" / "bin" / "ruff"), "check", "pyspark_jobs/scaffolded", "tests/pyspark_jobs/scaffolded"],
            [sys.executable, "-m", "common.cli", "check", "scaffolded.order_copy"],
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/pyspark_jobs/scaffolded"],
            [sys.executable, "-m", "common.cli", "run", "scaffolded.order_copy", "--ds", DS],
        ):
            done = _in(root, env, *step)
            assert done.returncode == 0, f"{' '.join(step[-3:])}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        # The generated job starts as a copy of its first input, partitioned by ds.
        spark.catalog.refreshTable("scaffolded.order_copy")
        assert spark.table("scaffolded.order_copy").where(f"ds = '{DS}'").count() == spark.table("tpch.orders").count()
        assert "TODO:" in (root / written[0]).read_text() and "TODO:" in (root / written[1]).read_text()
    finally:
        spark.sql("DROP DATABASE IF EXISTS scaffolded CASCADE")


def test_an_input_no_job_declares_gets_its_contract_from_the_live_schema(spark, repo):
    root, env = repo
    conn = mysql_connection()
    with conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS pj_scaffold")
        cur.execute("CREATE DATABASE pj_scaffold")
        cur.execute("CREATE TABLE pj_scaffold.items (item_id INT NOT NULL, label VARCHAR(20), PRIMARY KEY (item_id))")
        try:
            made = _in(root, env, sys.executable, "-m", "common.cli", "new", "scaffolded.item_list",
                       "--inputs", "pj_scaffold.items")
        finally:
            cur.execute("DROP DATABASE IF EXISTS pj_scaffold")
    assert made.returncode == 0, made.stderr[-2000:]
    code = (root / "pyspark_jobs" / "scaffolded" / "item_list.py").read_text()
    assert 'Column("item_id", "int", nullable=False),\n            Column("label", "string"),' in code
    assert 'primary_key=("item_id",)' in code and "store=MYSQL" in code
    linted = _in(root, env, str(ROOT / ".venv" / "bin" / "ruff"), "check", "pyspark_jobs/scaffolded/item_list.py",
                 "pyspark_jobs/scaffolded/transforms/item_list.py", "tests/pyspark_jobs/scaffolded/test_item_list.py")
    assert linted.returncode == 0, linted.stdout[-2000:]


def test_a_job_from_a_legacy_query_and_its_sql_twin_pass_lint_check_their_test_and_runs(spark, repo, sql_files):
    root, env = repo
    made = _in(root, env, sys.executable, "-m", "common.cli", "new", "scaffolded.priorities",
               "--from-sql", str(sql_files / "priorities.sql"))
    assert made.returncode == 0, made.stderr[-2000:]
    written = ["pyspark_jobs/scaffolded/priorities.py", "pyspark_jobs/scaffolded/transforms/priorities.py",
               "pyspark_jobs/scaffolded/sql/priorities.sql", "tests/pyspark_jobs/scaffolded/test_priorities.py"]
    assert all(f"wrote {path}" in made.stdout for path in written), made.stdout
    assert "FROM orders\nJOIN lineitem" in (root / written[2]).read_text()  # the tables read as the job's views
    # The output contract is the query's, analysed: count(*) is a NOT NULL bigint, sum(decimal(15,2)) widens.
    code = (root / written[0]).read_text()
    assert 'Column("order_count", "bigint", nullable=False),\n            Column("quantity", "decimal(25,2)"),' in code
    # The test pins the legacy answer on the example rows: only the second order (placed on
    # 03-14, its line shipped on the run date 03-15) is kept.
    assert '[\n        ("b", 1, D("2.00")),\n    ]' in (root / written[3]).read_text()
    try:
        for step in (
            [str(ROOT / ".venv" / "bin" / "ruff"), "check", "pyspark_jobs/scaffolded", "tests/pyspark_jobs/scaffolded"],
            [sys.executable, "-m", "common.cli", "check", "scaffolded.priorities", "scaffolded.priorities_sql"],
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/pyspark_jobs/scaffolded/test_priorities.py"],
            [sys.executable, "-m", "common.cli", "run", "scaffolded.priorities", "--ds", DS],
            [sys.executable, "-m", "common.cli", "run", "scaffolded.priorities_sql", "--ds", DS],
        ):
            done = _in(root, env, *step)
            assert done.returncode == 0, f"{' '.join(step[-3:])}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        for table in ("scaffolded.priorities", "scaffolded_legacy.priorities"):
            spark.catalog.refreshTable(table)
        job = spark.table("scaffolded.priorities").where(f"ds = '{DS}'").drop("ds")
        twin = spark.table("scaffolded_legacy.priorities").where(f"ds = '{DS}'").drop("ds")
        # TPC-H has five order priorities; the lines counted, straight from the lake tables:
        lines = spark.sql(f"SELECT count(*) FROM tpch.lineitem l JOIN tpch.orders o ON l.l_orderkey = o.o_orderkey "
                          f"WHERE o.o_orderdate < DATE '{DS}' AND l.l_shipdate >= DATE '{DS}'").first()[0]
        assert job.count() == 5 and job.agg({"order_count": "sum"}).first()[0] == lines > 0
        assert job.exceptAll(twin).count() == twin.exceptAll(job).count() == 0
    finally:
        spark.sql("DROP DATABASE IF EXISTS scaffolded CASCADE")
        spark.sql("DROP DATABASE IF EXISTS scaffolded_legacy CASCADE")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Sales.Report", "--inputs", "tpch.orders"], "error: 'Sales.Report' is not a job name: give domain.name"),
        (["demo.daily_revenue", "--inputs", "tpch.orders"], "error: job demo.daily_revenue exists"),
        (["sales.report", "--inputs", "tpch.no_such_table"], "error: no table tpch.no_such_table in the metastore"),
        (["sales.report", "--inputs", ","], "error: give --inputs db.table"),
        (["sales.report"], "error: give --inputs db.table"),
        (["sales.report", "--from-sql", "{sql}/no_such.sql"], "error: --from-sql {sql}/no_such.sql: no such file"),
        (["sales.report", "--from-sql", "{sql}/insert.sql"],
         "error: --from-sql {sql}/insert.sql:1: Spark cannot parse the SQL as one query"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(repo, sql_files, args, message):
    root, env = repo
    before = _tree(root)
    args, message = [a.format(sql=sql_files) for a in args], message.format(sql=sql_files)
    done = _in(root, env, sys.executable, "-m", "common.cli", "new", *args)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(message), last
    assert "Traceback" not in done.stderr
    assert _tree(root) == before
