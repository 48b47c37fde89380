"""Benchmark the branch artifact against a naive venv-pack of the whole development venv.

    python packaging/bench_artifact.py [--skip-naive]

Measures, and prints as a markdown table: the environment archive's size and build time
from scratch, the time of a rebuild when nothing changed (skipped on the input hash), and
the same for `venv-pack` of .venv (pyspark, Airflow, test tools and all) — what a team
gets by packing the environment it develops in.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import artifact
import build


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


def _interpreter_link(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        for info in tar:
            if info.issym() and info.name.startswith("bin/python3."):
                return info.linkname
    return "?"


def bench_branch_artifact(dist: Path, branch: str) -> dict:
    def quiet(_msg: str) -> None:
        pass

    manifest, cold = _timed(lambda: build.build(branch=branch, dist=dist, force=True, log=quiet))
    _, warm = _timed(lambda: build.build(branch=branch, dist=dist, log=quiet))
    archive = dist / manifest["slug"] / artifact.ENVIRONMENT
    return {"name": "branch artifact (runtime.lock only)", "size": archive.stat().st_size,
            "build": cold, "rebuild": warm, "link": _interpreter_link(archive),
            "files": _count(archive)}


def bench_naive(out: Path) -> dict:
    import venv_pack

    archive = out / "naive.tar.gz"
    _, seconds = _timed(lambda: venv_pack.pack(prefix=str(artifact.ROOT / ".venv"), output=str(archive),
                                               force=True, verbose=False))
    return {"name": "naive: venv-pack of .venv", "size": archive.stat().st_size, "build": seconds,
            "rebuild": seconds, "link": _interpreter_link(archive), "files": _count(archive)}


def _count(archive: Path) -> int:
    with tarfile.open(archive) as tar:
        return sum(1 for _ in tar)


def table(rows: list[dict]) -> str:
    lines = ["| environment | archive size | files | build from scratch | rebuild, nothing changed "
             "| interpreter link |",
             "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['size'] / 1e6:.1f} MB | {r['files']} | {r['build']:.1f} s "
                     f"| {r['rebuild']:.2f} s | `{r['link']}` |")
    if len(rows) == 2:
        ours, naive = rows
        lines.append("")
        lines.append(f"The branch archive is {ours['size'] / naive['size']:.1%} of the naive one's size, "
                     f"built {naive['build'] / max(ours['build'], 1e-9):.0f}x faster; an unchanged rebuild "
                     f"takes {ours['rebuild']:.2f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-naive", action="store_true", help="only the branch artifact")
    parser.add_argument("--branch", default="bench/artifact")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pyspark-jobs-bench-") as tmp:
        rows = [bench_branch_artifact(Path(tmp) / "dist", args.branch)]
        if not args.skip_naive:
            rows.append(bench_naive(Path(tmp)))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
