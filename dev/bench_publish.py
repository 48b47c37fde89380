"""Benchmark of publishing one output: the warehouse writer on S3 against a plain INSERT OVERWRITE.

    dev/bench_publish.py [--repeat 3] [--ds 1995-03-15]

TPC-H SF1 `orders` (1,500,000 rows; generated once by tpchgen-cli into var/bench/tpch-sf1/) is
read, spread over 8 partitions as a job's output after a shuffle, and cached, so no way times
the read. Each round rewrites the same `ds` partition of three tables on S3 (moto) through the
metastore service, alternating:
- a plain `INSERT OVERWRITE TABLE ... PARTITION (ds=...) SELECT` into a parquet table (Spark
  SQL, no framework): the baseline;
- `WarehouseWriter.write` to a `format="hive"` table: a new `run=` directory, contract checks,
  the partition pointed at it with `ALTER TABLE`, expiry of versions past the retention;
- `WarehouseWriter.write` to a `format="iceberg"` table: a staged snapshot, contract checks,
  cherry-picked, then `expire_snapshots`.
A warm-up round first, so every timed write replaces an existing partition. The writer's phases
are timed around its format's calls. Each write's calls to the metastore are counted from the
service's audit log (var/log/metastore.log): those naming the bench's database, and those that
name none (`add_partitions`). Prints a Markdown section on standard output; the tables
and their files are removed afterwards (moto keeps every object in memory).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from bench import section_stream  # dev/
from metastore_audit import MetastoreCalls, changes  # dev/

HOME = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_JOBS_HOME", str(HOME))
sys.path.insert(0, str(HOME))

LAKE = "s3://pyspark-jobs-lake/bench"
SPLITS = 8  # the frame's partitions: spark.sql.shuffle.partitions of a local session
WAYS = ("insert", "hive", "iceberg")
PHASES = ("write", "key check", "publish", "expire")  # timed; "other" is the rest of the total
ORDERS = (
    ("o_orderkey", "bigint"), ("o_custkey", "bigint"), ("o_orderstatus", "string"),
    ("o_totalprice", "decimal(15,2)"), ("o_orderdate", "date"), ("o_orderpriority", "string"),
    ("o_clerk", "string"), ("o_shippriority", "int"), ("o_comment", "string"),
)


def orders_parquet(var: Path) -> Path:
    """SF1 orders as parquet, generated once (tpchgen-cli, a few seconds) into a directory renamed when complete."""
    target = var / "bench" / "tpch-sf1"
    if not (target / "orders.parquet").is_file():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        tpchgen = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
        subprocess.run([tpchgen, "parquet", "--scale-factor", "1", "--tables", "orders", "--output-dir", str(partial),
                        "--quiet"], check=True)
        partial.rename(target)
    return target / "orders.parquet"


class Phases:
    """Seconds spent in the writer's calls of its table format, per way, for the current write."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    def wrap(self, owner, name: str, phase: str) -> None:  # noqa: ANN001
        inner = getattr(owner, name)

        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.current[phase] += time.perf_counter() - started

        setattr(owner, name, timed)

    def take(self) -> dict[str, float]:
        taken, self.current = dict(self.current), defaultdict(float)
        return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ds", default="1995-03-15")
    args = parser.parse_args(argv)
    section = section_stream()  # the section alone on standard output

    from pyspark.sql import functions as F

    from common.conformance import proven_unique
    from common.contracts import Column, Contract, Table
    from common.environments import Environment
    from common.io import warehouse
    from common.io.hive import HadoopFs, HiveFormat
    from common.io.iceberg import IcebergFormat
    from common.job import RunParams
    from common.session import get_spark
    from common.settings import load_settings

    phases = Phases()
    for owner in (HiveFormat, IcebergFormat):
        for name, phase in (("stage", "write"), ("publish", "publish"), ("expire", "expire")):
            phases.wrap(owner, name, phase)
    phases.wrap(warehouse, "duplicate_keys", "key check")

    source = orders_parquet(load_settings().var)
    spark = get_spark("bench publish", master="local[2]")
    database = f"bench_publish_{uuid.uuid4().hex[:8]}"
    root = f"{LAKE}/{database}"
    contract = Contract(
        (*(Column(name, kind, nullable=name != "o_orderkey") for name, kind in ORDERS), Column("ds", "string")),
        partition_by=("ds",), primary_key=("o_orderkey",),
    )
    tables = {fmt: Table(f"{database}.orders_{fmt}", contract, format=fmt) for fmt in ("hive", "iceberg")}
    plain = f"{database}.orders_insert"
    writer = warehouse.WarehouseWriter(env=Environment("local"), lake_root=LAKE, qa_root=f"{LAKE}-qa")
    columns = ", ".join(f"`{name}`" for name, _ in ORDERS)
    try:
        orders = (spark.read.parquet(str(source))
                  .select(*(F.col(name).cast(kind).alias(name) for name, kind in ORDERS))
                  .repartition(SPLITS).cache())
        rows = orders.count()
        orders.createOrReplaceTempView("bench_orders")
        key_read_back = not proven_unique(orders, contract.primary_key)
        spark.sql(f"CREATE DATABASE {database} LOCATION '{root}'")
        ddl = ", ".join(f"`{name}` {kind}" for name, kind in ORDERS)
        spark.sql(f"CREATE TABLE {plain} ({ddl}, ds string) USING parquet PARTITIONED BY (ds) "
                  f"LOCATION '{root}/orders_insert'")

        def insert() -> dict[str, float]:
            spark.sql(f"INSERT OVERWRITE TABLE {plain} PARTITION (ds='{args.ds}') SELECT {columns} FROM bench_orders")
            return {}

        def write(fmt: str):  # noqa: ANN202
            def run() -> dict[str, float]:
                phases.take()
                result = writer.write(orders, tables[fmt], RunParams(args.ds))
                if result.rows != rows:
                    raise SystemExit(f"error: the {fmt} write published {result.rows} rows, expected {rows}")
                return phases.take()
            return run

        runs = {"insert": insert, "hive": write("hive"), "iceberg": write("iceberg")}
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        splits: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
        audit = MetastoreCalls(load_settings().var / "log" / "metastore.log", database)
        calls: dict[str, list[Counter]] = {way: [] for way in WAYS}  # round 0: the table's first write
        for index in range(args.repeat + 1):  # the first round creates the partitions and is not kept
            for way in WAYS:
                started, mark = time.perf_counter(), audit.mark()
                split = runs[way]()
                took = time.perf_counter() - started
                calls[way].append(audit.since(mark))
                if index:
                    times[way].append(took)
                    splits[way].append({**split, "other": took - sum(split.values())})
                print(f"bench publish: {way} run {index}: {took:.1f}s {split}", file=sys.stderr)
        for name in (plain, *(t.name for t in tables.values())):  # each holds exactly the frame's rows
            spark.catalog.refreshTable(name)
            found = spark.table(name).where(F.col("ds") == args.ds).count()
            if found != rows:
                raise SystemExit(f"error: {name} ds={args.ds} holds {found} rows, expected {rows}")
        retained = {fmt: len(IcebergFormat().history(spark, t, t.name, args.ds) if fmt == "iceberg" else
                             HiveFormat().history(spark, t, t.name, args.ds)) for fmt, t in tables.items()}
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
        HadoopFs(spark).delete(root)
        spark.stop()

    base = statistics.median(times["insert"])
    ratio = {way: statistics.median(t / b for t, b in zip(times[way], times["insert"])) for way in WAYS}
    labels = {"insert": "`INSERT OVERWRITE ... PARTITION` (baseline)", "hive": "writer, `format=\"hive\"`",
              "iceberg": "writer, `format=\"iceberg\"`"}
    lines = [
        f"TPC-H SF1 `orders` ({rows:,} rows, 9 columns; tpchgen-cli parquet, {source.stat().st_size / 2**20:.0f} MiB), "
        f"cached in {SPLITS} partitions before timing, written as partition ds={args.ds} of a table on S3 (moto, "
        "through the metastore service); each timed write replaces the partition the previous one wrote. "
        f"`local[2]`, the three ways alternating, after a warm-up round; medians of {args.repeat}. The writer's "
        f"contract: primary key o_orderkey, NOT NULL; the key was "
        f"{'read back from the staged version (the plan does not prove it unique)' if key_read_back else 'proven unique by the plan, not read back'}; "
        "rows and nulls counted by the write itself. Retention 3 days (the default), so no version expired: "
        f"after the runs the hive table kept {retained['hive']} versions of the partition, the iceberg table "
        f"{retained['iceberg']} snapshots of it.",
        "",
        "| | s | ratio to the baseline | difference s |",
        "|---|---|---|---|",
        *(f"| {labels[way]} | {statistics.median(times[way]):.2f} | {ratio[way]:.2f} | "
          f"{statistics.median(times[way]) - base:+.2f} |" for way in WAYS),
        "",
        "The writer's time by phase (medians; write: staging the version, with the row and null counts; key check: "
        "the read-back of o_orderkey; publish: `ALTER TABLE ... SET LOCATION` / `cherrypick_snapshot`; expire: "
        "the retention pass; other: checks before staging, the table's existence, format and schema):",
        "",
        f"| | {' | '.join(PHASES)} | other |",
        f"|---|{'---|' * (len(PHASES) + 1)}",
        *(f"| {way} | " + " | ".join(f"{statistics.median(s.get(p, 0.0) for s in splits[way]):.2f}"
                                     for p in (*PHASES, "other")) + " |" for way in ("hive", "iceberg")),
        "",
        "Metastore calls per output, from the service's audit log (calls naming the bench's database): the "
        "first write (the writer creates the table; the baseline's table was created before) and the median "
        "of the timed rewrites of the partition. Table lookups: `get_table`; database: `get_database`; "
        "partition: the calls reading partitions; changes: the calls that create or alter.",
        "",
        "| | first write: calls | rewrite: calls | table lookups | database | partition | changes |",
        "|---|---|---|---|---|---|---|",
        *(f"| {labels[way]} | {sum(calls[way][0].values())} | " + " | ".join(
            f"{statistics.median(kind(c) for c in calls[way][1:]):.0f}"
            for kind in (lambda c: sum(c.values()), lambda c: c["get_table"], lambda c: c["get_database"],
                         lambda c: sum(n for cmd, n in c.items() if "partition" in cmd and not changes(cmd)),
                         lambda c: sum(n for cmd, n in c.items() if changes(cmd)))) + " |" for way in WAYS),
        "",
    ]
    print("\n".join(lines), file=section, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
