"""MySQL restarted while a job reads from it: the run fails in one line and writes nothing.

The shared MariaDB must never be restarted (other work and the metastore use it), so this
test starts its own server from dev/services.py's MariaDB on a free port, loads the TPC-H
dimensions into it and points only the MySQL inputs at it (PYSPARK_JOBS_MYSQL_PORT, read when
a run starts; the catalog stays on the shared server). `nation` becomes a view that sleeps
per row, so a read surely lasts long enough for the restart to land in the middle of it.

What happens, and why it is the answer: the JDBC tasks lose their connections; Spark's task
retries, where there are any (4 on a cluster, none on local[N]), come within milliseconds,
while the server is still down, so the job fails. The writer never swaps in a half-written
version, so the partition keeps its previous version; the CLI says so in one line, and the
rerun that Airflow's retry makes (retries=2 outside local deployments) completes.
"""

from __future__ import annotations

import dataclasses
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest

from common.cli import main
from common.contracts import HIVE
from common.environments import Environment
from common.settings import load_settings
from pyspark_jobs.demo.nation_codes import NATION_CODES
from tests.helpers import load_dev_script, partition_location

pytestmark = [pytest.mark.chaos, pytest.mark.services]

services = load_dev_script("services")
DS = "2024-01-01"
SECONDS_PER_ROW = 0.2  # 25 nations in 4 JDBC partitions: about 1.2 s per partition query
# A partition query of the split read (`... WHERE `n_nationkey` < 7 or ...`), not the bounds query.
PARTITION_QUERY = "%FROM `tpch`.`nation`%`n_nationkey` <%"
# TPC-H nations (specification 4.2.3) with their ISO 3166-1 alpha-2 codes.
NATIONS = [
    (0, "ALGERIA", "DZ"), (1, "ARGENTINA", "AR"), (2, "BRAZIL", "BR"), (3, "CANADA", "CA"), (4, "EGYPT", "EG"),
    (5, "ETHIOPIA", "ET"), (6, "FRANCE", "FR"), (7, "GERMANY", "DE"), (8, "INDIA", "IN"), (9, "INDONESIA", "ID"),
    (10, "IRAN", "IR"), (11, "IRAQ", "IQ"), (12, "JAPAN", "JP"), (13, "JORDAN", "JO"), (14, "KENYA", "KE"),
    (15, "MOROCCO", "MA"), (16, "MOZAMBIQUE", "MZ"), (17, "PERU", "PE"), (18, "CHINA", "CN"), (19, "ROMANIA", "RO"),
    (20, "SAUDI ARABIA", "SA"), (21, "VIETNAM", "VN"), (22, "RUSSIA", "RU"), (23, "UNITED KINGDOM", "GB"),
    (24, "UNITED STATES", "US"),
]


class OwnMariaDB(services.MariaDB):
    """A MariaDB server of this test alone: its own data directory, socket, pid file and port."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        with socket.socket() as probe:
            probe.bind((services.HOST, 0))
            self.port = probe.getsockname()[1]
        self.dir, self.datadir, self.socket = root, root / "data", root / "mysqld.sock"
        self.pid_file, self.log = root / "mariadb.pid", root / "mariadb.log"

    def slow_nations(self, seconds_per_row: float) -> None:
        """`tpch.nation` as a view of the loaded rows that sleeps on each (0: no delay)."""
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE OR REPLACE VIEW tpch.nation AS SELECT * FROM tpch.nation_rows "
                        f"WHERE SLEEP({seconds_per_row}) = 0")

    def restart_mid_read(self, timeout: float = 120) -> str:
        """Wait until a partition query runs, restart the server, return the query it cut off."""
        deadline = time.monotonic() + timeout
        with self.admin() as conn, conn.cursor() as cur:
            while not cur.execute("SELECT INFO FROM information_schema.PROCESSLIST "
                                  "WHERE INFO LIKE %s AND ID <> CONNECTION_ID()", (PARTITION_QUERY,)):
                assert time.monotonic() < deadline, "no partition query reached MySQL"
                time.sleep(0.05)
            query = cur.fetchone()[0]
        self.stop()
        self.start()
        self.wait_ready()
        return query


@pytest.fixture(scope="module")
def own_mariadb(tmp_path_factory, tpch_sf001):
    """Started, with the SF0.01 dimensions loaded the way `make data` loads them, as the project's user."""
    server = OwnMariaDB(tmp_path_factory.mktemp("mariadb"))
    try:
        server.start()
        server.wait_ready()
        settings = load_settings()
        loader = load_dev_script("load_tpch")
        own = dataclasses.replace(settings.mysql, port=server.port)
        with loader.mysql_connect(dataclasses.replace(settings, mysql=own)) as conn:
            loader.load_mysql(conn, tpch_sf001)
        with server.admin() as admin, admin.cursor() as cur:
            cur.execute("RENAME TABLE tpch.nation TO tpch.nation_rows")
        server.slow_nations(0)
        yield server
    finally:
        server.stop()


@pytest.fixture
def qa_output(spark):
    """The qa namespace of a throwaway branch: where demo.nation_codes writes; dropped afterwards."""
    env = Environment("qa", f"chaos-{uuid.uuid4().hex[:8]}")
    physical = env.output_name(NATION_CODES)
    yield env.branch, physical
    spark.sql(f"DROP DATABASE IF EXISTS {physical.split('.')[0]} CASCADE")


def _version(spark, table: str) -> tuple[str, list[tuple]]:
    """The ds partition's published version (hive: its run= directory; iceberg: the table's
    snapshot) and what it holds."""
    location = partition_location(spark, table, DS)
    return location, sorted(tuple(r) for r in spark.table(table).where(f"ds = '{DS}'").drop("ds").collect())


def _kept(spark, table: str, location: str) -> set[str]:
    """Every version the table keeps: run= directories of the ds (hive), snapshots (iceberg)."""
    if NATION_CODES.format == HIVE:
        return {p.name for p in Path(urlparse(location).path).parent.iterdir() if p.name.startswith("run=")}
    return {str(r.snapshot_id) for r in spark.sql(f"SELECT snapshot_id FROM {table}.snapshots").collect()}


def test_a_restart_mid_read_fails_in_one_line_keeps_the_previous_version_and_a_rerun_completes(
    spark, own_mariadb, qa_output, monkeypatch, capsys
):
    branch, table = qa_output
    run = ["run", "demo.nation_codes", "--ds", DS, "--env", "qa", "--branch", branch, "--no-input-counts"]
    # Only after the session started: its catalog (hive-site.xml) stays on the shared MariaDB.
    monkeypatch.setenv("PYSPARK_JOBS_MYSQL_PORT", str(own_mariadb.port))

    assert main(run) == 0
    location, rows = _version(spark, table)
    assert rows == NATIONS
    kept = _kept(spark, table, location)

    own_mariadb.slow_nations(SECONDS_PER_ROW)
    capsys.readouterr()
    with ThreadPoolExecutor(max_workers=1) as pool:
        restart = pool.submit(own_mariadb.restart_mid_read)
        code = main(run)
        cut_off = restart.result()
    err = capsys.readouterr().err.strip().splitlines()
    assert "`n_nationkey` <" in cut_off
    assert code == 2, err[-20:]
    assert err[-1].startswith(f"error: lost the connection to mysql 127.0.0.1:{own_mariadb.port} in the middle "
                              "of a read (Communications link failure); outputs this run had not yet written keep "
                              "their previous version"), err[-20:]
    assert not any(line.startswith("Traceback") for line in err)
    assert _version(spark, table) == (location, rows)
    assert _kept(spark, table, location) == kept, "the failed run left a staged version behind"

    own_mariadb.slow_nations(0)
    assert main(run) == 0
    new_location, new_rows = _version(spark, table)
    assert new_location != location and new_rows == NATIONS
