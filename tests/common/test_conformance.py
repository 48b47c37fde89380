"""Data checks against a contract: what the optimizer proves unique, nulls and keys in one pass."""

from __future__ import annotations

from common.conformance import data_violations, proven_unique
from common.contracts import Column, Contract
from tests.helpers import frame

SCHEMA = "region string, nation string, amount double"
ROWS = [("EU", "FR", 1.0), ("EU", "FR", 2.0), ("EU", "DE", 3.0), ("AS", "JP", 4.0)]


def test_a_frame_grouped_by_the_key_is_proven_unique(spark):
    df = frame(spark, SCHEMA, ROWS)
    by_nation = df.groupBy("region", "nation").sum("amount")
    assert proven_unique(by_nation, ("region", "nation"))
    assert proven_unique(by_nation.select("nation", "region").filter("region = 'EU'"), ("nation", "region"))
    assert proven_unique(df.select("region").distinct(), ("region",))


def test_no_proof_without_a_grouping_on_the_key(spark):
    df = frame(spark, SCHEMA, ROWS)
    assert not proven_unique(df, ("region", "nation"))  # the rows hold a duplicate (EU, FR)
    # grouped by more columns than the key: regions repeat
    assert not proven_unique(df.groupBy("region", "nation").sum("amount"), ("region",))
    assert not proven_unique(df.groupBy("region").sum("amount").union(df.groupBy("region").sum("amount")), ("region",))


def test_data_violations_counts_rows_nulls_and_duplicated_keys(spark):
    contract = Contract(
        (Column("region", "string", nullable=False), Column("nation", "string", nullable=False), Column("amount", "double")),
        primary_key=("region", "nation"),
    )
    rows, problems = data_violations(frame(spark, SCHEMA, [*ROWS, (None, "XX", 5.0)]), contract)
    assert rows == 5
    assert problems == [
        "column region has 1 null(s) but is NOT NULL",
        "duplicate primary key (region, nation), e.g. region=EU, nation=FR",
    ]
    assert data_violations(frame(spark, SCHEMA, ROWS[1:]), contract) == (3, [])
