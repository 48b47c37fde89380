"""The CLI's answers to bad input: one line naming the problem, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.cli import main
from common.contracts import Column, Contract, Table
from common.job import Job, step
from tests.conftest import ROOT
from tests.helpers import cli_without_metastore


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "common.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "demo.daily_revenu", "--ds", "1995-03-15"], "error: unknown job 'demo.daily_revenu'; did you mean demo.daily_revenue?"),
        (["run", "demo.daily_revenue", "--ds", "15/03/1995"], "error: ds '15/03/1995' is not a date: use --ds YYYY-MM-DD"),
        (["run", "demo.daily_revenue", "--ds", "1995-03-15", "--param", "top=3"], "error: job demo.daily_revenue has no param 'top'; its params: top_n"),
        (["run", "demo.daily_revenue", "--ds", "1995-03-15", "--param", "top_n=many"], "error: param top_n='many' is not a valid int"),
        (["run", "demo.daily_revenue", "--ds", "1995-03-15", "--env", "qa"], "error: env qa needs --branch NAME"),
        (["describe", "nope.job"], "error: unknown job 'nope.job'"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    result = _cli(*args)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("list", "describe", "run", "check", "parity", "diff", "qa", "history", "rollback", "vacuum", "migrate-table"):
        assert command in result.stdout


_OUT = Table(
    "pj_cli_out.result",
    Contract((Column("n", "bigint"), Column("ds", "string", nullable=False)), partition_by=("ds",)),
)


def _passthrough(df):
    return df


class _MissingInput(Job):
    name = "tests.missing_input"
    inputs = {"src": Table("pj_no_such_db.src", Contract((Column("n", "bigint"),)))}
    outputs = {"result": _OUT}

    def steps(self, p):
        return {"result": step(_passthrough, "src")}


class _MysqlInput(Job):
    name = "tests.mysql_input"
    inputs = {"nation": Table("tpch.nation", Contract((Column("n_nationkey", "int"),)), store="mysql")}
    outputs = {"result": _OUT}

    def steps(self, p):
        return {"result": step(_passthrough, "nation")}


def test_missing_table_fails_cleanly_and_writes_nothing(spark, capsys):
    assert main(["run", "tests.missing_input", "--ds", "2024-01-01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: table pj_no_such_db.src does not exist in the catalog")
    assert not spark.catalog.databaseExists("pj_cli_out")


@pytest.mark.services
def test_unreachable_mysql_fails_fast_and_writes_nothing(spark, capsys, monkeypatch):
    monkeypatch.setenv("PYSPARK_JOBS_MYSQL_PORT", "9")  # discard port: nothing listens
    assert main(["run", "tests.mysql_input", "--ds", "2024-01-01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot read mysql 127.0.0.1:9/tpch.nation: Communications link failure")
    assert not spark.catalog.databaseExists("pj_cli_out")


@pytest.mark.services
def test_a_metastore_that_does_not_answer_is_one_line_naming_its_address_and_nothing_is_written(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    code, last, stderr = cli_without_metastore("run", "demo.daily_revenue", "--ds", "1995-03-15",
                                               env={"PYSPARK_JOBS_LAKE_ROOT": lake.as_uri()})
    assert code == 2, stderr[-2000:]
    assert last.startswith("error: the metastore thrift://127.0.0.1:9 does not answer;"), last
    assert "metastore_uri" in last and "Traceback" not in stderr
    assert list(lake.iterdir()) == []


def test_a_table_command_stopped_by_the_metastore_is_one_line_too():
    code, last, stderr = cli_without_metastore("vacuum")
    assert code == 2, stderr[-2000:]
    assert last.startswith("error: the metastore thrift://127.0.0.1:9 does not answer;"), last
    assert last.endswith("; rerun once it answers") and "Traceback" not in stderr
