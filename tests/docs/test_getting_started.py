"""docs/GETTING-STARTED.md, run as written: every ```sh block, in order, in one bash session,
in a copy of the repository (so the job the guide creates never lands in this one), against
the suite's services and data. A command that stops working fails this test, so the guide
cannot rot."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT
from tests.helpers import repository_copy

pytestmark = [pytest.mark.services, pytest.mark.slow]

GUIDE = ROOT / "docs" / "GETTING-STARTED.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
JOB, BRANCH = "sales.customer_revenue", "my-first-job"


def _blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text())


def _drop_outputs(spark):
    from common.environments import Environment

    for database in ("sales", f"{Environment('qa', BRANCH).qa_prefix}sales"):
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


def test_the_guide_has_commands_for_every_step():
    text = "\n".join(_blocks())
    for command in ("make data", f"pyspark-jobs new {JOB}", "pyspark-jobs contracts import", "pytest",
                    "pyspark-jobs check", f"pyspark-jobs run {JOB}", "--source trino", "--env qa"):
        assert command in text, f"the guide has no command {command!r}"


def test_the_guide_runs_as_written(spark, tmp_path):
    repo = tmp_path / "repo"
    env = repository_copy(repo)
    script = "set -euxo pipefail\n" + "\n".join(_blocks())  # -x: the log shows each command as it runs
    _drop_outputs(spark)
    try:
        done = subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=1800, check=False)
        assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        # What the guide says its commands did, checked here.
        assert (repo / "pyspark_jobs" / "sales" / "customer_revenue.py").is_file()
        assert not (ROOT / "pyspark_jobs" / "sales").exists()
        for table in ("sales.customer_revenue",):
            spark.catalog.refreshTable(table)
            assert spark.table(table).where("ds = '1995-03-15'").count() > 0
        # Section 8's backfill: a week, each day its own partition.
        days = spark.table("sales.customer_revenue").where("ds between '1995-03-01' and '1995-03-07'")
        assert sorted(r.ds for r in days.select("ds").distinct().collect()) == [f"1995-03-0{d}" for d in range(1, 8)]
    finally:
        _drop_outputs(spark)
