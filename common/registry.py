"""Finding jobs: every module under `pyspark_jobs` except transforms modules and `main`.

Job modules import nothing heavy, so discovery never starts a JVM; DataFrame code lives in
modules named `transforms` (or inside a `transforms` package), which discovery skips.

A module that fails to import (a syntax error, a missing dependency) does not take the others
with it: discovery records its error, every other job stays available, and asking for a job
that module may hold raises an error naming the module and what broke it.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import traceback

from common.errors import UnknownJobError
from common.job import Job

__all__ = ["discover", "get_job", "all_jobs", "broken_modules", "broken_under", "require_importable"]

PACKAGE = "pyspark_jobs"
_SKIP = {"transforms", "main"}
_discovered = False
_broken: dict[str, tuple[str, str]] = {}  # module name -> (what went wrong importing it, file:line)


def _failure(exc: BaseException) -> tuple[str, str]:
    """The exception in one line, and the place in the job's own code where it was raised."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg}", f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "importlib" not in f.filename] or frames
    return f"{type(exc).__name__}: {exc}", f"{ours[-1].filename}:{ours[-1].lineno}" if ours else ""


def _import(name: str) -> object | None:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - recorded and reported; the other modules carry on
        _broken[name] = _failure(exc)
        return None


def _walk(path: list[str], prefix: str) -> list[str]:
    """Module names under a package, never importing a skipped one (walk_packages would);
    a package that fails to import is recorded and not walked."""
    names = []
    for info in pkgutil.iter_modules(path, prefix):
        last = info.name.rsplit(".", 1)[-1]
        if last in _SKIP or last.startswith("_"):
            continue
        if not info.ispkg:
            names.append(info.name)
        elif (package := _import(info.name)) is not None:
            names += _walk(package.__path__, info.name + ".")
    return names


def discover() -> dict[str, type[Job]]:
    """Every job of every module that imports; `broken_modules()` lists the others."""
    global _discovered
    if not _discovered:
        for name in _walk(importlib.import_module(PACKAGE).__path__, PACKAGE + "."):
            _import(name)
        _discovered = True
    return {name: job for name, job in sorted(Job.registry.items()) if not _in_broken(job.__module__)}


def _in_broken(module: str) -> bool:
    return any(module == b or module.startswith(b + ".") for b in _broken)


def broken_modules(*, place: bool = True) -> dict[str, str]:
    """Job modules that failed to import, each with its error (one line), and where it was raised."""
    discover()
    return {m: f"{e} ({at})" if place and at else e for m, (e, at) in sorted(_broken.items())}


def broken_under(prefix: str) -> dict[str, str]:
    """The broken modules that may hold jobs named `prefix...` (`tpch.q` -> pyspark_jobs.tpch.q*);
    a broken package holds all of its jobs."""
    module = f"{PACKAGE}.{prefix}"
    return {m: e for m, e in broken_modules().items() if m.startswith(module) or module.startswith(m + ".")}


def _broken_error(broken: dict[str, str], what: str) -> UnknownJobError:
    named = "; ".join(f"module {m} failed to import: {e}" for m, e in broken.items())
    return UnknownJobError(f"{what}: {named}. Fix the module (`python -c 'import {next(iter(broken))}'` "
                           "shows the full traceback)")


def all_jobs() -> list[type[Job]]:
    return list(discover().values())


def get_job(name: str) -> type[Job]:
    jobs = discover()
    if name not in jobs:
        if broken := broken_under(name) or broken_under(name.split(".")[0] + "."):
            raise _broken_error(broken, f"job {name!r} cannot be loaded")
        close = difflib.get_close_matches(name, jobs, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; 'pyspark-jobs list' shows them"
        raise UnknownJobError(f"unknown job {name!r}{hint}")
    return jobs[name]


def require_importable(prefix: str, what: str) -> None:
    """Raise when a module that may hold jobs named `prefix...` failed to import."""
    if broken := broken_under(prefix):
        raise _broken_error(broken, what)
