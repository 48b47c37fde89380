"""Every TPC-H job, DataFrame and legacy SQL alike, against the reference answers of the loaded scale.

Each job is run the way production runs it (inputs from the warehouse and MariaDB, output
through the writer into its ds partition). The partition's version before the run is noted;
after it, the catalog must point at the new version the run's WriteResult reports, and that
version is read back, sorted by the contract and compared with the answer of the scale
`make data` loaded (`answers/sf0.01` after `make data`, `answers/sf1` after `make test-sf1`).
A run that published nothing, or somewhere else, fails instead of being checked against an
earlier run's rows. Every one of the 22 queries must have both jobs: a missing one fails.

At SF0.01 two answers are degenerate (Q08's share 0.0, Q17's average NULL):
tests/pyspark_jobs/tpch/test_q08_q17.py checks those two on hand-computed inputs.
"""

from __future__ import annotations

import json

import pytest

from common.registry import discover
from common.runner import RunConfig, run_job
from common.settings import load_settings
from tests.helpers import partition_location
from tests.pyspark_jobs.tpch.answers import compare, load_answer, read_result

pytestmark = pytest.mark.services

DS = "1998-12-01"
QUERIES = [f"q{n:02d}" for n in range(1, 23)]
FLAVOURS = {"dataframe": "tpch.{q}", "sql": "tpch.{q}_sql"}


@pytest.fixture(scope="module")
def scale() -> str:
    """The loaded scale's answer set, e.g. "sf0.01", from the marker dev/load_tpch.py writes."""
    marker = load_settings().var / "tpch-loaded.json"
    try:
        sf = json.loads(marker.read_text())["sf"]
    except (OSError, ValueError, KeyError) as exc:
        pytest.fail(f"TPC-H is not loaded ({marker}: {exc}): run `make data`")
    return f"sf{sf}"


def test_every_query_has_both_jobs():
    jobs = discover()
    missing = [f.format(q=q) for q in QUERIES for f in FLAVOURS.values() if f.format(q=q) not in jobs]
    assert not missing, f"TPC-H jobs missing: {', '.join(missing)}"


@pytest.mark.parametrize("flavour", list(FLAVOURS))
@pytest.mark.parametrize("query", QUERIES)
def test_job_matches_the_reference_answer(spark, scale, query, flavour):
    name = FLAVOURS[flavour].format(q=query)
    job = discover().get(name)
    assert job is not None, f"{name} is missing: every TPC-H query has a DataFrame job and its SQL twin"
    answer = load_answer(query, scale)  # before the run: a scale without answers fails fast
    (table,) = job.outputs.values()
    before = partition_location(spark, table.name, DS)

    (written,) = run_job(RunConfig(job=name, ds=DS, count_inputs=False), spark=spark).outputs

    assert written.table == table.name and written.partition == f"ds={DS}", written
    assert written.location != before, f"{name} reported the version that was there before the run"
    assert partition_location(spark, table.name, DS) == written.location, (
        f"{table.name} ds={DS} does not point at the version {name} wrote ({written.location})"
    )
    rows = read_result(spark, table.name, DS, table.contract)
    problems = compare(rows, answer, table.contract)
    assert not problems, f"{name} ({table.name}, ds={DS}) differs from the {scale} answer:\n" + "\n".join(problems)
