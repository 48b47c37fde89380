"""The jobs and output contracts of a checkout or of a git ref, read without pyspark.

A ref's `common` and `pyspark_jobs` are extracted with `git archive` into a temporary
directory (the working tree is never touched) and its registry is imported there in a
subprocess, which prints the metadata as JSON: job modules import nothing heavy, so this takes
a second and no JVM. The working tree is read the same way, so both sides go through the
same code and this process's registry (tests register jobs of their own) plays no part.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.contracts import Column, Contract
from common.errors import RefError

__all__ = ["JobInfo", "Snapshot", "repo_root", "resolve_ref", "default_ref", "snapshot", "snapshot_at", "changed_files"]

# Run with the tree to read first on sys.path; prints a list of jobs as JSON.
_DUMP = r"""
import json, sys
from pathlib import Path

root = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(root))
from common import registry
from common.registry import discover

# A module that does not import hides its jobs: the snapshot would be wrong, so it fails.
for module, error in getattr(registry, "broken_modules", lambda **_: {})(place=False).items():
    sys.exit(error)  # without its place: a file in a temporary tree


def rel(path):
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def contract(c):
    return {
        "columns": [[x.name, x.type, x.nullable] for x in c.columns],
        "partition_by": list(c.partition_by),
        "primary_key": list(c.primary_key),
    }


jobs = []
for name, job in discover().items():
    source = Path(sys.modules[job.__module__].__file__)
    sql = getattr(job, "sql_file", "")
    jobs.append({
        "name": name,
        "module": job.__module__,
        "file": rel(source),
        "sql": rel(source.parent / sql) if sql else None,
        "inputs": {t.name: [c.name for c in t.contract.columns] for t in job.inputs.values()},
        "outputs": {t.name: contract(t.contract) for t in job.outputs.values()},
    })
json.dump(jobs, sys.stdout)
"""


@dataclass(frozen=True)
class JobInfo:
    """A job as `check --against` sees it: where it is defined, what it reads and writes."""

    name: str
    module: str
    file: str | None  # relative to the tree's root
    sql: str | None  # a SqlJob's .sql file, relative to the root
    inputs: dict[str, tuple[str, ...]]  # table -> the columns its input contract declares
    outputs: dict[str, Contract]


@dataclass(frozen=True)
class Snapshot:
    jobs: tuple[JobInfo, ...]

    @property
    def tables(self) -> dict[str, Contract]:
        """Every output table's contract, as written by the first job by name that writes it."""
        written: dict[str, Contract] = {}
        for job in self.jobs:
            for table, contract in job.outputs.items():
                written.setdefault(table, contract)
        return written

    def readers(self, table: str) -> dict[str, tuple[str, ...]]:
        """Job name -> the columns it declares, for every job reading `table`."""
        return {job.name: job.inputs[table] for job in self.jobs if table in job.inputs}


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def repo_root(path: Path) -> Path:
    found = _git(path, "rev-parse", "--show-toplevel")
    if found.returncode:
        raise RefError(f"{path} is not inside a git checkout: --against and --changed compare with a git ref")
    return Path(found.stdout.strip())


def resolve_ref(repo: Path, ref: str) -> str:
    """The commit a ref names, or a one-line error."""
    found = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode or not ref:
        raise RefError(f"unknown git ref {ref!r}: give a branch, tag or commit (git fetch origin first for a remote one)")
    return found.stdout.strip()


def default_ref(repo: Path) -> tuple[str, str]:
    """(commit, how it was found): the merge base of HEAD with main, else with origin/main."""
    for main in ("main", "origin/main"):
        found = _git(repo, "merge-base", "HEAD", main)
        if found.returncode == 0:
            return found.stdout.strip(), f"the merge base with {main}"
    shallow = _git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    fetch = "this clone is shallow: git fetch --unshallow origin main" if shallow else "git fetch origin main"
    raise RefError(f"HEAD has no merge base with main or origin/main ({fetch}), or name one: --against REF")


def _load(tree: Path, label: str) -> Snapshot:
    done = subprocess.run(
        [sys.executable, "-B", "-c", _DUMP, str(tree)], capture_output=True, text=True, cwd=tree, check=False
    )
    if done.returncode:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RefError(f"the jobs at {label} do not load: {lines[-1]}")
    jobs = []
    for raw in json.loads(done.stdout):
        outputs = {
            table: Contract(
                tuple(Column(name, type_, nullable) for name, type_, nullable in spec["columns"]),
                partition_by=tuple(spec["partition_by"]),
                primary_key=tuple(spec["primary_key"]),
            )
            for table, spec in raw["outputs"].items()
        }
        inputs = {table: tuple(columns) for table, columns in raw["inputs"].items()}
        jobs.append(JobInfo(raw["name"], raw["module"], raw["file"], raw["sql"], inputs, outputs))
    return Snapshot(tuple(jobs))


def snapshot(root: Path) -> Snapshot:
    """The jobs of the checkout at `root`, uncommitted changes included."""
    return _load(root, "the working tree")


def snapshot_at(repo: Path, commit: str, label: str) -> Snapshot:
    """The jobs at a commit, from `git archive` of its common/ and pyspark_jobs/."""
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit, "--", "common", "pyspark_jobs"],
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        reason = archive.stderr.decode(errors="replace").strip().splitlines() or ["git archive failed"]
        raise RefError(f"the jobs at {label} do not load: {reason[-1]}")
    with tempfile.TemporaryDirectory(prefix="pyspark-jobs-ref-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        return _load(Path(tmp), label)


def changed_files(repo: Path, commit: str) -> dict[str, str]:
    """Path -> git status letter (A, M, D, ...) of every file that differs from `commit`:
    committed, uncommitted and untracked changes alike."""
    diff = _git(repo, "diff", "--name-status", "--no-renames", commit, "--")
    if diff.returncode:
        raise RefError(f"git diff against {commit[:12]} failed: {diff.stderr.strip()}")
    status = {}
    for line in diff.stdout.splitlines():
        letter, _, path = line.partition("\t")
        status[path] = letter[:1]
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard")
    status.update({path: "A" for path in untracked.stdout.splitlines()})
    return status
