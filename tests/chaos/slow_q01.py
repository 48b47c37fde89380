"""spark-submit driver: TPC-H Q01 over `<db>.lineitem` into `<db>.q01`, slowed down on purpose.

    spark-submit ... tests/chaos/slow_q01.py <db> <ds>

The chaos tests need a stage that surely runs long enough to kill an executor in the middle
of it: the lines are spread over `PARTITIONS` tasks by key (so a retried task reads the same
rows) and each passes a Python UDF that sleeps `SECONDS_PER_ROW`. The UDF keeps every row, so
the result is TPC-H Q01 and can be checked against the reference answer.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from common.contracts import Table
from common.job import Job, RunParams, Step, step
from common.runner import RunConfig, run_job
from common.session import get_spark
from pyspark_jobs.tpch.q01 import PARAMS, RESULT
from pyspark_jobs.tpch.tables import LINEITEM

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

PARTITIONS = 8
SECONDS_PER_ROW = 0.0002  # 1.5 s or more per task at SF0.01 (7,500 lines each): the kill lands mid-task


def keep_slowly(key: int) -> bool:
    """Every line stays; the sleep is what makes the stage last."""
    time.sleep(SECONDS_PER_ROW)
    return True


def slowed(lineitem: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    # Non-deterministic, so the optimizer keeps the filter after the shuffle instead of
    # pushing it into the scan, which is one task.
    slow = F.udf(keep_slowly, "boolean").asNondeterministic()
    return lineitem.repartition(PARTITIONS, "l_orderkey").filter(slow(F.col("l_orderkey")))


def slow_q01(database: str) -> type[Job]:
    class SlowQ01(Job):
        """TPC-H Q01 behind a slow Python UDF, reading and writing the scratch database."""

        name = "chaos.slow_q01"
        inputs = {"lineitem": Table(f"{database}.lineitem", LINEITEM.contract)}
        outputs = {"q01": Table(f"{database}.q01", RESULT)}
        params = PARAMS

        def steps(self, p: RunParams) -> dict[str, Step]:
            from pyspark_jobs.tpch.transforms import q01 as t

            return {
                "slowed": step(slowed, "lineitem"),
                "shipped": step(t.lines_shipped_by, "slowed", delta=p.delta),
                "q01": step(t.pricing_summary, "shipped"),
            }

    return SlowQ01


if __name__ == "__main__":
    database, ds = sys.argv[1:3]
    job = slow_q01(database)
    spark = get_spark(f"pyspark-jobs {job.name} {ds}")
    print(f"application {spark.sparkContext.applicationId}", flush=True)
    print(run_job(RunConfig(job=job.name, ds=ds, count_inputs=False), spark=spark).render(), flush=True)
    spark.stop()
