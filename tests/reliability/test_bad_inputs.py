"""Bad run inputs that need no Spark: run dates, params, and the rule that jobs read no clock."""

from __future__ import annotations

import re
from datetime import date

import pytest

from common.errors import ParamError
from common.job import parse_ds
from common.registry import get_job
from tests.conftest import ROOT

# A .sql file's comments and string literals, blanked before the clock scan: "-- current_date"
# in a comment is no clock read. A scan for this test only; what Spark runs is decided by Spark.
_SQL_NOT_CODE = re.compile(r"--[^\r\n]*|/\*.*?\*/|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.S)
# Python's clock: the wall clock, and a timestamp turned into a date.
_PY_CLOCK = re.compile(r"\b(datetime\.(now|today|utcnow)|date\.today|time\.time|(date|datetime)\.(utc)?fromtimestamp)\s*\(")
# Spark's clock, in DataFrame code (F.current_date(), F.expr("now()")) and in SQL.
_SQL_CLOCK = re.compile(
    r"\b(current_date|current_timestamp|curdate|localtimestamp|current_timezone)\b|\b(now|unix_timestamp)\s*\(\s*\)", re.I
)
# time.time() is allowed only where it is not a run date: file ages.
# Each allowance names the file and the exact code; a new use anywhere fails.
_CLOCK_ALLOWED = {
    # versions replaced longer than a table's retention period ago are deleted (hive and iceberg)
    ("common/io/hive.py", "return time.time()"),
    # (iceberg: snapshots expired and orphan files removed before a cutoff computed from `now`)
    ("common/io/iceberg.py", 'return literal(datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))'),
    # `history` shows when a Hive version was written: its newest file's time
    ("common/io/hive.py", "written = datetime.fromtimestamp(newest, tz=UTC) if newest else None"),
    # a qa deployment is idle when its newest file is older than --older-than
    ("common/qa_cleanup.py", "fs, now = HadoopFs(spark), time.time() if now is None else now"),
    # a Trino fetch's temporary directory left by a killed run is removed once stale
    ("common/io/trino.py", "cutoff = time.time() - _STALE_TMP_SECONDS"),
    # an OpenLineage event's eventTime is when the event happened (the run's ds is nominalTime)
    ("common/lineage_events.py", "return datetime.now(UTC).isoformat()"),
}


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


def _code_lines(path):
    """(line number, code) of a .py file, or of a .sql file with its comments and literals blanked."""
    text = path.read_text()
    if path.suffix == ".sql":
        text = _SQL_NOT_CODE.sub(lambda m: "\n" * m.group().count("\n") or " ", text)
    return enumerate(text.splitlines(), 1)


def test_no_job_or_framework_code_reads_the_clock():
    """The run date comes from --ds. Timings (time.perf_counter, time.monotonic) are not dates
    and are not looked for; time.time() only where _CLOCK_ALLOWED says why."""
    offenders, allowed_seen, scanned = [], set(), 0
    for folder in ("common", "pyspark_jobs", "dags"):
        for path in sorted(p for ext in ("*.py", "*.sql") for p in (ROOT / folder).rglob(ext)):
            scanned += 1
            where = str(path.relative_to(ROOT))
            for number, line in _code_lines(path):
                code = line.split("#", 1)[0] if path.suffix == ".py" else line
                if (where, line.strip()) in _CLOCK_ALLOWED:
                    allowed_seen.add((where, line.strip()))
                elif _PY_CLOCK.search(code) or _SQL_CLOCK.search(code):
                    offenders.append(f"{where}:{number}: {line.strip()}")
    assert scanned > 100 and any(p.suffix == ".sql" for p in (ROOT / "pyspark_jobs").rglob("*.sql"))
    assert not offenders, "the run date comes from --ds, never the clock:\n" + "\n".join(offenders)
    assert allowed_seen == _CLOCK_ALLOWED, f"allowed clock reads no longer in the code: {_CLOCK_ALLOWED - allowed_seen}"


@pytest.mark.parametrize(
    ("path", "code"),
    [("pyspark_jobs/x.py", "    ds = date.fromtimestamp(time.time())"),
     ("pyspark_jobs/x.py", '    return df.filter(F.col("l_shipdate") <= F.current_date())'),
     ("pyspark_jobs/x.py", '    df.withColumn("at", F.expr("now()"))'),
     ("pyspark_jobs/sql/x.sql", "where o_orderdate < current_date"),
     ("pyspark_jobs/sql/x.sql", "where ts < CURRENT_TIMESTAMP()"),
     ("common/x.py", "    today = datetime.now(UTC).date()")],
)
def test_the_clock_scan_sees_each_form(tmp_path, path, code):
    """The patterns themselves: each of these reads the clock and must be seen."""
    file = tmp_path / path
    file.parent.mkdir(parents=True)
    file.write_text(code + "\n")
    assert any(_PY_CLOCK.search(line) or _SQL_CLOCK.search(line) for _, line in _code_lines(file))


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
