"""SubmitSpec: one run, two renderings whose arguments differ only in how Spark starts."""

from __future__ import annotations

import pytest

from common.submit import LOCAL_MASTER, SubmitSpec, SubmitSpecError

ARTIFACT = "s3://pj-artifacts/builds/feature_x__0123456789/abc123"


def spec(**overrides) -> SubmitSpec:
    fields = {"job": "demo.daily_revenue", "ds": "1995-03-15", "env": "qa", "branch": "feature/x",
              "artifact": ARTIFACT, "params": {"top_n": "5"}, "conf": {"spark.executor.memory": "2g"}}
    return SubmitSpec(**{**fields, **overrides})


def test_emr_step_is_command_runner_spark_submit_in_yarn_cluster_mode():
    step = spec().emr_step("pyspark-jobs demo_daily_revenue.demo.daily_revenue manual__1")
    assert step["Name"] == "pyspark-jobs demo_daily_revenue.demo.daily_revenue manual__1"
    assert step["ActionOnFailure"] == "CONTINUE"
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert step["HadoopJarStep"]["Args"] == [
        "spark-submit", "--deploy-mode", "cluster", "--master", "yarn",
        "--archives", f"{ARTIFACT}/environment.tar.gz#environment",
        "--py-files", f"{ARTIFACT}/jobs.zip",
        "--jars", f"{ARTIFACT}/mysql-connector-j-8.4.0.jar,{ARTIFACT}/iceberg-spark-runtime-3.5_2.12-1.10.0.jar",
        "--conf", "spark.pyspark.python=./environment/bin/python",
        "--conf", "spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python",
        "--conf", "spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python",
        "--conf", "spark.yarn.appMasterEnv.PYSPARK_JOBS_CATALOG=cluster",
        "--conf", "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "--conf", "spark.sql.catalog.spark_catalog=org.apache.iceberg.spark.SparkSessionCatalog",
        "--conf", "spark.sql.catalog.spark_catalog.cache-enabled=false",
        "--conf", "spark.hadoop.iceberg.hive.lock-check-max-wait-ms=500",
        "--conf", "spark.hadoop.hive.metastore.filter.hook="
                  "org.apache.hadoop.hive.ql.security.authorization.plugin.AuthorizationMetaStoreFilterHook",
        "--conf", "spark.executor.memory=2g",
        f"{ARTIFACT}/main.py", "run", "demo.daily_revenue", "--ds", "1995-03-15", "--env", "qa",
        "--branch", "feature/x", "--param", "top_n=5",
    ]


def test_local_command_differs_from_the_emr_step_only_before_the_submit_args():
    s = spec()
    emr = s.emr_step("x")["HadoopJarStep"]["Args"]
    local = s.local_command(spark_submit="/venv/bin/spark-submit", driver_python="/venv/bin/python")
    assert local[:7] == ["/venv/bin/spark-submit", "--deploy-mode", "client", "--master", LOCAL_MASTER,
                         "--conf", "spark.pyspark.driver.python=/venv/bin/python"]
    assert emr[:5] == ["spark-submit", "--deploy-mode", "cluster", "--master", "yarn"]
    assert emr[5:] == local[7:] == s.submit_args()


def test_prod_runs_name_no_branch_and_a_template_ds_is_kept_until_rendered():
    s = spec(env="prod", branch=None, ds="{{ ds }}", params={}, conf={})
    assert s.app_args() == ["run", "demo.daily_revenue", "--ds", "{{ ds }}", "--env", "prod"]
    assert s.rendered("2024-01-02").app_args()[3] == "2024-01-02"


def test_spec_is_frozen_and_round_trips_through_a_dict():
    s = spec()
    with pytest.raises(AttributeError):
        s.job = "other.job"  # type: ignore[misc]
    assert SubmitSpec(**s.as_dict()) == s


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"env": "qa", "branch": None}, "needs a branch"),
        ({"env": "staging"}, "env 'staging'"),
        ({"ds": "15/03/1995"}, "YYYY-MM-DD"),
        ({"job": "two words"}, "job name"),
        ({"artifact": ""}, "base URI"),
        ({"params": {"ds": "x"}}, "ds is not a param"),
        ({"conf": {"spark.pyspark.python": "python3"}}, "set by the framework"),
    ],
)
def test_invalid_specs_are_refused_naming_the_field(overrides, message):
    with pytest.raises(SubmitSpecError, match=message):
        spec(**overrides)


def test_emr_step_names_are_limited_to_256_characters():
    with pytest.raises(SubmitSpecError, match="256"):
        spec().emr_step("x" * 257)
