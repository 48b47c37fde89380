"""The demonstration DAG in production's shape, end to end on the local stack (`make e2e`).

    python dev/e2e.py --ds 1995-03-15 [--branch NAME] [--qa-branch NAME]

1. The branch is packaged and published to the artifact store on S3 (moto); the TPC-H lake
   tables are served from S3 for the duration (dev/stack.py).
2. `airflow dags test demo_daily_revenue DS` runs the prod deployment of dev/deployments.toml:
   the yarn launcher submits the EMR step's arguments in YARN cluster mode; the driver reads the
   lake through the metastore service from S3 and MySQL with credentials from Secrets Manager,
   and writes EXTERNAL tables under s3://pyspark-jobs-lake/prod. The YARN application id is
   printed, then the three outputs as Trino's `lake` catalog returns them.
3. The qa deployment of a second branch runs the same DAG (its own DAG id), writing only below
   s3://pyspark-jobs-lake/qa/<slug>/; the objects under the prod prefix are the same before and
   after.
Afterwards the TPC-H tables point at the local lake again and the outputs are dropped from the
catalog (their objects stay in moto, which keeps them in memory until it restarts).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAG_ID = "demo_daily_revenue"
OUTPUTS = {"revenue_by_segment": "n_name, c_mktsegment", "top_customers": "rank",
           "revenue_by_shipmode": "l_shipmode, o_orderpriority"}
APP = re.compile(r"application_\d+_\d+")


def _load(name: str):  # noqa: ANN202 - a dev/ script as a module
    spec = importlib.util.spec_from_file_location(f"_e2e_{name}", ROOT / "dev" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo, stack = _load("demo"), _load("stack")


def run_dag(deployment: str, branch: str, artifact: str, ds: str, var: Path) -> tuple[str, list[str]]:
    """`airflow dags test` of the demo DAG in `deployment`; the DAG id and the YARN applications it ran."""
    env = {**demo.airflow_env(branch, var), **stack.environment(), "PYSPARK_JOBS_DEPLOYMENT": deployment,
           "PYSPARK_JOBS_ARTIFACT_URI": artifact}
    env.pop("PYSPARK_JOBS_LAUNCHER")  # the deployments file says yarn
    demo.migrate_once(env)
    dag_id = DAG_ID if deployment == "prod" else f"qa__{stack.branch_slug(branch)}__{DAG_ID}"
    ok, output = demo.dags_test(dag_id, ds, env)
    if not ok:
        raise SystemExit(f"error: the {deployment} run of {dag_id} for {ds} did not succeed; see the task log above")
    return dag_id, sorted(set(APP.findall(output)))


def trino_rows(database: str, ds: str) -> None:
    import trino

    from common.settings import load_settings

    settings = load_settings().trino
    cursor = trino.dbapi.connect(host=settings.host, port=settings.port, user="pyspark-jobs-e2e").cursor()
    for table, order in OUTPUTS.items():
        cursor.execute(f"SELECT * FROM lake.{database}.{table} WHERE ds = '{ds}' ORDER BY {order}")
        rows = cursor.fetchall()
        names = [column[0] for column in cursor.description]
        print(f"\n== lake.{database}.{table} (Trino, ds={ds}, {len(rows)} rows)")
        print(" | ".join(names))
        for row in rows:
            print(" | ".join(str(value) for value in row))


def s3_keys(prefix: str) -> dict[str, str]:
    import boto3

    bucket, _, key = prefix.removeprefix("s3://").partition("/")
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ds", required=True)
    parser.add_argument("--branch", help="the branch production runs (default: the current git branch)")
    parser.add_argument("--qa-branch", default="e2e/qa-branch", help="the second branch, run by a qa deployment")
    args = parser.parse_args(argv)
    branch = args.branch or demo.detect_branch()
    var = Path(os.environ.get("PYSPARK_JOBS_VAR") or ROOT / "var")

    from common.session import get_spark

    started = time.monotonic()
    spark = get_spark("pyspark-jobs e2e", master="local[1]")
    databases = ["demo", f"qa_{stack.branch_slug(args.qa_branch)}__demo"]
    with stack.aws_environment(), tempfile.TemporaryDirectory(prefix="pyspark-jobs-e2e-") as dist, \
            stack.inputs_on_s3(spark) as inputs:
        try:
            for database in databases:  # created again below the deployment's lake root
                spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
            print("inputs: " + ", ".join(f"{name} at {where}" for name, where in inputs.items()))
            prod_artifact = stack.publish_branch(branch, Path(dist))
            qa_artifact = stack.publish_branch(args.qa_branch, Path(dist))
            print(f"published {branch} to {prod_artifact}\npublished {args.qa_branch} to {qa_artifact}")

            dag_id, apps = run_dag("prod", branch, prod_artifact, args.ds, var)
            print(f"\n{dag_id} (prod) ran YARN application(s): {', '.join(apps) or 'none found in the log'}")
            trino_rows("demo", args.ds)

            prod_before = s3_keys(stack.PROD_LAKE + "/")
            dag_id, apps = run_dag("qa", args.qa_branch, qa_artifact, args.ds, var)
            print(f"\n{dag_id} (qa) ran YARN application(s): {', '.join(apps) or 'none found in the log'}")
            qa_prefix = f"s3://{stack.LAKE_BUCKET}/qa/{stack.branch_slug(args.qa_branch)}/"
            written = s3_keys(qa_prefix)
            if s3_keys(stack.PROD_LAKE + "/") != prod_before or not written:
                raise SystemExit(f"error: the qa run changed objects under {stack.PROD_LAKE}/ or wrote nothing "
                                 f"under {qa_prefix}")
            print(f"qa wrote {len(written)} objects under {qa_prefix}; nothing under {stack.PROD_LAKE}/ changed")
            trino_rows(databases[1], args.ds)
        finally:
            for database in databases:
                spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
    spark.stop()
    print(f"\ne2e took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
