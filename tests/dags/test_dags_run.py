"""End to end: `airflow dags test` of the demonstration DAG runs a packaged branch, and two
branches' QA runs of it on the same ds land in two namespaces.

The run itself (branch A's `airflow dags test` overlapping branch B's local launcher run) is
the session's `demo_dag_run` fixture, made once by tests/dags/demo_dag_run.py and shared with
the tests that read its logs. Slow (minutes): deselect with `-m "not slow"`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from common.slug import branch_slug
from tests.dags.demo_dag_run import BRANCHES, CLUSTER_PYTHON, DS, OUTPUTS, namespace

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

    for branch in BRANCHES:
        for table in OUTPUTS:
            rows = spark.table(f"{namespace(branch)}.{table}").where(f"ds = '{DS}'").collect()
            assert rows, f"{namespace(branch)}.{table} has no rows for {DS}"
    a = spark.table(f"{namespace(alpha)}.revenue_by_segment").where(f"ds = '{DS}'")
    b = spark.table(f"{namespace(beta)}.revenue_by_segment").where(f"ds = '{DS}'")
    assert sorted(a.collect()) == sorted(b.collect())  # same code, same input: same answer
