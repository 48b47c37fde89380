"""The YARN node lost in the middle of a job, its NodeManager and every container on it at once:
the application fails once, with YARN's reason, the output keeps its previous version, and a
rerun (Airflow's retry) writes the right answer.

The job is the container-loss test's (tests/chaos/test_yarn_container_loss.py): slow_q01 as an
EMR step is submitted, cluster mode, the driver in the application master's container and two
executors in two more, all on the local cluster's one node. Before it, one run of the same job
(in the test's own session, on 600 of the lines) writes the ds's previous version, whose rows
differ from the answer. Once an executor runs the slow stage, the test SIGKILLs the node: the
NodeManager's process group (it and the containers' launch scripts) and each of the
application's containers (a session of its own: the NodeManager starts containers with
setsid). Then it starts the NodeManager again through dev/services.py's service object (same
pid file, log and ports; the lost process's environment), as a rebooted node comes back.

What YARN does (Hadoop 3.3.4, measured here): nothing while the node is silent (the
ResourceManager would wait for yarn.nm.liveness-monitor.expiry-interval-ms, 10 minutes by
default, before calling it lost); the NodeManager registers again 3 to 5 s after its start, at
the same host:port and with no containers, and the ResourceManager treats that as the old node
lost ("Reconnect from the node"): its containers end with exit -100, "Container released on a
*lost* node". The application master's container was one of them, so the attempt fails, and
with spark.yarn.maxAppAttempts=1 the application fails at once: "Max app attempts is 1 ...,
preventing further attempts" (YARN honours an explicit 1 even for a node loss, which it does not
count against a larger limit). spark-submit exits 1 a second later with the ResourceManager's
diagnostics. The AM's own log was on the lost node (the restarted NodeManager deletes what the
lost one kept), so the clear error is YARN's, not the driver's.

Why the framework ships spark.yarn.maxAppAttempts=1 for EMR steps (common/deployments.py's
CLUSTER_SPARK_DEFAULTS), and keeps it: with 2, the same loss was survived inside YARN (a second
attempt started at the re-registration and ran the whole job again: SUCCEEDED with the right
answer, 67 to 79 s from submit against about 50 s without a fault), but every deterministic
failure (bad input, a broken contract, a bug: nearly all of a job's failures) would run twice
before the task hears of it, and a node cut off rather than dead may keep its first driver
running beside the second, both publishing the same partition (YARN's own reason to honour an
explicit 1). With 1 the failure comes as soon as YARN knows, names the lost node, leaves every
output at its previous version or a new one whole, and the one retry policy is Airflow's: its
retry reruns the job, as this test's rerun does. An executor's container lost alone is retried
by Spark inside the application (test_yarn_container_loss.py). If the shipped value changes, the
test follows it: with more than one attempt it expects a second attempt to succeed with the
right answer.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from common.deployments import CLUSTER_SPARK_DEFAULTS
from common.runner import RunConfig, run_job
from pj_airflow.yarn import YarnLauncher, YarnLogs
from pyspark_jobs.tpch.q01 import RESULT
from tests.chaos.faults import busy_executor, processes, require_loopback
from tests.chaos.slow_q01 import slow_q01
from tests.chaos.test_executor_loss import DRIVER, DS
from tests.chaos.test_yarn_container_loss import CONF_DIR, _application, _stop, _wait_for
from tests.chaos.test_yarn_container_loss import _command as _container_loss_command
from tests.helpers import load_dev_script, partition_location
from tests.pyspark_jobs.tpch.answers import compare, load_answer, read_result

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.services]

services = load_dev_script("services")
ATTEMPTS = int(CLUSTER_SPARK_DEFAULTS["spark.yarn.maxAppAttempts"])  # what the framework ships
LOST_NODE = "Container released on a *lost* node"  # YARN's diagnostics for a container of a lost node
CONTAINER = re.compile(r"container_\d+_\d+_\d+_\d+")
PREVIOUS_ORDERS = 600  # the previous version's run reads the lines of orders below this key
SPEC = SimpleNamespace(job="slow_q01")  # what YarnLauncher.failure reads of the spec
RUN_S = 240  # one application, submit to end; the slow stage is reached in about 25 s


class SharedNodeManager(services.YarnNodeManager):
    """The shared NodeManager (its pid file, log and ports), lost and started again as it was: with
    the environment of the process that was lost (not the test's: its Spark gateway, its settings).
    Ready once it has registered again: until then the ResourceManager lists the lost node as
    RUNNING, so the service's own health check passes at once."""

    def __init__(self) -> None:
        super().__init__()
        self.env: dict[str, str] | None = None
        self.log_from = 0  # where this start's lines begin in the log

    def environment(self) -> dict[str, str]:
        return self.env or super().environment()

    def start(self) -> None:
        self.log_from = self.log.stat().st_size if self.log.exists() else 0
        super().start()

    def registered(self) -> bool:
        with self.log.open("rb") as log:
            log.seek(self.log_from)
            return b"Registered with ResourceManager" in log.read()

    def ready(self) -> bool:
        return self.registered() and self.healthy()

    def lose(self, application: str) -> list[int]:
        """SIGKILL the node: the NodeManager's process group, then each container's of `application`
        (the groups, returned). Refused if the node runs another application's containers."""
        pid = self.pid()
        assert pid is not None and os.getpgid(pid) == pid, f"{self.name} is not running as its own process group"
        ours = "container_" + application.removeprefix("application_") + "_"
        on_node = {p: cmd for p, (_, cmd) in processes().items() if str(self.dir) in cmd}
        others = {c for cmd in on_node.values() for c in CONTAINER.findall(cmd) if not c.startswith(ours)}
        assert not others, f"the node runs containers of other applications ({sorted(others)}): run this test alone"
        groups = sorted({_group(p) for p, cmd in on_node.items() if ours in cmd} - {pid, None})
        self.env = dict(line.split("=", 1) for line in
                        Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in line)
        os.killpg(pid, signal.SIGKILL)
        for group in groups:
            os.killpg(group, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (left := [cmd for _, cmd in processes().values() if ours in cmd]) or self.pid() is not None:
            assert time.monotonic() < deadline, f"still running after SIGKILL: the NodeManager or {left}"
            time.sleep(0.1)
        return groups


def _group(pid: int) -> int | None:
    """The process group of `pid`, None if it has ended."""
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _command(database: str, events: Path) -> list[str]:
    """The container-loss test's step, with the application attempts the framework ships (a later
    --conf wins)."""
    command = _container_loss_command(database, events)
    at = command.index(str(DRIVER))
    return [*command[:at], "--conf", f"spark.yarn.maxAppAttempts={ATTEMPTS}", *command[at:]]


def _submit(launcher: YarnLauncher, database: str, work: Path) -> Path:
    """Start spark-submit (its own process group) in `work`; its output goes to the log returned."""
    (work / "events").mkdir(parents=True)
    log = work / "spark-submit.log"
    with log.open("w") as out:
        launcher.proc = subprocess.Popen(_command(database, work / "events"), cwd=work, env=launcher.environment(),
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return log


def _attempts(yarn: YarnLogs, app: str) -> int:
    """How many application master attempts the ResourceManager made for `app`."""
    with urllib.request.urlopen(f"{yarn.rm}/ws/v1/cluster/apps/{app}/appattempts", timeout=10) as response:
        return len(json.load(response)["appAttempts"]["appAttempt"])


def _version(spark, table: str) -> tuple[str | None, list[tuple]]:  # noqa: ANN001 - a SparkSession
    """The ds partition's current version (Iceberg snapshot) and its rows."""
    rows = read_result(spark, table, DS, RESULT)
    return partition_location(spark, table, DS), sorted(tuple(row.values()) for row in rows)


def _answer_problems(spark, table: str) -> list[str]:  # noqa: ANN001 - a SparkSession
    spark.catalog.refreshTable(table)
    return compare(read_result(spark, table, DS, RESULT), load_answer("q01", "sf0.01"), RESULT)


def test_a_lost_nodemanager_fails_the_application_once_keeps_the_previous_version_and_a_rerun_succeeds(
    spark, scratch_db, tpch_sf001, tmp_path, capsys
):
    from pyspark.sql import functions as F

    launcher = YarnLauncher(log=logging.getLogger(__name__), conf_dir=str(CONF_DIR))
    yarn = YarnLogs(launcher.conf_dir)
    node = SharedNodeManager()
    require_loopback(yarn.rm, services.HOST)
    assert node.pid() is not None and node.healthy(), "the shared NodeManager is not running: dev/services.sh up"
    table = f"{scratch_db}.q01"
    spark.sql(f"CREATE DATABASE {scratch_db}")
    lineitem = spark.read.parquet(str(tpch_sf001 / "lineitem.parquet"))
    lineitem.where(F.col("l_orderkey") < PREVIOUS_ORDERS).write.saveAsTable(f"{scratch_db}.lineitem")
    run_job(RunConfig(job=slow_q01(scratch_db).name, ds=DS, count_inputs=False), spark=spark)
    before = _version(spark, table)
    assert before[0] and _answer_problems(spark, table), "the previous version must differ from the answer"
    lineitem.repartition(4).write.mode("overwrite").saveAsTable(f"{scratch_db}.lineitem")  # both executors map

    started = time.monotonic()
    log = _submit(launcher, scratch_db, tmp_path / "run")
    try:
        try:
            app = launcher.application_id = _wait_for(lambda: _application(log), launcher, log,
                                                      "a YARN application", 120)
            _wait_for(lambda: busy_executor(application=app), launcher, log,
                      "an executor running the slow stage", RUN_S)
            lost_at = time.monotonic()
            groups = node.lose(app)
            node.stop()  # removes the lost process's pid file
            node.start()
            node.wait_ready()
            back_at = time.monotonic()
            launcher.proc.wait(timeout=RUN_S)
            ended_at = time.monotonic()
        finally:
            if node.pid() is None:  # whatever happened, the shared node ends running and registered
                node.start()
            node.wait_ready()
    finally:
        _stop(launcher)

    text, report, attempts = log.read_text(), yarn.application(app), _attempts(yarn, app)
    figures = (f"{app}: node lost {lost_at - started:.0f} s after submit ({len(groups)} containers), "
               f"NodeManager registered {back_at - lost_at:.1f} s later, spark-submit exit "
               f"{launcher.proc.returncode} {ended_at - back_at:.1f} s after that: {report['state']}/"
               f"{report['finalStatus']}, {attempts} attempt(s) (allowed {ATTEMPTS}), {ended_at - started:.0f} s")
    assert len(groups) == 3, f"not the application master and two executors, each in its container: {groups}"
    if ATTEMPTS == 1:
        # fails once, with YARN's reason, as soon as the ResourceManager learns that the node was lost
        assert launcher.proc.returncode == 1 and "final status: FAILED" in text, text[-5000:]
        assert LOST_NODE in text and "exitCode: -100" in text, text[-5000:]
        assert (report["state"], report["finalStatus"], attempts) == ("FAILED", "FAILED", 1), report
        assert LOST_NODE in report["diagnostics"], report["diagnostics"]
        # the task's one line: the driver's log died with the node, so YARN's reason is given
        message = launcher.failure(SPEC, launcher.proc.returncode, [])
        assert message.startswith(f"YARN application {app} of ") and LOST_NODE in message, message
        assert ended_at - back_at < 30, f"the application outlived the node's return: {figures}"
        assert _version(spark, table) == before, "the failed application changed the previous version"
        # the rerun: Airflow's retry
        launcher.application_id = None
        log = _submit(launcher, scratch_db, tmp_path / "rerun")
        try:
            rerun = launcher.application_id = _wait_for(lambda: _application(log), launcher, log,
                                                        "a YARN application", 120)
            launcher.proc.wait(timeout=RUN_S)
        finally:
            _stop(launcher)
        text, report = log.read_text(), yarn.application(rerun)
        figures += f"; rerun {rerun}: {report['state']}/{report['finalStatus']}, {time.monotonic() - ended_at:.0f} s"
    else:
        # a second attempt, on the node that came back, runs the whole job again
        assert attempts == 2, f"expected a second application attempt after the node loss: {figures}"
    assert launcher.proc.returncode == 0 and "final status: SUCCEEDED" in text, text[-5000:]
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report
    problems = _answer_problems(spark, table)
    assert not problems, "\n".join(problems)
    assert _version(spark, table)[0] != before[0], "no new version was published"
    with capsys.disabled():  # the figures docs/RELIABILITY.md quotes
        print(f"\nNodeManager loss: {figures}; {time.monotonic() - started:.0f} s from the first submit")
