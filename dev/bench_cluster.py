"""`make bench ONLY=cluster`: the demonstration job in production's shape against the quick path.

    dev/bench_cluster.py --sf 1 --repeat 3

Both sides run the same SubmitSpec of a packaged branch through the framework, alternating:
- YARN + S3: the EMR step's arguments in YARN cluster mode (the yarn launcher) on the local
  ResourceManager and NodeManager, inputs and outputs on S3 (moto) through the metastore service,
  MySQL credentials from Secrets Manager;
- local-cluster + disk: the local launcher (`local-cluster[2,1,1024]`, driver on this machine),
  inputs and outputs on local disk.
Phases come from the run summary the driver prints (plan: reading inputs' metadata and building
the steps; cache: reading and joining the inputs; write: staging the three outputs; publish:
pointing the partitions at them), and submit is the wall time outside the driver's own run
(spark-submit, YARN scheduling, container and Python start-up). S3 requests per output partition
are counted in moto's request log. Prints the body of a BENCHMARKS.md section.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench import section_stream  # dev/

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYSPARK_JOBS_HOME", str(ROOT))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "dags"))

import importlib.util  # noqa: E402


def _load(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "dev" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stack = _load("stack")
JOB, DS = "demo.daily_revenue", "1995-03-15"
BRANCHES = {"yarn": "bench/yarn-s3", "local": "bench/local-disk"}
PHASES = ("submit", "plan", "cache", "write", "publish", "total")
_TIME = re.compile(r"^\s*time\s+(.+?)\s+([\d.]+)s$")


def phases(summary: str, wall: float) -> dict[str, float]:
    """Seconds per phase from the run summary's `time` lines and the launcher's wall time."""
    times = {m.group(1).strip(): float(m.group(2)) for m in map(_TIME.match, summary.splitlines()) if m}
    total = times["total"]
    writes = max((v for k, v in times.items() if k.startswith("write ") and k != "write outputs (concurrent), publish"),
                 default=0.0)
    concurrent = times.get("write outputs (concurrent), publish", 0.0)
    return {
        "submit": wall - total,
        "plan": times.get("plan (read inputs, build steps)", 0.0),
        "cache": sum(v for k, v in times.items() if k.startswith("cache ")),
        "write": writes,
        "publish": concurrent - writes,
        "total": wall,
    }


def moto_requests(log: Path, start: int, prefixes: list[str]) -> int:
    """Requests in moto's log since byte `start` whose path or list prefix is under one of `prefixes`."""
    with open(log, "rb") as handle:
        handle.seek(start)
        lines = handle.read().decode(errors="replace").splitlines()
    count = 0
    for line in lines:
        found = re.search(r'"[A-Z]+ (\S+) HTTP', line)
        if not found:
            continue
        url = urllib.parse.unquote(found.group(1))
        if any(p in url for p in prefixes):
            count += 1
    return count


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run(kind: str, artifact: str, conf_dir: Path) -> tuple[float, str]:
    """One run of the job; (wall seconds, the driver's run summary)."""
    from pj_airflow.launchers import LocalLauncher
    from pj_airflow.operator import SparkJobOperator
    from pj_airflow.yarn import YarnLauncher, YarnLogs

    branch = BRANCHES[kind]
    op = SparkJobOperator(task_id=JOB, job=JOB, ds=DS, env="qa", branch=branch, artifact_branch=branch,
                          artifact_channel=stack.branch_slug(branch), deployment="qa", launcher=kind,
                          artifact=artifact, job_params={"top_n": "10"})
    spec = op.build_spec(kind, op.deployment_config())
    log = logging.getLogger(f"bench.{kind}")
    handler = _Lines()
    log.addHandler(handler)
    log.propagate = False
    started = time.perf_counter()
    if kind == "yarn":
        launcher = YarnLauncher(log=log, conf_dir=str(conf_dir))
        result = launcher.run(spec)
        wall = time.perf_counter() - started
        text = YarnLogs(conf_dir).driver_log(result["application_id"])
    else:
        LocalLauncher(log=log).run(spec)
        wall = time.perf_counter() - started
        text = "\n".join(handler.lines)
    summary = text[text.rfind("job demo.daily_revenue"):]
    if "time   total" not in summary:
        raise SystemExit(f"error: no run summary in the {kind} driver's output")
    return wall, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", default="1")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    section = section_stream()  # the section alone on standard output

    from common.session import get_spark

    cluster = stack.cluster()
    moto_log = Path(stack.ROOT / "var" / "log" / "moto.log")
    spark = get_spark("bench cluster", master="local[1]")
    results: dict[str, list[dict[str, float]]] = {"yarn": [], "local": []}
    requests: list[float] = []
    with stack.aws_environment(), tempfile.TemporaryDirectory(prefix="pyspark-jobs-bench-") as dist, \
            stack.inputs_on_s3(spark):
        artifacts = {kind: stack.publish_branch(branch, Path(dist)) for kind, branch in BRANCHES.items()}
        artifacts["local"] = str(Path(dist) / stack.branch_slug(BRANCHES["local"]))
        slug = stack.branch_slug(BRANCHES["yarn"])
        outputs = [f"/{stack.LAKE_BUCKET}/qa/{slug}/demo/{name}/ds={DS}"
                   for name in ("revenue_by_segment", "top_customers", "revenue_by_shipmode")]
        for index in range(args.repeat + 1):  # the first pair warms both sides up and is not kept
            for kind in (("yarn", "local") if index % 2 else ("local", "yarn")):
                mark = moto_log.stat().st_size
                wall, summary = run(kind, artifacts[kind], cluster.CONF_DIR)
                print(f"bench cluster: {kind} run {index}: {wall:.1f}s", file=sys.stderr)
                if index:
                    results[kind].append(phases(summary, wall))
                    if kind == "yarn":
                        requests.append(moto_requests(moto_log, mark, outputs) / len(outputs))
        for branch in BRANCHES.values():
            for db in spark.catalog.listDatabases():
                if db.name.startswith(f"qa_{stack.branch_slug(branch)}__"):
                    spark.sql(f"DROP DATABASE IF EXISTS `{db.name}` CASCADE")
    spark.stop()

    lines = [
        f"At SF{args.sf}. The demonstration job through the framework from a packaged branch: the EMR step's arguments in YARN "
        "cluster mode on the local ResourceManager and NodeManager, inputs and outputs on S3 (moto) through the "
        "metastore service and MySQL credentials from Secrets Manager, against the local launcher on "
        "`local-cluster[2,1,1024]` with local disk; alternating, after one warm-up pair. Phases from the driver's "
        "run summary; submit is the wall time outside the driver's run (spark-submit, YARN scheduling, "
        "containers and Python start-up).",
        "",
        "| phase | local-cluster + disk s | YARN + S3 s | ratio |",
        "|---|---|---|---|",
    ]
    for phase in PHASES:
        local = statistics.median(r[phase] for r in results["local"])
        yarn = statistics.median(r[phase] for r in results["yarn"])
        ratio = statistics.median(on_yarn[phase] / on_disk[phase]
                                  for on_yarn, on_disk in zip(results["yarn"], results["local"]) if on_disk[phase] > 0)
        lines.append(f"| {phase} | {local:.2f} | {yarn:.2f} | {ratio:.2f} |")
    lines += ["", f"S3 requests per output partition (moto's request log, median of {len(requests)} runs): "
              f"{statistics.median(requests):.0f}.", ""]
    print("\n".join(lines), file=section, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
