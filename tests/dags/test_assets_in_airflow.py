"""Output tables as Airflow Assets inside a real Airflow 3 (`dag.test()` on SQLite, in a fresh
interpreter, the yarn stand-in of conftest): a qa run of demo.daily_revenue records one asset
event per table it writes, in the branch's namespace and naming the day, and the scheduler's own
code then creates the asset-triggered run of the DAG scheduled on them. About 30 seconds."""

from __future__ import annotations

import pytest

from common.slug import branch_slug
from tests.dags.conftest import ARTIFACT, BRANCH, run_in_airflow

DAG_FILE = '''
import json, os
from datetime import datetime, timezone
from pj_airflow import Deployment, jobs_dag

QA = Deployment(name="qa", branch=os.environ["T_BRANCH"])
RUN = {"launcher": "yarn", "artifact": os.environ["T_ARTIFACT"]}
first = jobs_dag("first", ["demo.daily_revenue"], deployment=QA, operator_kwargs=RUN, schedule="@daily",
                 start_date=datetime(1995, 1, 1))
second = jobs_dag("second", ["demo.top_customers_sql"], deployment=QA, operator_kwargs=RUN,
                  schedule_on=["demo.daily_revenue"], start_date=datetime(1995, 1, 1))

if __name__ == "__main__":
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.asset import AssetDagRunQueue, AssetEvent
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    run = first.test(logical_date=datetime(1995, 3, 15, tzinfo=timezone.utc))
    with create_session() as session:
        events = {e.asset.uri: {"extra": e.extra, "source": [e.source_dag_id, e.source_task_id]}
                  for e in session.query(AssetEvent)}
        queued = sorted(q.target_dag_id for q in session.query(AssetDagRunQueue))
        query, triggered = DagModel.dags_needing_dagruns(session)  # as the scheduler's loop does
        ready = [d for d in query.all() if d.dag_id in triggered]
        SchedulerJobRunner(job=Job())._create_dag_runs_asset_triggered(dag_models=ready, session=session)
        session.flush()
        runs = [{"dag_id": r.dag_id, "run_type": str(r.run_type), "state": str(r.state),
                 "consumed": sorted(e.asset.uri for e in r.consumed_asset_events)}
                for r in session.query(DagRun).filter(DagRun.dag_id == second.dag_id)]
    print(json.dumps({"first": str(run.state), "events": events, "queued": queued, "runs": runs}))
'''


@pytest.mark.services
def test_a_run_records_its_tables_as_asset_events_and_triggers_the_dag_scheduled_on_them(yarn, tmp_path):
    yarn(0)
    found = run_in_airflow(tmp_path, DAG_FILE, T_BRANCH=BRANCH, T_ARTIFACT=ARTIFACT)

    slug = branch_slug(BRANCH)
    first, second = f"qa__{slug}__first", f"qa__{slug}__second"
    tables = [f"lake://qa_{slug}__demo.{t}/" for t in ("revenue_by_segment", "revenue_by_shipmode", "top_customers")]
    assert found["first"] == "success"
    assert found["events"] == {uri: {"extra": {"ds_from": "1995-03-15", "ds_to": "1995-03-15"},
                                     "source": [first, "demo.daily_revenue"]} for uri in tables}
    assert found["queued"] == [second] * 3  # one queue row per asset the second DAG waits for
    assert found["runs"] == [{"dag_id": second, "run_type": "asset_triggered", "state": "queued", "consumed": tables}]
