"""`pyspark-jobs check --changed`: the jobs a change touches, for CI to check and diff only those.

A job is touched when a file it is built from differs from the ref: its own module, a module
it imports (transforms, shared contracts such as tpch/tables.py, read statically from the
source, imports inside `steps()` included), its SqlJob's `.sql` file; any change under common/
touches every job, and so does a changed file under pyspark_jobs/ that no job can be tied to.
Jobs reading a touched job's outputs are touched too, transitively.
"""

from __future__ import annotations

import ast
from pathlib import Path

from common.job_snapshot import JobInfo, Snapshot, changed_files, default_ref, repo_root, resolve_ref, snapshot

__all__ = ["changed_jobs", "changed_since", "module_imports"]

PACKAGE = "pyspark_jobs"


def _module_name(path: str) -> str | None:
    if not (path.startswith(PACKAGE + "/") and path.endswith(".py")):
        return None
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _with_parents(module: str) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ too."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _imported(node: ast.AST, package: str) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
        return {base} | {f"{base}.{alias.name}" for alias in node.names}
    return set()


def _imports(tree: ast.AST, package: str) -> tuple[set[str], set[str]]:
    """(names imported when the module loads, names imported inside its functions)."""
    top: set[str] = set()
    lazy: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        (lazy if in_function else top).update(_imported(node, package))
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return top, lazy


def module_imports(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Module -> the pyspark_jobs modules it imports (with their parent packages): when it loads,
    and inside its functions (`steps()` importing its transforms)."""
    sources = {
        name: path
        for path in sorted((root / PACKAGE).rglob("*.py"))
        if (name := _module_name(path.relative_to(root).as_posix())) is not None
    }
    top: dict[str, set[str]] = {}
    lazy: dict[str, set[str]] = {}
    for name, path in sources.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        loaded, deferred = _imports(ast.parse(path.read_text(), str(path)), package)
        top[name] = {p for m in loaded if m in sources for p in _with_parents(m)} | (_with_parents(name) - {name})
        lazy[name] = {p for m in deferred if m in sources for p in _with_parents(m)}
    return top, lazy


def _built_from(job: JobInfo, graphs: tuple[dict[str, set[str]], dict[str, set[str]]], job_modules: set[str]) -> set[str]:
    """The modules a job runs: its own, what they load, and what functions import when they run.
    Another job module's functions (its steps()) do not run for this job."""
    top, lazy = graphs
    seen, todo = {job.module}, [job.module]
    while todo:
        module = todo.pop()
        follow = top.get(module, set())
        if module == job.module or module not in job_modules:
            follow = follow | lazy.get(module, set())
        for found in follow - seen:
            seen.add(found)
            todo.append(found)
    return seen


def changed_jobs(root: Path, jobs: Snapshot, files: set[str]) -> list[str]:
    """Names of the jobs touched by a change to `files` (paths relative to `root`), sorted."""
    ours = {f for f in files if f.startswith(("common/", PACKAGE + "/"))}
    sql = {job.sql for job in jobs.jobs if job.sql}
    untied = {f for f in ours if f.startswith(PACKAGE + "/") and _module_name(f) is None and f not in sql}
    if any(f.startswith("common/") for f in ours) or untied:
        return sorted(job.name for job in jobs.jobs)
    graphs = module_imports(root)
    job_modules = {job.module for job in jobs.jobs}
    modules = {m for f in ours if (m := _module_name(f)) is not None}
    touched = {
        job.name for job in jobs.jobs if job.sql in ours or _built_from(job, graphs, job_modules) & modules
    }
    written = {table for job in jobs.jobs if job.name in touched for table in job.outputs}
    while True:
        readers = [job for job in jobs.jobs if job.name not in touched and written & set(job.inputs)]
        if not readers:
            return sorted(touched)
        touched |= {job.name for job in readers}
        written |= {table for job in readers for table in job.outputs}


def changed_since(ref: str | None, cwd: Path) -> list[str]:
    """The jobs the working tree at `cwd` changes relative to `ref` (default: the merge base with main)."""
    root = repo_root(cwd)
    commit = resolve_ref(root, ref) if ref else default_ref(root)[0]
    return changed_jobs(root, snapshot(root), set(changed_files(root, commit)))
