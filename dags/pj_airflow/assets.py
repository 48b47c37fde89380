"""Output tables as Airflow Assets: each task declares the tables its job writes as outlets,
and `jobs_dag(..., schedule_on=["demo.daily_revenue"])` runs a DAG once they have been written.

An asset names the physical table the run writes, `lake://<database>.<table>/`: production's
table in prod and local, the branch's namespace in qa (`lake://qa_<slug>__demo.top_customers/`),
so a qa Airflow's DAGs follow that branch's outputs, never production's. `lake` is this
project's own scheme: Airflow reserves only `airflow` and no provider claims `lake`.
OpenLineage's name for a Hive table (`hive://<metastore host:port>` + `db.table`) needs the
metastore address, which a DAG file must not read while it is parsed; lineage itself comes
from Spark's OpenLineage listener, which names tables its own way.

Each asset event carries the days the run wrote (`extra`: `ds_from`, `ds_to`). A run that
assets trigger has no logical date, hence no `{{ ds }}`: its tasks compute the days its
events wrote, first to last (`days_written`), one application per job as a backfill does.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow.sdk import Asset

from common.environments import Environment
from common.registry import discover, get_job

__all__ = ["AssetScheduleError", "EVENT_DS", "EVENT_DS_TO", "assets_of", "days_written", "output_assets",
           "table_asset"]

SCHEME = "lake"
# The operator's ds and ds_to in a DAG that assets trigger (the DAG defines `days_written`).
EVENT_DS = "{{ days_written(triggering_asset_events)[0] }}"
EVENT_DS_TO = "{{ days_written(triggering_asset_events)[1] }}"


class AssetScheduleError(ValueError):
    """A DAG is scheduled on something that is not a job's output, or an event lacks its days."""


def table_asset(physical: str) -> Asset:
    """The asset of one physical `database.table`."""
    return Asset(name=physical, uri=f"{SCHEME}://{physical}/", group="table")


def output_assets(job: str, *, env: str, branch: str | None) -> list[Asset]:
    """The assets of the tables `job` writes when run with `--env env [--branch branch]`."""
    return assets_of([get_job(job).name], env=env, branch=branch)


def assets_of(names: Iterable[str], *, env: str, branch: str | None) -> list[Asset]:
    """The assets of job names (every table each writes) and of logical table names a job writes."""
    where = Environment(env, branch)
    jobs = discover()
    written = {table.name: table for cls in jobs.values() for table in cls.outputs.values()}
    tables = []
    for name in dict.fromkeys(names):
        if name in jobs:
            tables += jobs[name].outputs.values()
        elif name in written:
            tables.append(written[name])
        else:
            close = difflib.get_close_matches(name, [*jobs, *written], n=1)
            hint = f"did you mean {close[0]!r}?" if close else "name a job, or a table some job writes"
            raise AssetScheduleError(f"schedule_on names {name!r}, neither a job nor a table a job writes: {hint}")
    if not tables:
        raise AssetScheduleError("schedule_on is empty: name the jobs or tables whose outputs start this DAG")
    return [table_asset(where.output_name(table)) for table in {t.name: t for t in tables}.values()]


def days_written(events: Mapping[Any, Sequence[Any]]) -> tuple[str, str]:
    """The first and last day the triggering asset events wrote (`triggering_asset_events`)."""
    spans = []
    for asset, found in events.items():
        for event in found:
            extra = event.extra or {}
            if not (extra.get("ds_from") and extra.get("ds_to")):
                raise AssetScheduleError(f"an event of asset {getattr(asset, 'uri', asset)} names no days "
                                         "(extra ds_from, ds_to): only SparkJobOperator's events can start "
                                         "this DAG; for days by hand, trigger its _backfill DAG (jobs_dag(backfill=True))")
            spans.append((str(extra["ds_from"]), str(extra["ds_to"])))
    if not spans:
        raise AssetScheduleError("this run has no triggering asset events: it runs only when its assets are "
                                 "written; for days by hand, trigger its _backfill DAG (jobs_dag(backfill=True))")
    return min(s[0] for s in spans), max(s[1] for s in spans)
