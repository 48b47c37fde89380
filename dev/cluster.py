"""The local cluster's own configuration: what an EMR primary node keeps in /etc/hadoop/conf
and /etc/spark/conf, written by `dev/services.sh up` into var/cluster/conf.

One directory serves as HADOOP_CONF_DIR and SPARK_CONF_DIR, for the YARN daemons and for every
spark-submit run through dev/command_runner.py:
    core-site.xml        file:/// as the default file system; s3:// and s3a:// through s3a on moto
    yarn-site.xml        ResourceManager and NodeManager addresses, FIFO scheduler, the containers'
                         environment (moto's endpoint and keys: the stand-in for an instance profile)
    hive-site.xml        the metastore service's thrift URI, and no password
    spark-defaults.conf  YARN master, Spark's and the s3a jars from local disk, a file:// staging dir
    log4j.properties     the YARN daemons' logging (Spark uses its own log4j2 defaults)
    spark-env.sh         the s3a jars for a submitting JVM (spark-submit sources it)
Every port is a default that an environment variable overrides (PORTS). Nothing here is secret:
moto's keys are its documented test keys, and the metastore's database password stays in
var/metastore/conf (mode 600), which only the metastore service reads.
Standard library only.
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HOME = Path(os.environ.get("PYSPARK_JOBS_HOME", Path(__file__).resolve().parent.parent))
VAR = Path(os.environ.get("PYSPARK_JOBS_VAR", HOME / "var")).resolve()
HOST = "127.0.0.1"
CLUSTER = VAR / "cluster"
CONF_DIR = CLUSTER / "conf"
STAGING = CLUSTER / "staging"
WAREHOUSE = Path(os.environ.get("PYSPARK_JOBS_WAREHOUSE", VAR / "warehouse")).resolve()
S3A_JARS = VAR / "cache" / "jars" / "s3a"
YARN_HOME = VAR / "cache" / "hadoop-yarn-3.3.4"
JAVA_HOME = Path(os.environ.get("PYSPARK_JOBS_JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64"))
# The interpreter an EMR node has; the packaged environment's python links to it.
NODE_PYTHON = os.environ.get("PYSPARK_JOBS_NODE_PYTHON", "/usr/bin/python3.11")
# moto accepts any key; these are the ones its documentation and the AWS SDKs' tests use.
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
LAKE_BUCKET = "pyspark-jobs-lake"

# name: (environment variable, default). Hadoop's own defaults (8030-8033, 8088, 8040-8042)
# are avoided: another Hadoop on the machine would clash.
PORTS = {
    "moto": ("PYSPARK_JOBS_S3_PORT", 15000),
    "mariadb": ("PYSPARK_JOBS_MYSQL_PORT", 13306),
    "metastore": ("PYSPARK_JOBS_METASTORE_PORT", 19083),
    "rm": ("PYSPARK_JOBS_YARN_RM_PORT", 18032),
    "rm-scheduler": ("PYSPARK_JOBS_YARN_RM_SCHEDULER_PORT", 18030),
    "rm-tracker": ("PYSPARK_JOBS_YARN_RM_TRACKER_PORT", 18031),
    "rm-admin": ("PYSPARK_JOBS_YARN_RM_ADMIN_PORT", 18033),
    "rm-web": ("PYSPARK_JOBS_YARN_RM_WEB_PORT", 18088),
    "nm": ("PYSPARK_JOBS_YARN_NM_PORT", 18041),
    "nm-localizer": ("PYSPARK_JOBS_YARN_NM_LOCALIZER_PORT", 18040),
    "nm-web": ("PYSPARK_JOBS_YARN_NM_WEB_PORT", 18042),
}


def port(name: str) -> int:
    env, default = PORTS[name]
    return int(os.environ.get(env, default))


def address(name: str) -> str:
    return f"{HOST}:{port(name)}"


def pyspark_home() -> Path:
    """The virtualenv's pyspark: its jars are the cluster's Spark and Hadoop client."""
    found = glob.glob(str(HOME / ".venv" / "lib" / "python3*" / "site-packages" / "pyspark"))
    if not found:
        raise FileNotFoundError(f"no pyspark in {HOME / '.venv'}; run 'make deps'")
    # Resolved: a repository copy whose .venv links to another's (tests/helpers.repository_copy)
    # must not leave its own, temporary, path in the shared cluster configuration.
    return Path(found[0]).resolve()


def s3_endpoint() -> str:
    return f"http://{address('moto')}"


def metastore_uri() -> str:
    return f"thrift://{address('metastore')}"


def container_env() -> dict[str, str]:
    """What every YARN container's environment has from the node (yarn.nodemanager.admin-env)."""
    return {"AWS_ENDPOINT_URL": s3_endpoint(), **AWS_KEYS}


def s3a_properties() -> dict[str, str]:
    """Hadoop properties for s3:// and s3a:// on moto (also what a local Spark session sets)."""
    return {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        "fs.s3a.endpoint": s3_endpoint(),
        "fs.s3a.endpoint.region": AWS_KEYS["AWS_DEFAULT_REGION"],
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": AWS_KEYS["AWS_ACCESS_KEY_ID"],
        "fs.s3a.secret.key": AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
        # STS on moto: where a step's s3a assumes its execution role (submit.S3A_ASSUMED_ROLE).
        "fs.s3a.assumed.role.sts.endpoint": s3_endpoint(),
        "fs.s3a.assumed.role.sts.endpoint.region": AWS_KEYS["AWS_DEFAULT_REGION"],
    }


def site_xml(properties: dict[str, str]) -> str:
    rows = "".join(f"  <property><name>{k}</name><value>{escape(v)}</value></property>\n" for k, v in properties.items())
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


def yarn_properties() -> dict[str, str]:
    nm_dir = VAR / "yarn-nm"
    admin_env = {"MALLOC_ARENA_MAX": "$MALLOC_ARENA_MAX", **container_env()}  # Hadoop's default kept first
    return {
        "yarn.resourcemanager.hostname": HOST,
        "yarn.resourcemanager.address": address("rm"),
        "yarn.resourcemanager.scheduler.address": address("rm-scheduler"),
        "yarn.resourcemanager.resource-tracker.address": address("rm-tracker"),
        "yarn.resourcemanager.admin.address": address("rm-admin"),
        "yarn.resourcemanager.webapp.address": address("rm-web"),
        "yarn.resourcemanager.scheduler.class":
            "org.apache.hadoop.yarn.server.resourcemanager.scheduler.fifo.FifoScheduler",
        "yarn.scheduler.minimum-allocation-mb": "256",
        "yarn.scheduler.maximum-allocation-mb": "8192",
        "yarn.scheduler.maximum-allocation-vcores": "4",
        "yarn.timeline-service.enabled": "false",
        "yarn.nodemanager.hostname": HOST,
        "yarn.nodemanager.address": address("nm"),
        "yarn.nodemanager.localizer.address": address("nm-localizer"),
        "yarn.nodemanager.webapp.address": address("nm-web"),
        "yarn.nodemanager.resource.memory-mb": "8192",
        "yarn.nodemanager.resource.cpu-vcores": "4",
        "yarn.nodemanager.vmem-check-enabled": "false",
        "yarn.nodemanager.pmem-check-enabled": "false",
        # A nearly full laptop disk would otherwise mark the only node unhealthy.
        "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "99",
        "yarn.nodemanager.local-dirs": str(nm_dir / "local"),
        "yarn.nodemanager.log-dirs": str(nm_dir / "logs"),
        # Finished containers' logs stay on the node, readable through its web service, for 3 hours.
        "yarn.log-aggregation-enable": "false",
        "yarn.nodemanager.log.retain-seconds": "10800",
        "yarn.nodemanager.delete.debug-delay-sec": "600",
        "yarn.nodemanager.admin-env": ",".join(f"{k}={v}" for k, v in admin_env.items()),
    }


def spark_defaults() -> dict[str, str]:
    jars = pyspark_home() / "jars"
    return {
        "spark.master": "yarn",
        # Spark's and the s3a jars are on every node's disk: nothing is uploaded per submit.
        "spark.yarn.jars": f"local:{jars}/*,local:{S3A_JARS}/*",
        "spark.yarn.stagingDir": STAGING.as_uri(),
        "spark.yarn.populateHadoopClasspath": "false",
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": metastore_uri(),
        "spark.sql.warehouse.dir": WAREHOUSE.as_uri(),
        "spark.pyspark.python": NODE_PYTHON,
        # Not in admin-env: YARN appends admin-env to a variable the container has already, and
        # executors inherit the application master's SPARK_* variables ("127.0.0.1:127.0.0.1").
        "spark.yarn.appMasterEnv.SPARK_LOCAL_IP": HOST,
        "spark.executor.instances": "1",
        "spark.executor.memory": "1g",
        "spark.driver.memory": "1g",
        "spark.ui.showConsoleProgress": "false",
    }


DAEMON_LOG4J = """log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.yarn.server.resourcemanager.RMAuditLogger=WARN
log4j.logger.org.apache.hadoop.yarn.server.nodemanager.NMAuditLogger=WARN
"""


def write_conf() -> Path:
    """(Re)write var/cluster/conf from the current ports and paths; return it."""
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    STAGING.mkdir(parents=True, exist_ok=True)
    WAREHOUSE.mkdir(parents=True, exist_ok=True)
    core = {"fs.defaultFS": "file:///", "hadoop.tmp.dir": str(CLUSTER / "tmp"), **s3a_properties()}
    hive = {"hive.metastore.uris": metastore_uri(), "hive.metastore.warehouse.dir": WAREHOUSE.as_uri()}
    files = {
        "core-site.xml": site_xml(core),
        "yarn-site.xml": site_xml(yarn_properties()),
        "hive-site.xml": site_xml(hive),
        "spark-defaults.conf": "".join(f"{k} {v}\n" for k, v in spark_defaults().items()),
        "log4j.properties": DAEMON_LOG4J,
        # Sourced by every spark-submit with this SPARK_CONF_DIR (an Airflow worker's yarn launcher
        # included), as a node's /etc/spark/conf/spark-env.sh is: s3a for the submitting JVM.
        "spark-env.sh": f"export SPARK_DIST_CLASSPATH='{S3A_JARS}/*'\nexport SPARK_LOCAL_IP={HOST}\n",
    }
    for name, text in files.items():
        tmp = CONF_DIR / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, CONF_DIR / name)
    return CONF_DIR


def node_env() -> dict[str, str]:
    """A cluster node's environment for spark-submit: the cluster's conf, Java, the s3a jars for
    the submitting JVM, the instance profile's stand-in; nothing of the caller's."""
    return {
        "PATH": f"{JAVA_HOME / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "JAVA_HOME": str(JAVA_HOME),
        "SPARK_HOME": str(pyspark_home()),
        "SPARK_CONF_DIR": str(CONF_DIR),
        "HADOOP_CONF_DIR": str(CONF_DIR),
        "SPARK_DIST_CLASSPATH": f"{S3A_JARS}/*",
        "SPARK_LOCAL_IP": HOST,
        **container_env(),
    }


if __name__ == "__main__":
    print(write_conf())
    sys.exit(0)
