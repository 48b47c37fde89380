"""Several MySQL sources: each named by its contract, configured on its own, its credentials
read from Secrets Manager (moto) by the driver; one job joins two of them."""

from __future__ import annotations

import json
import uuid

import pytest

from common.contracts import Column, Contract, Table
from common.errors import ConfigError, SourceError
from common.job import Job, step
from common.runner import RunConfig, plan_job
from common.settings import load_settings
from pyspark_jobs.tpch.tables import CUSTOMER
from tests.helpers import mysql_connection

pytestmark = pytest.mark.services

CRM = f"pj_crm_{uuid.uuid4().hex[:6]}"
ACCOUNTS = Table(
    f"{CRM}.accounts",
    Contract((Column("c_custkey", "int", nullable=False), Column("tier", "string")), primary_key=("c_custkey",)),
    store="mysql:crm",
)
TIERS_TABLE = Table("pj_test_sources.tiers", Contract(
    (Column("c_custkey", "int"), Column("c_name", "string"), Column("tier", "string"))))
TIERS = {1: "gold", 2: "silver", 7: "gold"}  # customer 7 has a tier; 99 names no customer


def tiers_of_customers(customer, accounts):
    return customer.join(accounts, on="c_custkey", how="inner").select("c_custkey", "c_name", "tier")


class CustomerTiers(Job):
    """Customers of the TPC-H database joined with accounts of a second database."""

    name = "tests.customer_tiers"
    inputs = {"customer": CUSTOMER, "accounts": ACCOUNTS}
    outputs = {"tiers": TIERS_TABLE}  # planned only here: nothing is written

    def steps(self, p):
        return {"tiers": step(tiers_of_customers, "customer", "accounts")}


@pytest.fixture(scope="module")
def crm_database():
    conn = mysql_connection()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {CRM}")
        cur.execute(f"CREATE TABLE {CRM}.accounts (c_custkey INT PRIMARY KEY, tier VARCHAR(10))")
        cur.executemany(f"INSERT INTO {CRM}.accounts VALUES (%s, %s)", [*TIERS.items(), (99, "bronze")])
    yield CRM
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {CRM}")
    conn.close()


@pytest.fixture
def crm_secret(aws, monkeypatch):
    """The second source's credentials as an RDS-format secret in moto's Secrets Manager."""
    import boto3

    mysql = load_settings().mysql
    secret_id = f"pj-test/mysql/crm-{uuid.uuid4().hex[:6]}"
    client = boto3.client("secretsmanager")
    client.create_secret(Name=secret_id, SecretString=json.dumps({
        "engine": "mysql", "host": mysql.host, "port": mysql.port, "dbname": CRM,
        "username": mysql.user, "password": mysql.password,
    }))
    monkeypatch.setenv("PYSPARK_JOBS_MYSQL_CRM_SECRET_ID", secret_id)
    yield secret_id
    client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)


def test_a_job_joins_tables_of_two_sources_the_second_read_with_a_secret(spark, crm_database, crm_secret):
    plan = plan_job(RunConfig(job=CustomerTiers.name, ds="1995-03-15"), spark=spark)
    rows = {r.c_custkey: (r.c_name, r.tier) for r in plan.frames["tiers"].collect()}
    # TPC-H names customers Customer#<key zero-padded to 9>; 99 is a customer too at SF0.01.
    expected = {key: (f"Customer#{key:09d}", tier) for key, tier in {**TIERS, 99: "bronze"}.items()}
    assert rows == expected
    assert plan.sources["accounts"][1].startswith("mysql 127.0.0.1:")


def test_settings_of_a_source_come_from_its_secret_and_never_show_the_password(aws, crm_secret):
    source = load_settings().mysql_source("crm")
    mysql = load_settings().mysql
    assert (source.host, source.port, source.database, source.user) == (mysql.host, mysql.port, CRM, mysql.user)
    assert source.password == mysql.password and mysql.password not in repr(source)
    assert "sslMode=DISABLED" in source.jdbc_url and mysql.password not in source.jdbc_url


def test_a_missing_secret_names_the_secret_and_the_setting_and_reads_nothing(spark, aws, monkeypatch):
    monkeypatch.setenv("PYSPARK_JOBS_MYSQL_CRM_SECRET_ID", "pj-test/no-such-secret")
    with pytest.raises(ConfigError, match=r"secret 'pj-test/no-such-secret' not found in AWS Secrets Manager .*"
                                          r"fix PYSPARK_JOBS_MYSQL_CRM_SECRET_ID"):
        plan_job(RunConfig(job=CustomerTiers.name, ds="1995-03-15"), spark=spark)


def test_an_unconfigured_source_says_what_to_set(spark, monkeypatch):
    monkeypatch.delenv("PYSPARK_JOBS_MYSQL_CRM_SECRET_ID", raising=False)
    with pytest.raises(ConfigError, match=r"MySQL source 'crm': no host, database, user, password .*"
                                          r"set PYSPARK_JOBS_MYSQL_CRM_SECRET_ID"):
        plan_job(RunConfig(job=CustomerTiers.name, ds="1995-03-15"), spark=spark)


def test_an_unreachable_source_is_one_line_naming_its_host(spark, crm_database, monkeypatch):
    for key, value in {"HOST": "127.0.0.1", "PORT": "1", "USER": "u", "PASSWORD": "p", "DATABASE": CRM}.items():
        monkeypatch.setenv(f"PYSPARK_JOBS_MYSQL_CRM_{key}", value)
    with pytest.raises(SourceError) as caught:
        plan_job(RunConfig(job=CustomerTiers.name, ds="1995-03-15"), spark=spark)
    message = str(caught.value)
    assert message.startswith(f"cannot read mysql 127.0.0.1:1/{CRM}.accounts: Communications link failure")
    assert "PYSPARK_JOBS_MYSQL_CRM_*" in message and "\n" not in message


def test_a_read_replica_takes_the_reads(aws, crm_secret, monkeypatch):
    monkeypatch.setenv("PYSPARK_JOBS_MYSQL_CRM_READ_REPLICA", "replica.internal")
    source = load_settings().mysql_source("crm")
    assert source.read_host == "replica.internal" and source.jdbc_url.startswith("jdbc:mysql://replica.internal:")


def test_contract_stores_name_a_source():
    assert (ACCOUNTS.mysql_source, CUSTOMER.mysql_source) == ("crm", "default")
    with pytest.raises(ValueError, match="'warehouse', 'mysql' or 'mysql:<source>'"):
        Table("a.b", ACCOUNTS.contract, store="mysql:")
