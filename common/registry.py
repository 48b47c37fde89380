"""Finding jobs: every module under `pyspark_jobs` except transforms modules and `main`.

Job modules import nothing heavy, so discovery never starts a JVM; DataFrame code lives in
modules named `transforms` (or inside a `transforms` package), which discovery skips.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from common.errors import UnknownJobError
from common.job import Job

__all__ = ["discover", "get_job", "all_jobs"]

PACKAGE = "pyspark_jobs"
_SKIP = {"transforms", "main"}
_discovered = False


def _walk(path: list[str], prefix: str) -> list[str]:
    """Module names under a package, never importing a skipped one (walk_packages would)."""
    names = []
    for info in pkgutil.iter_modules(path, prefix):
        last = info.name.rsplit(".", 1)[-1]
        if last in _SKIP or last.startswith("_"):
            continue
        names.append(info.name)
        if info.ispkg:
            names += _walk(importlib.import_module(info.name).__path__, info.name + ".")
    return names


def discover() -> dict[str, type[Job]]:
    global _discovered
    if not _discovered:
        for name in _walk(importlib.import_module(PACKAGE).__path__, PACKAGE + "."):
            importlib.import_module(name)
        _discovered = True
    return dict(sorted(Job.registry.items()))


def all_jobs() -> list[type[Job]]:
    return list(discover().values())


def get_job(name: str) -> type[Job]:
    jobs = discover()
    if name not in jobs:
        close = difflib.get_close_matches(name, jobs, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; 'pyspark-jobs list' shows them"
        raise UnknownJobError(f"unknown job {name!r}{hint}")
    return jobs[name]
