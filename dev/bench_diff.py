"""Benchmark of `pyspark-jobs diff`: a lineitem-sized table against a branch copy of it.

    dev/bench_diff.py [--rows 6001215] [--changed-pct 1] [--repeat 3]

Builds two parquet tables of TPC-H lineitem's shape and SF1 size (6,001,215 rows, keyed on
l_orderkey and l_linenumber; generated, so no SF1 load is needed): production's, and a branch
copy in which one row in a hundred has another discount. Times the keyed diff of the two
(`common.diff.diff_frames`, as `pyspark-jobs diff` runs it on a contract's primary key)
against one full read of production's table (every column aggregated, so nothing is
pruned), alternating, after a warm-up of each. Prints a Markdown section on standard output.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import section_stream  # dev/

HOME = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_JOBS_HOME", str(HOME))
sys.path.insert(0, str(HOME))

KEY = ("l_orderkey", "l_linenumber")


def lineitem_shaped(spark, rows: int):  # noqa: ANN001, ANN201
    """Rows of lineitem's columns and types, up to 7 lines per order as in TPC-H."""
    from pyspark.sql import functions as F

    n = F.col("id")
    return spark.range(rows).select(
        (n / 7).cast("bigint").alias("l_orderkey"),
        (n % 7 + 1).cast("int").alias("l_linenumber"),
        (n % 200_000).cast("bigint").alias("l_partkey"),
        (n % 10_000).cast("bigint").alias("l_suppkey"),
        (n % 50 + 1).cast("decimal(15,2)").alias("l_quantity"),
        ((n % 100_000) * 1.07 + 900).cast("decimal(15,2)").alias("l_extendedprice"),
        ((n % 11) / 100).cast("decimal(15,2)").alias("l_discount"),
        ((n % 9) / 100).cast("decimal(15,2)").alias("l_tax"),
        F.element_at(F.array(*map(F.lit, "ANR")), (n % 3 + 1).cast("int")).alias("l_returnflag"),
        F.element_at(F.array(*map(F.lit, "OF")), (n % 2 + 1).cast("int")).alias("l_linestatus"),
        F.date_add(F.lit("1992-01-02").cast("date"), (n % 2_526).cast("int")).alias("l_shipdate"),
        F.date_add(F.lit("1992-01-31").cast("date"), (n % 2_466).cast("int")).alias("l_commitdate"),
        F.date_add(F.lit("1992-01-03").cast("date"), (n % 2_556).cast("int")).alias("l_receiptdate"),
        F.element_at(F.array(*map(F.lit, ("DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"))),
                     (n % 4 + 1).cast("int")).alias("l_shipinstruct"),
        F.element_at(F.array(*map(F.lit, ("AIR", "FOB", "MAIL", "RAIL", "REG AIR", "SHIP", "TRUCK"))),
                     (n % 7 + 1).cast("int")).alias("l_shipmode"),
        F.concat(F.lit("carefully final deposits "), F.sha1(n.cast("string")).substr(1, 12)).alias("l_comment"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6_001_215)
    parser.add_argument("--changed-pct", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    section = section_stream()  # the section alone on standard output

    from pyspark.sql import functions as F

    from common.diff import diff_frames
    from common.session import get_spark

    spark = get_spark("bench diff", master="local[2]")
    with tempfile.TemporaryDirectory(prefix="pyspark-jobs-bench-diff-") as tmp:
        prod, branch = f"{tmp}/prod", f"{tmp}/branch"
        lineitem_shaped(spark, args.rows).write.parquet(prod)
        changed = F.col("l_orderkey") % 100 < args.changed_pct  # whole orders: a pct of the rows
        base = spark.read.parquet(prod)
        base.withColumn("l_discount", F.when(changed, F.col("l_discount") + F.lit(0.05).cast("decimal(15,2)"))
                        .otherwise(F.col("l_discount")).cast("decimal(15,2)")).write.parquet(branch)
        expected = base.where(changed).count()  # a plain filter, not the diff, says what changed

        def full_read() -> None:
            df = spark.read.parquet(prod)
            df.agg(*[F.count(F.col(c)) for c in df.columns]).collect()

        def keyed_diff() -> None:
            report = diff_frames(spark.read.parquet(prod), spark.read.parquet(branch), key=KEY, key_unique=True,
                                 names=("prod", "branch"))
            found = {name: c.differing for name, c in report.columns.items()}
            if found != {"l_discount": expected} or report.only_left or report.only_right:
                raise SystemExit(f"error: the diff found {found}, expected l_discount: {expected}")

        times: dict[str, list[float]] = {"read": [], "diff": []}
        for index in range(args.repeat + 1):  # the first pair warms up and is not kept
            for name, run in (("read", full_read), ("diff", keyed_diff)):
                started = time.perf_counter()
                run()
                if index:
                    times[name].append(time.perf_counter() - started)
                print(f"bench diff: {name} run {index}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
    spark.stop()

    read, diff = statistics.median(times["read"]), statistics.median(times["diff"])
    ratio = statistics.median(d / r for d, r in zip(times["diff"], times["read"]))
    lines = [
        f"{args.rows:,} rows of lineitem's 16 columns and types (generated; SF1 has 6,001,215), parquet on local "
        f"disk, and a branch copy with {args.changed_pct}% of the rows' discount 0.05 higher ({expected:,} rows, "
        "beyond a cent's tolerance; the diff must report exactly those). The keyed diff on (l_orderkey, "
        "l_linenumber) as `pyspark-jobs diff` runs it, against one full read of the table (every column counted); "
        f"`local[2]`, alternating, after a warm-up of each; medians of {args.repeat}.",
        "",
        "| | s | ratio to one full read |",
        "|---|---|---|",
        f"| one full read | {read:.2f} | 1.00 |",
        f"| keyed diff | {diff:.2f} | {ratio:.2f} |",
        "",
    ]
    print("\n".join(lines), file=section, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
