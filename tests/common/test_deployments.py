"""The deployments file: what it renders into a step, and the mistakes it refuses by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.deployments import DeploymentConfigError, load_deployment

ROOT = Path(__file__).resolve().parents[2]
ENV = "spark.yarn.appMasterEnv.PYSPARK_JOBS_"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "deployments.toml"
    path.write_text(text)
    return path


def test_prod_renders_lake_root_secret_ids_tls_catalog_and_sizing_and_no_secret_value(tmp_path):
    path = write(tmp_path, """
[prod]
lake_root = "s3://lake/warehouse/"
aws_region = "eu-west-1"
catalog = "glue"
[prod.mysql.default]
secret_id = "prod/mysql/tpch"
read_replica = "replica.internal"
[prod.mysql.crm]
secret_id = "prod/mysql/crm"
ssl_mode = "verify_identity"
[prod.spark]
"spark.sql.shuffle.partitions" = 400
"spark.dynamicAllocation.enabled" = true
""")
    conf = load_deployment(path, "prod").spark_conf()
    assert conf == {
        "spark.yarn.maxAppAttempts": "1",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        ENV + "LAKE_ROOT": "s3://lake/warehouse",
        ENV + "AWS_REGION": "eu-west-1",
        ENV + "MYSQL_SECRET_ID": "prod/mysql/tpch",
        ENV + "MYSQL_READ_REPLICA": "replica.internal",
        ENV + "MYSQL_SSL_MODE": "REQUIRED",  # TLS unless the file turns it off
        ENV + "MYSQL_CRM_SECRET_ID": "prod/mysql/crm",
        ENV + "MYSQL_CRM_SSL_MODE": "VERIFY_IDENTITY",
        "spark.hadoop.hive.metastore.client.factory.class":
            "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory",
        "spark.sql.catalog.spark_catalog.type": "glue",  # Iceberg's tables: the same catalog
        "spark.sql.shuffle.partitions": "400",
        "spark.dynamicAllocation.enabled": "true",
    }


def test_the_shipped_files_load_for_every_deployment():
    for name in ("dags/deployments.toml", "dev/deployments.toml"):
        for deployment in ("prod", "qa", "local"):
            assert load_deployment(ROOT / name, deployment).name == deployment
    local_stack = load_deployment(ROOT / "dev" / "deployments.toml", "qa")
    assert (local_stack.lake_root, local_stack.qa_root) == ("s3://pyspark-jobs-lake/prod", "s3://pyspark-jobs-lake/qa")


@pytest.mark.parametrize(
    "text, message",
    [
        ('[prod]\nlake_root = "hdfs:///warehouse"', r"\[prod\] lake_root: 'hdfs:///warehouse' is not an s3://bucket/prefix"),
        ('[prod]\nlake_root = "s3://"', r"lake_root: 's3://' is not"),
        ("[prod]\ncatalog = 'hive'", r"\[prod\] lake_root: missing"),
        ('[prod]\nlake_root = "s3://l/w"\ncatalog = "nessie"', r"catalog: 'nessie'; use one of hive, glue"),
        ('[prod]\nlake_root = "s3://l/w"\nlaucher = "emr"', r"\[prod\] laucher: unknown key"),
        ('[prod]\nlake_root = "s3://l/w"\n[prod.mysql.default]\npassword = "hunter2"', r"credentials never go in this file"),
        ('[prod]\nlake_root = "s3://l/w"\n[prod.mysql.default]\nssl_mode = "ON"', r"mysql.default.ssl_mode: 'ON'"),
        ('[prod]\nlake_root = "s3://l/w"\n[prod.mysql.Bad-Name]\nsecret_id = "x"', r"mysql.Bad-Name: a source is"),
        ('[qa]\nlake_root = "s3://l/w"\nqa_root = "s3://l/qa"', r"has no \[prod\] section"),
        ("[prod\n", r"is not valid TOML"),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_fix(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DeploymentConfigError, match=message) as caught:
        load_deployment(path, "prod")
    assert str(path) in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_qa_deployment_needs_its_own_root_for_branches(tmp_path):
    with pytest.raises(DeploymentConfigError, match=r"\[qa\] qa_root: missing; qa branches write under"):
        load_deployment(write(tmp_path, '[qa]\nlake_root = "s3://l/w"'), "qa")


def test_a_missing_file_says_which_and_how_to_point_at_another(tmp_path):
    with pytest.raises(DeploymentConfigError, match="PYSPARK_JOBS_DEPLOYMENTS"):
        load_deployment(tmp_path / "nope.toml", "prod")


def test_lineage_settings_reach_the_driver_and_a_url_with_credentials_is_refused(tmp_path):
    path = tmp_path / "deployments.toml"
    path.write_text('[prod]\nlake_root = "s3://l/w"\nlineage_url = "http://marquez.internal:5000"\n'
                    'lineage_namespace = "acme"\nlineage_api_key_secret_id = "prod/lineage"\n')
    conf = load_deployment(path, "prod").spark_conf()
    assert conf["spark.yarn.appMasterEnv.PYSPARK_JOBS_LINEAGE_URL"] == "http://marquez.internal:5000"
    assert conf["spark.yarn.appMasterEnv.PYSPARK_JOBS_LINEAGE_NAMESPACE"] == "acme"
    assert conf["spark.yarn.appMasterEnv.PYSPARK_JOBS_LINEAGE_API_KEY_SECRET_ID"] == "prod/lineage"
    path.write_text('[prod]\nlake_root = "s3://l/w"\nlineage_url = "https://user:pw@marquez.internal"\n')
    with pytest.raises(DeploymentConfigError, match="lineage_url"):
        load_deployment(path, "prod")
