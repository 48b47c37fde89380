"""`make bench ONLY=startup`: where the time of a small run goes, at SF0.01.

    dev/bench_startup.py [--repeat 5] [--ds 1995-03-15]

Each run is a fresh process, as on a scheduler, alternating:
- the framework: `python -m common.cli run <job> --ds <ds>`, its phases from the run's own JSON
  summary (start Spark, plan, write, publish, input rows);
- the same transform bare: a script that starts the same Spark session (common.session.get_spark:
  the same jars and catalog), then reads the lake table, applies the transform and runs one
  `INSERT OVERWRITE ... PARTITION` into a scratch table (created before timing, dropped after).
The bare run's two parts are Spark's own startup and the job's query (its first catalog lookup
included); what the framework run spends beyond them is its own. Prints the body of a
BENCHMARKS.md section on standard output.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import section_stream  # dev/

HOME = Path(__file__).resolve().parent.parent
PYTHON = HOME / ".venv" / "bin" / "python"
JOB = "tpch.q01"  # a scan of lineitem, an aggregation, four rows out

BARE = r"""
import json, sys, time
started = time.perf_counter()
from common.session import get_spark
from pyspark_jobs.tpch.transforms import q01
spark = get_spark("bench startup bare")
session = time.perf_counter()
table, ds, columns = sys.argv[1], sys.argv[2], sys.argv[3]
out = q01.pricing_summary(q01.lines_shipped_by(spark.table("tpch.lineitem"), delta=90))  # the job's default
out.createOrReplaceTempView("bench_out")
spark.sql(f"INSERT OVERWRITE TABLE {table} PARTITION (ds='{ds}') SELECT {columns} FROM bench_out")
done = time.perf_counter()
print(json.dumps({"start Spark": session - started, "query": done - session}))
"""


def framework(job: str, ds: str, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    run = subprocess.run([str(PYTHON), "-m", "common.cli", "run", job, "--ds", ds], cwd=HOME, env=env, check=True,
                         capture_output=True, text=True)
    wall = time.perf_counter() - started
    (path,) = [line.split(None, 1)[1].strip() for line in run.stdout.splitlines() if line.strip().startswith("json ")]
    return wall, json.loads(Path(path).read_text())["seconds"]


def bare(table: str, ds: str, columns: str, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    run = subprocess.run([str(PYTHON), "-c", BARE, table, ds, columns], cwd=HOME, env=env, check=True, capture_output=True,
                         text=True)
    return time.perf_counter() - started, json.loads(run.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ds", default="1995-03-15")
    args = parser.parse_args(argv)
    section = section_stream()  # the section alone on standard output
    sys.path.insert(0, str(HOME))
    os.environ.setdefault("PYSPARK_JOBS_HOME", str(HOME))
    env = {**os.environ, "PYTHONPATH": str(HOME)}

    from common.registry import get_job
    from common.session import get_spark

    (output,) = get_job(JOB).outputs.values()
    database = f"bench_startup_{uuid.uuid4().hex[:8]}"
    scratch = f"{database}.{output.name.split('.')[-1]}"
    spark = get_spark("bench startup setup")
    data = output.contract.data_columns
    names = ", ".join(f"`{c.name}`" for c in data)
    spark.sql(f"CREATE DATABASE {database}")
    spark.sql(f"CREATE TABLE {scratch} ({', '.join(f'`{c.name}` {c.type}' for c in data)}, ds string) "
              "USING parquet PARTITIONED BY (ds)")
    spark.stop()
    runs: dict[str, list[tuple[float, dict[str, float]]]] = {"framework": [], "bare": []}
    try:
        for index in range(args.repeat + 1):  # the first round warms the page cache and is not kept
            order = ("framework", "bare") if index % 2 else ("bare", "framework")
            for way in order:
                took = framework(JOB, args.ds, env) if way == "framework" else bare(scratch, args.ds, names, env)
                print(f"bench startup: {way} run {index}: {took[0]:.1f}s {took[1]}", file=sys.stderr)
                if index:
                    runs[way].append(took)
    finally:
        cleanup = subprocess.run([str(PYTHON), "-c", "import sys; from common.session import get_spark; "
                                  f"get_spark('bench startup cleanup').sql('DROP DATABASE IF EXISTS {database} CASCADE')"],
                                 cwd=HOME, env=env, capture_output=True, text=True)
        if cleanup.returncode:
            print(f"bench startup: could not drop {database}: {cleanup.stderr.strip().splitlines()[-1:]}", file=sys.stderr)

    def med(way: str, key: str | None = None) -> float:
        return statistics.median(wall if key is None else phases.get(key, 0.0) for wall, phases in runs[way])

    fw_phases = ("start Spark", "plan (read inputs, build steps)", f"write {output.name.split('.')[-1]}")
    publish = statistics.median(phases["write outputs (concurrent), publish"] - phases[fw_phases[2]]
                                for _, phases in runs["framework"])
    spark_and_query = med("bare", "start Spark") + med("bare", "query")
    total = med("framework", "total")
    lines = [
        f"`{JOB}` for ds {args.ds} at SF0.01 (one small Iceberg output), each run a fresh Python process "
        f"as a scheduler starts it, the framework (`python -m common.cli run`) and the same transform in a bare "
        f"script (the same Spark session, a plain read and one `INSERT OVERWRITE ... PARTITION`) alternating, after a "
        f"warm-up round; medians of {args.repeat}. The framework's phases are its run summary's.",
        "",
        "| | process s | start Spark s | plan s | query and write s | table checks, publish s | input rows s | run total s |",
        "|---|---|---|---|---|---|---|---|",
        f"| framework | {med('framework'):.2f} | {med('framework', fw_phases[0]):.2f} | "
        f"{med('framework', fw_phases[1]):.2f} | {med('framework', fw_phases[2]):.2f} | {publish:.2f} | "
        f"{med('framework', 'input rows from the scans' + chr(39) + ' metrics'):.2f} | {total:.2f} |",
        f"| bare | {med('bare'):.2f} | {med('bare', 'start Spark'):.2f} | | {med('bare', 'query'):.2f} | | | "
        f"{spark_and_query:.2f} |",
        "",
        f"Spark's own startup and the job's query (the bare run: {spark_and_query:.2f} s) are "
        f"{spark_and_query / total:.0%} of the framework's run ({total:.2f} s); the framework adds "
        f"{total - spark_and_query:+.2f} s (process: {med('framework') - med('bare'):+.2f} s).",
        "",
    ]
    print("\n".join(lines), file=section, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
