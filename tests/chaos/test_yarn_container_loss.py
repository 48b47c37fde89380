"""An executor's YARN container killed in the middle of a job: YARN gives Spark a new container,
Spark reruns what was lost, and the application ends SUCCEEDED with the right answer.

The job (tests/chaos/slow_q01.py) is submitted as an EMR step is, `spark-submit --master yarn
--deploy-mode cluster` with the local cluster's configuration (var/cluster/conf, through
YarnLauncher's environment): the driver runs in the application master's container, two
executors (one core each) in two more, all on the virtualenv's interpreter (this machine is the
cluster's only node), with the step's conf (Iceberg's jar and settings, the cluster's catalog)
and one application attempt, so the application cannot pass by starting over. The input is
four files, so both executors run map tasks and hold shuffle output (there is no external
shuffle service). Once an executor of this application runs the slow Python stage, the test
finds its JVM among all the machine's processes (a container is the NodeManager's child) and
SIGKILLs it. Then:
- YARN reports the container's exit (137) to the application master, which tells the driver:
  the executor's removal names the container and the exit status, and the driver's log (the
  AM container's, from the NodeManager) has the task lost with it (ExecutorLostFailure);
- the event log shows the rest of the recovery, as on local-cluster
  (tests/chaos/test_executor_loss.py): a FetchFailed for the lost shuffle output, the map stage
  resubmitted and completed again, and a replacement executor, in a new container, added after
  the loss;
- spark-submit exits 0 and the ResourceManager reports the application FINISHED with final
  status SUCCEEDED (in cluster mode, the driver's own outcome);
- the written Q01 equals the SF0.01 reference answer.
What YARN does differently from local-cluster: it calls the SIGKILLed container one "from a bad
node", an exit caused by the application (so the lost task counts towards spark.task.maxFailures);
the event log records the executor's removal twice; the FetchFailed comes from the map output
tracker (MetadataFetchFailedException: missing output location) when a task of the slow stage
starts after the loss.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest

from common.settings import SHIPPED_JARS, load_settings
from common.submit import BASE_CONF
from pj_airflow.yarn import APPLICATION_ID, YarnLauncher, YarnLogs
from pyspark_jobs.tpch.q01 import RESULT
from tests.chaos.faults import assert_the_event_log_shows_the_recovery, busy_executor, recorded_events, require_loopback
from tests.chaos.test_executor_loss import DRIVER, DS, PYTHON, SPARK_SUBMIT
from tests.helpers import load_dev_script
from tests.pyspark_jobs.tpch.answers import compare, load_answer, read_result

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.services]

T = TypeVar("T")
CONF_DIR = load_dev_script("cluster").CONF_DIR  # var/cluster/conf, written by dev/services.sh up
FINAL_STATES = ("FINISHED", "FAILED", "KILLED")
# The EMR step's conf (BASE_CONF), on the virtualenv's interpreter instead of a packed environment.
SUBMIT_CONF = {
    **BASE_CONF,
    "spark.pyspark.python": PYTHON,
    "spark.yarn.appMasterEnv.PYSPARK_PYTHON": PYTHON,
    "spark.executorEnv.PYSPARK_PYTHON": PYTHON,
    "spark.executor.instances": "2",
    "spark.executor.cores": "1",
    "spark.executor.memory": "768m",  # + 384 MB overhead a container; the node has 8192 MB
    "spark.yarn.maxAppAttempts": "1",
}


def _command(database: str, events: Path) -> list[str]:
    jars = ",".join(str(load_settings().jars / jar) for jar in SHIPPED_JARS)
    conf = {**SUBMIT_CONF, "spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri()}
    return [str(SPARK_SUBMIT), "--master", "yarn", "--deploy-mode", "cluster", "--jars", jars,
            *(arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")), str(DRIVER), database, DS]


def _wait_for(probe: Callable[[], T | None], launcher: YarnLauncher, log: Path, what: str, seconds: float) -> T:
    """probe()'s first answer that is not None, while spark-submit runs, within `seconds`."""
    deadline = time.monotonic() + seconds
    while (found := probe()) is None:
        assert launcher.proc.poll() is None, f"spark-submit ended before {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    return found


def _application(log: Path) -> str | None:
    found = APPLICATION_ID.search(log.read_text())
    return found.group(0) if found else None


def _stop(launcher: YarnLauncher) -> None:
    """Whatever is left of this application: on YARN (killed through the ResourceManager; ending
    spark-submit alone would not end it) and spark-submit's process group."""
    try:
        ended = launcher.application_id is None or YarnLogs(launcher.conf_dir).application(
            launcher.application_id).get("state") in FINAL_STATES
    except OSError:
        ended = False
    if launcher.proc.poll() is None or not ended:
        launcher.kill()
    if launcher.proc.poll() is None:
        os.killpg(launcher.proc.pid, signal.SIGKILL)  # the group this test started
        launcher.proc.wait(timeout=60)


def _containers(events: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(executor id -> its YARN container, executor id -> why the driver removed it), from the event log."""
    recorded = recorded_events(events)
    added = {e["Executor ID"]: e["Executor Info"]["Attributes"]["CONTAINER_ID"] for e in recorded
             if e["Event"] == "SparkListenerExecutorAdded"}
    removed = {e["Executor ID"]: e["Removed Reason"] for e in recorded if e["Event"] == "SparkListenerExecutorRemoved"}
    return added, removed


def test_a_killed_yarn_container_is_replaced_and_the_application_succeeds_with_the_right_answer(
    spark, scratch_db, tpch_sf001, tmp_path
):
    launcher = YarnLauncher(log=logging.getLogger(__name__), conf_dir=str(CONF_DIR))
    yarn = YarnLogs(launcher.conf_dir)
    require_loopback(yarn.rm)
    spark.sql(f"CREATE DATABASE {scratch_db}")
    lineitem = spark.read.parquet(str(tpch_sf001 / "lineitem.parquet"))
    lineitem.repartition(4).write.saveAsTable(f"{scratch_db}.lineitem")  # four map tasks: both executors get some
    events = tmp_path / "events"
    events.mkdir()
    log = tmp_path / "spark-submit.log"
    started = time.monotonic()
    with log.open("w") as out:
        launcher.proc = subprocess.Popen(_command(scratch_db, events), cwd=tmp_path, env=launcher.environment(),
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        app = launcher.application_id = _wait_for(lambda: _application(log), launcher, log, "a YARN application", 120)
        killed, executor_id = _wait_for(lambda: busy_executor(application=app), launcher, log,
                                        "executor container running the slow stage", 400)
        os.kill(killed, signal.SIGKILL)
        launcher.proc.wait(timeout=600)
    finally:
        _stop(launcher)
    seconds = time.monotonic() - started

    text = log.read_text()
    assert launcher.proc.returncode == 0 and "final status: SUCCEEDED" in text, text[-5000:]
    report = yarn.application(app)
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report
    driver = yarn.driver_log(app)  # the application master's container log, from the NodeManager
    assert f"ExecutorLostFailure (executor {executor_id} exited" in driver, "no task was lost with the executor"
    replacements = assert_the_event_log_shows_the_recovery(events, executor_id)
    added, removed = _containers(events)
    lost = added[executor_id]
    assert f"{lost} on host" in removed[executor_id] and "Exit status: 137" in removed[executor_id], (
        f"the driver did not learn from YARN that {lost} was killed: {removed[executor_id]!r}")
    spark.catalog.refreshTable(f"{scratch_db}.q01")
    problems = compare(read_result(spark, f"{scratch_db}.q01", DS, RESULT), load_answer("q01", "sf0.01"), RESULT)
    assert not problems, "\n".join(problems)
    print(f"\nYARN container loss: {app} {report['state']}/{report['finalStatus']} in {seconds:.0f} s; executor "
          f"{executor_id} ({lost}) SIGKILLed, exit 137 reported by YARN; replaced by "
          + ", ".join(f"executor {e} ({added[e]})" for e in replacements))
