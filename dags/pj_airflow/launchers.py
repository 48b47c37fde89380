"""The two ways a SubmitSpec runs: an EMR step, or spark-submit on local-cluster.

Both are plain classes driven by `SparkJobOperator`; they import the AWS provider or the
local Spark settings only when a task runs, never when a DAG file is parsed.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import quote

from common.submit import SubmitSpec

__all__ = ["ACTIVE", "DONE", "LAUNCHERS", "TERMINAL", "EmrLauncher", "LaunchError", "LocalLauncher", "step_name"]

LAUNCHERS = ("emr", "yarn", "local")
ALIVE = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
ACTIVE = ("PENDING", "RUNNING")
DONE = "COMPLETED"
TERMINAL = ("COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")
_APP_ID = re.compile(r"app-\d{14}-\d{4}")


class LaunchError(RuntimeError):
    """The run could not start or did not succeed; the message says where to look."""


def step_name(dag_id: str, task_id: str, run_id: str, map_index: int = -1, cleared_after: int = 0) -> str:
    """One name per task instance, run and clear, the same on every retry: how a retry finds its
    step, while a task cleared after try N (`cleared_after`) names, and so runs, a new step."""
    name = (f"pyspark-jobs {dag_id}.{task_id} {run_id}" + (f" [{map_index}]" if map_index >= 0 else "")
            + (f" cleared-after-try-{cleared_after}" if cleared_after > 0 else ""))
    if len(name) > 256:  # EMR's limit; keep it unique with a hash of the whole name
        name = name[:239] + "#" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return name


class EmrLauncher:
    """Add the spec as a step (or adopt this run's step from an earlier try) and wait for it."""

    def __init__(self, *, cluster: str, aws_conn_id: str | None, poll_interval: float,
                 log: logging.Logger, log_wait_s: float = 600.0) -> None:
        if not cluster:
            raise LaunchError("no EMR cluster: set the deployment's emr_cluster (a name or j-... id), "
                              "pass cluster_id, or set PYSPARK_JOBS_EMR_CLUSTER_ID")
        self.cluster = cluster
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval
        self.log_wait_s = log_wait_s
        self.log = log
        self.step_id: str | None = None
        self._cluster_id: str | None = cluster if re.fullmatch(r"j-[0-9A-Z]+", cluster) else None
        self._stop = threading.Event()
        self._client: Any = None

    @property
    def cluster_id(self) -> str:
        """The cluster's id; a name is looked up among the running clusters, once."""
        if self._cluster_id is None:
            found = []
            for page in self.client.get_paginator("list_clusters").paginate(ClusterStates=ALIVE):
                found += [c["Id"] for c in page.get("Clusters", []) if c["Name"] == self.cluster]
            if len(found) != 1:
                which = "no running EMR cluster" if not found else f"{len(found)} running EMR clusters ({', '.join(found)})"
                raise LaunchError(f"{which} named {self.cluster!r}; fix the deployment's emr_cluster "
                                  "(a unique cluster name, or its j-... id)")
            self._cluster_id = found[0]
            self.log.info("EMR cluster %r is %s", self.cluster, self._cluster_id)
        return self._cluster_id

    @property
    def client(self) -> Any:
        if self._client is None:
            from airflow.providers.amazon.aws.hooks.emr import EmrHook

            self._client = EmrHook(aws_conn_id=self.aws_conn_id).conn
        return self._client

    def find_step(self, name: str) -> dict | None:
        """This run's newest step that is pending, running or completed (list_steps is newest first)."""
        paginator = self.client.get_paginator("list_steps")
        for page in paginator.paginate(ClusterId=self.cluster_id, StepStates=[*ACTIVE, DONE]):
            for found in page.get("Steps", []):
                if found["Name"] == name:
                    return found
        return None

    def log_location(self, step_id: str) -> str:
        cluster = self.client.describe_cluster(ClusterId=self.cluster_id)["Cluster"]
        log_uri = cluster.get("LogUri")
        if not log_uri:
            return f"(cluster {self.cluster_id} has no LogUri) /mnt/var/log/hadoop/steps/{step_id}/ on the primary node"
        log_uri = re.sub(r"^s3n://", "s3://", log_uri).rstrip("/")
        return f"{log_uri}/{self.cluster_id}/steps/{step_id}/ (stderr.gz, stdout.gz, controller.gz)"

    def links(self) -> dict[str, str]:
        """The step's log folder in the S3 console and the cluster's Spark history server, as far as known."""
        if not self.step_id:
            return {}
        cluster = self.client.describe_cluster(ClusterId=self.cluster_id)["Cluster"]
        found = {}
        if cluster.get("LogUri"):
            bucket, base = _log_base(cluster["LogUri"], self.cluster_id)
            found["logs"] = (f"https://console.aws.amazon.com/s3/buckets/{bucket}?region={self.client.meta.region_name}"
                             f"&prefix={quote(f'{base}/steps/{self.step_id}/')}")
        if cluster.get("MasterPublicDnsName"):
            found["spark_ui"] = f"http://{cluster['MasterPublicDnsName']}:18080/"
        return found

    def submit(self, spec: SubmitSpec, name: str) -> tuple[str, str]:
        """(step id, state): this run's existing step if there is one, else a new step."""
        existing = self.find_step(name)
        if existing is not None:
            self.step_id = existing["Id"]
            state = existing["Status"]["State"]
            self.log.info("found step %s (%s) from an earlier try of this run: not submitting again", self.step_id, state)
            return self.step_id, state
        role = {"ExecutionRoleArn": spec.execution_role} if spec.execution_role else {}
        response = self.client.add_job_flow_steps(JobFlowId=self.cluster_id, Steps=[spec.emr_step(name)], **role)
        self.step_id = response["StepIds"][0]
        self.log.info("added step %s %r to cluster %s%s", self.step_id, name, self.cluster_id,
                      f" under runtime role {spec.execution_role}" if spec.execution_role else "")
        return self.step_id, "PENDING"

    def wait(self, step_id: str) -> dict:
        """Poll until the step ends; raise LaunchError unless it completed."""
        last = None
        while True:
            status = self.client.describe_step(ClusterId=self.cluster_id, StepId=step_id)["Step"]["Status"]
            state = status["State"]
            if state != last:
                self.log.info("step %s: %s", step_id, state)
                last = state
            if state in TERMINAL:
                break
            if self._stop.wait(self.poll_interval):
                raise LaunchError(f"stopped waiting for step {step_id}: the task was killed")
        if state != DONE:
            details = status.get("FailureDetails") or {}
            reason = "; ".join(f"{k}: {details[k]}" for k in ("Reason", "Message", "LogFile") if details.get(k))
            error = self.driver_error(step_id) if state == "FAILED" else None
            raise LaunchError(f"EMR step {step_id} {state}" + (f": {error}" if error else "")
                              + (f" ({reason})" if reason else "") + f"; logs: {self.log_location(step_id)}")
        return status

    def driver_error(self, step_id: str) -> str | None:
        """The driver's own error from the logs EMR copies to the cluster's LogUri (minutes late:
        waited for up to log_wait_s). The step's stderr names the YARN application; the
        application master's container (the driver, in cluster mode) holds the Python error."""
        from pj_airflow.yarn import APPLICATION_ID, LOG_TAIL_LINES, driver_error

        log_uri = self.client.describe_cluster(ClusterId=self.cluster_id)["Cluster"].get("LogUri")
        if not log_uri:
            return None
        bucket, base = _log_base(log_uri, self.cluster_id)
        s3 = self._s3()
        deadline = time.monotonic() + self.log_wait_s
        step_log, app, driver_log = "", None, ""
        while True:
            step_log = step_log or _read_gz(s3, bucket, f"{base}/steps/{step_id}/stderr.gz")
            found = APPLICATION_ID.search(step_log)
            app = found.group(0) if found else None
            if app:
                self.log.info("step %s ran YARN application %s", step_id, app)
                driver_log = _am_container_log(s3, bucket, f"{base}/containers/{app}/")
            if driver_log or time.monotonic() >= deadline or self._stop.is_set():
                break
            self.log.info("waiting for EMR to copy the logs of step %s to %s", step_id, log_uri)
            self._stop.wait(min(30.0, max(0.1, deadline - time.monotonic())))
        text = driver_log or step_log
        if text:
            self.log.error("driver log of step %s (last %d lines):\n%s", step_id, LOG_TAIL_LINES,
                           "\n".join(text.splitlines()[-LOG_TAIL_LINES:]))
        return driver_error(text)

    def _s3(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id).get_conn()

    def start(self, spec: SubmitSpec, name: str) -> str:
        """Submit (or adopt) the step and say where its logs go; its state."""
        step_id, state = self.submit(spec, name)
        self.log.info("step logs: %s", self.log_location(step_id))
        return state

    def finish(self, name: str, state: str) -> dict[str, Any]:
        """Wait for the started step unless it is done; raise LaunchError unless it completed."""
        assert self.step_id, "finish() follows start()"
        if state != DONE:
            self.wait(self.step_id)
        return {"cluster_id": self.cluster_id, "step_id": self.step_id, "step_name": name}

    def kill(self) -> None:
        self._stop.set()
        if not self.step_id:
            return
        self.log.info("cancelling EMR step %s on %s", self.step_id, self.cluster_id)
        try:
            response = self.client.cancel_steps(ClusterId=self.cluster_id, StepIds=[self.step_id],
                                                StepCancellationOption="SEND_INTERRUPT")
            for info in response.get("CancelStepsInfoList", []):
                self.log.info("cancel step %s: %s %s", info.get("StepId"), info.get("Status"), info.get("Reason", ""))
        except Exception as exc:  # noqa: BLE001 - on_kill must not raise; say what is left running
            self.log.error("could not cancel step %s (%s): cancel it with `aws emr cancel-steps "
                           "--cluster-id %s --step-ids %s`", self.step_id, exc, self.cluster_id, self.step_id)


def _log_base(log_uri: str, cluster_id: str) -> tuple[str, str]:
    """(bucket, key prefix) of a cluster's logs under its LogUri, where EMR copies them."""
    bucket, _, prefix = re.sub(r"^s3[an]?://", "", log_uri).partition("/")
    return bucket, f"{prefix.rstrip('/')}/{cluster_id}".lstrip("/")


def _read_gz(s3: Any, bucket: str, key: str) -> str:
    """A gzipped log object as text, or '' while EMR has not copied it yet."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception:  # noqa: BLE001 - NoSuchKey until EMR pushes the logs
        return ""
    return gzip.decompress(body).decode(errors="replace")


def _am_container_log(s3: Any, bucket: str, prefix: str) -> str:
    """stdout and stderr of the application master's container (the first of the last attempt)."""
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    containers = sorted({key[len(prefix):].split("/", 1)[0] for key in keys if key.endswith("000001/stderr.gz")})
    if not containers:
        return ""
    am = containers[-1]
    return "\n".join(_read_gz(s3, bucket, f"{prefix}{am}/{name}.gz") for name in ("stdout", "stderr"))


class LocalLauncher:
    """spark-submit on local-cluster as a child process, its output streamed to the task log."""

    def __init__(self, *, log: logging.Logger, master: str | None = None) -> None:
        self.log = log
        self.master = master or os.environ.get("PYSPARK_JOBS_LOCAL_MASTER") or "local-cluster[2,1,1024]"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def driver_python() -> str:
        return os.environ.get("PYSPARK_JOBS_DRIVER_PYTHON") or sys.executable

    @classmethod
    def spark_submit(cls) -> str:
        beside = Path(cls.driver_python()).parent / "spark-submit"
        found = os.environ.get("PYSPARK_JOBS_SPARK_SUBMIT") or (str(beside) if beside.exists() else None)
        found = found or shutil.which("spark-submit")
        if not found:
            raise LaunchError("no spark-submit: install pyspark next to the driver python or set PYSPARK_JOBS_SPARK_SUBMIT")
        return found

    def command(self, spec: SubmitSpec) -> list[str]:
        return spec.local_command(spark_submit=self.spark_submit(), driver_python=self.driver_python(),
                                  master=self.master)

    def environment(self) -> dict[str, str]:
        # The local catalog (Hive metastore on MariaDB) reaches spark-submit through
        # SPARK_CONF_DIR, a mode-600 folder: the password stays off every command line.
        from common.session import (
            prepare_local_conf_dir,  # pyspark-free; task time only
        )

        env = dict(os.environ)
        for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYSPARK_JOBS_CATALOG", "PYSPARK_GATEWAY_PORT"):
            env.pop(name, None)
        env["SPARK_CONF_DIR"] = str(prepare_local_conf_dir())
        env["PATH"] = f"{Path(self.spark_submit()).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, spec: SubmitSpec) -> dict[str, Any]:
        command = self.command(spec)
        self.log.info("running: %s", " ".join(command))
        tail: deque[str] = deque(maxlen=40)
        apps: set[str] = set()
        with tempfile.TemporaryDirectory(prefix="pyspark-jobs-submit-") as cwd:
            self.proc = subprocess.Popen(command, cwd=cwd, env=self.environment(), stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                line = line.rstrip("\n")
                self.log.info("%s", line)
                tail.append(line)
                apps.update(_APP_ID.findall(line))
            code = self.proc.wait()
        self._remove_worker_dirs(apps)
        if code != 0:
            raise LaunchError(f"spark-submit of {spec.job} exited with {code}; last lines:\n" + "\n".join(tail))
        return {"returncode": code, "command": command}

    def links(self) -> dict[str, str]:
        return {}  # local-cluster's UI and logs end with the run; its output is in the task log

    def kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self.log.info("killing spark-submit (process group %s)", proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _remove_worker_dirs(self, apps: set[str]) -> None:
        """local-cluster workers unpack the archive under $SPARK_HOME/work/<app-id>; drop them."""
        if not apps:
            return
        code = "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('pyspark').origin))"
        found = subprocess.run([self.driver_python(), "-c", code], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            for app in apps:
                shutil.rmtree(Path(found.stdout.strip()) / "work" / app, ignore_errors=True)
