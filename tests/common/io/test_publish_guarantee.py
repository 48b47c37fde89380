"""What a run with several outputs guarantees when publishing fails part-way (docs/RELIABILITY.md).

Every output is staged and validated before any is published; publications then run one after
the other, one Iceberg commit or one metastore update per partition each. A failure between two
publications leaves the earlier outputs published and the later ones at their previous versions;
a rerun publishes all of them.
"""

from __future__ import annotations

import pytest

from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.io.hive import HiveFormat
from common.io.warehouse import WarehouseWriter
from common.job import RunParams
from tests.helpers import frame

pytestmark = pytest.mark.services

DS = "2024-05-01"


def _tables(db: str) -> list[Table]:
    contract = Contract((Column("id", "int", nullable=False), Column("v", "string"), Column("ds", "string")),
                        partition_by=("ds",), primary_key=("id",))
    return [Table(f"{db}.first_iceberg", contract), Table(f"{db}.second_hive", contract, format="hive")]


def _rows(spark, table: Table) -> list[tuple]:
    spark.catalog.refreshTable(table.name)
    return sorted((r.id, r.v) for r in spark.table(table.name).where(f"ds = '{DS}'").collect())


def test_a_failure_between_publications_keeps_the_later_outputs_previous_versions_and_a_rerun_repairs(
    spark, scratch_db, monkeypatch, caplog
):
    first, second = _tables(scratch_db)
    writer = WarehouseWriter(env=Environment("local"))
    old, new = [(1, "old")], [(1, "new"), (2, "new")]
    writer.write_all([(frame(spark, "id int, v string", old), t) for t in (first, second)], RunParams(DS))

    def metastore_lost(self, spark, staged):
        raise ConnectionError("the metastore went away")

    with monkeypatch.context() as patch:
        patch.setattr(HiveFormat, "publish", metastore_lost)
        with pytest.raises(ConnectionError):
            writer.write_all([(frame(spark, "id int, v string", new), t) for t in (first, second)], RunParams(DS))
    assert _rows(spark, first) == new  # published before the failure
    assert _rows(spark, second) == old  # its previous version
    assert f"published {first.name} before the failure; {second.name} keep their previous versions" in caplog.text

    results = writer.write_all([(frame(spark, "id int, v string", new), t) for t in (first, second)], RunParams(DS))
    assert [r.rows for r in results] == [2, 2]
    assert _rows(spark, first) == _rows(spark, second) == new
