"""A whole run of the demonstration job on TPC-H SF0.01, checked against a plain-Python
computation over the raw rows, plus what the run says about caching."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from common.runner import RunConfig, run_job
from common.scan_metrics import KEY_CHECK
from tests.helpers import demo_reports_by_hand, load_dev_script, mysql_connection, sql_executions

pytestmark = pytest.mark.services
DS = "1995-03-15"


@pytest.fixture(scope="module")
def run(spark):
    return run_job(RunConfig(job="demo.daily_revenue", ds=DS), spark=spark)


@pytest.fixture(scope="module")
def expected(spark):
    return demo_reports_by_hand(spark, [DS])[DS]


def _rows(spark, table: str, order: list[str]) -> list[tuple]:
    df = spark.table(table).filter(F.col("ds") == DS).drop("ds")
    return [tuple(r) for r in df.orderBy(*order).collect()]


def test_outputs_match_a_hand_computation(spark, run, expected):
    assert len(expected["top"]) == 10 and expected["segment"], "the day has shipments at SF0.01"
    assert _rows(spark, "demo.revenue_by_segment", ["n_name", "c_mktsegment"]) == expected["segment"]
    assert _rows(spark, "demo.revenue_by_shipmode", ["l_shipmode", "o_orderpriority"]) == expected["mode"]
    assert _rows(spark, "demo.top_customers", ["rank"]) == expected["top"]


def test_the_shared_join_is_cached_once_and_released(spark, run):
    assert [c[0] for c in run.cached] == ["enriched"]
    name, level, rows, size = run.cached[0]
    assert level == "MEMORY_AND_DISK" and rows > 0 and size > 0
    assert spark.sparkContext._jsc.sc().getRDDStorageInfo() == [] or all(
        i.numCachedPartitions() == 0 for i in spark.sparkContext._jsc.sc().getRDDStorageInfo()
    )
    assert [o.table for o in run.outputs] == ["demo.revenue_by_segment", "demo.top_customers", "demo.revenue_by_shipmode"]
    assert dict((a, n) for a, _, n in run.inputs)["nation"] == 25
    text = run.render()
    assert "cached enriched MEMORY_AND_DISK" in text and "input  customer" in text


def test_input_rows_come_from_the_scans_the_run_does_and_no_job_counts_an_input(spark):
    """tpch.q01 reads lineitem once, for its one output: with an extra count per input for the
    summary, a second execution would scan it."""
    import json

    first = max((e["id"] for e in sql_executions(spark)), default=-1) + 1
    summary = run_job(RunConfig(job="tpch.q01", ds=DS), spark=spark)
    ran = [e for e in sql_executions(spark) if e["id"] >= first]
    scanning = [e for e in ran if any(n["nodeName"] == "Scan parquet spark_catalog.tpch.lineitem" for n in e["nodes"])]
    assert len(scanning) == 1, [e["description"] for e in scanning]
    lineitem = spark.table("tpch.lineitem").count()
    assert lineitem > 60_000  # SF0.01 (60,175 rows)
    assert summary.inputs == [("lineitem", "tpch.lineitem", lineitem)]
    written = json.loads(summary.json_path.read_text())
    assert written["inputs"] == [{"alias": "lineitem", "from": "tpch.lineitem", "rows_read": lineitem}]
    (output,) = written["outputs"]
    assert output["table"] == "tpch_reports.q01" and output["partition"] == f"ds={DS}"
    assert output["rows"] == spark.table("tpch_reports.q01").filter(F.col("ds") == DS).count() == 4


def test_the_json_summary_holds_what_each_input_read_and_each_output_wrote(spark, run):
    """MySQL inputs report the rows fetched; the key check of nation (check_keys) is not a read of the job's."""
    import json

    conn = mysql_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM customer), (SELECT COUNT(*) FROM nation)")
        customers, nations = cur.fetchone()
    conn.close()
    written = json.loads(run.json_path.read_text())
    read = {i["alias"]: i["rows_read"] for i in written["inputs"]}
    assert read == {"lineitem": spark.table("tpch.lineitem").count(), "orders": spark.table("tpch.orders").count(),
                    "customer": customers, "nation": nations}
    outputs = {o["table"]: o["rows"] for o in written["outputs"]}
    assert outputs == {t: spark.table(t).filter(F.col("ds") == DS).count()
                       for t in ("demo.revenue_by_segment", "demo.top_customers", "demo.revenue_by_shipmode")}
    assert len({o["run_id"] for o in written["outputs"]}) == 1 and written["outputs"][0]["run_id"]
    assert [(c["step"], c["rows"]) for c in written["cached"]] == [("enriched", run.cached[0][2])]
    assert written["seconds"]["total"] > 0


def test_no_check_reads_an_input_again_and_the_output_key_check_reads_one_output(spark):
    """Per Spark SQL execution of one demo run, the scans that read rows: the job's inputs are
    read by the one execution that fills the cached join, nation's key check (check_keys) by
    one execution of its own, and the only other read is the key read-back of top_customers,
    whose rank Spark cannot prove unique; the two grouped outputs' keys are proven, not read."""
    first = max((e["id"] for e in sql_executions(spark)), default=-1) + 1
    run_job(RunConfig(job="demo.daily_revenue", ds=DS), spark=spark)
    reads = {}
    for execution in sql_executions(spark):
        if execution["id"] < first:
            continue
        # Data read; an Iceberg metadata table (`t.snapshots`, read to publish) holds no rows of the table.
        scanned = sorted({n["nodeName"] for n in execution["nodes"] if n["nodeName"].startswith(("Scan", "BatchScan"))
                          and not n["nodeName"].endswith((".snapshots", ".history", ".files", ".entries"))
                          and any(m["name"] == "number of output rows" and m["value"] not in ("0", "") for m in n["metrics"])})
        if scanned:
            reads[execution["id"]] = (execution["description"], scanned)
    described = sorted(reads.values())
    key_checks = [scans for description, scans in described if description.startswith(KEY_CHECK)]
    assert len(key_checks) == 1 and len(key_checks[0]) == 1 and "nation" in key_checks[0][0], described
    lake = ("spark_catalog.tpch.lineitem", "spark_catalog.tpch.orders")
    join = [scans for _, scans in described if any(t in s for s in scans for t in lake)]
    assert len(join) == 1 and len(join[0]) == 4, described  # lineitem, orders, customer, nation
    others = [scans for description, scans in described if not description.startswith(KEY_CHECK) and scans not in join]
    assert len(others) == 1 and len(others[0]) == 1 and "top_customers" in others[0][0], described


def test_a_run_lists_no_catalog_and_times_its_session_start_apart(spark):
    """Issue 21, part 4: a run asks the metastore for its own tables only, never for a listing of
    databases or tables (counted by the service, in its audit log), and its summary says how long
    starting Spark took when the run started it (here the session exists: no such phase)."""
    from common.settings import load_settings

    audit = load_dev_script("metastore_audit")
    calls = audit.MetastoreCalls(load_settings().var / "log" / "metastore.log")
    mark = calls.mark()
    summary = run_job(RunConfig(job="tpch.q01", ds=DS), spark=spark)
    made = calls.since(mark)
    assert made["get_table"] > 0  # the audit log is the one this run's metastore writes
    assert not [c for c in audit.LISTINGS if made[c]], made
    phases = dict(summary.timings)
    assert "start Spark" not in phases and phases["plan (read inputs, build steps)"] > 0
