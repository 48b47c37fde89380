"""The operator inside a real Airflow 3 (`dag.test()` on SQLite, in a fresh interpreter), with the
yarn launcher and a stand-in spark-submit: the task runner resolves its extra links from the XCom
it pushed, and Airflow's own clear sets max_tries so that `cleared_after` names the cleared try.
About 30 seconds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.dags.conftest import APP, ARTIFACT, BRANCH, RM, run_in_airflow

DAG_FILE = '''
import json, os
from airflow.sdk import DAG
from pj_airflow.operator import SparkJobOperator

with DAG("pj_operator_in_airflow", schedule=None) as dag:
    SparkJobOperator(task_id="t", job="demo.daily_revenue", ds="1995-03-15", env="qa", branch=os.environ["T_BRANCH"],
                     artifact_branch=os.environ["T_BRANCH"], artifact_channel="x", artifact=os.environ["T_ARTIFACT"],
                     launcher="yarn", retries=2)

if __name__ == "__main__":
    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = dag.test()
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id).one()
        xcoms = {x.key: XComModel.deserialize_value(x)
                 for x in session.query(XComModel).filter_by(dag_id=dag.dag_id, run_id=run.run_id)}
        ran = {"state": str(ti.state), "try_number": ti.try_number, "max_tries": ti.max_tries}
        clear_task_instances([ti], session)
        print(json.dumps({"xcoms": xcoms, "ran": ran, "cleared_max_tries": ti.max_tries}))
'''


@pytest.mark.services
def test_the_links_resolve_in_airflow_and_a_clear_moves_max_tries_as_cleared_after_expects(yarn, tmp_path):
    yarn(0)
    found = run_in_airflow(tmp_path, DAG_FILE, T_BRANCH=BRANCH, T_ARTIFACT=ARTIFACT)

    assert found["ran"] == {"state": "success", "try_number": 1, "max_tries": 2}
    assert found["xcoms"]["_link_SparkUiLink"] == f"http://{RM}/cluster/app/{APP}"  # what the UI shows
    assert found["xcoms"]["_link_SparkLogsLink"] == ""  # a yarn run has no step log folder

    from pj_airflow.operator import SparkJobOperator

    op = SparkJobOperator(task_id="t", job="demo.daily_revenue", env="prod", artifact_branch="main",
                          artifact_channel="prod", retries=2)
    assert op.cleared_after(SimpleNamespace(max_tries=found["ran"]["max_tries"])) == 0
    assert op.cleared_after(SimpleNamespace(max_tries=found["cleared_max_tries"])) == 1  # cleared after try 1
