"""From job names to tasks: `jobs_dag("tpch_daily", job_names(prefix="tpch.q"), ...)`, and its
backfill DAG (`backfill=True`): the same jobs for a range of days, each one Spark application."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from common.registry import discover, get_job, require_importable
from pj_airflow.assets import EVENT_DS, EVENT_DS_TO, AssetScheduleError, assets_of, days_written
from pj_airflow.deployment import Deployment, current_deployment
from pj_airflow.graph import DependencyError, infer_dependencies, topological_order
from pj_airflow.operator import SparkJobOperator

__all__ = ["job_names", "job_tasks", "jobs_dag", "backfill_dag"]


def job_names(*, prefix: str = "", where: Callable[[str], bool] | None = None) -> list[str]:
    """Registered job names starting with `prefix` and passing `where`, sorted. A job module
    under the prefix that fails to import fails the DAG file, naming the module (a DAG must
    not silently run without one of its jobs)."""
    require_importable(prefix, f"jobs named {prefix!r}... cannot all be loaded")
    return [name for name in discover() if name.startswith(prefix) and (where is None or where(name))]


def _upstream(jobs: list[str], dependencies: Mapping[str, Iterable[str]] | None, infer: bool) -> dict[str, set[str]]:
    meta = {name: get_job(name).describe() for name in jobs}
    upstream = infer_dependencies(meta) if infer else {name: set() for name in jobs}
    for job, ups in (dependencies or {}).items():
        for name in (job, *ups):
            if name not in upstream:
                raise DependencyError(f"dependency names {name!r}, which is not a job of this DAG")
        upstream[job].update(ups)
    return upstream


def job_tasks(
    jobs: Iterable[str],
    *,
    deployment: Deployment | None = None,
    dependencies: Mapping[str, Iterable[str]] | None = None,
    infer: bool = True,
    job_params: Mapping[str, Mapping[str, str]] | None = None,
    spark_conf: Mapping[str, Mapping[str, str]] | None = None,
    **operator_kwargs: Any,
) -> dict[str, SparkJobOperator]:
    """One task per job inside the current DAG context, wired upstream -> downstream.

    `dependencies` adds edges by hand ({"job": ["runs before it", ...]}); with `infer` (the
    default) a job writing a table runs before the jobs reading it. A cycle raises
    DependencyCycleError naming it.
    """
    deployment = deployment or current_deployment()
    names = list(dict.fromkeys(jobs))
    if not names:
        raise DependencyError("no jobs given")
    upstream = _upstream(names, dependencies, infer)
    tasks: dict[str, SparkJobOperator] = {}
    for name in topological_order(upstream):
        tasks[name] = SparkJobOperator(
            job=name,
            env=deployment.env,
            branch=deployment.run_branch,
            artifact_branch=deployment.branch,
            artifact_channel=deployment.artifact_channel,
            default_launcher=deployment.default_launcher,
            deployment=deployment.name,
            job_params=(job_params or {}).get(name),
            spark_conf=(spark_conf or {}).get(name),
            **operator_kwargs,
        )
        for up in sorted(upstream[name]):
            tasks[up] >> tasks[name]
    return tasks


def _dag(dag_id: str, deployment: Deployment, dag_kwargs: dict[str, Any]) -> DAG:
    """A DAG with the deployment's id, tags and retries (none locally, 2 elsewhere)."""
    dag_kwargs.setdefault("catchup", False)
    dag_kwargs.setdefault("max_active_runs", 1)
    default_args = {"retries": 0 if deployment.name == "local" else 2, **dag_kwargs.pop("default_args", {})}
    tags = [*deployment.tags(), *dag_kwargs.pop("tags", [])]
    return DAG(deployment.dag_id(dag_id), default_args=default_args, tags=tags, **dag_kwargs)


def jobs_dag(
    base_id: str,
    jobs: Iterable[str],
    *,
    deployment: Deployment | None = None,
    dependencies: Mapping[str, Iterable[str]] | None = None,
    infer: bool = True,
    job_params: Mapping[str, Mapping[str, str]] | None = None,
    spark_conf: Mapping[str, Mapping[str, str]] | None = None,
    operator_kwargs: Mapping[str, Any] | None = None,
    backfill: bool = False,
    schedule_on: Iterable[str] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG whose id and tags follow the deployment (qa ids carry the branch slug).

    A cron `schedule` ("@daily", "0 2 * * *") schedules data intervals: each run's ds is the
    start of the interval that has just ended (the run at midnight of 2026-12-02 computes
    2026-12-01, the day whose data is complete), as Airflow 2 did. Airflow 3 would otherwise
    give a cron schedule CronTriggerTimetable, whose ds is the day the run fires. A timetable
    passed as `schedule` is used as given. With `backfill`, `backfill_dag` makes its twin.

    `schedule_on` (job names, or tables a job writes) instead of `schedule` runs the DAG once
    those tables have been written, in this deployment's namespace (pj_airflow.assets), for
    the days their writers computed."""
    deployment = deployment or current_deployment()
    jobs = list(jobs)
    run_kwargs: dict[str, Any] = {}
    if schedule_on is not None:
        if dag_kwargs.get("schedule") is not None:
            raise AssetScheduleError("give jobs_dag either schedule or schedule_on, not both")
        dag_kwargs["schedule"] = assets_of(schedule_on, env=deployment.env, branch=deployment.run_branch)
        dag_kwargs["user_defined_macros"] = {**dag_kwargs.get("user_defined_macros", {}), "days_written": days_written}
        run_kwargs = {"ds": EVENT_DS, "ds_to": EVENT_DS_TO}
    schedule = dag_kwargs.get("schedule")
    if isinstance(schedule, str) and schedule not in ("@once", "@continuous"):
        dag_kwargs["schedule"] = CronDataIntervalTimetable(schedule, timezone=dag_kwargs.get("timezone", "UTC"))
    options = {"dependencies": dependencies, "infer": infer, "job_params": job_params, "spark_conf": spark_conf}
    if backfill:
        backfill_dag(base_id, jobs, deployment=deployment, task_options={**options, "operator_kwargs": operator_kwargs},
                     **{k: v for k, v in dag_kwargs.items() if k not in _MAIN_ONLY})
    with _dag(base_id, deployment, dag_kwargs) as dag:
        job_tasks(jobs, deployment=deployment, **options, **run_kwargs, **dict(operator_kwargs or {}))
    return dag


# The main DAG's own: its schedule, and its description (the backfill DAG describes itself).
_MAIN_ONLY = ("schedule", "start_date", "end_date", "catchup", "timezone", "doc_md", "description",
              "user_defined_macros")


def backfill_dag(base_id: str, jobs: Iterable[str], *, deployment: Deployment | None = None,
                 task_options: Mapping[str, Any] | None = None, **dag_kwargs: Any) -> DAG:
    """`<base_id>_backfill`, unscheduled: the jobs of `jobs_dag(base_id, ...)` in the same order,
    each computing every ds from `ds_from` to `ds_to` (the run's params) in one application,
    one step on EMR (`run --ds-from --ds-to`) instead of one per day. Trigger it with
    `airflow dags trigger <id> --conf '{"ds_from": "2024-01-01", "ds_to": "2024-12-31"}'`;
    `"force": true` allows more than 366 days. `task_options` are job_tasks' (dependencies,
    infer, job_params, spark_conf, operator_kwargs), as `jobs_dag` was given them."""
    deployment = deployment or current_deployment()
    params = {
        "ds_from": Param(type="string", format="date", description="the first run date, YYYY-MM-DD"),
        "ds_to": Param(type="string", format="date", description="the last run date, YYYY-MM-DD, included"),
        "force": Param(False, type="boolean", description="allow a range of more than 366 days"),
    }
    dag_kwargs = {**dag_kwargs, "schedule": None, "params": params,
                  "tags": [*dag_kwargs.get("tags", []), "backfill"]}
    dag_kwargs.setdefault("doc_md", backfill_dag.__doc__.replace("<base_id>", base_id))
    options = dict(task_options or {})
    operator_kwargs = options.pop("operator_kwargs", None) or {}
    with _dag(f"{base_id}_backfill", deployment, dag_kwargs) as dag:
        job_tasks(jobs, deployment=deployment, **options, ds="{{ params.ds_from }}", ds_to="{{ params.ds_to }}",
                  force="{{ params.force }}", **operator_kwargs)
    return dag
