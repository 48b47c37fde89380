"""`pyspark-jobs check --against` and `--changed` through the CLI, in a throwaway git repository
holding this checkout's common/ and pyspark_jobs/ plus two jobs reading demo.nation_codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODES = "pyspark_jobs/demo/nation_codes.py"
# Two readers of demo.nation_codes: one declares iso_alpha2, the other does not.
READERS = '''
from common.contracts import Column, Contract, Table
from common.job import Job

_DS = Column("ds", "string", nullable=False)


def _codes(*columns):
    return Table("demo.nation_codes", Contract((Column("n_nationkey", "int", nullable=False), *columns, _DS),
                                               partition_by=("ds",)))


class IsoReport(Job):
    name = "demo.iso_report"
    inputs = {"codes": _codes(Column("iso_alpha2", "string"))}
    outputs = {"iso_report": Table("demo.iso_report", Contract((Column("iso_alpha2", "string"),)))}


class NameReport(Job):
    name = "demo.name_report"
    inputs = {"codes": _codes(Column("n_name", "string", nullable=False))}
    outputs = {"name_report": Table("demo.name_report", Contract((Column("n_name", "string"),)))}
'''


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)


def _edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text()
    assert old in text, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new, 1))


def _cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "common.cli", "check", *args], cwd=repo, capture_output=True, text=True, env=env
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main holds the jobs and the two readers; HEAD is branch `feature`, identical so far."""
    repo = tmp_path / "repo"
    for package in ("common", "pyspark_jobs"):
        shutil.copytree(ROOT / package, repo / package, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "pyspark_jobs/demo/readers.py").write_text(READERS)
    _git(tmp_path, "init", "-q", "-b", "main", str(repo))
    _commit(repo, "jobs")
    _git(repo, "checkout", "-q", "-b", "feature")
    return repo


def test_no_change_passes(repo):
    done = _cli(repo, "--against")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("contracts against the merge base with main (")
    assert "0 change(s)" in done.stdout


def test_a_breaking_change_fails_naming_the_reader_of_the_column(repo):
    _edit(repo, CODES, 'Column("iso_alpha2", "string"),', 'Column("iso_alpha2", "string", nullable=False),')
    _edit(repo, CODES, 'Column("ds", "string"', 'Column("iso_alpha3", "string"),\n            Column("ds", "string"')
    _commit(repo, "iso codes never null; alpha-3 codes")
    done = _cli(repo, "--against")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "BREAKING demo.nation_codes: column iso_alpha2 becomes NOT NULL: rows already written may hold nulls; "
        "read by demo.iso_report",
        "safe     demo.nation_codes: new column iso_alpha3 string; read by demo.iso_report, demo.name_report",
        done.stdout.splitlines()[-1],
    ]
    assert done.stdout.splitlines()[-1].endswith(": 2 change(s), 1 breaking, 1 without a migration")


def test_a_breaking_change_with_its_migration_passes(repo):
    _edit(repo, CODES, 'Column("n_name", "string", nullable=False),\n', "")
    (repo / "migrations").mkdir()
    (repo / "migrations/demo.nation_codes.toml").write_text('drop_columns = ["n_name"]\n')
    _commit(repo, "nation codes without names")
    done = _cli(repo, "--against", "main")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        "migrated demo.nation_codes: column n_name string NOT NULL removed: its readers fail; read by demo.name_report; "
        "migration migrations/demo.nation_codes.toml is part of the change"
    )
    # another table's migration does not cover it
    shutil.move(repo / "migrations/demo.nation_codes.toml", repo / "migrations/demo.iso_report.toml")
    _commit(repo, "the migration renamed")
    assert _cli(repo, "--against", "main").returncode == 1


def test_a_widened_type_passes(repo):
    _edit(repo, CODES, 'Column("n_nationkey", "int"', 'Column("n_nationkey", "bigint"')
    done = _cli(repo, "--against", "main")  # uncommitted changes count too
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        "safe     demo.nation_codes: column n_nationkey widened from int to bigint; read by demo.iso_report, demo.name_report"
    )


def test_an_unknown_ref_is_one_line_exit_2(repo):
    done = _cli(repo, "--against", "no-such-branch")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: unknown git ref 'no-such-branch': give a branch, tag or commit (git fetch origin first for a remote one)"
    ]


def test_a_ref_whose_jobs_do_not_load_is_one_line_exit_2(repo):
    _edit(repo, CODES, "from common.job import", "from common.no_such_module import")
    _commit(repo, "broken")
    _git(repo, "checkout", "-q", "main")
    done = _cli(repo, "--against", "feature")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: the jobs at feature (" + _git(repo, "rev-parse", "feature")[:12]
        + ") do not load: ModuleNotFoundError: No module named 'common.no_such_module'"
    ]


def test_no_main_is_one_line_exit_2(repo):
    _git(repo, "branch", "-q", "-m", "main", "trunk")
    done = _cli(repo, "--against")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: HEAD has no merge base with main or origin/main (git fetch origin main), or name one: --against REF"
    ]


def test_changed_names_the_jobs_of_the_changed_files_and_their_readers(repo):
    _edit(repo, "pyspark_jobs/demo/transforms.py", "def with_iso_code", "def with_iso_code")  # touched, unchanged
    unchanged = _cli(repo, "--changed", "--list")
    assert (unchanged.returncode, unchanged.stdout) == (0, "")
    (repo / "pyspark_jobs/demo/transforms.py").write_text((repo / "pyspark_jobs/demo/transforms.py").read_text() + "\n# x\n")
    done = _cli(repo, "--changed", "--list")
    assert done.returncode == 0, done.stderr
    # demo.transforms is imported inside steps() by both DataFrame demo jobs; the readers follow
    assert done.stdout.splitlines() == ["demo.daily_revenue", "demo.iso_report", "demo.name_report", "demo.nation_codes"]


def test_changed_sql_file_names_its_sql_job_only(repo):
    path = repo / "pyspark_jobs/tpch/sql/q03.sql"
    path.write_text(path.read_text() + "\n")
    _commit(repo, "q03 sql")
    assert _cli(repo, "--changed", "--list").stdout.splitlines() == ["tpch.q03_sql"]


def test_changed_shared_contracts_name_every_job_importing_them(repo):
    _edit(repo, "pyspark_jobs/tpch/tables.py", 'MONEY = "decimal(15,2)"', 'MONEY = "decimal(15,2)"  # money')
    done = _cli(repo, "--changed", "--list")
    assert done.returncode == 0, done.stderr
    names = done.stdout.splitlines()
    assert "tpch.q01" in names and "demo.daily_revenue" in names and "demo.revenue_by_segment_sql" in names
    assert "demo.nation_codes" in names  # reads tpch.nation
    assert "demo.iso_report" in names  # downstream of demo.nation_codes
    assert "demo.name_report" in names


def test_a_change_under_common_names_every_job(repo):
    _edit(repo, "common/contracts.py", '"""Table contracts', '"""Table contracts.')
    names = _cli(repo, "--changed", "--list").stdout.splitlines()
    assert len(names) == len(set(names)) > 40 and "demo.iso_report" in names and "tpch.q22_sql" in names


def test_job_names_with_against_are_a_usage_error(repo):
    done = _cli(repo, "demo.nation_codes", "--against", "main")
    assert (done.returncode, done.stderr.splitlines()) == (
        2, ["error: check --against and --changed look at every job: give no JOB"]
    )


def test_changed_checks_only_the_changed_jobs(repo):
    path = repo / "pyspark_jobs/tpch/sql/q03.sql"
    path.write_text(path.read_text().replace("l_orderkey", "l_orderkey_typo", 1))
    done = _cli(repo, "--changed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "checking 1 changed job(s): tpch.q03_sql" in done.stderr
    assert "tpch.q03_sql" in done.stdout and "l_orderkey_typo" in done.stdout
    assert "tpch.q01" not in done.stdout
