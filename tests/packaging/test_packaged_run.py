"""The local proof that an artifact works: spark-submit on local-cluster, where executors are
separate JVMs that unpack environment.tar.gz and run Python from it.

Executors use the archive's interpreter only with ``spark.pyspark.python`` (or the
PYSPARK_PYTHON variable of the spark-submit process): the driver sends that path with every
Python UDF. ``spark.executorEnv.PYSPARK_PYTHON`` alone is not enough; the executors then run
the driver's interpreter. ``spark.pyspark.driver.python`` keeps the client-mode driver on
the development interpreter, since ./environment exists only in the executors' directories.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import load_packaging_script

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
VENV_BIN = ROOT / ".venv" / "bin"
CLUSTER_PYTHON = os.environ.get("PYSPARK_JOBS_CLUSTER_PYTHON", "/usr/bin/python3.11")
MASTER = "local-cluster[2,1,1024]"

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not (VENV_BIN / "spark-submit").exists(), reason="no .venv/bin/spark-submit: run `make deps`"),
    pytest.mark.skipif(not Path(CLUSTER_PYTHON).exists(), reason=f"cluster interpreter {CLUSTER_PYTHON} not installed"),
]

PROBE = '''
import json, os, sys
from pyspark.sql import SparkSession, functions as F, types as T

def where(code):
    import pycountry
    return json.dumps({"executable": sys.executable, "prefix": sys.prefix,
                       "version": "%d.%d.%d" % sys.version_info[:3], "pycountry": pycountry.__file__,
                       "country": pycountry.countries.get(alpha_2=code).name, "pid": os.getpid()})

spark = SparkSession.builder.getOrCreate()
codes = spark.createDataFrame([(c,) for c in ["FR", "DE", "JP", "BR"]], "code string").repartition(4)
for row in codes.select(F.udf(where, T.StringType())("code").alias("w")).collect():
    print("EXECUTOR " + row.w)
print("DRIVER " + sys.executable)
spark.stop()
'''


_load = load_packaging_script


build = _load("build")


def submit_conf(environment: Path) -> list[str]:
    """What a launcher adds to spark-submit so executors run the archive's Python."""
    return [
        "--master", MASTER,
        "--archives", f"{environment}#environment",
        "--conf", "spark.pyspark.python=./environment/bin/python",
        "--conf", f"spark.pyspark.driver.python={VENV_BIN / 'python'}",
    ]


def spark_submit(args: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for var in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_HOME", "SPARK_CONF_DIR"):
        env.pop(var, None)  # the conf alone must be enough
    env.update(extra_env or {})
    run = subprocess.run([str(VENV_BIN / "spark-submit"), *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    _remove_worker_dirs(run.stderr)
    return run


def _remove_worker_dirs(log: str) -> None:
    # local-cluster workers unpack into $SPARK_HOME/work/<app-id>, inside the venv.
    code = "import os, pyspark; print(os.path.dirname(pyspark.__file__))"
    found = subprocess.run([str(VENV_BIN / "python"), "-c", code], capture_output=True, text=True, check=True)
    spark_home = Path(found.stdout.strip())
    for app in set(re.findall(r"app-\d{14}-\d{4}", log)):
        shutil.rmtree(spark_home / "work" / app, ignore_errors=True)


def test_executors_run_python_and_pycountry_from_the_archive(tmp_path):
    environment = tmp_path / "environment.tar.gz"
    python = build.probe_interpreter(CLUSTER_PYTHON)
    build.make_environment(ROOT / "requirements" / "runtime.lock", environment, cluster_python=CLUSTER_PYTHON,
                           python_prefix=python["prefix"], minor=python["minor"], extra_build_paths=[str(ROOT)])
    script = tmp_path / "probe.py"
    script.write_text(PROBE)

    run = spark_submit([*submit_conf(environment), str(script)], cwd=tmp_path)
    assert run.returncode == 0, _app_errors(run)
    rows = [json.loads(line.split(" ", 1)[1]) for line in run.stdout.splitlines() if line.startswith("EXECUTOR ")]
    assert sorted(r["country"] for r in rows) == ["Brazil", "France", "Germany", "Japan"]
    for row in rows:
        assert row["executable"].endswith("/environment/bin/python"), row
        assert row["prefix"].endswith("/environment"), row
        assert row["pycountry"].startswith(row["prefix"] + "/lib/python3.11/site-packages/"), row
        assert row["version"] == python["version"], row  # the cluster's 3.11, not the build's
    driver = next(line.split(" ", 1)[1] for line in run.stdout.splitlines() if line.startswith("DRIVER "))
    assert driver == str(VENV_BIN / "python")


@pytest.mark.services
@pytest.mark.skipif(not (ROOT / "pyspark_jobs" / "main.py").exists(), reason="pyspark_jobs/main.py not written yet")
def test_the_packaged_demo_job_runs_on_local_cluster(tmp_path):
    from common.session import prepare_local_conf_dir

    manifest = build.build(branch="pyspark-jobs/proof", dist=tmp_path / "dist", cluster_python=CLUSTER_PYTHON)
    directory = tmp_path / "dist" / manifest["slug"]
    # Under spark-submit the JVM starts before main.py runs: the local catalog's conf dir
    # (metastore, JDBC driver classpath) must be in the environment of spark-submit itself.
    conf_dir = prepare_local_conf_dir()
    run = spark_submit([*submit_conf(directory / "environment.tar.gz"), "--py-files", str(directory / "jobs.zip"),
                        str(directory / "main.py"), "run", "demo.nation_codes", "--ds", "1995-03-15", "--env", "local"],
                       cwd=tmp_path, extra_env={"SPARK_CONF_DIR": str(conf_dir)})
    assert run.returncode == 0, _app_errors(run)
    assert "output demo.nation_codes ds=1995-03-15  rows=25" in run.stdout + run.stderr


def _app_errors(run: subprocess.CompletedProcess) -> str:
    """The application's own error lines and tracebacks, not the JVM's shutdown noise."""
    lines = (run.stdout + run.stderr).splitlines()
    starts = ("error:", "Traceback", "  File ", "pyspark", "py4j", "ValueError", "TypeError",
              "ImportError", "ModuleNotFoundError", "AttributeError", "KeyError")
    keep = [ln for ln in lines if ln.startswith(starts)]
    return "\n".join(keep[-60:]) or "\n".join(lines[-80:])
