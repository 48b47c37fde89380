"""job_tasks inside a DAG: inferred edges, edges by hand, cycles refused."""

from __future__ import annotations

import pytest

pytest.importorskip("airflow.sdk")
from airflow.sdk import DAG

from pj_airflow import DependencyCycleError, DependencyError, Deployment, job_tasks

LOCAL = Deployment(name="local", branch="main")


def test_edges_set_by_hand_join_the_inferred_ones():
    with DAG("t_hand"):
        tasks = job_tasks(["tpch.q01", "tpch.q02", "demo.daily_revenue"], deployment=LOCAL,
                          dependencies={"demo.daily_revenue": ["tpch.q01", "tpch.q02"]})
    assert tasks["demo.daily_revenue"].upstream_task_ids == {"tpch.q01", "tpch.q02"}
    assert tasks["tpch.q01"].env == "local" and tasks["tpch.q01"].default_launcher == "local"


def test_a_cycle_set_by_hand_is_a_clear_error():
    with DAG("t_cycle"), pytest.raises(DependencyCycleError, match="cycle"):
        job_tasks(["tpch.q01", "tpch.q02"], deployment=LOCAL,
                  dependencies={"tpch.q01": ["tpch.q02"], "tpch.q02": ["tpch.q01"]})


def test_a_dependency_on_a_job_outside_the_dag_is_refused():
    with DAG("t_outside"), pytest.raises(DependencyError, match="not a job of this DAG"):
        job_tasks(["tpch.q01"], deployment=LOCAL, dependencies={"tpch.q01": ["tpch.q02"]})


def test_an_unknown_job_name_is_refused_with_a_suggestion():
    from common.errors import UnknownJobError

    with DAG("t_unknown"), pytest.raises(UnknownJobError, match="did you mean"):
        job_tasks(["tpch.q1"], deployment=LOCAL)
