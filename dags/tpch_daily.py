"""TPC-H daily reports: the 22 DataFrame jobs tpch.q01..tpch.q22, ordered by their tables.

They replace 22 SparkSqlOperator tasks; the SQL twins (tpch.qNN_sql) are not scheduled here,
they exist for the parity diff (docs/MIGRATION.md).
"""

from __future__ import annotations

from datetime import datetime

from pj_airflow import job_names, jobs_dag

dag = jobs_dag(
    "tpch_daily",
    job_names(prefix="tpch.q", where=lambda name: not name.endswith("_sql")),
    schedule="@daily",
    start_date=datetime(1992, 1, 1),  # TPC-H order dates start in 1992
    doc_md=__doc__,
    backfill=True,  # and <id>_backfill: a range of days, one application per job
)
