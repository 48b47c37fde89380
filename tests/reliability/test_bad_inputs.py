"""Bad run inputs that need no Spark: run dates, params, and the rule that jobs read no clock."""

from __future__ import annotations

import re
from datetime import date

import pytest

from common.errors import ParamError
from common.job import parse_ds
from common.registry import get_job
from tests.conftest import ROOT

_CLOCK = re.compile(r"\b(datetime\.(now|today|utcnow)|date\.today)\s*\(")


@pytest.mark.parametrize(
    "raw",
    ["1995-03-15\n", "1995-03-15 ", " 1995-03-15", "1995-3-15", "95-03-15", "1995-02-29", "1995-13-01",
     "١٩٩٥-٠٣-١٥", "１９９５-０３-１５", "1995-03-15'; DROP TABLE x; --", "1995-03-15/../..", "", "{{ ds }}"],
)
def test_a_ds_that_is_not_exactly_a_calendar_date_is_refused(raw):
    with pytest.raises(ParamError, match="ds"):
        parse_ds(raw)


@pytest.mark.parametrize("raw", ["2999-12-31", "9999-12-31", "0001-01-01"])
def test_a_future_or_ancient_ds_is_a_valid_run_date(raw):
    # No clock is consulted: a run date after today is allowed (a backfill tool or a test may
    # want it); the job's filters then match no rows and it writes an empty partition.
    p = get_job("demo.daily_revenue").parse_params(raw, {})
    assert p.ds == raw and p.ds_date == date.fromisoformat(raw)


def test_no_job_or_framework_code_reads_the_clock():
    offenders = []
    for folder in ("common", "pyspark_jobs", "dags"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _CLOCK.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "the run date comes from --ds, never the clock:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"top_n": "10; DROP TABLE x"}, "not a valid int"),
        ({"top_n": "1e3"}, "not a valid int"),
        ({"top_n": ""}, "not a valid int"),
        ({"ds": "1995-03-16"}, "no param 'ds'"),
        ({"TOP_N": "3"}, "no param 'TOP_N'"),
    ],
)
def test_param_values_are_typed_before_they_reach_sql(raw, message):
    with pytest.raises(ParamError, match=message):
        get_job("demo.daily_revenue").parse_params("1995-03-15", raw)
