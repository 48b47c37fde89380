"""OpenLineage events of real runs, written by the file transport and read back: the run's
START and COMPLETE (or FAIL), its datasets named as the catalog and MySQL name them, schemas
that are the contracts, rows that are counts taken independently, the Airflow parent, and no
secret anywhere."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from common.contracts import Column, Contract, Table
from common.job import Job, step
from common.lineage_events import LineageSettings, RunLineage
from common.runner import RunConfig, StepError, run_job
from common.settings import load_settings
from common.submit import LINEAGE_PARENT_CONF, lineage_conf
from pyspark_jobs.demo.daily_revenue import REVENUE_BY_SEGMENT, REVENUE_BY_SHIPMODE, TOP_CUSTOMERS
from pyspark_jobs.tpch.tables import CUSTOMER, LINEITEM, NATION, ORDERS
from tests.helpers import mysql_connection

pytestmark = pytest.mark.services
DS = "1995-03-16"  # not test_runner's day: the two modules' writes never meet
AWS_SECRET = f"aws-secret-{uuid.uuid4().hex}"
MANIFEST = {"branch": "feature/lineage", "commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False,
            "content_hash": "c0ffee" * 10}
PARENT = lineage_conf(namespace="airflow-test", dag_id="demo_daily_revenue", task_id="demo.daily_revenue",
                      run_id="scheduled__1995-03-16T00:00:00+00:00", try_number=2, manifest=MANIFEST)


def _events(folder: Path) -> list[dict]:
    events = [json.loads(path.read_text()) for path in folder.glob("*.json")]
    return sorted(events, key=lambda e: e["eventTime"])


def _raw(folder: Path) -> str:
    return "".join(path.read_text() for path in sorted(folder.glob("*.json")))


@pytest.fixture(scope="module")
def lineage_dir(tmp_path_factory):
    """Events of runs in this module go to a folder of their own."""
    folder = tmp_path_factory.mktemp("lineage")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSPARK_JOBS_LINEAGE_URL", folder.as_uri())
        mp.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED"):
            mp.delenv(name, raising=False)
        yield folder


@pytest.fixture(scope="module")
def demo_run(spark, lineage_dir):
    """demo.daily_revenue launched as the Airflow operator launches it: the parent conf set."""
    for key, value in PARENT.items():
        spark.conf.set(key, value)
    try:
        summary = run_job(RunConfig(job="demo.daily_revenue", ds=DS), spark=spark)
    finally:
        for key in PARENT:
            spark.conf.unset(key)
    events = [e for e in _events(lineage_dir) if e["job"]["name"] == "demo.daily_revenue"]
    return summary, events


def test_a_run_emits_start_then_complete_with_one_uuid_run_id(demo_run):
    _, events = demo_run
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    run_ids = {e["run"]["runId"] for e in events}
    assert len(run_ids) == 1
    assert uuid.UUID(run_ids.pop())
    assert {(e["job"]["namespace"], e["job"]["name"]) for e in events} == {("pyspark-jobs/local", "demo.daily_revenue")}


def test_inputs_are_the_lake_tables_in_the_catalogs_namespace_and_mysql_tables_by_host(demo_run):
    _, events = demo_run
    settings = load_settings()
    lake = "hive://" + settings.metastore_uri.removeprefix("thrift://")
    mysql = f"mysql://{settings.mysql.host}:{settings.mysql.port}"
    expected = {(lake, "tpch.lineitem"), (lake, "tpch.orders"), (mysql, "tpch.customer"), (mysql, "tpch.nation")}
    for event in events:
        assert {(d["namespace"], d["name"]) for d in event["inputs"]} == expected
    assert ":" in mysql.removeprefix("mysql://") and "@" not in mysql  # host:port, no user


def test_input_schemas_are_the_input_contracts(demo_run):
    _, events = demo_run
    declared = {t.name: [(c.name, c.type) for c in t.contract.columns] for t in (LINEITEM, ORDERS, CUSTOMER, NATION)}
    for dataset in events[-1]["inputs"]:
        assert [(f["name"], f["type"]) for f in dataset["facets"]["schema"]["fields"]] == declared[dataset["name"]]


def test_outputs_carry_the_contract_schema_and_the_rows_written(spark, demo_run):
    _, events = demo_run
    lake = "hive://" + load_settings().metastore_uri.removeprefix("thrift://")
    tables = {t.name: t for t in (REVENUE_BY_SEGMENT, TOP_CUSTOMERS, REVENUE_BY_SHIPMODE)}
    for event in events:
        assert {(d["namespace"], d["name"]) for d in event["outputs"]} == {(lake, name) for name in tables}
    for dataset in events[-1]["outputs"]:
        table = tables[dataset["name"]]
        fields = [(f["name"], f["type"], f.get("description")) for f in dataset["facets"]["schema"]["fields"]]
        assert fields == [(c.name, c.type, c.description or None) for c in table.contract.columns]
        # ... and what the catalog holds: the written table has those names and types
        written = {f.name: f.dataType.simpleString() for f in spark.table(table.name).schema}
        assert {name: kind for name, kind, _ in fields} == written
        rows = spark.table(table.name).filter(F.col("ds") == DS).count()
        assert rows > 0
        assert dataset["outputFacets"]["outputStatistics"]["rowCount"] == rows
        assert dataset["facets"]["version"]["datasetVersion"]  # the write's run id
    assert all(not d.get("outputFacets") for d in events[0]["outputs"])  # START: nothing written yet


def test_inputs_carry_the_rows_their_scans_read(spark, demo_run):
    _, events = demo_run
    conn = mysql_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT COUNT(*) FROM customer), (SELECT COUNT(*) FROM nation)")
        customers, nations = cur.fetchone()
    conn.close()
    rows = {d["name"]: d["inputFacets"]["inputStatistics"]["rowCount"] for d in events[-1]["inputs"]}
    assert rows == {"tpch.lineitem": spark.table("tpch.lineitem").count(), "tpch.orders": spark.table("tpch.orders").count(),
                    "tpch.customer": customers, "tpch.nation": nations}


def test_the_airflow_task_is_the_parent_run_and_the_artifact_is_named(demo_run):
    _, events = demo_run
    for event in events:
        parent = event["run"]["facets"]["parent"]
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("airflow-test", "demo_daily_revenue.demo.daily_revenue")
        assert parent["run"]["runId"] == PARENT[LINEAGE_PARENT_CONF["run_id"]]
        assert uuid.UUID(parent["run"]["runId"])
        assert (parent["root"]["job"]["namespace"], parent["root"]["job"]["name"]) == ("airflow-test", "demo_daily_revenue")
        ours = event["run"]["facets"]["pysparkJobs"]
        assert ours["airflow"] == {"dag_id": "demo_daily_revenue", "task_id": "demo.daily_revenue",
                                   "run_id": "scheduled__1995-03-16T00:00:00+00:00", "try_number": "2", "map_index": "-1"}
        assert ours["artifact"] == {"source": "artifact", "branch": "feature/lineage", "commit": MANIFEST["commit"],
                                    "dirty": False, "contentHash": MANIFEST["content_hash"]}
        assert (ours["ds"], ours["env"]) == (DS, "local")
        assert event["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith(DS)
    assert events[-1]["run"]["facets"]["pysparkJobs"]["summary"]["seconds"]["total"] > 0


def test_no_event_holds_a_secret(demo_run, lineage_dir):
    raw = _raw(lineage_dir)
    password = load_settings().mysql.password
    assert password and len(raw) > 1000
    assert password not in raw
    assert AWS_SECRET not in raw


# ---------------------------------------------------------------- a failing run

_OUT = Table("pj_lineage_test.never", Contract((Column("n_name", "string"), Column("ds", "string", nullable=False)),
                                             partition_by=("ds",)))


def _raises(df):
    # The message carries the MySQL password: the event must not.
    raise ValueError(f"step broke (connection password {load_settings().mysql.password})")


class _Broken(Job):
    """A job whose step raises while the run is planned."""

    name = "tests.lineage_broken"
    inputs = {"nation": NATION}
    outputs = {"out": _OUT}

    def steps(self, p):
        return {"out": step(_raises, "nation")}


def test_a_failed_run_emits_fail_with_its_error_and_no_secret(spark, lineage_dir):
    with pytest.raises(StepError):
        run_job(RunConfig(job="tests.lineage_broken", ds=DS), spark=spark)
    events = [e for e in _events(lineage_dir) if e["job"]["name"] == "tests.lineage_broken"]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert len({e["run"]["runId"] for e in events}) == 1
    error = events[-1]["run"]["facets"]["errorMessage"]
    assert "step out" in error["message"] and "step broke" in error["message"]
    assert "***" in error["message"] and "parent" not in events[-1]["run"]["facets"]
    assert load_settings().mysql.password not in _raw(lineage_dir)


# ---------------------------------------------------------------- transports, without Spark

def _lineage(target: str, **kw) -> RunLineage:
    settings = LineageSettings(target=target, **kw)
    lineage = RunLineage(RunConfig(job="tests.lineage_broken", ds=DS), settings)
    lineage.validated = True
    return lineage


def test_an_unreachable_endpoint_is_a_warning_not_a_failure(caplog):
    lineage = _lineage("http://127.0.0.1:9")  # nothing listens on the discard port
    with caplog.at_level(logging.WARNING, logger="common.lineage_events"):
        lineage.fail(ValueError("boom"))  # START + FAIL: must not raise
    assert "could not emit the START event" in caplog.text


def test_off_writes_nothing_and_disabled_silences_the_file_transport(tmp_path, monkeypatch):
    _lineage("off").fail(ValueError("boom"))
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    _lineage(tmp_path.as_uri()).fail(ValueError("boom"))
    assert list(tmp_path.iterdir()) == []


def test_an_event_holding_a_known_secret_is_not_sent(tmp_path, caplog):
    lineage = _lineage(tmp_path.as_uri(), secrets=("Daily revenue by nation",))  # the demo's job description
    lineage.config = RunConfig(job="demo.daily_revenue", ds=DS)
    with caplog.at_level(logging.WARNING, logger="common.lineage_events"):
        lineage.fail(ValueError("boom"))
    assert list(tmp_path.iterdir()) == [] and "would hold a secret" in caplog.text


def test_where_events_go_by_default_and_by_setting(tmp_path):
    from dataclasses import replace

    base = load_settings({"PYSPARK_JOBS_VAR": str(tmp_path), "PYSPARK_JOBS_HOME": str(tmp_path)})
    assert LineageSettings.load(base, {}).target == (tmp_path / "lineage").as_uri()
    assert LineageSettings.load(base, {"LOG_DIRS": f"{tmp_path}/c1,{tmp_path}/c2"}).target == (tmp_path / "c1").as_uri()
    assert LineageSettings.load(base, {"OPENLINEAGE_URL": "http://marquez:5000"}).target == "openlineage"
    assert LineageSettings.load(base, {"OPENLINEAGE__TRANSPORT__TYPE": "console"}).target == "openlineage"
    off = replace(base, values={**base.values, "PYSPARK_JOBS_LINEAGE_URL": "off"})
    assert LineageSettings.load(off, {"OPENLINEAGE_URL": "http://marquez:5000"}).target == "off"
    qa = LineageSettings.load(replace(base, values={**base.values, "PYSPARK_JOBS_LINEAGE_NAMESPACE": "acme"}), {})
    assert (qa.job_namespace("qa", "feature-x"), qa.job_namespace("prod", None)) == ("acme/qa/feature-x", "acme")


def test_the_operator_passes_the_task_try_and_the_artifacts_manifest(tmp_path):
    from types import SimpleNamespace

    from pj_airflow.operator import SparkJobOperator

    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="manual__x", try_number=3, map_index=-1)
    conf = SparkJobOperator.lineage_conf({"ti": ti}, str(tmp_path))
    assert conf[LINEAGE_PARENT_CONF["name"]] == "d.t"
    assert conf["spark.pyspark_jobs.artifact.content_hash"] == MANIFEST["content_hash"]
    assert conf["spark.pyspark_jobs.airflow.try_number"] == "3"
    again = SparkJobOperator.lineage_conf({"ti": SimpleNamespace(**{**vars(ti), "try_number": 4})}, str(tmp_path))
    assert again[LINEAGE_PARENT_CONF["run_id"]] != conf[LINEAGE_PARENT_CONF["run_id"]]  # one parent per try
    assert again[LINEAGE_PARENT_CONF["root_run_id"]] == conf[LINEAGE_PARENT_CONF["root_run_id"]]  # one DAG run
    assert SparkJobOperator.lineage_conf(None, str(tmp_path)) == {}
