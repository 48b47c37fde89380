"""The extra links of a `SparkJobOperator` task: where its Spark application and logs are.

The operator pushes what its launcher knows ({"spark_ui": url, "logs": url}) to one XCom as the
run ends, failed or not; each link reads its entry back (the Amazon provider's pattern), and the
task runner stores the result under the link's own key for the UI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

__all__ = ["LINKS_KEY", "SparkLogsLink", "SparkUiLink"]

LINKS_KEY = "pyspark_jobs_links"


class _RunLink(BaseOperatorLink):
    entry: ClassVar[str]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return (XCom.get_value(ti_key=ti_key, key=LINKS_KEY) or {}).get(self.entry, "")


class SparkUiLink(_RunLink):
    """EMR: the cluster's Spark history server; YARN: the application's ResourceManager page."""

    name = "Spark UI"
    entry = "spark_ui"


class SparkLogsLink(_RunLink):
    """EMR: the step's log folder (stderr.gz, stdout.gz, controller.gz) under the cluster's LogUri."""

    name = "Spark step logs"
    entry = "logs"
