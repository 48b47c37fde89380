"""Every TPC-H job, DataFrame and legacy SQL alike, against the SF0.01 reference answers.

Each job is run the way production runs it (inputs from the warehouse and MariaDB, output
through the writer into its ds partition); the written partition is then read back, sorted by
the contract and compared with the answer. A query whose job module has not landed yet is
skipped, not failed.
"""

from __future__ import annotations

import json

import pytest

from common.registry import discover
from common.runner import RunConfig, run_job
from common.settings import load_settings
from tests.pyspark_jobs.tpch.answers import compare, load_answer, read_result

pytestmark = pytest.mark.services

DS = "1998-12-01"
SCALE = "sf0.01"
QUERIES = [f"q{n:02d}" for n in range(1, 23)]
FLAVOURS = {"dataframe": "tpch.{q}", "sql": "tpch.{q}_sql"}


@pytest.fixture(scope="module")
def tpch_loaded() -> None:
    marker = load_settings().var / "tpch-loaded.json"  # written by dev/load_tpch.py
    try:
        sf = json.loads(marker.read_text()).get("sf")
    except (OSError, ValueError):
        pytest.skip(f"TPC-H is not loaded ({marker} missing): run `make data`")
    if sf != "0.01":
        pytest.skip(f"the warehouse holds TPC-H SF{sf}; the conformance answers are SF0.01: run `make data SF=0.01`")


@pytest.mark.parametrize("flavour", list(FLAVOURS))
@pytest.mark.parametrize("query", QUERIES)
def test_job_matches_the_reference_answer(spark, tpch_loaded, query, flavour):
    name = FLAVOURS[flavour].format(q=query)
    job = discover().get(name)
    if job is None:
        pytest.skip(f"{name} is not written yet")
    run_job(RunConfig(job=name, ds=DS, count_inputs=False), spark=spark)
    (table,) = job.outputs.values()
    rows = read_result(spark, table.name, DS, table.contract)
    problems = compare(rows, load_answer(query, SCALE), table.contract)
    assert not problems, f"{name} ({table.name}, ds={DS}) differs from the {SCALE} answer:\n" + "\n".join(problems)
