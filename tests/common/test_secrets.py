"""The MySQL password never shows: not in reprs, logs, output or any process's command line."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from common.cli import main
from common.environments import Environment
from common.io.mysql import MysqlReader
from common.io.warehouse import WarehouseWriter
from common.settings import load_settings

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def password() -> str:
    secret = load_settings().mysql.password
    assert len(secret) >= 12, "make services writes a generated password to var/credentials.env"
    return secret


def _descendants(root: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        found += children
        frontier += children
    return found


def test_reprs_hide_the_password(password):
    settings = load_settings()
    for obj in (settings, settings.mysql, MysqlReader(settings.mysql), WarehouseWriter(env=Environment("local"))):
        assert password not in repr(obj)


def test_no_command_line_carries_the_password(spark, password):
    pids = _descendants(os.getpid())
    assert pids, "the Spark JVM runs as a child of the test process"
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert password not in cmdline, f"process {pid} has the password on its command line"


def test_a_run_never_logs_the_password(spark, password, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    assert main(["-v", "run", "demo.daily_revenue", "--ds", "1995-03-15"]) == 0
    out, err = capfd.readouterr()
    assert "job demo.daily_revenue ds=1995-03-15" in out
    for text in (out, err, caplog.text):
        assert password not in text
