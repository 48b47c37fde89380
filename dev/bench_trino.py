"""Benchmark the Trino source: the reader's batched fetch against a plain `fetchall`, and a
cached rerun against the first run. Prints a markdown table.

    dev/bench_trino.py [--tables lineitem,orders] [--repeat 1]

Every measurement uses the same query, the one `TrinoReader` sends for the table's contract.
  plain fetchall   trino client, default type mapping, `cursor.fetchall()` (rows in memory)
  reader fetch     TrinoReader's fetch: `fetchmany` batches → Arrow → parquet cache
  first run        read(spark, table) + count() with an empty cache (fetch + Spark scan)
  cached rerun     the same, from the cache, with the settings pointed at a closed port
The cache goes to a temporary directory, so var/cache/trino is left alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HOME = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_JOBS_HOME", str(HOME))
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--conf spark.ui.showConsoleProgress=false pyspark-shell")
sys.path.insert(0, str(HOME))

from common.io.trino import TrinoReader  # noqa: E402  (after PYSPARK_JOBS_HOME is set)
from common.settings import Settings, load_settings  # noqa: E402
from pyspark_jobs.tpch import tables  # noqa: E402


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(fastest seconds, rows) of `repeat` calls of fn() -> rows."""
    timings, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = fn()
        timings.append(time.perf_counter() - started)
    return min(timings), rows


def plain_fetchall(settings: Settings, query: str) -> int:
    import trino

    t = settings.trino
    cursor = trino.dbapi.connect(host=t.host, port=t.port, user=t.user, http_scheme=t.http_scheme).cursor()
    cursor.execute(query)
    return len(cursor.fetchall())


def measure(
    spark: SparkSession, settings: Settings, name: str, cache: Path, repeat: int
) -> tuple[str, int, float, float, float, float]:
    """(source, rows, plain fetchall s, reader fetch s, first run s, cached rerun s) of one table."""
    table = getattr(tables, name.upper())
    reader = TrinoReader.from_settings(settings, cache_dir=cache, refresh=True)
    query, source = reader.query(table), reader.source(table)
    plain_s, rows = best(lambda: plain_fetchall(settings, query), repeat)
    fetch_s, _ = best(lambda: reader._fetch(table, source, query, cache / "fetch").rows, repeat)

    def first_run() -> int:
        df, _ = reader.read(spark, table)
        return df.count()

    offline = dataclasses.replace(settings.trino, port=closed_port())
    cached_reader = TrinoReader(trino=offline, cache_dir=cache)

    def cached_run() -> int:
        df, where = cached_reader.read(spark, table)
        assert "from cache" in where, where
        return df.count()

    first_s, _ = best(first_run, repeat)
    cached_s, cached_rows = best(cached_run, repeat)
    assert cached_rows == rows, (cached_rows, rows)
    return source, rows, plain_s, fetch_s, first_s, cached_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="lineitem,orders", help="TPC-H lake tables, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest counts")
    args = parser.parse_args()

    from common.session import get_spark

    started = time.perf_counter()
    import pandas  # noqa: F401  pyarrow imports it on its first list conversion: a once-per-process cost

    pandas_s = time.perf_counter() - started
    settings = load_settings()
    spark = get_spark("pyspark-jobs bench_trino", master="local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    with tempfile.TemporaryDirectory(prefix="bench-trino-") as cache:
        rows_out = [measure(spark, settings, name.strip(), Path(cache), args.repeat) for name in args.tables.split(",")]
    spark.stop()

    print(f"Trino source, {settings.trino.http_scheme}://{settings.trino.host}:{settings.trino.port}, "
          f"best of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| table | rows | plain fetchall s | rows/s | reader fetch s | rows/s | vs plain "
          "| first run s | cached rerun s | speed-up |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for source, rows, plain_s, fetch_s, first_s, cached_s in rows_out:
        print(f"| {source} | {rows} | {plain_s:.2f} | {rows / plain_s:,.0f} | {fetch_s:.2f} | {rows / fetch_s:,.0f} "
              f"| {plain_s / fetch_s:.2f}x | {first_s:.2f} | {cached_s:.2f} | {first_s / cached_s:.1f}x |")
    print(f"\nNot in the timings: importing pandas, once per process ({pandas_s:.1f}s here), which pyarrow "
          "does on its first conversion of Python lists.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
