"""The local services answer the way the rest of the project expects (after `make services` and `make data`)."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers import load_dev_script

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("PYSPARK_JOBS_VAR", ROOT / "var"))
HOST = "127.0.0.1"
TRINO_PORT = int(os.environ.get("PYSPARK_JOBS_TRINO_PORT", "18080"))
MYSQL_PORT = int(os.environ.get("PYSPARK_JOBS_MYSQL_PORT", "13306"))
S3_PORT = int(os.environ.get("PYSPARK_JOBS_S3_PORT", "15000"))
TRINO_MYSQL_PLUGIN = VAR / "cache" / "trino-476" / "trino-server-476" / "plugin" / "mysql"
LAKE = "s3://pyspark-jobs-lake"
cluster = load_dev_script("cluster")


def credentials() -> dict[str, str]:
    lines = (VAR / "credentials.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def trino_cursor():
    import trino

    return trino.dbapi.connect(host=HOST, port=TRINO_PORT, user="pyspark-jobs-tests").cursor()


@pytest.mark.services
def test_status_reports_every_service_healthy():
    result = subprocess.run([ROOT / "dev" / "services.sh", "status"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["mariadb", "healthy"], ["trino", "healthy"], ["moto", "healthy"], ["metastore", "healthy"],
        ["yarn-rm", "healthy"], ["yarn-nm", "healthy"],
    ]


@pytest.mark.services
def test_credentials_file_is_private_and_complete():
    path = VAR / "credentials.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = credentials()
    assert creds["PYSPARK_JOBS_MYSQL_USER"] == "pyspark_jobs"
    assert len(creds["PYSPARK_JOBS_MYSQL_PASSWORD"]) >= 24
    assert len(creds["PYSPARK_JOBS_TRINO_HTTPS_PASSWORD"]) >= 24
    assert Path(creds["PYSPARK_JOBS_TRINO_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.services
def test_trinos_https_secrets_are_private_and_its_password_file_holds_a_hash_only():
    etc, tls = VAR / "trino" / "etc", VAR / "trino" / "tls"
    for path in (etc / "config.properties", etc / "password.db", tls / "keystore.p12"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    entry = (etc / "password.db").read_text()
    assert credentials()["PYSPARK_JOBS_TRINO_HTTPS_PASSWORD"] not in entry
    assert re.fullmatch(r"pyspark_jobs:\d{4,}:[0-9a-f]{32}:[0-9a-f]{64}\n", entry)


def test_new_credentials_are_added_to_an_older_file_and_existing_ones_kept(tmp_path):
    """An upgrade keeps the MySQL password the database already has; nothing is printed."""
    (tmp_path / "credentials.env").write_text("PYSPARK_JOBS_MYSQL_USER=pyspark_jobs\nPYSPARK_JOBS_MYSQL_PASSWORD=kept\n")
    code = f"import sys; sys.path.insert(0, {str(ROOT / 'dev')!r}); import services; services.read_credentials()"
    env = {**os.environ, "PYSPARK_JOBS_VAR": str(tmp_path)}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert done.stdout == done.stderr == ""
    lines = (tmp_path / "credentials.env").read_text().splitlines()
    keys = [line.split("=", 1)[0] for line in lines]
    assert keys == ["PYSPARK_JOBS_MYSQL_USER", "PYSPARK_JOBS_MYSQL_PASSWORD", "PYSPARK_JOBS_TRINO_HTTPS_PASSWORD",
                    "PYSPARK_JOBS_TRINO_CA_BUNDLE"]
    assert "PYSPARK_JOBS_MYSQL_PASSWORD=kept" in lines
    assert stat.S_IMODE((tmp_path / "credentials.env").stat().st_mode) == 0o600


@pytest.mark.services
def test_trino_tpch_catalog_has_tiny_lineitem_with_standard_column_names():
    cur = trino_cursor()
    cur.execute("SELECT count(*), count(DISTINCT l_orderkey) FROM tpch.tiny.lineitem")
    assert cur.fetchall() == [[60175, 15000]]


@pytest.mark.services
def test_trino_memory_catalog_is_writable():
    cur = trino_cursor()
    table = f"memory.default.pj_probe_{uuid.uuid4().hex[:8]}"
    cur.execute(f"CREATE TABLE {table} AS SELECT n_name FROM tpch.tiny.nation")
    cur.fetchall()
    try:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchall() == [[25]]
    finally:
        cur.execute(f"DROP TABLE {table}")
        cur.fetchall()


@pytest.mark.services
@pytest.mark.skipif(not TRINO_MYSQL_PLUGIN.is_dir(), reason="trino-mysql 476 plugin not fetched (see dev/fetch.sh)")
def test_trino_mysql_catalog_reads_mariadb():
    cur = trino_cursor()
    cur.execute("SELECT count(*) FROM mysql.tpch.nation")
    assert cur.fetchall() == [[25]]


@pytest.mark.services
def test_mariadb_holds_tpch_nation():
    import pymysql

    creds = credentials()
    conn = pymysql.connect(
        host=HOST, port=MYSQL_PORT, user=creds["PYSPARK_JOBS_MYSQL_USER"],
        password=creds["PYSPARK_JOBS_MYSQL_PASSWORD"], database="tpch",
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT n_nationkey) FROM nation")
        assert cur.fetchone() == (25, 25)


@pytest.mark.services
def test_s3_put_and_get_through_moto(monkeypatch):
    import boto3

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    s3 = boto3.client("s3", endpoint_url=f"http://{HOST}:{S3_PORT}", region_name="us-east-1")
    bucket = f"pj-test-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello")
        assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello"
    finally:
        s3.delete_object(Bucket=bucket, Key="a/b.txt")
        s3.delete_bucket(Bucket=bucket)


def test_up_refuses_a_taken_port_in_one_line(tmp_path):
    """Runs against an empty var/ of its own, so the running services are not touched."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = {**os.environ, "PYSPARK_JOBS_VAR": str(tmp_path), "PYSPARK_JOBS_S3_PORT": str(port)}
        result = subprocess.run(
            [ROOT / "dev" / "services.sh", "up", "moto"], env=env, capture_output=True, text=True, check=False,
        )
    expected = (
        f"error: moto: port {HOST}:{port} is already in use by another process; "
        "stop that process or set PYSPARK_JOBS_S3_PORT to a free port"
    )
    assert result.returncode != 0
    assert result.stderr.splitlines() == [expected]
    assert not (tmp_path / "moto" / "moto.pid").exists()


@pytest.mark.services
def test_the_mysql_secret_is_in_the_rds_format_with_the_profiles_login():
    import boto3

    keys = cluster.AWS_KEYS
    client = boto3.client(
        "secretsmanager", endpoint_url=f"http://{HOST}:{S3_PORT}", region_name=keys["AWS_DEFAULT_REGION"],
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )
    secret = json.loads(client.get_secret_value(SecretId="pyspark-jobs/local/mysql/tpch")["SecretString"])
    creds = credentials()
    same_password = secret.pop("password") == creds["PYSPARK_JOBS_MYSQL_PASSWORD"]
    assert same_password, "the secret's password is not var/credentials.env's"
    assert secret == {"engine": "mysql", "host": HOST, "port": MYSQL_PORT, "username": creds["PYSPARK_JOBS_MYSQL_USER"],
                      "dbname": "tpch"}


@pytest.mark.services
def test_a_local_session_reads_back_what_it_wrote_to_s3(spark):
    path = f"{LAKE}/tests/{uuid.uuid4().hex[:8]}/roundtrip"
    spark.createDataFrame([(1, "a"), (2, "b")], "id INT, name STRING").write.parquet(path)
    assert sorted(tuple(r) for r in spark.read.parquet(path).collect()) == [(1, "a"), (2, "b")]


@pytest.mark.services
def test_trinos_lake_catalog_reads_an_external_table_spark_wrote_to_s3(spark, scratch_db):
    spark.sql(f"CREATE DATABASE {scratch_db}")
    location = f"{LAKE}/tests/{scratch_db}/nations"
    spark.sql(f"CREATE TABLE {scratch_db}.nations (id INT, name STRING) USING parquet LOCATION '{location}'")
    spark.createDataFrame([(1, "ARGENTINA"), (2, "BRAZIL"), (3, None)], "id INT, name STRING").write.insertInto(
        f"{scratch_db}.nations")
    cur = trino_cursor()
    cur.execute(f"SELECT id, name, \"$path\" FROM lake.{scratch_db}.nations ORDER BY id")
    rows = cur.fetchall()
    assert [row[:2] for row in rows] == [[1, "ARGENTINA"], [2, "BRAZIL"], [3, None]]
    assert all(row[2].startswith(location + "/") for row in rows)


PROBE = """
import json, os, sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("pyspark-jobs yarn probe").getOrCreate()
database, path = sys.argv[1:]
spark.range(3).write.parquet(path)
print("PROBE " + json.dumps({
    "sees_database": spark.catalog.databaseExists(database),
    "rows": sorted(row.id for row in spark.read.parquet(path).collect()),
    "aws_endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    "project_variables": sorted(key for key in os.environ if key.startswith("PYSPARK_JOBS_")),
}))
"""


@pytest.fixture(scope="module")
def yarn_probe(spark, tmp_path_factory):
    """One YARN cluster-mode application through the command runner: the driver looks for a database
    this test process created, writes and reads parquet on S3; its stdout read from the NodeManager."""
    command_runner = load_dev_script("command_runner")
    database = f"pj_test_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {database}")
    script = tmp_path_factory.mktemp("yarn") / "probe.py"
    script.write_text(PROBE)
    try:
        done = command_runner.run(["spark-submit", "--deploy-mode", "cluster", "--master", "yarn", str(script),
                                   database, f"{LAKE}/tests/{database}/probe"], timeout=300)
    finally:
        spark.sql(f"DROP DATABASE {database}")
    apps = re.findall(r"application_\d+_\d+", done.stdout + done.stderr)
    return done, apps, driver_stdout(apps[-1]) if apps else ""


def driver_stdout(app: str) -> str:
    """The application master's stdout, as the NodeManager serves a finished container's log."""
    import requests

    info = requests.get(f"http://{HOST}:{cluster.port('rm-web')}/ws/v1/cluster/apps/{app}", timeout=10).json()
    container = info["app"]["amContainerLogs"].rstrip("/").split("/")[-2]
    url = f"http://{HOST}:{cluster.port('nm-web')}/ws/v1/node/containers/{container}/logs/stdout"
    return requests.get(url, timeout=10).text


@pytest.mark.services
def test_a_cluster_mode_spark_submit_through_the_command_runner_succeeds_on_yarn(yarn_probe):
    done, apps, _ = yarn_probe
    assert done.returncode == 0, done.stderr[-3000:]
    assert apps and "final status: SUCCEEDED" in done.stderr


@pytest.mark.services
def test_the_yarn_driver_shares_the_metastore_reaches_s3_and_has_a_nodes_environment(yarn_probe):
    _, _, stdout = yarn_probe
    [line] = [line for line in stdout.splitlines() if line.startswith("PROBE ")]
    assert json.loads(line.split(" ", 1)[1]) == {
        "sees_database": True, "rows": [0, 1, 2], "aws_endpoint": f"http://{HOST}:{S3_PORT}", "project_variables": [],
    }


def test_the_command_runner_gives_a_node_environment_without_the_callers(monkeypatch):
    command_runner = load_dev_script("command_runner")
    monkeypatch.setenv("PYSPARK_JOBS_MYSQL_PASSWORD", "not-for-the-node")
    done = command_runner.run(["env"])
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert not [key for key in env if key.startswith("PYSPARK_JOBS_")] and "not-for-the-node" not in done.stdout
    assert env["SPARK_CONF_DIR"] == env["HADOOP_CONF_DIR"] == str(cluster.CONF_DIR)
    assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["SPARK_DIST_CLASSPATH"].endswith("/s3a/*")


@pytest.mark.services
def test_iceberg_commits_take_and_release_the_metastores_table_lock(spark, scratch_db):
    """Iceberg's HiveCatalog locks the table in the metastore for each commit: the metastore's
    transaction tables exist, the lock id advances per commit and no lock is left behind."""
    from tests.helpers import mysql_connection

    def next_lock_id() -> int:
        with mysql_connection("metastore") as conn, conn.cursor() as cur:
            cur.execute("SELECT NL_NEXT FROM NEXT_LOCK_ID")
            return cur.fetchone()[0]

    spark.sql(f"CREATE DATABASE {scratch_db}")
    spark.sql(f"CREATE TABLE {scratch_db}.locked (id int) USING iceberg")
    before = next_lock_id()
    for value in (1, 2):
        spark.sql(f"INSERT INTO {scratch_db}.locked VALUES ({value})")
    assert next_lock_id() >= before + 2  # one lock per commit
    with mysql_connection("metastore") as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM HIVE_LOCKS WHERE HL_DB = %s", (scratch_db,))
        assert cur.fetchone()[0] == 0
    assert sorted(r.id for r in spark.table(f"{scratch_db}.locked").collect()) == [1, 2]
