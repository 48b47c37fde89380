"""Building the Spark session, and the local catalog every local Spark process shares.

Locally, tables are addressed by name through a Hive metastore kept in the local MariaDB
(Spark's default Derby metastore admits one process at a time). Its settings, password
included, go into a Spark configuration directory under var/ (mode 600) that the JVM reads
at start-up: passing them as `--conf` would put the password on the java command line.
On a cluster (EMR) the cluster's own catalog and defaults apply and nothing is written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from common.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["get_spark", "prepare_local_conf_dir", "on_cluster"]

log = logging.getLogger(__name__)

# Defaults for every session this project builds; a deployment's own conf wins.
SESSION_DEFAULTS = {
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    # MySQL CHAR(n) columns would otherwise come back padded to n and block filter pushdown.
    "spark.sql.legacy.charVarcharAsString": "true",
}
# Local sessions only: a laptop's few cores. On a cluster the deployment sizes shuffles
# (docs/PRODUCTION.md) and adaptive execution coalesces them.
LOCAL_DEFAULTS = {"spark.sql.shuffle.partitions": "8"}


def on_cluster() -> bool:
    """True where the cluster provides the catalog (EMR sets PYSPARK_JOBS_CATALOG=cluster)."""
    return os.environ.get("PYSPARK_JOBS_CATALOG", "local") == "cluster"


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def prepare_local_conf_dir(settings: Settings | None = None) -> Path:
    """Write the local Spark conf dir (spark-defaults.conf, hive-site.xml) and return it."""
    settings = settings or load_settings()
    conf_dir = settings.spark_conf_dir
    conf_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(conf_dir, 0o700)
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    classpath = f"{settings.metastore_connector_jar}:{settings.mysql_connector_jar}"
    defaults = {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": settings.warehouse.as_uri(),
        "spark.driver.extraClassPath": classpath,
        "spark.executor.extraClassPath": str(settings.mysql_connector_jar),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": settings.driver_memory,
    }
    _write_private(conf_dir / "spark-defaults.conf", "".join(f"{k} {v}\n" for k, v in defaults.items()))
    mysql = settings.mysql
    hive = {
        "javax.jdo.option.ConnectionURL": (
            f"jdbc:mysql://{mysql.host}:{mysql.port}/metastore?useSSL=false&createDatabaseIfNotExist=false"
        ),
        "javax.jdo.option.ConnectionDriverName": "com.mysql.jdbc.Driver",
        "javax.jdo.option.ConnectionUserName": mysql.user,
        "javax.jdo.option.ConnectionPassword": mysql.password,
        # Tables and columns, but no foreign keys: DataNucleus adds those with ALTER TABLE
        # while its own pooled connections hold metadata locks on the referenced tables, and
        # the first start on an empty metastore then waits on itself. Hive never relies on them.
        "datanucleus.schema.autoCreateAll": "false",
        "datanucleus.schema.autoCreateTables": "true",
        "datanucleus.schema.autoCreateColumns": "true",
        "datanucleus.schema.autoCreateConstraints": "false",
        "datanucleus.schema.validateConstraints": "false",
        "hive.metastore.schema.verification": "false",
        "hive.metastore.warehouse.dir": settings.warehouse.as_uri(),
    }
    props = "".join(
        f"  <property><name>{k}</name><value>{escape(v)}</value></property>\n" for k, v in hive.items()
    )
    _write_private(conf_dir / "hive-site.xml", f"<configuration>\n{props}</configuration>\n")
    return conf_dir


def get_spark(app_name: str = "pyspark-jobs", *, master: str | None = None) -> SparkSession:
    """The active session, or a new one wired to the local catalog unless on a cluster."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name)
    if not on_cluster():
        settings = load_settings()
        missing = [p for p in (settings.mysql_connector_jar, settings.metastore_connector_jar) if not p.is_file()]
        if missing:
            from common.errors import ConfigError

            raise ConfigError(f"missing {missing[0]}: run 'make setup' to fetch the JDBC drivers")
        os.environ["SPARK_CONF_DIR"] = str(prepare_local_conf_dir(settings))
        builder = builder.enableHiveSupport()
    # Under spark-submit the gateway exists already and the master is spark-submit's.
    if master or "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master(master or os.environ.get("PYSPARK_JOBS_MASTER", "local[2]"))
    spark = builder.getOrCreate()
    submitted = spark.sparkContext.getConf()
    for key, value in {**SESSION_DEFAULTS, **({} if on_cluster() else LOCAL_DEFAULTS)}.items():
        if not submitted.contains(key):
            spark.conf.set(key, value)
    spark.sparkContext.setLogLevel(os.environ.get("PYSPARK_JOBS_SPARK_LOG_LEVEL", "WARN"))
    return spark
