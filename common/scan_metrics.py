"""Rows each input's scans read during a run, from Spark's own SQL metrics: never an extra count.

Every scan node of an executed plan carries the metric "number of output rows" (a parquet or
Iceberg scan after partition pruning and row-group skipping, a JDBC scan the rows fetched).
The driver's monitoring REST API (`/api/v1/applications/<app>/sql`, the Spark UI's public
interface) lists the SQL executions with their nodes and metrics; a run sums, per input, the
scans of the executions it started. Executions described as key checks or as a range's
days check are left out: they are the framework's work, not the job's. With the UI off
(`spark.ui.enabled=false`) or unreachable, the rows are unknown (None), and a note says why.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from common.contracts import Table

__all__ = ["ScanMetrics", "KEY_CHECK", "DAYS_CHECK", "scan_names", "warm_up"]

log = logging.getLogger(__name__)
KEY_CHECK = "pyspark-jobs key check"  # the job description of input key checks
DAYS_CHECK = "pyspark-jobs days check"  # ... and of a range_plan run's check of its outputs' days
ROWS = "number of output rows"
_SETTLE_S = 10.0  # the UI's listener reports an execution's last metrics shortly after the action returns


def scan_names(table: Table, physical: str) -> tuple[str, ...]:
    """The scan node names that read `table` (stored as `physical`): a file or Iceberg scan of
    the catalog table, or a JDBC relation."""
    if table.is_mysql:
        return (f"Scan JDBCRelation(`{table.database}`.`{table.table}`)",)
    return tuple(f"{scan} {catalog}{physical}" for scan in ("Scan parquet", "Scan orc", "BatchScan")
                 for catalog in ("spark_catalog.", ""))


def _reads(node: str, names: tuple[str, ...]) -> bool:
    """`Scan JDBCRelation(...) [numPartitions=4]` reads what its name says; `t.snapshots` is not `t`."""
    return any(node == name or node.startswith(name + " ") for name in names)


def _number(text: str) -> int:
    return int(text.replace(",", "").split()[0])


def _api(spark: SparkSession) -> str | None:
    """The driver's monitoring REST API (`.../api/v1`); None with the UI off."""
    context = spark.sparkContext
    if context.getConf().get("spark.ui.enabled", "true").lower() == "false" or not context.uiWebUrl:
        return None
    return f"{context.uiWebUrl}/api/v1"


def warm_up(spark: SparkSession) -> None:
    """Ask the REST API once in the background, as soon as the session is up: the UI server sets
    the API up at its first request (about a second), which the run would otherwise wait for when
    it opens its ScanMetrics."""
    api = _api(spark)

    def ask() -> None:
        try:
            with urllib.request.urlopen(f"{api}/version", timeout=10) as response:  # noqa: S310 - the driver's own UI
                response.read()
        except OSError:
            pass  # ScanMetrics says why, if it still does not answer

    if api:
        threading.Thread(target=ask, name="spark-ui-warm-up", daemon=True).start()


@dataclass
class ScanMetrics:
    """Opened before a run's first action; `rows_read` after its last."""

    spark: SparkSession
    url: str | None = None
    first: int = 0
    reason: str | None = None
    seen: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        api = _api(self.spark)
        if api is None:
            self.reason = "rows read unknown: the Spark UI is off (spark.ui.enabled), so its SQL metrics are too"
            return
        self.url = f"{api}/applications/{self.spark.sparkContext.applicationId}/sql"
        try:
            self.first = max((e["id"] + 1 for e in self._executions(details=False)), default=0)
        except (OSError, ValueError) as exc:  # unreachable, or not the API answering (a proxy page)
            self.reason = f"rows read unknown: the Spark UI's REST API did not answer ({exc})"

    def _executions(self, *, details: bool = True) -> list[dict]:
        """The executions the UI retains (spark.sql.ui.retainedExecutions, the newest): `offset`
        counts retained ones, not ids, so the run's are picked by id. Without `details`, ids only."""
        query = f"?details={str(details).lower()}&planDescription=false&length=100000"
        with urllib.request.urlopen(self.url + query, timeout=10) as response:  # noqa: S310 - the driver's own UI
            return json.load(response)

    def _settled(self) -> list[dict]:
        deadline = time.monotonic() + _SETTLE_S
        while True:
            executions = [e for e in self._executions() if e["id"] >= self.first]
            if all(e["status"] != "RUNNING" for e in executions) or time.monotonic() > deadline:
                return executions
            time.sleep(0.2)

    def rows_read(self, scans: dict[str, tuple[str, ...]]) -> dict[str, int | None]:
        """Per input alias, the rows its scans (named as `scan_names` gives) read in this run's
        executions; None for an input whose scans have no name to find (files read by path)."""
        if self.url is None:
            return dict.fromkeys(scans)
        try:
            self.seen = self._settled()
        except (OSError, ValueError) as exc:  # unreachable, or not the API answering (a proxy page)
            self.reason = f"rows read unknown: the Spark UI's REST API did not answer ({exc})"
            return dict.fromkeys(scans)
        rows: dict[str, int | None] = {alias: 0 if names else None for alias, names in scans.items()}
        for execution in self.seen:
            if execution.get("description", "").startswith((KEY_CHECK, DAYS_CHECK)):
                continue
            for node in execution.get("nodes", []):
                alias = next((a for a, names in scans.items() if _reads(node["nodeName"], names)), None)
                metric = next((m["value"] for m in node.get("metrics", []) if m["name"] == ROWS), None)
                if alias is not None and metric:
                    rows[alias] += _number(metric)
        return rows
