"""`make bench ONLY=scale`: the framework's overhead at growing TPC-H scale factors.

    dev/bench_scale.py [--scales 0.1,1,3] [--repeat 5] [--jobs demo.daily_revenue,tpch.q09,tpch.q01,tpch.q03]
                       [--driver-memory 8g]

At each scale, in turn: TPC-H loaded into the shared local lake and MariaDB (`make data SF=x`,
skipped when already loaded), then one Spark session that runs each job through the framework
(`run_job`, a real run's defaults) and as the same transform functions in a bare script (plain
reads, `INSERT OVERWRITE ... PARTITION` into a scratch database), one warm-up of each, then
--repeat runs each way, alternating which goes first. Afterwards, also after a failure, the
scale loaded before is loaded again: the test suite runs on SF0.01. Prints the body of a
BENCHMARKS.md section on standard output, what it loads on standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench import DS, _in_process, load, med  # dev/bench.py; puts the project on sys.path
from load_tpch import loaded, sf_label

from common.settings import load_settings

MASTER = "local[2]"  # as every section of dev/bench.py
TARGET = 1.03  # framework / bare at the largest scale
JOBS = {  # what each job stands for
    "demo.daily_revenue": "the demonstration: a lake x MySQL join, cached, three outputs",
    "tpch.q09": "join-heavy: five joins, supplier and nation from MySQL",
    "tpch.q01": "aggregation: a scan of lineitem and a group-by",
    "tpch.q03": "a MySQL dimension: customer (150,000 rows per SF) with orders and lineitem",
}

SCALE_CODE = r"""
import json, sys, time
from common.registry import get_job
from common.runner import RunConfig, run_job
from common.session import get_spark
from common.settings import load_settings
from pyspark_jobs.demo import transforms as demo
from pyspark_jobs.tpch.transforms import q01, q03, q09
spark = get_spark("bench scale", master=sys.argv[1])
repeat, ds, jobs = int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
mysql, lake = load_settings().mysql, spark.table
def jdbc(table):  # Spark's default JDBC read: one partition
    return (spark.read.format("jdbc").option("url", mysql.jdbc_url).option("dbtable", table)
            .option("user", mysql.user).option("password", mysql.password).load())
def daily_revenue(p):
    lines = demo.lines_shipped_on(lake("tpch.lineitem"), days=p.days)
    enriched = demo.enrich_lines(lines, lake("tpch.orders"), jdbc("customer"), jdbc("nation")).cache()
    return {"revenue_by_segment": demo.revenue_by_segment(enriched), "top_customers": demo.top_customers(enriched, top_n=p.top_n),
            "revenue_by_shipmode": demo.revenue_by_shipmode(enriched)}
def tpch_q01(p):
    return {"q01": q01.pricing_summary(q01.lines_shipped_by(lake("tpch.lineitem"), delta=p.delta))}
def tpch_q03(p):
    orders = q03.segment_orders_before(lake("tpch.orders"), jdbc("customer"), segment=p.segment, before=p.date)
    return {"q03": q03.top_unshipped_orders(lake("tpch.lineitem"), orders, after=p.date)}
def tpch_q09(p):
    lines = q09.line_profit(lake("tpch.lineitem"), lake("tpch.part"), lake("tpch.partsupp"), color=p.color)
    return {"q09": q09.profit_by_nation_year(lines, jdbc("supplier"), jdbc("nation"), lake("tpch.orders"))}
BARE = {"demo.daily_revenue": daily_revenue, "tpch.q01": tpch_q01, "tpch.q03": tpch_q03, "tpch.q09": tpch_q09}
def bare(job):  # the job's default params; its outputs one after the other, the SparkSqlOperator way
    outputs = get_job(job).outputs
    for name, df in BARE[job](get_job(job).parse_params(ds, {})).items():
        df.select(*(c.name for c in outputs[name].contract.data_columns)).createOrReplaceTempView("bare_out")
        spark.sql(f"INSERT OVERWRITE TABLE pj_bench_scale.{name} PARTITION (ds = '{ds}') SELECT * FROM bare_out")
    spark.catalog.clearCache()
def framework(job):
    run_job(RunConfig(job=job, ds=ds), spark)  # as `pyspark-jobs run` runs it: input rows counted too
spark.sql("DROP DATABASE IF EXISTS pj_bench_scale CASCADE")
spark.sql("CREATE DATABASE pj_bench_scale")
for job in jobs:
    for name, table in get_job(job).outputs.items():
        spark.sql(f"CREATE TABLE pj_bench_scale.{name} ({table.contract.ddl().replace(' NOT NULL', '')}) "
                  "USING parquet PARTITIONED BY (ds)")
    framework(job); bare(job)  # warm-up: the first run in a JVM pays class loading and code generation
    times = {"framework": [], "bare": []}
    for i in range(repeat):
        for way in ("framework", "bare") if i % 2 == 0 else ("bare", "framework"):
            s = time.perf_counter(); globals()[way](job); times[way].append(time.perf_counter() - s)
    print(json.dumps({"job": job, **times}), flush=True)
spark.sql("DROP DATABASE pj_bench_scale CASCADE")
"""


def loaded_sf() -> str | None:
    """The scale factor completely loaded now, from the loader's marker (var/tpch-loaded.json)."""
    settings = load_settings()
    marker = settings.var / "tpch-loaded.json"
    try:
        sf = float(json.loads(marker.read_text())["sf"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sf_label(sf) if loaded(marker, sf, settings.lake_root) else None


def use(sf: str) -> bool:
    """SF loaded (nothing done if it is already); False, with the command to run, if it cannot be."""
    if loaded_sf() == sf:
        print(f"bench scale: TPC-H SF{sf} already loaded", file=sys.stderr)
        return True
    print(f"bench scale: loading TPC-H SF{sf} (make data SF={sf})", file=sys.stderr)
    try:
        load(sf)
    except subprocess.CalledProcessError as error:
        print(f"bench scale: no data at SF{sf}: `make data SF={sf}` failed (exit {error.returncode}); run it to see why",
              file=sys.stderr)
        return False
    return True


def restore(before: str | None) -> str:
    """Load again the scale loaded before the run; what was done, for the section's text."""
    now = loaded_sf()
    if before is None:
        left = f"SF{now}" if now else "no complete load"
        print(f"bench scale: no complete TPC-H load was recorded before the run; {left} stays "
              "(`make data SF=0.01` loads the test suite's)", file=sys.stderr)
        return f"No complete TPC-H load was recorded before the run; {left} was left."
    if now == before:
        print(f"bench scale: SF{before} is loaded, as before the run: nothing to restore", file=sys.stderr)
        return f"SF{before}, loaded before the run, is still loaded."
    print(f"bench scale: loading SF{before} again, as before the run (make data SF={before})", file=sys.stderr)
    try:
        load(before)
    except subprocess.CalledProcessError:
        print(f"bench scale: SF{before} could not be loaded again: run `make data SF={before}`", file=sys.stderr)
        return f"**SF{before}, loaded before the run, could not be loaded again**: run `make data SF={before}`."
    return f"Afterwards SF{before}, loaded before the run, was loaded again."


def growth(first: list[float], last: list[float]) -> str:
    """Whether the per-pair differences at the largest scale lie above those at the smallest."""
    if min(last) > max(first):
        return "grows"
    if max(last) < min(first):
        return "shrinks"
    return "no clear change (the pairs overlap)"


def verdict(ratio: float) -> str:
    return "met" if ratio <= TARGET else f"**missed** by {ratio - TARGET:.3f}"


def report(runs: dict[tuple[str, str], dict], jobs: list[str], scales: list[str], repeat: int, memory: str) -> list[str]:
    jdbc = load_settings().jdbc_partitions
    lines = [
        "The demonstration job and three TPC-H DataFrame jobs, each through the framework as `pyspark-jobs run` "
        "runs it (`run_job(RunConfig(job, ds))` with a real run's defaults: input rows counted from the scans' "
        f"metrics, MySQL read in {jdbc} partitions split on the key, nation's keys checked where it is an input "
        "(`check_keys`), the shared steps cached, every output staged, checked (types, nulls, keys) and published, the JSON "
        "summary written) against the same transform functions in a bare script (`spark.table`, Spark's default "
        "one-partition JDBC read, `cache()` of the demonstration's shared join, `INSERT OVERWRITE ... PARTITION` "
        "into plain parquet tables of a scratch database, one output after the other). At each scale its TPC-H data "
        f"is loaded, then one Spark session (`{MASTER}`, driver memory {memory}, 8 shuffle partitions as every local "
        f"session) runs one warm-up of each way per job, then {repeat} run(s) each way, alternating which goes first. "
        "Extra s: median of the per-pair differences framework - bare; ratio: median of the per-pair ratios. "
        f"Target: a ratio of at most {TARGET} at the largest scale.",
        "",
    ]
    measured = [sf for sf in scales if any((job, sf) in runs for job in jobs)]
    if not measured:
        return [*lines, "Nothing measured.", ""]
    lines += ["| job | SF | bare s | framework s | extra s | ratio |", "|---|---|---|---|---|---|"]
    diffs, ratios = {}, {}
    for job in jobs:
        for sf in (sf for sf in scales if (job, sf) in runs):
            bare, framework = runs[job, sf]["bare"], runs[job, sf]["framework"]
            diffs[job, sf] = [f - b for f, b in zip(framework, bare)]
            ratios[job, sf] = statistics.median(f / b for f, b in zip(framework, bare))
            lines.append(f"| {job} | {sf} | {med(bare)} | {med(framework)} | "
                         f"{statistics.median(diffs[job, sf]):+.2f} | {ratios[job, sf]:.3f} |")
    first, last = measured[0], measured[-1]
    lines += [
        "",
        f"| job | what it stands for | extra s at SF{first} | extra s at SF{last} | extra time with scale | "
        f"ratio at SF{last} | target <= {TARGET} |",
        "|---|---|---|---|---|---|---|",
    ]
    for job in (job for job in jobs if (job, first) in diffs and (job, last) in diffs):
        grows = growth(diffs[job, first], diffs[job, last]) if first != last else "one scale only"
        lines.append(f"| {job} | {JOBS[job]} | {statistics.median(diffs[job, first]):+.2f} | "
                     f"{statistics.median(diffs[job, last]):+.2f} | {grows} | {ratios[job, last]:.3f} | "
                     f"{verdict(ratios[job, last])} |")
    missed = [f"{job} ({ratios[job, last]:.3f}, {statistics.median(diffs[job, last]):+.2f} s)"
              for job in jobs if (job, last) in ratios and ratios[job, last] > TARGET]
    lines += [
        "",
        "'Extra time with scale': 'grows' when every pair's difference at the largest scale is above every pair's "
        "at the smallest, 'shrinks' when every one is below, else no clear change. "
        f"At SF{last}: " + (f"above target: {', '.join(missed)}." if missed else f"every ratio within {TARGET}."),
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.1,1,3", help="TPC-H scale factors, in the order measured")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"some of {', '.join(JOBS)}")
    parser.add_argument("--driver-memory", default="8g", help="the Spark driver's heap (local mode: the executors' too)")
    args = parser.parse_args(argv)
    try:
        scales = [sf_label(float(sf)) for sf in args.scales.split(",")]
    except ValueError:
        parser.error(f"--scales {args.scales}: scale factors such as 0.1,1,3")
    jobs = args.jobs.split(",")
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown:
        parser.error(f"no bare script for {', '.join(unknown)}: --jobs takes some of {', '.join(JOBS)}")
    if min(float(sf) for sf in scales) <= 0 or args.repeat < 1:
        parser.error("scale factors must be above 0 and --repeat at least 1")
    # On spark-submit's command line, not PYSPARK_JOBS_DRIVER_MEMORY: that one goes into var/spark-conf,
    # which every local Spark process reads.
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {args.driver_memory} pyspark-shell"

    before = loaded_sf()
    runs: dict[tuple[str, str], dict] = {}
    missing: list[str] = []
    took: dict[str, float] = {}  # seconds measuring each scale
    try:
        for sf in scales:
            if not use(sf):
                missing.append(sf)
                continue
            started = time.perf_counter()
            out = _in_process(SCALE_CODE, MASTER, str(args.repeat), DS, ",".join(jobs))
            for line in out.splitlines():
                if line.startswith("{"):
                    run = json.loads(line)
                    runs[run["job"], sf] = run
            took[sf] = time.perf_counter() - started
            print(f"bench scale: SF{sf} measured in {took[sf]:.0f} s", file=sys.stderr)
    finally:
        restored = restore(before)
    lines = report(runs, jobs, [sf for sf in scales if sf not in missing], args.repeat, args.driver_memory)
    lines += [f"Not measured: SF{sf}, its data could not be generated or loaded: `make data SF={sf}` does it."
              for sf in missing]
    spent = ", ".join(f"SF{sf} {s:.0f} s" for sf, s in took.items())
    lines += [f"Measuring took {spent} (loading the data excluded). {restored}" if took else restored, ""]
    print("\n".join(lines))
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
