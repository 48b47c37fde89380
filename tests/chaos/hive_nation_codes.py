"""demo.nation_codes written as a Hive-style table: its publish is one metastore update per
partition (ALTER TABLE ... PARTITION ... SET LOCATION) and nothing before it but the staged
files touches the metastore once they are written, so a metastore lost after they appear is lost
exactly for the publish. Imported by the tests that run it, which registers the job."""

from __future__ import annotations

from common.contracts import HIVE, Table
from pyspark_jobs.demo.nation_codes import NATION_CODES, NationCodes

__all__ = ["NATION_CODES_HIVE", "NationCodesHive"]

NATION_CODES_HIVE = Table("demo.nation_codes_hive", NATION_CODES.contract, format=HIVE)


class NationCodesHive(NationCodes):
    """demo.nation_codes's steps, its output a Hive-style table."""

    name = "tests.nation_codes_hive"
    outputs = {"nation_codes": NATION_CODES_HIVE}
