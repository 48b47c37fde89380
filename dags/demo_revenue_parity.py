"""The SQL twins of demo.daily_revenue (demo_legacy.*), run once the DataFrame job has written
its three tables, for the same days, so `pyspark-jobs parity` compares the same days.

Scheduled on the demo job's output assets, not on a clock: no job reads demo's tables yet, so
the twins stand in for a downstream consumer."""

from __future__ import annotations

from datetime import datetime

from pj_airflow import job_names, jobs_dag

dag = jobs_dag(
    "demo_revenue_parity",
    job_names(prefix="demo.", where=lambda name: name.endswith("_sql")),
    schedule_on=["demo.daily_revenue"],
    start_date=datetime(1992, 1, 1),
    doc_md=__doc__,
)
