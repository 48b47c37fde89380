"""End to end: `airflow dags test` of the demonstration DAG runs a packaged branch, and two
branches' QA runs of it on the same ds land in two namespaces, each written by its own run only,
while production's partitions (locations and rows) stay as they were.

The run itself (branch A's `airflow dags test` overlapping branch B's local launcher run) is
the session's `demo_dag_run` fixture, made once by tests/dags/demo_dag_run.py and shared with
the tests that read its logs. Slow (minutes): deselect with `-m "not slow"`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.contracts import HIVE
from common.slug import branch_slug
from pyspark_jobs.demo.daily_revenue import DailyRevenue
from tests.dags.demo_dag_run import BRANCHES, CLUSTER_PYTHON, DS, OUTPUTS, namespace

FORMATS = {t.table: t.format for t in DailyRevenue.outputs.values()}  # each output's declared format
pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.cluster,
    pytest.mark.skipif(not Path(CLUSTER_PYTHON).exists(), reason=f"no cluster interpreter {CLUSTER_PYTHON}"),
]


def test_two_qa_branches_run_the_demo_dag_into_their_own_namespaces(spark, demo_dag_run):
    alpha, beta = BRANCHES
    assert demo_dag_run.ok, demo_dag_run.output[-6000:]
    assert f"--env qa --branch {alpha}" in demo_dag_run.output
    assert f"{branch_slug(alpha)}/main.py" in demo_dag_run.output
    assert "error" not in demo_dag_run.beta, demo_dag_run.beta.get("error")
    assert demo_dag_run.beta["returncode"] == 0

    before, after = demo_dag_run.before, demo_dag_run.after
    # production: every partition of the demo tables has the same version and rows as before
    production = {f"demo.{t}" for t in OUTPUTS}
    assert all(DS in before["partitions"][name] for name in production), "production had no partition to harm"
    for name in production:
        assert after["partitions"][name] == before["partitions"][name], f"a qa run changed production's {name}"
    # the only new databases are the two namespaces, created by the runs
    assert not {namespace(b) for b in BRANCHES} & before["databases"]
    assert after["databases"] - before["databases"] == {namespace(b) for b in BRANCHES}

    for branch, report in ((alpha, demo_dag_run.output), (beta, "\n".join(demo_dag_run.beta_log))):
        other = namespace(beta if branch == alpha else alpha)
        for table in OUTPUTS:
            name = f"{namespace(branch)}.{table}"
            (only_ds,) = after["partitions"][name]  # one partition: the run's own ds
            version, rows = after["partitions"][name][only_ds]
            assert only_ds == DS and rows, f"{name} has no rows for {DS}"
            # the table, and the version, sit under this branch's own qa prefix
            home = f"/{branch_slug(branch)}/demo/{table}"
            assert after["locations"][name].rstrip("/").endswith(home), after["locations"][name]
            if FORMATS[table] == HIVE:
                assert f"{home}/ds={DS}/run=" in version, version
            else:  # an Iceberg table's versions are snapshots of the table in its directory
                assert version.startswith(f"{name}@"), version
            # each run reports writing its own namespace's table, and nothing of the other's or production's
            assert re.search(rf"output {re.escape(name)} ds={DS}\s+rows=[1-9]", report), f"{branch} did not write {name}"
        assert other not in report and not re.search(r"output demo\.", report), f"{branch} wrote outside its namespace"
    a = after["partitions"][f"{namespace(alpha)}.revenue_by_segment"][DS][1]
    b = after["partitions"][f"{namespace(beta)}.revenue_by_segment"][DS][1]
    assert [r[:-1] for r in a] == [r[:-1] for r in b]  # same code, same input: same answer
