"""The local launcher's process handling, with a stand-in spark-submit script: output reaches
the task log, a non-zero exit fails, on_kill ends the whole process group, the local catalog
travels in SPARK_CONF_DIR and no credential is on the command line. (The real spark-submit
runs in test_dags_run.py.)"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from common.settings import load_settings
from common.submit import SubmitSpec
from pj_airflow.launchers import LaunchError, LocalLauncher

SPEC = SubmitSpec(job="demo.daily_revenue", ds="1995-03-15", env="local", artifact="/tmp/dist/main")


@pytest.fixture
def fake_submit(tmp_path, monkeypatch):
    def make(body: str):
        script = tmp_path / "spark-submit"
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(0o755)
        monkeypatch.setenv("PYSPARK_JOBS_SPARK_SUBMIT", str(script))
        return script
    return make


def test_output_streams_to_the_log_and_the_conf_dir_is_passed(fake_submit, caplog):
    fake_submit('echo "args: $*"; echo "conf: $SPARK_CONF_DIR"; ls "$SPARK_CONF_DIR"')
    with caplog.at_level(logging.INFO, logger="local-test"):
        result = LocalLauncher(log=logging.getLogger("local-test")).run(SPEC)
    assert result["returncode"] == 0
    text = caplog.text
    assert "--master local-cluster[2,1,1024]" in text and "main.py run demo.daily_revenue --ds 1995-03-15" in text
    assert "hive-site.xml" in text and "spark-defaults.conf" in text
    password = load_settings().mysql.password  # what a run would load: environment or credentials.env
    assert password, "no MySQL password configured (make services writes one to var/credentials.env)"
    assert password not in " ".join(result["command"]) and password not in text


def test_a_non_zero_exit_fails_with_the_last_lines(fake_submit):
    fake_submit('echo "Traceback: AnalysisException: column x not found"; exit 3')
    with pytest.raises(LaunchError, match=r"exited with 3(.|\n)*column x not found"):
        LocalLauncher(log=logging.getLogger("local-test")).run(SPEC)


def test_on_kill_ends_the_process_group(fake_submit, tmp_path):
    pid_file = tmp_path / "child.pid"
    fake_submit(f'sleep 300 & echo $! > {pid_file}; wait')
    launcher = LocalLauncher(log=logging.getLogger("local-test"))
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run(launcher, errors))
    thread.start()
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    child = int(pid_file.read_text())
    launcher.kill()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors and "exited with" in str(errors[0])
    time.sleep(0.5)
    assert not _alive(child), "the grandchild survived on_kill"


def _alive(pid: int) -> bool:
    """Running (a zombie left for a container's init to reap counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _run(launcher: LocalLauncher, errors: list[BaseException]) -> None:
    try:
        launcher.run(SPEC)
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)
