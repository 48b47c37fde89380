"""The one way tests compare DataFrames, with defaults chosen once."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

__all__ = [
    "assert_frame_equal", "frame", "D", "day", "load_packaging_script", "load_dev_script", "mysql_connection",
    "put_artifact_stub",
]

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"
DEV = PACKAGING.parent / "dev"


def assert_frame_equal(actual: DataFrame, expected: DataFrame | list, *, ordered: bool = False) -> None:
    assertDataFrameEqual(actual, expected, checkRowOrder=ordered, rtol=1e-9, atol=1e-9)


def frame(spark: SparkSession, schema: str, rows: list[tuple[Any, ...]]) -> DataFrame:
    """A DataFrame with an explicit DDL schema: `frame(spark, "a int, b string", [(1, "x")])`."""
    return spark.createDataFrame(rows, schema)


def D(text: str) -> Decimal:
    return Decimal(text)


def day(text: str) -> date:
    return date.fromisoformat(text)


def load_packaging_script(name: str) -> ModuleType:
    """A script of packaging/ as a module: that folder is not a package (it would shadow the
    PyPI `packaging`), so its scripts import each other by path."""
    sys.path.insert(0, str(PACKAGING))
    return _load_script(PACKAGING / f"{name}.py", f"_packaging_{name}")


def load_dev_script(name: str) -> ModuleType:
    """A script of dev/ as a module (dev/ is not a package either): services, the TPC-H loader."""
    return _load_script(DEV / f"{name}.py", f"_dev_{name}")


def _load_script(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mysql_connection(database: str = "tpch"):  # noqa: ANN201 - a pymysql connection
    """The local MariaDB as the project's user (scratch databases must be named pj_*)."""
    import pymysql

    from common.settings import load_settings

    mysql = load_settings().mysql
    return pymysql.connect(
        host=mysql.host, port=mysql.port, user=mysql.user, password=mysql.password, database=database, autocommit=True
    )


def put_artifact_stub(base_uri: str) -> None:
    """Empty objects at every file of an artifact version on the S3 the AWS_* variables reach:
    for tests of the step a run adds, which check that the files exist but never run them."""
    import boto3

    from common.submit import ARTIFACT_FILES

    bucket, _, prefix = base_uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    for name in ARTIFACT_FILES:
        s3.put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{name}", Body=b"")
