"""`pyspark-jobs new`: a generated job is green as generated (lint, check, its own test, a run
at SF0.01), in a copy of the repository; a refusal writes nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.helpers import mysql_connection, repository_copy

pytestmark = [pytest.mark.services, pytest.mark.slow]

DS = "1995-03-15"


def _in(repo, env, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=repo, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    target = tmp_path_factory.mktemp("scaffold") / "repo"
    return target, repository_copy(target)


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Sales.Report", "--inputs", "tpch.orders"], "error: 'Sales.Report' is not a job name: give domain.name"),
        (["demo.daily_revenue", "--inputs", "tpch.orders"], "error: job demo.daily_revenue exists"),
        (["sales.report", "--inputs", "tpch.no_such_table"], "error: no table tpch.no_such_table in the metastore"),
        (["sales.report", "--inputs", ","], "error: give --inputs db.table"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(repo, args, message):
    root, env = repo
    before = _tree(root)
    done = _in(root, env, sys.executable, "-m", "common.cli", "new", *args)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(message), last
    assert "Traceback" not in done.stderr
    assert _tree(root) == before
