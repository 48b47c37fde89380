"""A `catalog = "glue"` deployment's Iceberg tables, on moto's Glue Data Catalog.

The Spark of the run gets exactly the configuration `DeploymentConfig(catalog="glue").spark_conf()`
renders, plus where the local Glue and its SDK are: moto's endpoint, the region, Hadoop's file
IO (data through s3a, as the local sessions have it) and the AWS SDK v2 jars `make fetch` puts
in var/cache/jars/glue/ (EMR provides them). A Spark session is one per process and this one's
catalog is the Hive metastore, so that run is a spark-submit of tests/production/glue_catalog_run.py.

Iceberg's SparkSessionCatalog hands namespace (database) calls to Spark's own session catalog:
on EMR that is Glue too (EMR's Glue client factory for Hive), locally the Hive metastore
service, so here the database is made in moto's Glue by the test and in the metastore by the
writer, and the table exists in Glue only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from common.deployments import DeploymentConfig
from common.session import GLUE_TEST_JARS, prepare_local_conf_dir
from common.settings import load_settings
from tests.helpers import load_dev_script, trino_rows

pytestmark = pytest.mark.services

cluster = load_dev_script("cluster")
ROOT = Path(__file__).resolve().parents[2]
RUN = Path(__file__).with_name("glue_catalog_run.py")
DS = "2024-03-01"
CATALOG = "spark.sql.catalog.spark_catalog"
# What glue_catalog_run.py writes: its second run replaces the ds's rows, a rollback restores the first's.
FIRST = [[1, "one", DS], [2, "two", DS], [3, "three", DS]]
SECOND = [[1, "uno", DS], [2, "dos", DS]]


def moto(service: str):  # noqa: ANN201 - a boto3 client
    boto3 = pytest.importorskip("boto3")
    return boto3.client(service, endpoint_url=cluster.s3_endpoint(), region_name=cluster.AWS_KEYS["AWS_DEFAULT_REGION"],
                        aws_access_key_id=cluster.AWS_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=cluster.AWS_KEYS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="module")
def glue():
    return moto("glue")


@pytest.fixture(scope="module")
def glue_run(glue, spark):
    """glue_catalog_run.py's one run on a database of moto's Glue (where the tables go) under a
    lake prefix of its own: the database, the lake root and what the run printed. Afterwards the
    database is dropped there and in the metastore (where Spark's namespace calls go), its files
    deleted."""
    db = f"pj_glue_{uuid.uuid4().hex[:8]}"
    lake = f"s3://{cluster.LAKE_BUCKET}/tests/glue-{db}"
    glue.create_database(DatabaseInput={"Name": db, "LocationUri": f"{lake}/{db}"})
    try:
        done = run_glue_step(glue_spark_conf(lake), f"{db}.events", lake, DS)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        (line,) = [line for line in done.stdout.splitlines() if line.startswith("GLUE ")]
        yield db, lake, json.loads(line.removeprefix("GLUE "))
    finally:
        for table in glue.get_tables(DatabaseName=db)["TableList"]:
            glue.delete_table(DatabaseName=db, Name=table["Name"])
        glue.delete_database(Name=db)
        spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")
        s3, prefix = moto("s3"), lake.removeprefix(f"s3://{cluster.LAKE_BUCKET}/") + "/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cluster.LAKE_BUCKET, Prefix=prefix):
            for found in page.get("Contents", []):
                s3.delete_object(Bucket=cluster.LAKE_BUCKET, Key=found["Key"])


def glue_spark_conf(lake: str) -> dict[str, str]:
    """What a glue deployment's step gets, plus only where the local Glue and its SDK are."""
    conf = DeploymentConfig(name="glue-test", lake_root=lake, catalog="glue").spark_conf()
    assert conf[f"{CATALOG}.type"] == "glue"
    settings = load_settings()
    defaults = dict(line.split(" ", 1) for line in
                    (prepare_local_conf_dir(settings) / "spark-defaults.conf").read_text().splitlines())
    classpath = f"{defaults['spark.driver.extraClassPath']}:{settings.jars / GLUE_TEST_JARS}/*"
    return {
        **conf,
        f"{CATALOG}.glue.endpoint": cluster.s3_endpoint(),
        f"{CATALOG}.client.region": cluster.AWS_KEYS["AWS_DEFAULT_REGION"],
        f"{CATALOG}.io-impl": "org.apache.iceberg.hadoop.HadoopFileIO",
        f"{CATALOG}.warehouse": lake,
        "spark.driver.extraClassPath": classpath,
    }


def run_glue_step(conf: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("spark-submit")), "--master", "local[1]",
               *(arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")), str(RUN), *args]
    env = {**os.environ, **cluster.AWS_KEYS, "PYTHONPATH": str(ROOT), "PYSPARK_PYTHON": sys.executable,
           "SPARK_CONF_DIR": str(load_settings().spark_conf_dir)}
    env.pop("AWS_PROFILE", None)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_an_iceberg_table_of_a_glue_deployment_is_written_versioned_and_rolled_back_in_glue(spark, glue, glue_run):
    db, lake, result = glue_run
    name = f"{db}.events"

    # The table is in Glue, an Iceberg table whose metadata is under the deployment's lake root.
    found = glue.get_table(DatabaseName=db, Name="events")["Table"]
    assert found["Parameters"]["table_type"] == "ICEBERG"
    metadata = found["Parameters"]["metadata_location"]
    assert metadata.startswith(f"{lake}/{db}/events/metadata/") and metadata.endswith(".metadata.json")
    assert found["StorageDescriptor"]["Location"] == f"{lake}/{db}/events"
    bucket, _, key = metadata.removeprefix("s3://").partition("/")
    assert moto("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    # ... and not in the Hive metastore, which holds only the database Spark's namespace calls made.
    assert spark.catalog.databaseExists(db)
    assert spark.sql(f"SHOW TABLES IN {db}").collect() == []
    assert not spark.catalog.tableExists(name)

    assert [run["rows"] for run in result["runs"]] == [3, 2]
    assert result["rows"] == SECOND
    versions = result["history"]
    assert [(v["run_id"], v["rows"], v["current"]) for v in versions] == [
        (result["runs"][0]["run_id"], 3, False), (result["runs"][1]["run_id"], 2, True)]
    assert f"restored version {versions[0]['version']}" in result["rollback"]
    assert result["rolled_back_rows"] == FIRST


def test_trino_reads_the_glue_table_and_each_of_its_versions(glue_run):
    """Trino's `glue` catalog (Iceberg's connector on moto's Glue, dev/services.py) reads the
    rolled-back current rows, and each version `history` listed by its snapshot id."""
    db, _, result = glue_run
    first, second = (v["version"] for v in result["history"])
    query = f"SELECT id, v, ds FROM glue.{db}.events"
    assert sorted(trino_rows(query)) == [tuple(r) for r in FIRST]
    assert sorted(trino_rows(f"{query} FOR VERSION AS OF {first}")) == [tuple(r) for r in FIRST]
    assert sorted(trino_rows(f"{query} FOR VERSION AS OF {second}")) == [tuple(r) for r in SECOND]


def test_a_glue_deployment_whose_spark_lacks_the_aws_sdk_stops_in_one_line_naming_the_fix():
    conf = glue_spark_conf(f"s3://{cluster.LAKE_BUCKET}/tests/glue-no-sdk")
    without = conf["spark.driver.extraClassPath"].removesuffix(f":{load_settings().jars / GLUE_TEST_JARS}/*")
    assert without != conf["spark.driver.extraClassPath"]
    done = run_glue_step({**conf, "spark.driver.extraClassPath": without}, "pj_glue_no_sdk.events",
                         f"s3://{cluster.LAKE_BUCKET}/tests/glue-no-sdk", DS)
    assert done.returncode != 0
    (line,) = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("common.errors.ConfigError: ")]
    assert line.endswith(
        "spark.sql.catalog.spark_catalog.type=glue needs the AWS SDK v2 (software.amazon.awssdk.services.glue.GlueClient), "
        f"which this Spark lacks: run 'make fetch' and add {load_settings().jars / GLUE_TEST_JARS}/* to "
        "spark.driver.extraClassPath (on EMR, create the cluster with the iceberg-defaults classification, "
        "iceberg.enabled=true)"), line
