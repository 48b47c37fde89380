"""A run of a `catalog = "glue"` deployment's Spark, as spark-submit starts a local step: writes
one Iceberg output twice for one ds through the warehouse writer (the runner's write path),
reads it, lists its versions with `pyspark-jobs history`, rolls the ds back to the first with
`pyspark-jobs rollback` and reads it again. Prints one line `GLUE <json>`. Run by
tests/production/test_glue_catalog.py under spark-submit with the deployment's --conf; not part
of any job.

    glue_catalog_run.py TABLE LAKE_ROOT DS
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from common.cli import main as cli
from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.io.warehouse import WarehouseWriter
from common.job import Job, RunParams
from common.session import get_spark

FIRST = [(1, "one"), (2, "two"), (3, "three")]
SECOND = [(1, "uno"), (2, "dos")]
CONTRACT = Contract((Column("id", "bigint", nullable=False), Column("v", "string"), Column("ds", "string")),
                    partition_by=("ds",), primary_key=("id",))


def command(*args: str) -> str:
    """What `pyspark-jobs ARGS` prints, in this process (its session is the active one)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(list(args))
    if code != 0:
        raise SystemExit(f"pyspark-jobs {' '.join(args)} exited {code}: {out.getvalue()}")
    return out.getvalue()


def main() -> None:
    name, lake_root, ds = sys.argv[1:4]
    spark = get_spark("glue-catalog-test")
    spark.sparkContext.setLogLevel("ERROR")
    table = Table(name, CONTRACT, format="iceberg")
    # The job that writes the table, where `history` and `rollback` find its contract.
    type("tests.glue_catalog", (Job,), {"name": "tests.glue_catalog", "outputs": {"out": table},
                                        "steps": lambda self, p: {}})
    writer = WarehouseWriter(env=Environment("local"), lake_root=lake_root, qa_root=f"{lake_root}/_qa")
    runs = [writer.write(spark.createDataFrame(rows, "id bigint, v string"), table, RunParams(ds))
            for rows in (FIRST, SECOND)]

    def rows() -> list[list]:
        spark.catalog.refreshTable(name)
        return sorted([r.id, r.v, r.ds] for r in spark.table(name).collect())

    written = rows()
    history = json.loads(command("history", name, "--ds", ds, "--json"))
    first = history["versions"][0]["version"]
    rolled = command("rollback", name, "--ds", ds, "--to", first)
    print("GLUE " + json.dumps({
        "runs": [{"run_id": r.run_id, "rows": r.rows, "location": r.location} for r in runs],
        "rows": written, "history": history["versions"], "rollback": rolled.strip(), "rolled_back_rows": rows(),
        "catalog_impl": spark.conf.get("spark.sql.catalog.spark_catalog.type"),
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
