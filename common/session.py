"""Building the Spark session, and the local catalog every local Spark process shares.

Locally, tables are addressed by name through the Hive metastore service of
`dev/services.sh` (a thrift server on the local MariaDB; Spark's default Derby metastore
admits one process at a time). Its address, the warehouse, the JDBC driver and s3a on moto
(`s3://` and `s3a://` paths, endpoint PYSPARK_JOBS_S3_ENDPOINT or moto's port) go into a Spark
configuration directory under var/ that the JVM reads at start-up, so they reach spark-submit
runs as well. No password: the metastore service alone holds its database's.
On a cluster (EMR) the cluster's own catalog and defaults apply and nothing is written.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from common.settings import (
    HIVE_CLIENT_CONF,
    ICEBERG_CATALOG_TYPE,
    ICEBERG_SPARK_CONF,
    SHIPPED_JARS,
    Settings,
    load_settings,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["GLUE_TEST_JARS", "get_spark", "prepare_local_conf_dir", "on_cluster"]

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
S3A_JARS = "s3a"  # hadoop-aws and the AWS SDK modules it uses, in the jars folder (dev/fetch.sh)
# Iceberg's Glue catalog needs the AWS SDK v2, which its runtime jar lacks: EMR provides it, and
# for local tests of a `catalog = "glue"` deployment (on moto) dev/fetch.sh puts it in this folder.
GLUE_TEST_JARS = "glue"
GLUE_CLIENT_CLASS = "software.amazon.awssdk.services.glue.GlueClient"


def on_cluster() -> bool:
    """True where the cluster provides the catalog (EMR sets PYSPARK_JOBS_CATALOG=cluster)."""
    return os.environ.get("PYSPARK_JOBS_CATALOG", "local") == "cluster"


def _write_private(path: Path, text: str) -> None:
    """Readable by the owner only, replaced atomically; runs starting at once each write their
    own temporary file (mkstemp: mode 600), so no run renames another's away."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
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
    classpath = ":".join([*(str(settings.jars / jar) for jar in SHIPPED_JARS), f"{settings.jars / S3A_JARS}/*"])
    endpoint = settings.s3_endpoint or f"http://127.0.0.1:{settings.values.get('PYSPARK_JOBS_S3_PORT', '15000')}"
    s3a = {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.endpoint.region": settings.aws_region or "us-east-1",
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https:")).lower(),
        # moto's test keys: nothing secret (a laptop's real AWS profile is never used).
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": "testing",
        "fs.s3a.secret.key": "testing",
        # Retries (docs/RELIABILITY.md, "The object store, the metastore and Trino misbehaving"):
        # the AWS SDK retries a request up to attempts.maximum times inside each of S3A's own
        # retries. Hadoop 3.3.4's 20 SDK attempts times S3A's 7 can keep a task on a dead store
        # for many minutes; 5 is Hadoop 3.4's default. S3A's own: 7 retries from 500 ms,
        # exponential (connection failures), 20 from 100 ms for throttling (503 SlowDown),
        # Hadoop's defaults, set here to be seen.
        "fs.s3a.attempts.maximum": "5",
        "fs.s3a.retry.limit": "7",
        "fs.s3a.retry.interval": "500ms",
        "fs.s3a.retry.throttle.limit": "20",
        "fs.s3a.retry.throttle.interval": "100ms",
    }
    defaults = {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": settings.warehouse.as_uri(),
        "spark.driver.extraClassPath": classpath,
        "spark.executor.extraClassPath": classpath,
        "spark.ui.showConsoleProgress": "false",
        # Each driver's UI takes the next free port from 4040; Spark's default of 16 tries fails
        # the 17th run started at once on one machine (a backfill, max_active_runs above 1).
        "spark.port.maxRetries": "64",
        **ICEBERG_SPARK_CONF,
        **HIVE_CLIENT_CONF,
        ICEBERG_CATALOG_TYPE: "hive",  # the metastore service
        "spark.driver.memory": settings.driver_memory,
        **({"spark.driver.extraJavaOptions": settings.java_options,
            "spark.executor.extraJavaOptions": settings.java_options} if settings.java_options else {}),
        # spark.hadoop.*, not core-site.xml: they reach local-cluster executors through the conf.
        **{f"spark.hadoop.{k}": v for k, v in s3a.items()},
    }
    _write_private(conf_dir / "spark-defaults.conf", "".join(f"{k} {v}\n" for k, v in defaults.items()))
    hive = {"hive.metastore.uris": settings.metastore_uri, "hive.metastore.warehouse.dir": settings.warehouse.as_uri()}
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
        needed = [*(settings.jars / jar for jar in SHIPPED_JARS), settings.jars / S3A_JARS]
        missing = [p for p in needed if not p.exists()]
        if missing:
            from common.errors import ConfigError

            raise ConfigError(f"missing {missing[0]}: run 'make setup' to fetch the JDBC driver, Iceberg and the s3a jars")
        os.environ["SPARK_CONF_DIR"] = str(prepare_local_conf_dir(settings))
        builder = builder.enableHiveSupport()
    # Under spark-submit the gateway exists already and the master is spark-submit's.
    if master or "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master(master or os.environ.get("PYSPARK_JOBS_MASTER", "local[2]"))
    spark = builder.getOrCreate()
    if not on_cluster():
        _check_glue_sdk(spark)
    submitted = spark.sparkContext.getConf()
    for key, value in {**SESSION_DEFAULTS, **({} if on_cluster() else LOCAL_DEFAULTS)}.items():
        if not submitted.contains(key):
            spark.conf.set(key, value)
    spark.sparkContext.setLogLevel(os.environ.get("PYSPARK_JOBS_SPARK_LOG_LEVEL", "WARN"))
    return spark


def _check_glue_sdk(spark: SparkSession) -> None:
    """A local session set to Iceberg's Glue catalog whose JVM lacks the AWS SDK v2 stops here,
    in one line, rather than at its first table with a NoClassDefFoundError."""
    if spark.conf.get(ICEBERG_CATALOG_TYPE, None) != "glue":
        return
    lang = spark.sparkContext._jvm.java.lang
    try:
        # Through the loader Spark's --jars and extraClassPath reach, as Iceberg's catalog will load it.
        lang.Class.forName(GLUE_CLIENT_CLASS, False, lang.Thread.currentThread().getContextClassLoader())
    except Exception:  # noqa: BLE001 - Py4J's wrapper of ClassNotFoundException
        from common.errors import ConfigError

        spark.stop()
        raise ConfigError(
            f"{ICEBERG_CATALOG_TYPE}=glue needs the AWS SDK v2 ({GLUE_CLIENT_CLASS}), which this Spark lacks: run "
            f"'make fetch' and add {load_settings().jars / GLUE_TEST_JARS}/* to spark.driver.extraClassPath (on EMR, create "
            "the cluster with the iceberg-defaults classification, iceberg.enabled=true)"
        ) from None
