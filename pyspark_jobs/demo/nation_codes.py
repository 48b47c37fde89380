"""ISO 3166 codes for the TPC-H nations. Its UDF runs pycountry on the executors: a runtime
dependency that reaches the cluster only inside the branch's environment.tar.gz."""

from __future__ import annotations

from common.contracts import Column, Contract, Table
from common.job import Job, RunParams, step
from pyspark_jobs.tpch.tables import NATION

__all__ = ["NationCodes", "NATION_CODES"]

NATION_CODES = Table(
    "demo.nation_codes",
    Contract(
        (
            Column("n_nationkey", "int", nullable=False),
            Column("n_name", "string", nullable=False),
            Column("iso_alpha2", "string"),
            Column("ds", "string", nullable=False),
        ),
        partition_by=("ds",),
        primary_key=("n_nationkey",),
    ),
)


class NationCodes(Job):
    """Nations with their ISO 3166-1 alpha-2 code."""

    name = "demo.nation_codes"
    inputs = {"nation": NATION}
    outputs = {"nation_codes": NATION_CODES}

    def steps(self, p: RunParams):  # noqa: ANN201
        from pyspark_jobs.demo import transforms as t

        return {"nation_codes": step(t.with_iso_code, "nation")}
