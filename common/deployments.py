"""What differs per deployment (prod, qa, local), in one TOML file read at the edge.

The Airflow side reads the deployment's section when a task runs and renders it into the
step's Spark configuration: the lake root, the catalog, each MySQL source by its secret id,
TLS, Spark sizing. The driver on the cluster reads those as PYSPARK_JOBS_* variables
(common/settings.py) and fetches the secrets itself; job code never sees any of it. No
secret value belongs in the file: a `password` key is refused.

    [prod]
    lake_root = "s3://acme-lake/warehouse"     # outputs: EXTERNAL tables at <lake_root>/<db>/<table>
    aws_region = "eu-west-1"
    catalog = "hive"                           # the cluster's Hive metastore, or "glue"
    launcher = "emr"                           # emr | yarn | local
    emr_cluster = "analytics"                  # a running cluster's name, or its id j-...
    execution_role_arn = "arn:aws:iam::123456789012:role/pyspark-jobs-prod"  # the steps' runtime role
    lineage_url = "http://marquez.internal:5000"  # OpenLineage events: http(s), file:///folder, openlineage, off

    [prod.mysql.default]                       # contract store "mysql"; [prod.mysql.crm] is "mysql:crm"
    secret_id = "prod/mysql/tpch"              # host, port, dbname, username, password (RDS format)
    ssl_mode = "VERIFY_IDENTITY"
    read_replica = "tpch-ro.acme.internal"

    [prod.spark]
    "spark.sql.shuffle.partitions" = "400"

Standard library only: Airflow workers import it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from common.settings import ICEBERG_CATALOG_TYPE, LAKE_SCHEMES, SSL_MODES, mysql_key
from common.submit import role_arn_problem

__all__ = ["CATALOGS", "DeploymentConfig", "DeploymentConfigError", "load_deployment"]

CATALOGS = ("hive", "glue")
LAUNCHERS = ("emr", "yarn", "local")
GLUE_CLIENT_FACTORY = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
# What a cluster run gets unless the deployment says otherwise: a deterministic failure is
# not run a second time by YARN, and adaptive execution sizes the shuffles.
CLUSTER_SPARK_DEFAULTS = MappingProxyType({
    "spark.yarn.maxAppAttempts": "1",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
})
_SOURCE_KEYS = {"secret_id": "SECRET_ID", "ssl_mode": "SSL_MODE", "read_replica": "READ_REPLICA",
                "host": "HOST", "port": "PORT", "database": "DATABASE", "connect_timeout": "CONNECT_TIMEOUT",
                "query_timeout": "QUERY_TIMEOUT", "socket_timeout": "SOCKET_TIMEOUT"}
# OpenLineage (common/lineage_events.py): where the driver sends a run's events and how it names them.
_LINEAGE_KEYS = {"lineage_url": "LINEAGE_URL", "lineage_namespace": "LINEAGE_NAMESPACE",
                 "lineage_catalog_namespace": "LINEAGE_CATALOG_NAMESPACE",
                 "lineage_api_key_secret_id": "LINEAGE_API_KEY_SECRET_ID"}
_KEYS = {"lake_root", "qa_root", "aws_region", "catalog", "metastore_uri", "launcher", "emr_cluster",
         "execution_role_arn", "aws_conn_id", "yarn_conf_dir", "log_wait_s", "mysql", "spark", *_LINEAGE_KEYS}
_SOURCE = re.compile(r"^[a-z][a-z0-9_]*$")
_ENV = "spark.yarn.appMasterEnv.PYSPARK_JOBS_"


class DeploymentConfigError(ValueError):
    """The deployments file is missing or wrong; the message names the file, key and fix."""


@dataclass(frozen=True)
class DeploymentConfig:
    name: str
    lake_root: str = ""
    qa_root: str = ""
    aws_region: str = ""
    catalog: str = "hive"
    metastore_uri: str = ""
    launcher: str = ""
    emr_cluster: str = ""
    # The IAM role every step of this deployment runs under: EMR's runtime role (ExecutionRoleArn),
    # assumed by s3a on a YARN cluster. qa's may read production and write only the qa prefix.
    execution_role_arn: str = ""
    aws_conn_id: str = "aws_default"
    yarn_conf_dir: str = ""
    log_wait_s: float = 600.0  # how long a failed step's logs are waited for (EMR pushes them late)
    mysql: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    spark: Mapping[str, str] = field(default_factory=dict)
    lineage: Mapping[str, str] = field(default_factory=dict)  # lineage_* key -> value

    def spark_conf(self) -> dict[str, str]:
        """The step's Spark configuration for this deployment: nothing secret, all of it readable."""
        conf = dict(CLUSTER_SPARK_DEFAULTS)
        for key, value in (("LAKE_ROOT", self.lake_root), ("QA_ROOT", self.qa_root), ("AWS_REGION", self.aws_region)):
            if value:
                conf[_ENV + key] = value
        for key, value in self.lineage.items():
            conf[_ENV + _LINEAGE_KEYS[key]] = value
        for source, options in self.mysql.items():
            for option, value in options.items():
                conf[_ENV + mysql_key(source, _SOURCE_KEYS[option])] = str(value)
        if self.catalog == "glue":
            conf["spark.hadoop.hive.metastore.client.factory.class"] = GLUE_CLIENT_FACTORY
        conf[ICEBERG_CATALOG_TYPE] = self.catalog  # Iceberg's catalog on the same store: hive or glue
        if self.metastore_uri:
            conf["spark.hadoop.hive.metastore.uris"] = self.metastore_uri
        conf.update(self.spark)
        return conf


def load_deployment(path: Path, name: str) -> DeploymentConfig:
    """The section `name` of the deployments file at `path`, checked."""
    where = f"deployments file {path}"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DeploymentConfigError(f"{where} does not exist; create it (docs/PRODUCTION.md) or set "
                                    "PYSPARK_JOBS_DEPLOYMENTS to its path") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeploymentConfigError(f"{where} is not valid TOML: {exc}") from None
    if name not in data:
        if name == "local":
            return DeploymentConfig(name=name)  # a laptop needs nothing beyond its profile
        raise DeploymentConfigError(f"{where} has no [{name}] section; add one (docs/PRODUCTION.md)")
    return _parse(name, data[name], where)


def _parse(name: str, section: Mapping[str, Any], where: str) -> DeploymentConfig:
    def fail(key: str, problem: str) -> DeploymentConfigError:
        return DeploymentConfigError(f"{where}, [{name}] {key}: {problem}")

    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key; use some of {', '.join(sorted(_KEYS))}")
    for key in ("lake_root", "qa_root"):
        uri = str(section.get(key, ""))
        if uri and (not uri.startswith(LAKE_SCHEMES) or uri in LAKE_SCHEMES):
            raise fail(key, f"{uri!r} is not an s3://bucket/prefix or file:///path URI")
    if name != "local" and not section.get("lake_root"):
        raise fail("lake_root", "missing; outputs need a root such as s3://bucket/warehouse")
    if name == "qa" and not section.get("qa_root"):
        raise fail("qa_root", "missing; qa branches write under <qa_root>/<branch-slug>/, e.g. s3://bucket/qa")
    catalog = section.get("catalog", "hive")
    if catalog not in CATALOGS:
        raise fail("catalog", f"{catalog!r}; use one of {', '.join(CATALOGS)}")
    launcher = section.get("launcher", "")
    if launcher and launcher not in LAUNCHERS:
        raise fail("launcher", f"{launcher!r}; use one of {', '.join(LAUNCHERS)}")
    role = str(section.get("execution_role_arn", ""))
    problem = role_arn_problem(role) if role else None
    if problem:
        raise fail("execution_role_arn", problem)
    if name == "qa" and launcher in ("emr", "yarn") and not role:
        raise fail("execution_role_arn", f"missing; qa steps on {launcher} run under a role that may read "
                                         "production and write only below qa_root (docs/PRODUCTION.md)")
    mysql = {}
    for source, options in dict(section.get("mysql", {})).items():
        key = f"mysql.{source}"
        if not _SOURCE.fullmatch(source) or not isinstance(options, dict):
            raise fail(key, "a source is a table [<deployment>.mysql.<name>] with a lower snake case name")
        if {"password", "user", "username"} & set(options):
            raise fail(key, "credentials never go in this file; store them in Secrets Manager and set secret_id")
        bad = sorted(set(options) - set(_SOURCE_KEYS))
        if bad:
            raise fail(f"{key}.{bad[0]}", f"unknown key; use some of {', '.join(_SOURCE_KEYS)}")
        mode = str(options.get("ssl_mode", "REQUIRED")).upper()
        if mode not in SSL_MODES:
            raise fail(f"{key}.ssl_mode", f"{mode!r}; use one of {', '.join(SSL_MODES)}")
        # TLS on unless the file turns it off: production's databases are reached over the network.
        mysql[source] = MappingProxyType({**{k: str(v) for k, v in options.items()}, "ssl_mode": mode})
    lineage = {key: str(section[key]) for key in _LINEAGE_KEYS if section.get(key)}
    url = lineage.get("lineage_url", "")
    if url and (url.lower() not in ("off", "openlineage") and not url.startswith(("http://", "https://", "file://"))
                or "@" in url.split("://", 1)[-1].split("/", 1)[0]):
        raise fail("lineage_url", f"{url!r}: use http(s)://host:port (no credentials: lineage_api_key_secret_id), "
                                  "file:///folder, openlineage or off")
    spark = section.get("spark", {})
    if not isinstance(spark, dict) or not all(isinstance(v, (str, int, float, bool)) for v in spark.values()):
        raise fail("spark", "a table of Spark settings, e.g. \"spark.sql.shuffle.partitions\" = \"400\"")
    return DeploymentConfig(
        name=name,
        lake_root=str(section.get("lake_root", "")).rstrip("/"),
        qa_root=str(section.get("qa_root", "")).rstrip("/"),
        aws_region=str(section.get("aws_region", "")),
        catalog=catalog,
        metastore_uri=str(section.get("metastore_uri", "")),
        launcher=launcher,
        emr_cluster=str(section.get("emr_cluster", "")),
        execution_role_arn=role,
        aws_conn_id=str(section.get("aws_conn_id", "aws_default")),
        yarn_conf_dir=str(section.get("yarn_conf_dir", "")),
        log_wait_s=float(section.get("log_wait_s", 600)),
        mysql=MappingProxyType(mysql),
        spark=MappingProxyType({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in spark.items()}),
        lineage=MappingProxyType(lineage),
    )
