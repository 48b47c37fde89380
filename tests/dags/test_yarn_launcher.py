"""The yarn launcher's extra link, with a stand-in spark-submit that prints what spark-submit
prints on YARN: the task's "Spark UI" link is the application's ResourceManager page, on success
and on failure. (The real run on the local YARN is tests/production/test_emr_step_on_yarn.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException

from common.slug import branch_slug
from pj_airflow.links import LINKS_KEY
from pj_airflow.operator import SparkJobOperator
from tests.dags.conftest import APP, ARTIFACT, BRANCH, RM


def run(ti: SimpleNamespace) -> dict:
    op = SparkJobOperator(task_id="demo.daily_revenue", job="demo.daily_revenue", ds="1995-03-15", env="qa",
                          branch=BRANCH, artifact_branch=BRANCH, artifact_channel=branch_slug(BRANCH),
                          artifact=ARTIFACT, launcher="yarn")
    return op.execute({"ti": ti})


def task_instance() -> SimpleNamespace:
    pushed: dict = {}
    return SimpleNamespace(dag_id="d", task_id="demo.daily_revenue", run_id="r", map_index=-1, try_number=1,
                           max_tries=0, xcom=pushed, xcom_push=lambda key, value: pushed.__setitem__(key, value))


@pytest.mark.services
def test_a_yarn_run_links_to_its_application_on_the_resourcemanager(yarn):
    yarn(0)
    ti = task_instance()
    assert run(ti)["application_id"] == APP
    assert ti.xcom[LINKS_KEY] == {"spark_ui": f"http://{RM}/cluster/app/{APP}"}


@pytest.mark.services
def test_a_failed_yarn_run_still_gets_its_link(yarn):
    yarn(1)
    ti = task_instance()
    with pytest.raises(AirflowException, match=rf"^YARN application {APP} of demo.daily_revenue failed"):
        run(ti)
    assert ti.xcom[LINKS_KEY] == {"spark_ui": f"http://{RM}/cluster/app/{APP}"}
