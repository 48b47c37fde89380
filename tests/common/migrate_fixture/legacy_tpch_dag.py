"""Nightly TPC-H reports as the legacy team wrote them: one SparkSqlOperator per query.

A fixture for `pyspark-jobs migrate` (tests/common/test_migrate.py): never imported, only read.
"""

from datetime import datetime

from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.providers.apache.spark.operators.spark_sql import SparkSqlOperator

REPORTS = "pj_migrate_test"

with DAG(
    "legacy_tpch_reports",
    schedule="@daily",
    start_date=datetime(1992, 1, 1),
    catchup=False,
    template_searchpath=["sql"],
    params={"min_size": 20, "segment": "BUILDING"},
) as dag:
    daily_orders = SparkSqlOperator(
        task_id="daily_orders",
        sql="""
INSERT OVERWRITE TABLE pj_migrate_test.daily_orders PARTITION (ds='{{ ds }}')
SELECT
    o.o_orderkey,
    o.o_orderpriority,
    c.c_mktsegment,
    n.n_name,
    o.o_totalprice
FROM tpch.orders o
JOIN tpch.customer c ON c.c_custkey = o.o_custkey
JOIN tpch.nation n ON n.n_nationkey = c.c_nationkey
WHERE o.o_orderdate = date '{{ ds }}'
""",
    )

    weekly_parts = SparkSqlOperator(
        task_id="weekly_parts",
        sql="""
-- the parts shipped in the seven days up to ds
INSERT OVERWRITE TABLE pj_migrate_test.weekly_parts PARTITION (ds='{{ ds }}')
WITH recent AS (
    SELECT l_partkey, l_quantity, l_extendedprice * (1 - l_discount) AS revenue
    FROM tpch.lineitem
    WHERE l_shipdate > date '{{ macros.ds_add(ds, -7) }}' AND l_shipdate <= date '{{ ds }}'
),
per_part AS (
    SELECT l_partkey, sum(l_quantity) AS quantity, sum(revenue) AS revenue, count(*) AS lines
    FROM recent
    GROUP BY l_partkey
)
SELECT l_partkey, quantity, revenue, lines FROM per_part
""",
    )

    supplier_stock = SparkSqlOperator(task_id="supplier_stock", sql="supplier_stock.sql")

    region_revenue = SparkSqlOperator(
        task_id="region_revenue",
        sql="""
INSERT OVERWRITE TABLE pj_migrate_test.region_revenue PARTITION (ds='{{ ds }}')
SELECT r.r_name, d.n_name, '{{ ds_nodash }}' AS batch_id, sum(d.o_totalprice) AS revenue, count(*) AS orders
FROM pj_migrate_test.daily_orders d
JOIN tpch.nation n ON n.n_name = d.n_name
JOIN tpch.region r ON r.r_regionkey = n.n_regionkey
WHERE d.ds = '{{ ds }}'
GROUP BY r.r_name, d.n_name
""",
    )

    segment_summary = SparkSqlOperator(
        task_id="segment_summary",
        sql="""
INSERT OVERWRITE TABLE pj_migrate_test.segment_summary PARTITION (ds='{{ ds }}')
SELECT c_mktsegment, o_orderpriority, count(*) AS orders, sum(o_totalprice) AS total
FROM pj_migrate_test.daily_orders
WHERE ds = '{{ ds }}' AND c_mktsegment = '{{ params.segment }}'
GROUP BY c_mktsegment, o_orderpriority
""",
    )

    top_parts = SparkSqlOperator(
        task_id="top_parts",
        sql="""
INSERT OVERWRITE TABLE pj_migrate_test.top_parts PARTITION (ds='{{ ds }}')
{% include 'top_parts.sql' %}
""",
    )

    notify = PythonOperator(task_id="notify", python_callable=print)

    ad_hoc = SparkSqlOperator(task_id="ad_hoc", sql=f"SELECT * FROM {REPORTS}.top_parts")

    # three spellings of a dependency
    daily_orders >> [region_revenue, segment_summary]
    top_parts << weekly_parts
    notify.set_upstream([region_revenue, top_parts])
    supplier_stock.set_downstream(notify)
