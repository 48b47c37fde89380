"""The demonstration job: three daily revenue reports from one cached join (demo.daily_revenue)."""

from __future__ import annotations

from datetime import datetime

from pj_airflow import jobs_dag

dag = jobs_dag(
    "demo_daily_revenue",
    ["demo.daily_revenue"],
    job_params={"demo.daily_revenue": {"top_n": "10"}},
    schedule="@daily",
    start_date=datetime(1992, 1, 1),  # TPC-H order dates start in 1992
    doc_md=__doc__,
    backfill=True,  # and <id>_backfill: a range of days, one application per job
)
