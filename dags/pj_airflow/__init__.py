"""Build Airflow DAGs from job names: one SparkJobOperator per job, ordered by the tables jobs
write and read. Imports Airflow, the standard library and pyspark-free job metadata only."""

from __future__ import annotations

from pj_airflow.assets import AssetScheduleError, assets_of, output_assets
from pj_airflow.builder import backfill_dag, job_names, job_tasks, jobs_dag
from pj_airflow.deployment import Deployment, current_deployment
from pj_airflow.graph import DependencyCycleError, DependencyError
from pj_airflow.operator import SparkJobOperator

__all__ = [
    "AssetScheduleError",
    "DependencyCycleError",
    "DependencyError",
    "Deployment",
    "SparkJobOperator",
    "assets_of",
    "current_deployment",
    "job_names",
    "job_tasks",
    "output_assets",
    "jobs_dag",
    "backfill_dag",
]
