"""`pyspark-jobs migrate` on a legacy TPC-H DAG (tests/common/migrate_fixture), against the real
metastore and MySQL: the generated jobs pass `check` and their DAG keeps the old order."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest

import pyspark_jobs
from common import registry
from common.check import check_jobs
from common.cli import main
from common.job import Job
from common.migrate_dag import read_dag
from tests.helpers import cli_without_metastore

FIXTURE = Path(__file__).parent / "migrate_fixture" / "legacy_tpch_dag.py"
CONVERTED = ["daily_orders", "weekly_parts", "supplier_stock", "region_revenue", "segment_summary", "top_parts"]
# The old DAG's order among the converted tasks (notify and ad_hoc are left alone).
OLD_ORDER = {("daily_orders", "region_revenue"), ("daily_orders", "segment_summary"), ("weekly_parts", "top_parts")}


@pytest.fixture
def jobs_root(tmp_path, monkeypatch):
    """A temporary `pyspark_jobs` folder the registry also walks, as a second package path."""
    root = tmp_path / "pyspark_jobs"
    root.mkdir()
    registry.discover()  # the suite's own jobs, imported once: restored below, as modules import only once
    before = dict(Job.registry)
    monkeypatch.setattr(pyspark_jobs, "__path__", [*pyspark_jobs.__path__, str(root)])
    monkeypatch.setattr(registry, "_discovered", False)
    yield root
    Job.registry.clear()
    Job.registry.update(before)
    for name in [m for m in sys.modules if m.startswith("pyspark_jobs.legacy_tpch") or m.startswith("pyspark_jobs.mig_")]:
        del sys.modules[name]


def _migrate(dag_file: Path, into: Path, dags: Path, capsys) -> tuple[int, str, str]:
    code = main(["migrate", str(dag_file), "--into", str(into), "--dags", str(dags)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _dag(tmp_path: Path, body: str, name: str = "legacy.py") -> Path:
    path = tmp_path / name
    path.write_text("from airflow import DAG\n"
                    "from airflow.providers.apache.spark.operators.spark_sql import SparkSqlOperator\n"
                    "with DAG('legacy_small'):\n" + body)
    return path


def test_the_legacy_dag_is_read_without_running_it():
    dag = read_dag(FIXTURE)
    assert [t.task_id for t in dag.tasks] == CONVERTED
    assert {s.task_id: s.reason.split(" ")[0] for s in dag.skipped} == {"notify": "PythonOperator", "ad_hoc": "its"}
    assert dag.edges == OLD_ORDER | {("region_revenue", "notify"), ("top_parts", "notify"), ("supplier_stock", "notify")}
    supplier = next(t for t in dag.tasks if t.task_id == "supplier_stock")
    assert supplier.sql_file.name == "supplier_stock.sql" and "{{ params.min_size }}" in supplier.sql
    top = next(t for t in dag.tasks if t.task_id == "top_parts")
    assert "include" not in top.sql and "FROM pj_migrate_test.weekly_parts w" in top.sql


def test_migrated_jobs_pass_check_and_keep_the_order(spark, jobs_root, tmp_path, capsys):
    code, out, err = _migrate(FIXTURE, jobs_root / "legacy_tpch", tmp_path / "dags", capsys)
    assert code == 0, out + err
    assert "task order: the same as the old DAG's" in out
    assert "notify (line 92): PythonOperator" in out and "ad_hoc (line 94): its SQL is an f-string" in out
    domain = jobs_root / "legacy_tpch"
    assert sorted(p.stem for p in (domain / "sql").glob("*.sql")) == sorted(CONVERTED)
    sql = (domain / "sql" / "supplier_stock.sql").read_text()
    assert "FROM partsupp ps" in sql and "{{ params.min_size }}" in sql and "\nINSERT" not in sql

    names = [f"legacy_tpch.{t}" for t in CONVERTED]
    jobs = registry.discover()
    daily = jobs["legacy_tpch.daily_orders"]
    assert {a: (t.name, t.store) for a, t in daily.inputs.items()} == {
        "orders": ("tpch.orders", "warehouse"), "customer": ("tpch.customer", "mysql"), "nation": ("tpch.nation", "mysql")}
    assert daily.inputs["customer"].contract.primary_key == ("c_custkey",)
    assert daily.outputs["daily_orders"].contract.names == (
        "o_orderkey", "o_orderpriority", "c_mktsegment", "n_name", "o_totalprice", "ds")
    assert [p.name for p in jobs["legacy_tpch.segment_summary"].params] == ["segment"]
    report = io.StringIO()
    assert check_jobs(names, spark=spark, out=report), report.getvalue()

    pytest.importorskip("airflow")
    spec = importlib.util.spec_from_file_location("legacy_tpch_reports_jobs", tmp_path / "dags" / "legacy_tpch_reports_jobs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    edges = {(up.split(".")[1], task.task_id.split(".")[1])
             for task in module.dag.tasks for up in task.upstream_task_ids}
    assert edges == OLD_ORDER
    assert module.dag.dag_id == "legacy_tpch_reports_jobs"


def test_a_different_order_is_reported(spark, jobs_root, tmp_path, capsys):
    dag = _dag(tmp_path, "    a = SparkSqlOperator(task_id='a', sql=\"INSERT OVERWRITE TABLE pj_migrate_test.a "
                         "PARTITION (ds='{{ ds }}') SELECT r_name FROM tpch.region\")\n"
                         "    b = SparkSqlOperator(task_id='b', sql=\"INSERT OVERWRITE TABLE pj_migrate_test.b "
                         "PARTITION (ds='{{ ds }}') SELECT n_name FROM tpch.nation\")\n"
                         "    a >> b\n")
    code, out, err = _migrate(dag, jobs_root / "mig_order", tmp_path / "dags", capsys)
    assert code == 1, err
    assert "order differs: the old DAG runs a before b; the new DAG does not (b reads no table a writes)" in out


def test_a_table_found_nowhere_gets_a_contract_check_reports(spark, jobs_root, tmp_path, capsys):
    dag = _dag(tmp_path, "    SparkSqlOperator(task_id='lost', sql=\"INSERT OVERWRITE TABLE pj_migrate_test.lost "
                         "PARTITION (ds='{{ ds }}') SELECT * FROM pj_nowhere.missing\")\n")
    code, out, _ = _migrate(dag, jobs_root / "mig_todo", tmp_path / "dags", capsys)
    assert code == 0 and "TODO: pj_nowhere.missing: not in the metastore; not in MySQL's information_schema" in out
    report = io.StringIO()
    assert not check_jobs(["mig_todo.lost"], spark=spark, out=report)
    assert "FAIL mig_todo.lost: step missing: input pj_nowhere.missing: contract to fill in" in report.getvalue()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("    a = SparkSqlOperator(task_id='a', sql='SELECT 1'\n", "legacy.py:4: the DAG file does not parse"),
        ("    a = 1\n", "legacy.py:1: no SparkSqlOperator task"),
        ("    a = SparkSqlOperator(\n        task_id='a',\n        sql=\"\"\"INSERT OVERWRITE TABLE pj_migrate_test.a "
         "PARTITION (ds='{{ ds }}')\nSELECT r_name\nFROM tpch.region WHERE r_name = = 1\"\"\")\n",
         "legacy.py:8: task a: Spark cannot parse the SQL as one query"),
        ("    a = SparkSqlOperator(\n        task_id='a',\n        sql=\"\"\"INSERT OVERWRITE TABLE pj_migrate_test.a "
         "PARTITION (ds='{{ ds }}')\nSELECT r_name FROM tpch.region\nWHERE r_name = '{{ yesterday }}'\"\"\")\n",
         "legacy.py:8: task a: the template uses 'yesterday', which is not in Airflow's context"),
        ("    a = SparkSqlOperator(\n        task_id='a',\n        sql=\"\"\"INSERT OVERWRITE TABLE pj_migrate_test.a "
         "PARTITION (ds='{{ ds }}')\n{% include report_file %}\"\"\")\n",
         "legacy.py:7: task a: the template uses 'report_file', which is not in Airflow's context"),
    ],
    ids=["syntax", "no-operator", "spark-parse", "undefined-variable", "include-by-variable"],
)
def test_bad_input_is_one_line_and_writes_nothing(spark, jobs_root, tmp_path, capsys, body, message):
    dag = _dag(tmp_path, body)
    code, out, err = _migrate(dag, jobs_root / "mig_bad", tmp_path / "dags", capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (jobs_root / "mig_bad").exists() and not (tmp_path / "dags").exists()



def test_a_metastore_that_does_not_answer_is_one_line_naming_it_and_nothing_is_written(tmp_path):
    """Spark prints no plan when an unqualified table's database cannot be looked up, and its
    message is empty: the error must name the metastore, not blame the SQL."""
    dag = _dag(tmp_path, "    a = SparkSqlOperator(\n        task_id='a',\n        sql=\"\"\"INSERT OVERWRITE TABLE "
                         "pj_migrate_test.a PARTITION (ds='{{ ds }}')\nSELECT r_name FROM region\"\"\")\n")
    into = tmp_path / "pyspark_jobs" / "mig_down"
    code, last, stderr = cli_without_metastore("migrate", str(dag), "--into", str(into), "--dags", str(tmp_path / "dags"))
    assert code == 2, stderr[-2000:]
    assert last.startswith(f"error: {dag}:6: task a: the metastore thrift://127.0.0.1:9 does not answer;"), last
    assert last.endswith("nothing was written") and "Traceback" not in stderr
    assert not into.exists() and not (tmp_path / "dags").exists()


# -- parity with the legacy tasks, run by spark-sql ---------------------------------------

PARITY_DAYS = ("1995-03-14", "1995-03-16")  # both with BUILDING orders (segment_summary's filter)
PARITY_BRANCH = "test/legacy-parity"


def test_every_migrated_job_equals_its_legacy_task_run_by_spark_sql_on_two_days(spark, jobs_root, tmp_path, capsys):
    """The six migrated jobs run in a qa namespace; `parity --legacy` runs the old DAG's SQL
    through spark-sql (renamed into a scratch database) and finds every output equal on both
    days. A changed query is then reported, with the column."""
    from common.environments import Environment
    from common.legacy_parity import legacy_parity
    from common.parity import render_parity
    from common.runner import RunConfig, run_job
    from tests.helpers import drop_qa_databases

    assert _migrate(FIXTURE, jobs_root / "legacy_tpch", tmp_path / "dags", capsys)[0] == 0
    registry.discover()
    drop_qa_databases(spark, PARITY_BRANCH)
    before = {d.name for d in spark.catalog.listDatabases()}
    try:
        for ds in PARITY_DAYS:
            for task in ("daily_orders", "weekly_parts", "supplier_stock", "region_revenue", "segment_summary",
                         "top_parts"):  # the old DAG's order
                run_job(RunConfig(job=f"legacy_tpch.{task}", ds=ds, env="qa", branch=PARITY_BRANCH,
                                  count_inputs=False), spark)
        env = Environment("qa", PARITY_BRANCH)
        results = legacy_parity(FIXTURE, PARITY_DAYS, env=env, spark=spark)
        assert [(ds, pair.task.task_id, pair.job.name) for ds, pair, _ in results] == [
            (ds, t, f"legacy_tpch.{t}") for ds in PARITY_DAYS for t in CONVERTED]
        assert all(report.equal for _, _, report in results), "\n".join(
            render_parity(report, ds) for ds, _, report in results if not report.equal)
        # The legacy side held the day's orders (counted here, from the lake), not two empty tables.
        rows = {(ds, pair.task.task_id): report.left_rows for ds, pair, report in results}
        for ds in PARITY_DAYS:
            orders = spark.sql(f"SELECT count(*) FROM tpch.orders WHERE o_orderdate = DATE '{ds}'").first()[0]
            assert rows[ds, "daily_orders"] == orders > 0
            assert all(rows[ds, t] > 0 for t in CONVERTED), rows
        assert {d.name for d in spark.catalog.listDatabases()} - before == {
            f"{env.qa_prefix}pj_migrate_test"}  # the jobs' outputs; the scratch database is gone

        sql = jobs_root / "legacy_tpch" / "sql" / "region_revenue.sql"
        # Orders of 50,000 or less dropped: on 1995-03-14 three nations had only such orders.
        sql.write_text(sql.read_text().replace("WHERE d.ds", "WHERE d.o_totalprice > 50000 AND d.ds"))
        run_job(RunConfig(job="legacy_tpch.region_revenue", ds=PARITY_DAYS[0], env="qa", branch=PARITY_BRANCH,
                          count_inputs=False), spark)
        parity = ["parity", "--legacy", str(FIXTURE), "--env", "qa", "--branch", PARITY_BRANCH]
        code = main([*parity, "--ds", PARITY_DAYS[0], "--ds", PARITY_DAYS[1], "legacy_tpch.region_revenue"])
        out = capsys.readouterr().out
        assert code == 1
        assert f"parity legacy task region_revenue vs legacy_tpch.region_revenue ds={PARITY_DAYS[0]}: DIFFERENT" in out
        assert f"parity legacy task region_revenue vs legacy_tpch.region_revenue ds={PARITY_DAYS[1]}: identical" in out
        assert "key(s) only in legacy task region_revenue" in out or "row(s) only in legacy task region_revenue" in out
        assert "daily_orders vs" not in out  # only the job asked for is compared
    finally:
        drop_qa_databases(spark, PARITY_BRANCH)


def test_legacy_parity_refuses_a_job_not_run_and_a_dag_not_migrated(spark, jobs_root, tmp_path, capsys, monkeypatch):
    assert main(["parity", "--legacy", str(FIXTURE), "--ds", PARITY_DAYS[0]]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {FIXTURE}: no job writes the table of task daily_orders (pj_migrate_test.daily_orders) "
                   f"(and 5 more): `pyspark-jobs migrate {FIXTURE} --into pyspark_jobs/<domain>` first"), err
    migrated = _migrate(FIXTURE, jobs_root / "legacy_tpch", tmp_path / "dags", capsys)
    assert migrated[0] == 0, migrated
    monkeypatch.setattr(registry, "_discovered", False)  # the new modules found, as a fresh process would
    assert main(["parity", "--legacy", str(FIXTURE), "--ds", PARITY_DAYS[0], "--env", "qa",
                 "--branch", "test/legacy-parity-never-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not exist; run `pyspark-jobs run legacy_tpch.daily_orders --ds " \
        f"{PARITY_DAYS[0]} --env qa --branch test/legacy-parity-never-run` first" in err, err
