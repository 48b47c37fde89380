"""An executor JVM killed in the middle of a job: Spark reruns its tasks and the output is right.

The job runs under spark-submit on `local-cluster[2,1,1024]`, as the local launcher runs it:
two executors, each a separate JVM (CoarseGrainedExecutorBackend) that runs Python UDFs in its
own Python workers. The input is four files, so both executors run map tasks of the first
stage and both hold shuffle output. Once an executor is running the slow stage after that
shuffle (tests/chaos/slow_q01.py), the test SIGKILLs it. Spark loses that executor's running
task and its shuffle files; the application's event log must show each step of the recovery:
the task lost with the executor, a FetchFailed for the lost shuffle output, the map stage
resubmitted and completed again (a second attempt), and a replacement executor added after the
loss (local-cluster allows 4 attempts per task, spark.task.maxFailures). The written Q01 must
equal the SF0.01 reference answer.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.submit import SubmitSpec
from pyspark_jobs.tpch.q01 import RESULT
from tests.chaos.faults import assert_the_event_log_shows_the_recovery, busy_executor
from tests.conftest import ROOT
from tests.pyspark_jobs.tpch.answers import compare, load_answer, read_result

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.services]

MASTER = "local-cluster[2,1,1024]"
DS = "1998-12-01"
PYTHON = str(Path(sys.executable))  # the virtualenv's: it has pyspark and the project
SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"
DRIVER = ROOT / "tests" / "chaos" / "slow_q01.py"


def _submit_env() -> dict[str, str]:
    """What the local launcher gives spark-submit: the local catalog through SPARK_CONF_DIR."""
    from common.session import prepare_local_conf_dir

    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON",
                                                             "PYSPARK_JOBS_CATALOG", "PYSPARK_GATEWAY_PORT")}
    env["SPARK_CONF_DIR"] = str(prepare_local_conf_dir())
    env["PATH"] = f"{SPARK_SUBMIT.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_a_killed_executor_is_replaced_and_the_job_completes_with_the_right_answer(
    spark, scratch_db, tpch_sf001, tmp_path
):
    spark.sql(f"CREATE DATABASE {scratch_db}")
    lineitem = spark.read.parquet(str(tpch_sf001 / "lineitem.parquet"))
    lineitem.repartition(4).write.saveAsTable(f"{scratch_db}.lineitem")  # four map tasks: both executors get some
    events = tmp_path / "events"
    events.mkdir()
    command = [*SubmitSpec.local_prefix(str(SPARK_SUBMIT), PYTHON, MASTER),
               "--conf", f"spark.pyspark.python={PYTHON}", "--conf", "spark.eventLog.enabled=true",
               "--conf", f"spark.eventLog.dir={events.as_uri()}", str(DRIVER), scratch_db, DS]
    log = tmp_path / "spark-submit.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=_submit_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while (busy := busy_executor(session=proc.pid)) is None:
            assert proc.poll() is None, f"the job ended before an executor ran its slow stage:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no executor started the slow stage within 5 minutes"
            time.sleep(0.2)
        killed, executor_id = busy
        os.kill(killed, signal.SIGKILL)
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started
            proc.wait(timeout=60)
        _remove_worker_dirs(log.read_text())

    text = log.read_text()
    assert proc.returncode == 0, text[-5000:]
    assert f"ExecutorLostFailure (executor {executor_id} exited" in text, "no task was lost with the executor"
    assert_the_event_log_shows_the_recovery(events, executor_id)
    spark.catalog.refreshTable(f"{scratch_db}.q01")
    problems = compare(read_result(spark, f"{scratch_db}.q01", DS, RESULT), load_answer("q01", "sf0.01"), RESULT)
    assert not problems, "\n".join(problems)


def _remove_worker_dirs(log: str) -> None:
    """local-cluster workers keep each application's executor logs in $SPARK_HOME/work/<app-id>."""
    import pyspark

    for app in set(re.findall(r"application (app-\d{14}-\d{4})", log)):
        shutil.rmtree(Path(pyspark.__file__).parent / "work" / app, ignore_errors=True)
