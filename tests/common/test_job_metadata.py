"""Job metadata is plain Python: importable without pyspark, validated when declared."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from common.contracts import Column, Contract, Table
from common.errors import ParamError
from common.job import Job, Param, parse_ds
from tests.conftest import ROOT


def test_metadata_imports_without_pyspark():
    code = (
        "import sys, json\n"
        "from common.registry import discover\n"
        "jobs = {n: j.describe() for n, j in discover().items()}\n"
        "print(json.dumps({'pyspark': any(m == 'pyspark' or m.startswith('pyspark.') for m in sys.modules),"
        " 'jobs': jobs}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["pyspark"] is False
    demo = result["jobs"]["demo.daily_revenue"]
    assert demo["inputs"]["customer"] == "tpch.customer"
    assert set(demo["outputs"].values()) == {
        "demo.revenue_by_segment",
        "demo.top_customers",
        "demo.revenue_by_shipmode",
    }
    assert demo["params"] == {"top_n": {"type": "int", "default": "10"}}
    assert demo["range_plan"] is True and result["jobs"]["tpch.q01"]["range_plan"] is False


@pytest.mark.parametrize("raw", ["2024-13-01", "2024/01/01", "yesterday", "2024-02-30", "", "20240101"])
def test_malformed_ds_is_refused(raw):
    with pytest.raises(ParamError, match="YYYY-MM-DD"):
        parse_ds(raw)


def _table(name: str) -> Table:
    return Table(name, Contract((Column("a", "int"),)))


class _Probe(Job):
    name = "tests.probe"
    inputs = {"src": _table("src.t")}
    outputs = {"out": _table("dst.t")}
    params = (Param("limit", int, 5), Param("region", str))


def test_params_are_typed_defaulted_and_checked():
    p = _Probe.parse_params("2024-01-31", {"region": "ASIA"})
    assert (p.ds, p.limit, p.region) == ("2024-01-31", 5, "ASIA")
    assert _Probe.parse_params("2024-01-31", {"region": "X", "limit": "7"}).limit == 7
    with pytest.raises(ParamError, match="no param 'lmit'"):
        _Probe.parse_params("2024-01-31", {"region": "X", "lmit": "7"})
    with pytest.raises(ParamError, match="limit='seven' is not a valid int"):
        _Probe.parse_params("2024-01-31", {"region": "X", "limit": "seven"})
    with pytest.raises(ParamError, match="needs --param region"):
        _Probe.parse_params("2024-01-31", {})


def test_bad_declarations_fail_at_import():
    with pytest.raises(ValueError, match="declares no outputs"):
        type("NoOut", (Job,), {"name": "tests.no_out"})
    with pytest.raises(ValueError, match="dotted lower snake case"):
        type("BadName", (Job,), {"name": "Bad Name", "outputs": {"o": _table("a.b")}})
    with pytest.raises(ValueError, match="'database.table'"):
        _table("no_database")
    with pytest.raises(ValueError, match="twice"):
        Contract((Column("a", "int"), Column("a", "int")))


def test_a_run_computes_its_days():
    p = _Probe.parse_params("2024-01-31", {"region": "ASIA"})
    assert p.days == ("2024-01-31",)  # one day: the run date
    ranged = _Probe.parse_params("2024-01-30", {"region": "ASIA"}, days=["2024-01-30", "2024-01-31"])
    assert (ranged.ds, ranged.days) == ("2024-01-30", ("2024-01-30", "2024-01-31"))
    assert replace(ranged, ds="2024-01-31").days == ranged.days  # a day of the range, published on its own
    with pytest.raises(ParamError, match="ds 2024-02-01 is not one of the run's days 2024-01-30..2024-01-31"):
        replace(ranged, ds="2024-02-01")
    with pytest.raises(ParamError, match="'2024-02-30' is not a calendar date"):
        _Probe.parse_params("2024-01-30", {"region": "ASIA"}, days=["2024-01-30", "2024-02-30"])


def test_bad_range_plan_declarations_fail_at_import():
    ds = Column("ds", "string", nullable=False)
    by_ds = Table("dst.by_ds", Contract((Column("a", "int"), ds), partition_by=("ds",)))
    unpartitioned = Table("dst.whole", Contract((Column("a", "int"), ds)))
    with pytest.raises(ValueError, match=r"job tests\.range_whole declares range_plan, but output whole "
                                         r"\(dst\.whole\) is not partitioned by ds: add Column\('ds'"):
        type("RangeWhole", (Job,), {"name": "tests.range_whole", "range_plan": True,
                                    "outputs": {"by_ds": by_ds, "whole": unpartitioned}})
    with pytest.raises(ValueError, match="range_plan must be True or False"):
        type("RangeYes", (Job,), {"name": "tests.range_yes", "range_plan": "yes", "outputs": {"by_ds": by_ds}})
    with pytest.raises(ValueError, match=r"'days' is the run's dates \(p.ds, p.days\), not a param"):
        type("DaysParam", (Job,), {"name": "tests.days_param", "outputs": {"by_ds": by_ds},
                                   "params": (Param("days", int, 3),)})
    type("RangeOk", (Job,), {"name": "tests.range_ok", "range_plan": True, "outputs": {"by_ds": by_ds}})
