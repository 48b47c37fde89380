"""`make bench ONLY=backfill`: a backfill as one Spark application against one application per day.

    dev/bench_backfill.py --days 30 --repeat 1

The demonstration job (its reports are of the lines shipped on ds) from a packaged branch,
through the local launcher on `local-cluster[2,1,1024]`, as Airflow runs it: one spark-submit
for `--ds-from D --ds-to D+29` against 30 spark-submits of one `--ds` each, each way in a qa
namespace of its own, alternating. Afterwards both namespaces must hold the same rows, or the
section says so. Prints the body of a BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench import section_stream  # dev/

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYSPARK_JOBS_HOME", str(ROOT))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "dags"))

JOB = "demo.daily_revenue"
FIRST = date(1995, 3, 1)
BRANCHES = {"range": "bench/backfill-range", "daily": "bench/backfill-daily"}


def _build(dist: Path) -> dict[str, str]:
    """The working tree packaged once per branch name (each run's qa namespace is its branch's)."""
    sys.path.insert(0, str(ROOT / "packaging"))
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_build", ROOT / "packaging" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    from common.slug import branch_slug

    for branch in BRANCHES.values():
        build.build(branch=branch, dist=dist, log=lambda _: None)
    return {kind: str(dist / branch_slug(branch)) for kind, branch in BRANCHES.items()}


def _timed(spec) -> float:  # noqa: ANN001 - a SubmitSpec
    from pj_airflow.launchers import LocalLauncher

    log = logging.getLogger("bench.backfill")
    log.propagate = False
    started = time.perf_counter()
    LocalLauncher(log=log).run(spec)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    section = section_stream()  # the section alone on standard output

    from common.environments import Environment
    from common.registry import get_job
    from common.session import get_spark
    from common.submit import SubmitSpec

    days = [(FIRST + timedelta(days=i)).isoformat() for i in range(args.days)]
    spark = get_spark("bench backfill", master="local[1]")
    ranged: list[float] = []
    daily: list[float] = []
    with tempfile.TemporaryDirectory(prefix="pyspark-jobs-bench-") as dist:
        artifacts = _build(Path(dist))

        def spec(kind: str, ds: str, ds_to: str | None = None) -> SubmitSpec:
            return SubmitSpec(job=JOB, ds=ds, ds_to=ds_to, env="qa", branch=BRANCHES[kind], artifact=artifacts[kind],
                              params={"top_n": "10"})

        for index in range(args.repeat):
            for kind in (("range", "daily") if index % 2 == 0 else ("daily", "range")):
                if kind == "range":
                    ranged.append(_timed(spec("range", days[0], days[-1])))
                else:
                    daily.append(sum(_timed(spec("daily", ds)) for ds in days))
                print(f"bench backfill: {kind} run {index}: {(ranged if kind == 'range' else daily)[-1]:.1f}s",
                      file=sys.stderr)
        differing = []
        for table in get_job(JOB).outputs.values():
            one, other = (spark.table(Environment("qa", BRANCHES[kind]).output_name(table)) for kind in ("range", "daily"))
            if one.exceptAll(other).count() or other.exceptAll(one).count():
                differing.append(table.name)
        for branch in BRANCHES.values():
            prefix = f"qa_{Environment('qa', branch).slug}__"
            for db in spark.catalog.listDatabases():
                if db.name.startswith(prefix):
                    spark.sql(f"DROP DATABASE IF EXISTS `{db.name}` CASCADE")
    spark.stop()

    one, many = statistics.median(ranged), statistics.median(daily)
    lines = [
        f"The demonstration job for {args.days} days ({days[0]} to {days[-1]}, TPC-H SF0.01 and its MySQL "
        "dimensions) from a packaged branch through the local launcher on `local-cluster[2,1,1024]`, as an "
        f"Airflow task runs it: one spark-submit of `run --ds-from --ds-to` against {args.days} spark-submits "
        f"of one `--ds` each; {args.repeat} run(s) each way, alternating. Each way writes its own qa namespace; "
        + ("the two hold the same rows." if not differing else f"**the two differ in {', '.join(differing)}**."),
        "",
        "| way | applications | wall s (median) | s per partition | ratio |",
        "|---|---|---|---|---|",
        f"| one application per day | {args.days} | {many:.1f} | {many / args.days:.2f} | 1.00 |",
        f"| backfill, one application | 1 | {one:.1f} | {one / args.days:.2f} | {one / many:.2f} |",
        "",
        f"The backfill takes {one / many:.0%} of the time: each application pays spark-submit, the JVMs of "
        "the driver and two executors, the session and its first metastore and JDBC connections; a backfill "
        "pays them once. On EMR each step adds its own scheduling and YARN container start-up, which this "
        "local measure leaves out.",
        "",
    ]
    print("\n".join(lines), file=section, flush=True)
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
