"""A job module that does not import is reported with its error and does not take the other
jobs, `list`, `check` or the DAG files that do not use it down with it."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

import pyspark_jobs
from common import registry
from common.check import check_jobs
from common.cli import main
from common.errors import UnknownJobError
from common.job import Job
from tests.dags.test_dagbag import parse_dags

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "zzbroken"

GOOD = '''
from common.contracts import Column, Contract, Table
from common.job import Job, RunParams, step
from pyspark_jobs.tpch.tables import NATION

OUT = Table("zzbroken.names", Contract((Column("n_name", "string", nullable=False), Column("ds", "string", nullable=False)),
                                      partition_by=("ds",)))


def names(nation):
    return nation.select("n_name")


class Good(Job):
    name = "zzbroken.good"
    inputs = {"nation": NATION}
    outputs = {"names": OUT}

    def steps(self, p: RunParams):
        return {"names": step(names, "nation")}
'''


@pytest.fixture
def broken_domain(tmp_path, monkeypatch):
    """pyspark_jobs.zzbroken: one good job, one module with a syntax error, one with a missing
    dependency; discovery starts afresh and forgets them afterwards."""
    package = tmp_path / DOMAIN
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(GOOD)
    (package / "bad_syntax.py").write_text("from common.job import Job\n\nclass Oops(Job)\n    name = 'zzbroken.oops'\n")
    (package / "needs_dependency.py").write_text("import nonexistent_dependency_xyz\n")
    monkeypatch.setattr(pyspark_jobs, "__path__", [*pyspark_jobs.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_discovered", False)
    monkeypatch.setattr(registry, "_broken", {})
    yield package
    for name in [n for n in Job.registry if n.startswith(DOMAIN + ".")]:
        del Job.registry[name]
    for module in [m for m in sys.modules if m.startswith(f"pyspark_jobs.{DOMAIN}")]:
        del sys.modules[module]


def test_discovery_keeps_the_other_jobs_and_names_each_broken_module(broken_domain):
    jobs = registry.discover()
    assert "zzbroken.good" in jobs and "tpch.q05" in jobs and "demo.daily_revenue" in jobs
    broken = registry.broken_modules()
    assert sorted(broken) == ["pyspark_jobs.zzbroken.bad_syntax", "pyspark_jobs.zzbroken.needs_dependency"]
    assert broken["pyspark_jobs.zzbroken.bad_syntax"].startswith("SyntaxError: ")
    assert f"{broken_domain / 'bad_syntax.py'}:3" in broken["pyspark_jobs.zzbroken.bad_syntax"]
    assert broken["pyspark_jobs.zzbroken.needs_dependency"].startswith(
        "ModuleNotFoundError: No module named 'nonexistent_dependency_xyz'")
    assert f"{broken_domain / 'needs_dependency.py'}:1" in broken["pyspark_jobs.zzbroken.needs_dependency"]


def test_asking_for_a_job_of_a_broken_module_names_the_module(broken_domain):
    with pytest.raises(UnknownJobError) as raised:
        registry.get_job("zzbroken.bad_syntax")
    assert "module pyspark_jobs.zzbroken.bad_syntax failed to import: SyntaxError" in str(raised.value)
    with pytest.raises(UnknownJobError, match="pyspark_jobs.zzbroken.needs_dependency failed to import"):
        registry.get_job("zzbroken.oops")  # not a module name: any broken module of the domain may hold it
    assert registry.get_job("zzbroken.good").name == "zzbroken.good"


def test_list_shows_every_working_job_reports_the_broken_modules_and_fails(broken_domain, capsys):
    assert main(["list"]) == 1
    out, err = capsys.readouterr()
    assert "zzbroken.good\n" in out and "tpch.q22\n" in out and "demo.daily_revenue\n" in out
    assert "error: module pyspark_jobs.zzbroken.bad_syntax failed to import" in err
    assert "error: module pyspark_jobs.zzbroken.needs_dependency failed to import" in err


def test_check_reports_the_broken_modules_and_checks_the_rest(broken_domain, spark):
    report = io.StringIO()
    assert check_jobs(spark=spark, out=report) is False
    out = report.getvalue()
    assert "FAIL pyspark_jobs.zzbroken.bad_syntax: the module does not import" in out
    assert "FAIL pyspark_jobs.zzbroken.needs_dependency: the module does not import" in out
    assert "ok   zzbroken.good" in out and "ok   tpch.q05" in out and "ok   demo.daily_revenue" in out
    # (jobs that other test modules define may have findings of their own)
    assert [line for line in out.splitlines() if line.startswith("FAIL pyspark_jobs.")] == [
        line for line in out.splitlines() if "zzbroken" in line and line.startswith("FAIL ")
    ]


def test_only_the_dag_that_uses_a_broken_module_fails_to_parse(tmp_path):
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    for part in ("common", "pyspark_jobs", "dags"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    (copy / "pyspark_jobs" / "tpch" / "q23.py").write_text("def broken(:\n")
    parsed = parse_dags(tmp_path, root=copy)
    assert sorted(parsed["dags"]) == ["demo_daily_revenue", "demo_daily_revenue_backfill", "demo_revenue_parity"]
    ((file, error),) = parsed["errors"].items()
    assert Path(file).name == "tpch_daily.py"
    assert "module pyspark_jobs.tpch.q23 failed to import: SyntaxError" in error
