"""The production-shaped local stack, as `make e2e` and tests/production use it.

Production's shape on loopback: YARN (ResourceManager + NodeManager), S3 and Secrets Manager on
moto, the Hive metastore service, MariaDB, Trino's `lake` catalog (all started by
`dev/services.sh up`). Deployments come from dev/deployments.toml; the cluster's own
configuration is var/cluster/conf (dev/cluster.py). What this module adds:

- `environment()`: the variables an Airflow worker of that deployment has (AWS on moto, the
  deployments file, the cluster's HADOOP_CONF_DIR, the artifact store on S3);
- `publish_branch()`: package a branch and publish it to the artifact store on S3;
- `inputs_on_s3()`: the TPC-H lake tables served from S3 for the duration (moto keeps its data
  in memory, so the copy is made again whenever the stack needs it; the local lake on disk is
  pointed at again afterwards, even after a failure).
Standard library plus the virtualenv's boto3 and pyspark.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from common.slug import branch_slug  # noqa: E402 - after the project root is importable

__all__ = ["ARTIFACT_STORE", "LAKE_BUCKET", "PROD_LAKE", "aws_environment", "branch_slug", "environment",
           "inputs_on_s3", "publish_branch"]
LAKE_BUCKET = "pyspark-jobs-lake"
PROD_LAKE = f"s3://{LAKE_BUCKET}/prod"
ARTIFACT_STORE = "s3://pyspark-jobs-artifacts/builds"
DEPLOYMENTS = ROOT / "dev" / "deployments.toml"
LAKE_INPUTS = ("tpch.lineitem", "tpch.orders", "tpch.part", "tpch.partsupp")


def _load(path: Path, name: str):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cluster():  # noqa: ANN201 - dev/cluster.py as a module (dev/ is not a package)
    return _load(ROOT / "dev" / "cluster.py", "_dev_cluster")


def environment() -> dict[str, str]:
    """What a worker of the prod-shaped deployment has, besides its own PATH and home."""
    local = cluster()
    return {
        **local.AWS_KEYS,
        "AWS_ENDPOINT_URL": local.s3_endpoint(),
        "PYSPARK_JOBS_S3_ENDPOINT": local.s3_endpoint(),
        "PYSPARK_JOBS_DEPLOYMENTS": str(DEPLOYMENTS),
        "PYSPARK_JOBS_ARTIFACT_STORE": ARTIFACT_STORE,
        "HADOOP_CONF_DIR": str(local.CONF_DIR),
    }


@contextmanager
def aws_environment() -> Iterator[None]:
    """This process's AWS clients pointed at moto for the duration."""
    saved = {key: os.environ.get(key) for key in environment()}
    os.environ.update(environment())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def publish_branch(branch: str, dist: Path) -> str:
    """Build `branch` into `dist` and publish it to the artifact store on S3; the version's base URI."""
    sys.path.insert(0, str(ROOT / "packaging"))
    build = _load(ROOT / "packaging" / "build.py", "_stack_build")
    publish = _load(ROOT / "packaging" / "publish.py", "_stack_publish")
    build.build(branch=branch, dist=dist, log=lambda _: None)
    with aws_environment():
        store = publish.open_store(ARTIFACT_STORE, environment()["PYSPARK_JOBS_S3_ENDPOINT"])
        result = publish.publish(branch=branch, store=store, dist=dist, log=lambda _: None)
    return result["pointer"]["base_uri"].rstrip("/")


@contextmanager
def inputs_on_s3(spark: SparkSession) -> Iterator[dict[str, str]]:
    """Point the TPC-H lake tables at copies under the prod lake on S3; yield their S3 locations.

    The copies are made from the local lake's files (where dev/load_tpch.py puts them), and the
    tables are pointed back there afterwards whatever happened, so a run that died half-way is
    repaired by the next one."""
    from common.settings import load_settings

    lake_root = load_settings().lake_root
    local = {name: f"{lake_root}/{name.replace('.', '/')}" for name in LAKE_INPUTS}
    try:
        for name in LAKE_INPUTS:
            target = f"{PROD_LAKE}/{name.replace('.', '/')}"
            spark.read.parquet(local[name]).write.mode("overwrite").parquet(target)
            spark.sql(f"ALTER TABLE {name} SET LOCATION '{target}'")
            spark.catalog.refreshTable(name)
        yield {name: _location(spark, name) for name in LAKE_INPUTS}
    finally:
        for name, location in local.items():
            spark.sql(f"ALTER TABLE {name} SET LOCATION '{location}'")
            spark.catalog.refreshTable(name)


def _location(spark: SparkSession, name: str) -> str:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()
    return next(r.data_type for r in rows if r.col_name == "Location")
