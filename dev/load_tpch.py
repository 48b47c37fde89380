"""Load TPC-H at a scale factor into the local warehouse and the local MariaDB.

    dev/load_tpch.py --sf 0.01 [--force]

The data is generated once by tpchgen-cli (parquet) into var/cache/tpch/sf<SF>/. Then
lineitem, orders, part and partsupp become EXTERNAL parquet tables of database `tpch` at
<lake root>/tpch/<table> (PYSPARK_JOBS_LAKE_ROOT, default var/lake), and customer, supplier, nation and region tables of MariaDB database `tpch`,
so most TPC-H queries need a JDBC join, as in production. Reruns replace, never append, and
every table's row count is checked against the TPC-H specification. A marker in var/ makes
a rerun with the same SF a no-op; --force reloads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOME = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_JOBS_HOME", str(HOME))

from common.io.table_format import KEY_PROPERTY, NOT_NULL_PROPERTY, properties_sql
from common.settings import load_settings  # after PYSPARK_JOBS_HOME is set

DATABASE = "tpch"
LAKE_TABLES = ("lineitem", "orders", "part", "partsupp")
# Their primary keys (spec section 1.4.2); every TPC-H column is NOT NULL (section 1.4.1). Kept
# as table properties, which the metastore has no column for (common/io/table_format.py).
LAKE_KEYS = {"lineitem": "l_orderkey,l_linenumber", "orders": "o_orderkey", "part": "p_partkey",
             "partsupp": "ps_partkey,ps_suppkey"}
# TPC-H types (spec section 1.4): identifiers INT, money DECIMAL(15,2), fixed text CHAR.
MYSQL_TABLES = {
    "region": """
        r_regionkey INT NOT NULL, r_name CHAR(25) NOT NULL, r_comment VARCHAR(152) NOT NULL,
        PRIMARY KEY (r_regionkey)""",
    "nation": """
        n_nationkey INT NOT NULL, n_name CHAR(25) NOT NULL, n_regionkey INT NOT NULL,
        n_comment VARCHAR(152) NOT NULL, PRIMARY KEY (n_nationkey)""",
    "supplier": """
        s_suppkey INT NOT NULL, s_name CHAR(25) NOT NULL, s_address VARCHAR(40) NOT NULL,
        s_nationkey INT NOT NULL, s_phone CHAR(15) NOT NULL, s_acctbal DECIMAL(15,2) NOT NULL,
        s_comment VARCHAR(101) NOT NULL, PRIMARY KEY (s_suppkey)""",
    "customer": """
        c_custkey INT NOT NULL, c_name VARCHAR(25) NOT NULL, c_address VARCHAR(40) NOT NULL,
        c_nationkey INT NOT NULL, c_phone CHAR(15) NOT NULL, c_acctbal DECIMAL(15,2) NOT NULL,
        c_mktsegment CHAR(10) NOT NULL, c_comment VARCHAR(117) NOT NULL, PRIMARY KEY (c_custkey)""",
}
# A load made with other DDL is loaded again (the tables are swapped in whole).
SCHEMA = hashlib.sha256(json.dumps([MYSQL_TABLES, LAKE_KEYS], sort_keys=True).encode()).hexdigest()[:12]
# Rows per unit of scale factor; nation and region are fixed. lineitem's count is not a
# formula of SF, so it is checked against the generated parquet instead.
ROWS_PER_SF = {"orders": 1_500_000, "customer": 150_000, "part": 200_000, "partsupp": 800_000, "supplier": 10_000}
FIXED_ROWS = {"nation": 25, "region": 5}
BATCH_ROWS = 10_000


class LoadError(Exception):
    """A one-line reason naming the cause and the fix."""


def sf_label(sf: float) -> str:
    return f"{sf:g}"


def generate(sf: float, cache: Path) -> Path:
    """tpchgen-cli's parquet files for SF, generated once into a directory renamed when complete."""
    target = cache / f"sf{sf_label(sf)}"
    if (target / ".complete").exists():
        return target
    tpchgen = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.mkdir(parents=True)
    print(f"generating TPC-H SF{sf_label(sf)} with tpchgen-cli into {target}", flush=True)
    args = [tpchgen, "parquet", "--scale-factor", sf_label(sf), "--output-dir", str(partial), "--quiet"]
    try:
        result = subprocess.run(args, capture_output=True, text=True, check=False)
    except OSError as error:
        raise LoadError(f"cannot run tpchgen-cli ({error}); run 'make deps'") from error
    if result.returncode != 0:
        raise LoadError(f"tpchgen-cli failed: {result.stderr.strip().splitlines()[-1:]}")
    (partial / ".complete").touch()
    partial.rename(target)
    return target


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet

    return pyarrow.parquet.ParquetFile(path).metadata.num_rows


def expected_counts(sf: float, lineitem_rows: int) -> dict[str, int]:
    counts = {table: round(rows * sf) for table, rows in ROWS_PER_SF.items()}
    return {**counts, **FIXED_ROWS, "lineitem": lineitem_rows}


def mysql_connect(settings):
    import pymysql

    mysql = settings.mysql
    if not mysql.password:
        raise LoadError("no MariaDB password in PYSPARK_JOBS_MYSQL_PASSWORD or var/credentials.env; run 'make services'")
    try:
        return pymysql.connect(
            host=mysql.host, port=mysql.port, user=mysql.user, password=mysql.password,
            database=DATABASE, connect_timeout=5, charset="utf8mb4", local_infile=True,
        )
    except pymysql.err.OperationalError as error:
        raise LoadError(
            f"cannot connect to MariaDB at {mysql.host}:{mysql.port} ({error.args[-1]}); run 'make services'"
        ) from error


def lake_location(lake_root: str, table: str) -> str:
    return f"{lake_root}/{DATABASE}/{table}"


def load_lake(spark, source: Path, lake_root: str) -> None:
    """EXTERNAL tables under the lake root, like every table the jobs write: the files are
    overwritten in place (a rerun never duplicates) and the table is pointed at them, whatever
    it pointed at before (a managed table of an older layout, or a copy elsewhere)."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    for table in LAKE_TABLES:
        name, location = f"{DATABASE}.{table}", lake_location(lake_root, table)
        data = spark.read.parquet(str(source / f"{table}.parquet"))
        data.write.mode("overwrite").parquet(location)
        if spark.catalog.tableExists(table, DATABASE):
            spark.sql(f"ALTER TABLE {name} SET LOCATION '{location}'")
        else:
            spark.sql(f"CREATE TABLE {name} USING parquet LOCATION '{location}'")
        properties = {KEY_PROPERTY: LAKE_KEYS[table], NOT_NULL_PROPERTY: ",".join(data.columns)}
        spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({properties_sql(properties)})")
        spark.catalog.refreshTable(name)


def load_mysql(conn, source: Path) -> None:
    """Each table is bulk-loaded (LOAD DATA) under a scratch name, then swapped in by one atomic RENAME."""
    import pyarrow.csv
    import pyarrow.parquet

    with conn.cursor() as cur, tempfile.TemporaryDirectory() as tmp:
        for table, columns in MYSQL_TABLES.items():
            staging, old = f"{table}__loading", f"{table}__old"
            data = pyarrow.parquet.read_table(source / f"{table}.parquet")
            csv = Path(tmp) / f"{table}.csv"
            pyarrow.csv.write_csv(data, csv, pyarrow.csv.WriteOptions(include_header=False))
            cur.execute(f"DROP TABLE IF EXISTS {staging}, {old}")
            cur.execute(f"CREATE TABLE {staging} ({columns}) ENGINE=InnoDB")
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {staging} CHARACTER SET utf8mb4"
                " FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n'"
                f" ({', '.join(data.column_names)})",
                (str(csv),),
            )
            if cur.execute("SHOW WARNINGS"):
                raise LoadError(f"loading MariaDB table {table} gave warnings, first: {cur.fetchone()}")
            conn.commit()
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} LIKE {staging}")
            cur.execute(f"RENAME TABLE {table} TO {old}, {staging} TO {table}")
            cur.execute(f"DROP TABLE {old}")


def count_rows(spark, conn) -> dict[str, int]:
    counts = {table: spark.table(f"{DATABASE}.{table}").count() for table in LAKE_TABLES}
    with conn.cursor() as cur:
        for table in MYSQL_TABLES:
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    return counts


def report(counts: dict[str, int], expected: dict[str, int]) -> list[str]:
    """Print one line per table; return the tables whose count is wrong."""
    wrong = []
    for table in (*LAKE_TABLES, *MYSQL_TABLES):
        where = "warehouse" if table in LAKE_TABLES else "mariadb"
        ok = counts[table] == expected[table]
        wrong += [] if ok else [table]
        verdict = "ok" if ok else f"MISMATCH, expected {expected[table]}"
        print(f"  {where:9} {DATABASE}.{table:9} {counts[table]:>10,} rows  {verdict}")
    return wrong


def loaded(marker: Path, sf: float, lake_root: str) -> dict | None:
    """The marker of a completed load of this SF into this lake root, if its files are still there."""
    try:
        state = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    local = lake_root.startswith("file:")
    tables_present = local and all(
        Path(lake_location(lake_root, table).removeprefix("file://")).is_dir() for table in LAKE_TABLES
    )
    same = state.get("sf") == sf_label(sf) and state.get("lake_root") == lake_root and state.get("schema") == SCHEMA
    return state if same and tables_present else None


def step(began: float, what: str) -> None:
    print(f"[{time.monotonic() - began:5.0f}s] {what}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev/load_tpch.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=0.01, help="TPC-H scale factor (default 0.01)")
    parser.add_argument("--force", action="store_true", help="reload even if this SF is already loaded")
    args = parser.parse_args(argv)
    settings = load_settings()
    marker = settings.var / "tpch-loaded.json"
    began = time.monotonic()
    try:
        state = None if args.force else loaded(marker, args.sf, settings.lake_root)
        if state:
            print(f"TPC-H SF{sf_label(args.sf)} already loaded ({marker}; --force reloads):")
            report(state["counts"], state["counts"])
            return 0
        source = generate(args.sf, settings.var / "cache" / "tpch")
        conn = mysql_connect(settings)
        marker.unlink(missing_ok=True)
        load_mysql(conn, source)
        step(began, f"{', '.join(MYSQL_TABLES)} written to MariaDB")

        from common.session import get_spark

        spark = get_spark("load_tpch")
        step(began, "Spark session started")
        load_lake(spark, source, settings.lake_root)
        step(began, f"{', '.join(LAKE_TABLES)} written to {settings.lake_root}/{DATABASE}/")
        expected = expected_counts(args.sf, parquet_rows(source / "lineitem.parquet"))
        counts = count_rows(spark, conn)
        conn.close()
        spark.stop()
    except LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"TPC-H SF{sf_label(args.sf)} loaded in {time.monotonic() - began:.0f}s:")
    wrong = report(counts, expected)
    if wrong:
        print(f"error: row counts differ from the TPC-H specification for {', '.join(wrong)}", file=sys.stderr)
        return 1
    marker.write_text(json.dumps({"sf": sf_label(args.sf), "lake_root": settings.lake_root, "schema": SCHEMA, "counts": counts},
                                 indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
