"""With real passwords configured for MySQL and Trino, nothing a run prints, logs, submits or
packages carries either of them.

The passwords are the generated ones of var/credentials.env (`make services`): MySQL's, and the
password of the local Trino's HTTPS port; every run here has PYSPARK_JOBS_TRINO_HTTP_SCHEME=https,
so each process loads both. Each password is looked for as written, URL-encoded, in base64 at
each of the three byte alignments (so it is found inside longer base64 text) and as the base64
`user:password` of a Basic Authorization header. A failure names the stream or file and the
form, never the secret.

Read: (a) the CLI in-process, through Trino over HTTPS plus MySQL over JDBC, then a lake run
with JDBC: stdout, stderr and every log record; (b) the packaged spark-submit on local-cluster
with `--source trino`: its command line, stdout, stderr, every file of its executors' work dirs
and of its working directory; (c) the demo DAG's shared `airflow dags test`: its output,
branch B's task log, every file under AIRFLOW_HOME (task logs and the metadata database);
(d) the EMR step the launcher adds on moto, read back with list_steps and describe_step, and
the operator's log; (e) every file of the built dist, archives unpacked; last, the service logs
in var/log and the Trino cache the runs wrote. Not read: the two mode-600 stores the passwords
live in, var/credentials.env and the Spark conf dir's hive-site.xml.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, quote_plus

import pytest

from common.cli import main
from common.settings import load_settings
from common.slug import branch_slug
from common.submit import SubmitSpec
from tests.dags.demo_dag_run import BRANCHES, CLUSTER_PYTHON, DS
from tests.helpers import put_artifact_stub

pytestmark = pytest.mark.services

JOB = "demo.daily_revenue"
BRANCH = "qa-test/secrets"  # its own output namespace, dropped afterwards
TRINO_ARGS = ["--source", "trino", "--sample-pct", "10", "--refresh"]  # --refresh: Trino is really asked
VAR = Path(os.environ.get("PYSPARK_JOBS_VAR", Path(__file__).resolve().parents[2] / "var"))
cluster_python = pytest.mark.skipif(not Path(CLUSTER_PYTHON).exists(), reason=f"no cluster interpreter {CLUSTER_PYTHON}")


@dataclass(frozen=True)
class Secret:
    name: str
    user: str
    value: str = field(repr=False)

    def forms(self) -> dict[str, bytes]:
        """Each way the password could be written down, by a name that does not reveal it."""
        raw = self.value.encode()
        forms = {"as written": raw, "URL-encoded": quote(self.value, safe="").encode(),
                 "form-encoded": quote_plus(self.value).encode(),
                 "in a Basic Authorization header": base64.b64encode(f"{self.user}:{self.value}".encode())}
        for shift in range(3):
            # Only the characters that depend on nothing but the password's own bytes.
            encoded = base64.b64encode(b"\0" * shift + raw)
            end = len(encoded) - (4 if (shift + len(raw)) % 3 else 0)
            core = encoded[4 if shift else 0:end]
            forms[f"base64 (offset {shift})"] = core
            forms[f"urlsafe base64 (offset {shift})"] = core.replace(b"+", b"-").replace(b"/", b"_")
        return forms


class Leaks:
    """Every place a password turned up; `assert_none()` names them all at once."""

    def __init__(self, secrets: list[Secret]) -> None:
        self.needles = [(s.name, form, text) for s in secrets for form, text in s.forms().items()]
        self.found: list[str] = []
        self.read = 0

    def check(self, where: str, data: bytes | str) -> None:
        data = data.encode(errors="replace") if isinstance(data, str) else data
        self.read += 1
        for name, form, needle in self.needles:
            if needle in data:
                self.found.append(f"{where}: the {name} password, {form}")

    def check_file(self, path: Path, label: str | None = None) -> None:
        label = label or str(path)
        data = path.read_bytes()
        self.check(label, data)
        if path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                for member in archive:
                    if member.isfile():
                        self.check(f"{label}!{member.name}", archive.extractfile(member).read())
        elif path.suffix in (".zip", ".whl", ".jar"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    self.check(f"{label}!{name}", archive.read(name))

    def check_tree(self, root: Path) -> int:
        files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()]
        for path in files:
            try:
                self.check_file(path)
            except FileNotFoundError:  # a file another run removed meanwhile
                continue
        return len(files)

    def assert_none(self) -> None:
        assert not self.found, "a password leaked into:\n  " + "\n  ".join(self.found)


def test_the_scan_finds_a_password_in_each_form():
    planted = Secret("planted", "someone", "pa ss/wörd+1=?&")
    leaks = Leaks([planted])
    for pad in ("", "x", "xy"):  # base64 of a longer text holds the password at any alignment
        leaks.check(f"base64 after {len(pad)} bytes", base64.b64encode(f"{pad}{planted.value} and more".encode()))
    leaks.check("header", "Authorization: Basic " + base64.b64encode(b"someone:" + planted.value.encode()).decode())
    leaks.check("url", "jdbc:mysql://h/db?password=" + quote(planted.value, safe=""))
    leaks.check("form", "password=" + quote_plus(planted.value))
    leaks.check("clean", "nothing secret here")
    assert {line.split(":")[0] for line in leaks.found} == {
        "base64 after 0 bytes", "base64 after 1 bytes", "base64 after 2 bytes", "header", "url", "form",
    }
    assert all(planted.value not in line for line in leaks.found)


@pytest.fixture(scope="module")
def secrets() -> list[Secret]:
    settings = load_settings({**os.environ, "PYSPARK_JOBS_TRINO_HTTP_SCHEME": "https"})
    mysql, trino = settings.mysql, settings.trino
    assert len(mysql.password) >= 12, "make services writes a generated MySQL password to var/credentials.env"
    assert len(trino.password) >= 12 and trino.ca_bundle, (
        "make services writes the Trino HTTPS password and certificate path to var/credentials.env"
    )
    return [Secret("MySQL", mysql.user, mysql.password), Secret("Trino", trino.user, trino.password)]


@pytest.fixture
def leaks(secrets) -> Leaks:
    return Leaks(secrets)


@pytest.fixture
def https(monkeypatch):
    """Trino over HTTPS with its password in this process and the processes it starts."""
    monkeypatch.setenv("PYSPARK_JOBS_TRINO_HTTP_SCHEME", "https")


@pytest.fixture
def own_namespace(spark):
    name = f"qa_{branch_slug(BRANCH)}__demo"
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def _https_fetches(since: float = 0.0) -> list[dict]:
    """The _meta.json of each Trino cache entry fetched over HTTPS (since a time)."""
    https_server = f"https://127.0.0.1:{load_settings({**os.environ, 'PYSPARK_JOBS_TRINO_HTTP_SCHEME': 'https'}).trino.port}"
    metas = [json.loads(meta.read_text()) for meta in (VAR / "cache" / "trino").glob("*/_meta.json")
             if meta.stat().st_mtime >= since]
    return [meta for meta in metas if meta["server"] == https_server]


def test_cli_runs_through_trino_https_and_jdbc_print_and_log_no_password(
    spark, https, own_namespace, leaks, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    run = ["-v", "run", JOB, "--ds", DS, "--env", "qa", "--branch", BRANCH]
    started = time.time()
    assert main([*run, *TRINO_ARGS]) == 0
    trino_out, trino_err = capfd.readouterr()
    assert {"tpch.lineitem", "tpch.orders"} <= {meta["table"] for meta in _https_fetches(since=started)}
    assert re.search(r"input  lineitem .*trino tpch\.tiny\.lineitem sample 10% on l_orderkey, fetched", trino_out)
    assert re.search(r"input  customer .*mysql 127\.0\.0\.1:\d+/tpch\.customer", trino_out)
    assert main(run) == 0
    lake_out, lake_err = capfd.readouterr()
    assert f"output {own_namespace}.revenue_by_segment ds={DS}" in lake_out

    for where, text in {"stdout of the Trino run": trino_out, "stderr of the Trino run": trino_err,
                        "stdout of the lake run": lake_out, "stderr of the lake run": lake_err,
                        "log records of both runs": caplog.text}.items():
        leaks.check(where, text)
    for record in caplog.records:
        leaks.check(f"log record {record.name}:{record.lineno} (raw)", repr((record.msg, record.args, record.exc_text)))
    leaks.assert_none()


@pytest.mark.parametrize(("setting", "value", "error"), [
    ("TRINO_TABLES", "tpch.*=tpch.tiny.*,tpch.lineitem=tpch.tiny.no_such_table", "error: Trino at 127.0.0.1:"),
    ("MYSQL_DATABASE", "pj_no_such_database", "error: cannot read mysql 127.0.0.1:"),
], ids=["trino-table-missing", "mysql-database-missing"])
def test_failing_runs_name_the_cause_without_the_password(spark, https, leaks, caplog, capfd, monkeypatch,
                                                         setting, value, error):
    """Error paths carry the most context: the one line a failed read prints holds no password."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(f"PYSPARK_JOBS_{setting}", value)
    assert main(["-v", "run", JOB, "--ds", DS, "--env", "qa", "--branch", BRANCH, *TRINO_ARGS]) == 2
    out, err = capfd.readouterr()
    assert err.strip().splitlines()[-1].startswith(error)
    for where, text in {"stdout": out, "stderr": err, "log records": caplog.text}.items():
        leaks.check(f"{where} of the run failing on {setting}", text)
    leaks.assert_none()


def _spark_work() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "work"  # local-cluster workers run executors here


@pytest.mark.slow
@pytest.mark.cluster
@cluster_python
@pytest.mark.usefixtures("own_namespace")
def test_packaged_spark_submit_on_local_cluster_prints_and_leaves_no_password(demo_dag_run, https, leaks, tmp_path):
    from pj_airflow.launchers import LocalLauncher

    launcher = LocalLauncher(log=logging.getLogger(__name__))
    spec = SubmitSpec(job=JOB, ds=DS, env="qa", branch=BRANCH, params={"top_n": "10"},
                      artifact=str(demo_dag_run.dist / branch_slug(BRANCHES[0])))
    command = [*launcher.command(spec), *TRINO_ARGS]
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, env=launcher.environment(), capture_output=True, text=True,
                         timeout=900, check=False)
    print(f"\npackaged spark-submit: {time.monotonic() - started:.0f}s")
    apps = sorted(set(re.findall(r"app-\d{14}-\d{4}", run.stdout + run.stderr)))
    try:
        assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        assert "fetched" in run.stdout, "the run read through Trino"
        assert apps, "spark-submit named its application"
        leaks.check("the spark-submit command line", "\0".join(command))
        leaks.check("stdout of spark-submit", run.stdout)
        leaks.check("stderr of spark-submit", run.stderr)
        executor_files = sum(leaks.check_tree(_spark_work() / app) for app in apps)
        assert executor_files, "the executors left their stdout and stderr in the work dir"
        leaks.check_tree(tmp_path)
        leaks.assert_none()
    finally:
        for app in apps:
            shutil.rmtree(_spark_work() / app, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.cluster
@cluster_python
def test_the_demo_dag_run_prints_and_leaves_no_password(demo_dag_run, leaks):
    assert demo_dag_run.ok, demo_dag_run.output[-4000:]
    assert demo_dag_run.airflow_env["PYSPARK_JOBS_TRINO_HTTP_SCHEME"] == "https"
    leaks.check("output of airflow dags test", demo_dag_run.output)
    leaks.check("task log of branch B's launcher run", "\n".join(demo_dag_run.beta_log))
    home = Path(demo_dag_run.airflow_env["AIRFLOW_HOME"])
    assert (home / "airflow.db").is_file(), f"no Airflow metadata database in {home}"
    leaks.check_tree(home)  # logs, airflow.db (XComs, rendered template fields, task instances)
    leaks.assert_none()


def test_the_emr_step_and_the_operators_log_carry_no_password(aws, emr_cluster, https, leaks, caplog):
    from airflow.sdk.exceptions import AirflowException

    from pj_airflow.operator import SparkJobOperator

    caplog.set_level(logging.DEBUG)
    slug = branch_slug(BRANCH)
    put_artifact_stub(f"s3://pj-artifacts/builds/{slug}/0123abcd")
    op = SparkJobOperator(
        task_id=JOB, job=JOB, ds=DS, env="qa", branch=BRANCH, artifact_branch=BRANCH, artifact_channel=slug,
        artifact=f"s3://pj-artifacts/builds/{slug}/0123abcd", job_params={"top_n": "10"}, launcher="emr",
        cluster_id=emr_cluster, aws_conn_id=None, poll_interval=0.2, deferrable=False,
    )
    context = {"ti": SimpleNamespace(dag_id="qa__secrets__demo", task_id=JOB, run_id=f"manual__{DS}", map_index=-1,
                                     try_number=1, max_tries=0, xcom_push=lambda key, value: None)}
    errors: list[BaseException] = []

    def execute() -> None:
        try:
            op.execute(context)
        except AirflowException as exc:  # the kill below ends the wait
            errors.append(exc)

    thread = threading.Thread(target=execute, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not aws.list_steps(ClusterId=emr_cluster)["Steps"] and time.monotonic() < deadline:
        time.sleep(0.2)
    listed = aws.list_steps(ClusterId=emr_cluster)["Steps"]
    op.on_kill()  # moto keeps the step PENDING for ever
    thread.join(timeout=30)
    assert len(listed) == 1 and errors, "the operator added one step and stopped when killed"
    described = aws.describe_step(ClusterId=emr_cluster, StepId=listed[0]["Id"])["Step"]
    assert described["Config"]["Args"][0] == "spark-submit"

    leaks.check("list_steps of the EMR cluster", json.dumps(listed, default=str))
    leaks.check("describe_step of the EMR step", json.dumps(described, default=str))
    leaks.check("the operator's and launcher's log records", caplog.text)
    leaks.assert_none()


@pytest.mark.slow
@pytest.mark.cluster
@cluster_python
def test_the_built_artifacts_and_their_manifests_carry_no_password(demo_dag_run, leaks):
    manifests = sorted(demo_dag_run.dist.glob("*/manifest.json"))
    assert len(manifests) == len(BRANCHES), f"one manifest per branch in {demo_dag_run.dist}"
    for manifest in manifests:
        assert json.loads(manifest.read_text())["files"], manifest
    assert leaks.check_tree(demo_dag_run.dist) >= 4 * len(BRANCHES)  # environment, jobs.zip, main.py, manifest
    leaks.assert_none()


def test_service_logs_and_the_trino_cache_hold_no_password(spark, https, own_namespace, leaks):
    """Last: what the services logged and the Trino cache holds after the runs above. Run alone,
    it first fetches through Trino over HTTPS itself: there is always a cache entry to read."""
    assert leaks.check_tree(VAR / "log"), f"no service log in {VAR / 'log'}"
    if not _https_fetches():
        assert main(["run", JOB, "--ds", DS, "--env", "qa", "--branch", BRANCH, *TRINO_ARGS]) == 0
    written = sorted((VAR / "cache" / "trino").glob("*/_*"))  # _meta.json, _query.sql beside the data
    for path in written:
        leaks.check_file(path)
    assert {"_meta.json", "_query.sql"} <= {path.name for path in written} and _https_fetches(), (
        f"no Trino cache entry fetched over HTTPS in {VAR / 'cache' / 'trino'}: nothing was scanned"
    )
    leaks.assert_none()
