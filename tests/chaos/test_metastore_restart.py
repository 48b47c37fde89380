"""The metastore service restarted while a run publishes.

The shared metastore must never be restarted, so this test starts its own from dev/services.py's
Metastore on a free port, on the same backing database (the shared MariaDB's `metastore`: both
services see the same tables, as two metastores of one catalog do) and points only the run at it
(PYSPARK_JOBS_METASTORE_URI, in a process of its own: tests/chaos/faults.py's run_cli). The job
writes a Hive-style table (tests/chaos/hive_nation_codes.py): once its staged `run=` directory
appears, nothing but the publish (`ALTER TABLE ... PARTITION ... SET LOCATION`) talks to the
metastore, so the test restarts the service right then and the outage covers the publish.

What happens, and why: each metastore call of the publish that finds the connection gone is
retried once by Hive's client (RetryingMetaStoreClient: a reconnect after 1 s, whose connect
tries 3 times, 1 s apart: about 4 s per call, and the publish makes several). A plain restart
(stop, start: about 12 s here) was outlasted by them: the publish goes through, the new version
whole. A
metastore down longer (20 s: HOLD_S) fails the publish: one line saying the metastore does not
answer, exit 2, the partition keeps its previous version. Either way the rerun (Airflow's retry)
publishes. A slow machine's restart may outlast the retries: that case then asserts the failure.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from common.cli import main
from common.environments import Environment
from tests.chaos.faults import free_port, require_loopback, run_cli
from tests.chaos.hive_nation_codes import NATION_CODES_HIVE
from tests.chaos.test_mysql_restart import NATIONS
from tests.helpers import load_dev_script, partition_location

pytestmark = [pytest.mark.chaos, pytest.mark.services]

services = load_dev_script("services")
DS = "2024-01-01"
HOLD_S = 20  # longer than Hive's client retries (a reconnect after 1 s, connect attempts 1 s apart)


class OwnMetastore(services.Metastore):
    """A metastore service of this test alone: its own port, configuration, pid file and log."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.port = free_port()
        self.dir, self.conf = root, root / "conf"
        self.pid_file, self.log = root / "metastore.pid", root / "metastore.log"

    @property
    def uri(self) -> str:
        return f"thrift://{services.HOST}:{self.port}"

    def restart(self, hold: float) -> tuple[float, float]:
        """Stop, wait `hold` seconds, start again; when it stopped and when it answered again (monotonic)."""
        self.stop()
        down = time.monotonic()
        time.sleep(hold)
        self.start()
        self.wait_ready()
        return down, time.monotonic()


@pytest.fixture(scope="module")
def own_metastore(tmp_path_factory):
    require_loopback(services.HOST, services.cluster.address("mariadb").rsplit(":", 1)[0])
    server = OwnMetastore(tmp_path_factory.mktemp("metastore"))
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def qa_output(spark, tmp_path, monkeypatch):
    """A throwaway branch whose qa namespace lies in tmp_path; its database dropped afterwards."""
    root = tmp_path / "qa"
    monkeypatch.setenv("PYSPARK_JOBS_QA_ROOT", root.as_uri())
    env = Environment("qa", f"chaos-{uuid.uuid4().hex[:8]}")
    physical = env.output_name(NATION_CODES_HIVE)
    yield env.branch, physical, root
    spark.sql(f"DROP DATABASE IF EXISTS {physical.split('.')[0]} CASCADE")


def _state(spark, table: str) -> tuple[str, list[tuple]]:
    rows = sorted(tuple(r) for r in spark.table(table).where(f"ds = '{DS}'").drop("ds").collect())
    return partition_location(spark, table, DS), rows


@pytest.mark.parametrize("hold", [0, HOLD_S], ids=["restart", "down-20s"])
def test_a_metastore_restarted_during_the_publish_never_half_publishes_and_a_rerun_publishes(
    spark, own_metastore, qa_output, tmp_path, capsys, hold
):
    branch, table, root = qa_output
    run = ["run", "tests.nation_codes_hive", "--ds", DS, "--env", "qa", "--branch", branch, "--no-input-counts"]
    assert main(run) == 0  # the previous version, through the shared metastore
    before = _state(spark, table)
    assert before[1] == NATIONS
    versions = set(root.glob(f"**/ds={DS}/run=*"))

    restarted: list[tuple[float, float]] = []

    def restart_once_staging_starts() -> None:
        deadline = time.monotonic() + 180
        while not set(root.glob(f"**/ds={DS}/run=*")) - versions:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        restarted.append(own_metastore.restart(hold))

    watcher = threading.Thread(target=restart_once_staging_starts, daemon=True)
    watcher.start()
    started = time.monotonic()
    result = run_cli(run, tmp_path / "var", {"PYSPARK_JOBS_METASTORE_URI": own_metastore.uri,
                                             "PYSPARK_JOBS_QA_ROOT": root.as_uri()},
                     preload="tests.chaos.hive_nation_codes")
    ended = time.monotonic()
    watcher.join(timeout=180)
    (tmp_path / "run.err").write_text(result.stderr)
    assert restarted, f"the run staged no version:\n{result.stderr[-3000:]}"
    down, up = restarted[0]
    reconnects = result.stderr.count("MetaStoreClient lost connection. Attempting to reconnect")
    with capsys.disabled():  # the figures docs/RELIABILITY.md quotes
        print(f"\nrun {ended - started:.0f}s; metastore down {up - down:.1f}s, the run ended {ended - down:.1f}s "
              f"after it stopped; {reconnects} reconnects; exit {result.returncode}")
    assert reconnects, "the run never lost its metastore connection: the restart missed the publish"
    err = result.stderr.strip().splitlines()
    if hold:
        # down longer than the client's retries: one line, the previous version stays
        assert result.returncode == 2, result.stderr[-3000:]
        assert err[-1].startswith(f"error: the metastore {own_metastore.uri} does not answer;"), err[-1]
        assert "Traceback" not in result.stderr
        assert _state(spark, table) == before
    elif result.returncode == 0:  # back within the client's retries: published, whole
        location, rows = _state(spark, table)
        assert location != before[0] and rows == NATIONS
    else:  # a slow machine's restart may outlast the retries: then as above
        assert err[-1].startswith(f"error: the metastore {own_metastore.uri} does not answer;"), err[-1]
        assert _state(spark, table) == before

    capsys.readouterr()
    assert main(run) == 0  # the rerun
    location, rows = _state(spark, table)
    assert location != before[0] and rows == NATIONS
