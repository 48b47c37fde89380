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


def test_a_daily_run_computes_the_day_that_has_just_ended():
    """The run Airflow fires at midnight of 2026-12-02 gets ds 2026-12-01 (data-interval
    semantics), not 2026-12-02 as Airflow 3's default CronTriggerTimetable would give."""
    from datetime import UTC, datetime

    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    from pj_airflow import jobs_dag

    utc = UTC
    dag = jobs_dag("t_daily", ["demo.daily_revenue"], deployment=LOCAL, schedule="@daily",
                   start_date=datetime(2026, 11, 1, tzinfo=utc))
    timetable = decode_timetable(encode_timetable(dag.timetable))  # as the scheduler holds it
    before = DataInterval(datetime(2026, 11, 30, tzinfo=utc), datetime(2026, 12, 1, tzinfo=utc))
    info = timetable.next_dagrun_info(last_automated_data_interval=before,
                                      restriction=TimeRestriction(earliest=None, latest=None, catchup=True))
    assert info.run_after == datetime(2026, 12, 2, tzinfo=utc)
    assert info.data_interval.start.date().isoformat() == "2026-12-01"  # the run's ds
    assert info.data_interval.end == datetime(2026, 12, 2, tzinfo=utc)


def test_the_backfill_dag_runs_each_job_once_over_the_whole_range():
    """`jobs_dag(..., backfill=True)` also makes `<id>_backfill`: the same jobs in the same order,
    each rendered by Airflow's templates into one `run --ds-from --ds-to` (one step on EMR)."""
    from common.submit import SubmitSpecError
    from pj_airflow import backfill_dag, jobs_dag

    jobs = ["tpch.q01", "demo.daily_revenue"]
    daily = jobs_dag("t_range", jobs, deployment=LOCAL, schedule="@daily", doc_md="daily")
    backfill = backfill_dag("t_range", jobs, deployment=LOCAL,
                            task_options={"operator_kwargs": {"artifact": "s3://artifacts/main"}})
    assert backfill.dag_id == "t_range_backfill" and backfill.schedule is None and "backfill" in backfill.tags
    assert set(backfill.task_dict) == set(daily.task_dict) == set(jobs)
    assert {t: task.upstream_task_ids for t, task in backfill.task_dict.items()} == \
        {t: task.upstream_task_ids for t, task in daily.task_dict.items()}
    assert backfill.doc_md != "daily" and "--ds-from" in backfill.doc_md

    task = backfill.task_dict["demo.daily_revenue"]
    task.render_template_fields({"params": {"ds_from": "1995-03-01", "ds_to": "1995-03-30", "force": False}})
    args = task.build_spec("local").app_args()
    assert args[:6] == ["run", "demo.daily_revenue", "--ds-from", "1995-03-01", "--ds-to", "1995-03-30"]
    assert "--ds" not in args and "--force" not in args

    task = backfill.task_dict["tpch.q01"]
    task.render_template_fields({"params": {"ds_from": "1995-03-30", "ds_to": "1995-03-01", "force": False}})
    with pytest.raises(SubmitSpecError, match="--ds-from 1995-03-30 is after --ds-to 1995-03-01"):
        task.build_spec("local")


def test_a_dag_scheduled_on_a_jobs_outputs_runs_the_days_its_events_wrote():
    """`schedule_on` waits for every table the job writes (the qa branch's own, in qa); a task
    renders ds..ds_to from the triggering events: the first and last day they wrote."""
    from types import SimpleNamespace

    from pj_airflow import jobs_dag

    qa = Deployment(name="qa", branch="feature/x")
    dag = jobs_dag("t_after", ["demo.top_customers_sql"], deployment=qa, schedule_on=["demo.daily_revenue"],
                   operator_kwargs={"artifact": "s3://artifacts/feature_x"})
    assert sorted(a.uri for a in dag.timetable.asset_condition.objects) == \
        [f"lake://qa_{qa.slug}__demo.{t}/" for t in ("revenue_by_segment", "revenue_by_shipmode", "top_customers")]
    task = dag.task_dict["demo.top_customers_sql"]
    assert [a.uri for a in task.outlets] == [f"lake://qa_{qa.slug}__demo_legacy.top_customers/"]

    def event(ds_from, ds_to):
        return SimpleNamespace(extra={"ds_from": ds_from, "ds_to": ds_to})

    events = {"a": [event("1995-03-15", "1995-03-15")],
              "b": [event("1995-03-01", "1995-03-10"), event("1995-03-16", "1995-03-16")]}
    task.render_template_fields({"triggering_asset_events": events})
    assert task.build_spec("local").app_args()[:6] == \
        ["run", "demo.top_customers_sql", "--ds-from", "1995-03-01", "--ds-to", "1995-03-16"]


def test_scheduling_on_something_no_job_writes_is_one_clear_error():
    from pj_airflow import AssetScheduleError, jobs_dag

    with pytest.raises(AssetScheduleError, match="did you mean 'demo.daily_revenue'"):
        jobs_dag("t_typo", ["demo.top_customers_sql"], deployment=LOCAL, schedule_on=["demo.daily_revenu"])
    with pytest.raises(AssetScheduleError, match="'tpch.lineitem', neither a job nor a table a job writes"):
        jobs_dag("t_source", ["demo.top_customers_sql"], deployment=LOCAL, schedule_on=["tpch.lineitem"])
    with pytest.raises(AssetScheduleError, match="either schedule or schedule_on"):
        jobs_dag("t_both", ["demo.top_customers_sql"], deployment=LOCAL, schedule="@daily",
                 schedule_on=["demo.daily_revenue"])


def test_an_event_without_days_fails_the_run_naming_the_way_out():
    from types import SimpleNamespace

    from pj_airflow.assets import AssetScheduleError, days_written

    with pytest.raises(AssetScheduleError, match="names no days.*_backfill DAG"):
        days_written({"lake://demo.top_customers/": [SimpleNamespace(extra={})]})
