"""What a qa branch's job code could do to production, run as a step's driver would: a local Spark
session whose S3 settings are the node's (endpoint, its own keys) plus the `--conf` settings the
yarn launcher passed (given as JSON in ROGUE_STEP_CONF). Prints one JSON line: each attempt and
whether S3 allowed it. Run by tests/production/test_qa_role.py; not part of any job."""

from __future__ import annotations

import json
import os
import sys

from pyspark.sql import SparkSession

PROD = "s3a://pyspark-jobs-lake/prod/demo/nations"
SIMPLE = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"


def attempt(results: dict, name: str, action) -> None:  # noqa: ANN001 - a callable
    try:
        value = action()
        results[name] = {"allowed": True, "value": value}
    except Exception as exc:  # noqa: BLE001 - the JVM's error comes as a Py4J or Spark exception
        text = str(exc)
        said = [line.strip() for line in text.splitlines() if "Exception:" in line or "AccessDenied" in line]
        results[name] = {"allowed": False, "denied": "AccessDenied" in text and "SignatureDoesNotMatch" not in text,
                         "error": " / ".join(said or text.splitlines()[:1])[:1500]}


def main() -> None:
    node = json.loads(os.environ["ROGUE_NODE_CONF"])   # the cluster's core-site: endpoint, node keys
    step = json.loads(os.environ["ROGUE_STEP_CONF"])   # what the launcher passed with --conf
    builder = SparkSession.builder.master("local[1]").appName("rogue-qa-step")
    builder = builder.config("spark.jars", os.environ["ROGUE_JARS"]).config("spark.ui.enabled", "false")
    for key, value in node.items():
        builder = builder.config(f"spark.hadoop.{key}", value)
    for key, value in step.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("OFF")
    branch_root = os.environ["ROGUE_QA_ROOT"]
    results: dict = {}
    attempt(results, "read_prod", lambda: spark.read.csv(PROD, header=True).count())
    frame = spark.createDataFrame([(1, "rogue")], "n_nationkey INT, n_name STRING")
    attempt(results, "write_qa", lambda: frame.write.mode("overwrite").parquet(f"{branch_root}/demo/nations"))
    attempt(results, "write_prod", lambda: frame.write.mode("append").csv(f"{PROD}_copy"))
    attempt(results, "overwrite_prod", lambda: frame.write.mode("overwrite").csv(PROD))

    def with_node_keys() -> None:
        # Job code that swaps the role's provider for the node's own keys, on a fresh FileSystem.
        jvm = spark.sparkContext._jvm
        conf = jvm.org.apache.hadoop.conf.Configuration(spark.sparkContext._jsc.hadoopConfiguration())
        conf.set("fs.s3a.aws.credentials.provider", SIMPLE)
        fs = jvm.org.apache.hadoop.fs.FileSystem.newInstance(jvm.java.net.URI(PROD), conf)
        out = fs.create(jvm.org.apache.hadoop.fs.Path(f"{PROD}/rogue.csv"))
        out.write(bytearray(b"n_nationkey,n_name\n99,ROGUE\n"))
        out.close()

    attempt(results, "write_prod_with_node_keys", with_node_keys)
    attempt(results, "read_prod_after", lambda: spark.read.csv(PROD, header=True).count())
    spark.stop()
    print("ROGUE " + json.dumps(results))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
