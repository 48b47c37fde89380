"""A SubmitSpec run on a YARN cluster this worker can reach: the EMR step's arguments, verbatim.

`YarnLauncher` runs exactly `SubmitSpec.emr_args()` (what EMR's command-runner runs on the
primary node) with the cluster's configuration directory (HADOOP_CONF_DIR), for a
self-managed YARN, a worker on an EMR primary node, or the local production-shaped stack.
It logs the application id and tracking URL, and when the application fails it fetches the
driver's log from the ResourceManager and NodeManager REST APIs and fails with the driver's
own error. `driver_error` also reads the logs EMR copies to its LogUri.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import tempfile
import urllib.request
import xml.etree.ElementTree as ET
from collections import deque
from pathlib import Path
from typing import Any

from common.submit import SubmitSpec
from pj_airflow.launchers import LaunchError, LocalLauncher

__all__ = ["YarnLauncher", "driver_error", "APPLICATION_ID"]

APPLICATION_ID = re.compile(r"application_\d+_\d+")
_TRACKING = re.compile(r"tracking URL: (\S+)")
LOG_TAIL_LINES = 30


def driver_error(text: str) -> str | None:
    """The driver's own error in its log: the CLI's one-line `error: ...`, else a traceback's last line."""
    lines = [line.rstrip() for line in text.splitlines()]
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: "):]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Traceback (most recent call last)"):
            tail = [line for line in lines[index:] if line and not line.startswith((" ", "\t", "Traceback"))]
            return tail[-1] if tail else None
    return None


def _site_value(conf_dir: Path, name: str) -> str | None:
    path = conf_dir / "yarn-site.xml"
    if not path.is_file():
        return None
    for prop in ET.parse(path).getroot().iter("property"):
        if prop.findtext("name") == name:
            return prop.findtext("value")
    return None


class YarnLogs:
    """A finished application's driver (application master) logs, over YARN's REST APIs."""

    def __init__(self, conf_dir: Path) -> None:
        web = _site_value(conf_dir, "yarn.resourcemanager.webapp.address")
        self.rm = f"http://{web}" if web else None

    def _get(self, url: str, *, accept: str = "application/json") -> bytes:
        request = urllib.request.Request(url, headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def application(self, app_id: str) -> dict[str, Any]:
        if not self.rm:
            return {}
        return json.loads(self._get(f"{self.rm}/ws/v1/cluster/apps/{app_id}")).get("app", {})

    def diagnostics(self, app_id: str) -> str:
        """The ResourceManager's reason for the application's end, on one line, or ''."""
        try:
            return " ".join(str(self.application(app_id).get("diagnostics") or "").split())
        except (OSError, ValueError):
            return ""

    def driver_log(self, app_id: str) -> str:
        """The AM container's stdout and stderr (the driver's, in cluster mode), or '' if unreachable."""
        try:
            app = self.application(app_id)
            attempts = json.loads(self._get(f"{self.rm}/ws/v1/cluster/apps/{app_id}/appattempts"))
            attempt = attempts["appAttempts"]["appAttempt"][-1]
            node, container = attempt["nodeHttpAddress"], attempt["containerId"]
        except (OSError, ValueError, KeyError, IndexError):
            return ""
        texts = []
        for name in ("stdout", "stderr"):
            try:
                body = self._get(f"http://{node}/ws/v1/node/containers/{container}/logs/{name}", accept="text/plain")
            except OSError:
                continue
            texts.append(f"--- {name} of {container} ({app.get('finalStatus', '?')}) ---\n"
                         + body.decode(errors="replace"))
        return "\n".join(texts)


class YarnLauncher:
    """spark-submit --master yarn --deploy-mode cluster with the EMR step's arguments."""

    def __init__(self, *, log: logging.Logger, conf_dir: str | None = None) -> None:
        conf = conf_dir or os.environ.get("HADOOP_CONF_DIR")
        if not conf or not (Path(conf) / "yarn-site.xml").is_file():
            raise LaunchError(
                f"no YARN configuration at {conf or '(unset)'}: set the deployment's yarn_conf_dir or "
                "HADOOP_CONF_DIR to the cluster's client configuration (yarn-site.xml, core-site.xml)"
            )
        self.conf_dir = Path(conf)
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.application_id: str | None = None

    @staticmethod
    def command(spec: SubmitSpec) -> list[str]:
        args = spec.emr_args(assume_role=True)  # no EMR here to run the step under its role
        return [LocalLauncher.spark_submit(), *args[1:]]  # args[0] is "spark-submit"

    def environment(self) -> dict[str, str]:
        """The worker's environment with the cluster's configuration, and none of the project's
        settings: what the application needs travels in the spec, never in the submitter's env."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYSPARK_JOBS_", "PYSPARK_PYTHON", "PYSPARK_DRIVER", "PYSPARK_GATEWAY"))}
        env.update(HADOOP_CONF_DIR=str(self.conf_dir), YARN_CONF_DIR=str(self.conf_dir), SPARK_CONF_DIR=str(self.conf_dir))
        # pyspark's spark-submit finds its Spark home with the python beside it
        env["PATH"] = f"{Path(LocalLauncher.spark_submit()).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, spec: SubmitSpec) -> dict[str, Any]:
        command = self.command(spec)
        self.log.info("running on YARN (%s): %s", self.conf_dir, " ".join(command))
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        tracking = None
        with tempfile.TemporaryDirectory(prefix="pyspark-jobs-yarn-") as cwd:
            self.proc = subprocess.Popen(command, cwd=cwd, env=self.environment(), stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                found = APPLICATION_ID.search(line)
                if found and self.application_id is None:
                    self.application_id = found.group(0)
                    self.log.info("YARN application %s", self.application_id)
                url = _TRACKING.search(line)
                if url and url.group(1) != "N/A" and tracking is None:
                    tracking = url.group(1)
                    self.log.info("YARN application %s tracking URL: %s", self.application_id, tracking)
                self.log.info("%s", line)
            code = self.proc.wait()
        result = {"application_id": self.application_id, "tracking_url": tracking, "returncode": code}
        if code != 0:
            raise LaunchError(self.failure(spec, code, list(tail)))
        return result

    def links(self) -> dict[str, str]:
        """The application's page on the ResourceManager (its Spark UI, then its history and logs)."""
        rm = YarnLogs(self.conf_dir).rm
        return {"spark_ui": f"{rm}/cluster/app/{self.application_id}"} if rm and self.application_id else {}

    def failure(self, spec: SubmitSpec, code: int, tail: list[str]) -> str:
        """One message with the driver's error; the driver's log tail goes to the task log."""
        app = self.application_id
        if app is None:
            return f"spark-submit of {spec.job} exited with {code} before YARN accepted it; last lines:\n" + "\n".join(tail)
        yarn = YarnLogs(self.conf_dir)
        text = yarn.driver_log(app)
        if text:
            self.log.error("driver log of %s (last %d lines):\n%s", app, LOG_TAIL_LINES,
                           "\n".join(text.splitlines()[-LOG_TAIL_LINES:]))
        # No error line from the driver: its container died with its node, or never started.
        # Then YARN's own reason ("Container released on a *lost* node", ...) says what happened.
        error = (driver_error(text) or (f"YARN says: {reason}" if (reason := yarn.diagnostics(app)) else "")
                 or "the driver left no error line (see its log above)")
        return f"YARN application {app} of {spec.job} failed: {error}"

    def kill(self) -> None:
        proc = self.proc
        if self.application_id:
            self._kill_application(self.application_id)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def _kill_application(self, app_id: str) -> None:
        """Ask the ResourceManager to kill the application (ending spark-submit alone would not)."""
        logs = YarnLogs(self.conf_dir)
        if not logs.rm:
            return
        request = urllib.request.Request(f"{logs.rm}/ws/v1/cluster/apps/{app_id}/state", method="PUT",
                                         data=b'{"state": "KILLED"}', headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
            self.log.info("asked YARN to kill %s", app_id)
        except OSError as exc:
            self.log.error("could not kill YARN application %s (%s): kill it with `yarn application -kill %s`",
                           app_id, exc, app_id)
