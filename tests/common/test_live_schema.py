"""`pyspark-jobs contracts import` and `contracts diff` against the local metastore and MariaDB.

The expected contracts are the hand-written TPC-H ones (pyspark_jobs/tpch/tables.py), which
were written from the TPC-H specification, not from these schemas."""

from __future__ import annotations

import pytest

from common.cli import main
from common.contracts import MYSQL, Column, Contract, Table
from common.live_schema import contract_differences, live_table
from common.settings import load_settings
from pyspark_jobs.tpch import tables

pytestmark = pytest.mark.services

MYSQL_TABLES = (tables.CUSTOMER, tables.SUPPLIER, tables.NATION, tables.REGION)
LAKE_TABLES = (tables.LINEITEM, tables.ORDERS, tables.PART, tables.PARTSUPP)


def _generated(code: str) -> dict[str, Table]:
    namespace: dict = {}
    exec(compile(code, "<contracts import>", "exec"), namespace)  # noqa: S102 - the generated module
    return {name: namespace[name] for name in namespace["__all__"]}


@pytest.mark.parametrize("declared", MYSQL_TABLES, ids=lambda t: t.name)
def test_a_mysql_table_imports_as_its_hand_written_contract(spark, declared):
    live = live_table(spark, load_settings(), declared.name)
    assert live.knows_keys
    assert live.table.store == MYSQL and live.table.source
    assert live.table.contract.columns == declared.contract.columns  # names, types, NOT NULL, in order
    assert live.table.contract.primary_key == declared.contract.primary_key
    assert live.table.contract.partition_by == ()
    assert contract_differences(declared, live) == []


@pytest.mark.parametrize("declared", LAKE_TABLES, ids=lambda t: t.name)
def test_a_lake_table_imports_as_its_hand_written_contract(spark, declared):
    """Columns, types and partitioning from the metastore; NOT NULL and the key from the table's
    properties, which dev/load_tpch.py sets from the TPC-H specification."""
    live = live_table(spark, load_settings(), declared.name)
    assert live.knows_keys
    assert live.table.contract.columns == declared.contract.columns  # names, types, NOT NULL, in order
    assert live.table.contract.primary_key == declared.contract.primary_key
    assert live.table.contract.partition_by == declared.contract.partition_by == ()
    assert live.table.format == "hive"  # dev/load_tpch.py registers parquet tables
    assert contract_differences(declared, live) == []


@pytest.mark.parametrize("job", ["tpch.q01", "demo.daily_revenue"])
def test_a_table_the_writer_created_imports_as_its_contract(spark, job):
    """Hive and Iceberg outputs: the writer records the key and NOT NULL columns the metastore
    cannot (contracts with both nullable and NOT NULL columns, partitioned by ds)."""
    from common.environments import Environment
    from common.registry import get_job
    from common.runner import RunConfig, run_job
    from tests.helpers import drop_qa_databases

    env = Environment("qa", f"test/import-{job}")  # tables of its own, created by this run
    drop_qa_databases(spark, env.branch)
    try:
        run_job(RunConfig(job=job, ds="1995-03-15", env="qa", branch=env.branch, count_inputs=False), spark=spark)
        lives = {declared: live_table(spark, load_settings(), declared.name, physical=env.output_name(declared))
                 for declared in get_job(job).outputs.values()}
    finally:
        drop_qa_databases(spark, env.branch)
    for declared, live in lives.items():
        assert live.knows_keys and live.table.format == declared.format, declared.name
        assert live.table.contract.columns == declared.contract.columns, declared.name
        assert live.table.contract.primary_key == declared.contract.primary_key, declared.name
        assert live.table.contract.partition_by == declared.contract.partition_by == ("ds",), declared.name


def test_a_lake_table_without_the_properties_imports_nullable_with_a_key_todo(spark, scratch_db, capsys):
    """A table something else wrote: the metastore alone knows no key and no NOT NULL."""
    name = f"{scratch_db}.foreign"
    spark.sql(f"CREATE DATABASE {scratch_db}")
    spark.sql(f"CREATE TABLE {name} (id INT, label STRING) USING parquet")
    live = live_table(spark, load_settings(), name)
    assert not live.knows_keys
    assert live.table.contract == Contract((Column("id", "int"), Column("label", "string")))
    assert main(["contracts", "import", name]) == 0
    assert "# TODO: the table records no key" in capsys.readouterr().out


def test_the_printed_code_declares_the_same_tables(spark, capsys):
    assert main(["contracts", "import", "tpch.nation", "tpch.orders"]) == 0
    out = capsys.readouterr().out
    generated = _generated(out)
    assert list(generated) == ["NATION", "ORDERS"]
    nation = generated["NATION"]
    assert (nation.contract, nation.store, nation.source) == (
        tables.NATION.contract, tables.NATION.store, tables.NATION.source)
    assert generated["ORDERS"].contract == tables.ORDERS.contract


def test_import_writes_a_module_with_out_and_refuses_an_existing_file(spark, tmp_path, capsys):
    target = tmp_path / "sources.py"
    assert main(["contracts", "import", "tpch.region", "--out", str(target)]) == 0
    assert _generated(target.read_text())["REGION"].contract == tables.REGION.contract
    before = target.read_text()
    assert main(["contracts", "import", "tpch.nation", "--out", str(target)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: {target} exists: give --out a new file, or print the code and paste it")
    assert target.read_text() == before


def test_diff_names_each_difference_with_the_live_schema(spark):
    declared = Table(
        "tpch.nation",
        Contract(
            (
                Column("n_nationkey", "bigint", nullable=False),  # live: int
                Column("n_name", "string"),  # live: NOT NULL
                Column("n_region", "int", nullable=False),  # live: n_regionkey
                Column("n_population", "bigint"),  # not in the live table
            ),
            primary_key=("n_name",),
        ),
        store=MYSQL,
        source=True,
    )
    live = live_table(spark, load_settings(), "tpch.nation", MYSQL)
    assert contract_differences(declared, live) == [
        "tpch.nation: column n_nationkey: declared bigint, live int (every live value fits)",
        "tpch.nation: column n_name: declared nullable, live NOT NULL",
        "tpch.nation: column n_region is declared where the live table has n_regionkey (same type)",
        "tpch.nation: column n_population is declared (n_population bigint) but the live table has no such column",
        "tpch.nation: the live table has column n_comment string NOT NULL, which is not declared",
        "tpch.nation: primary key: declared (n_name), live (n_nationkey)",
    ]


def test_diff_of_every_declared_tpch_source_agrees(spark, capsys):
    # By name: the suite's own test jobs declare scratch sources that come and go.
    assert main(["contracts", "diff", *(t.name for t in (*MYSQL_TABLES, *LAKE_TABLES))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted(f"{t.name}: as declared" for t in (*MYSQL_TABLES, *LAKE_TABLES))


def test_a_table_that_does_not_exist_is_one_line_and_nothing_is_written(spark, tmp_path, capsys):
    target = tmp_path / "sources.py"
    assert main(["contracts", "import", "tpch.no_such_table", "--out", str(target)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: no table tpch.no_such_table in the metastore or in MySQL source default: check the name and --store")
    assert not target.exists()


def test_a_source_that_does_not_answer_is_one_line_and_nothing_is_written(spark, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PYSPARK_JOBS_MYSQL_PORT", "9")  # discard port: nothing listens
    target = tmp_path / "sources.py"
    assert main(["contracts", "import", "tpch.nation", "--store", "mysql", "--out", str(target)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: MySQL source default did not answer at 127.0.0.1:9 (")
    assert last.endswith("): start it (make services) or check its settings")
    assert not target.exists()


def test_a_metastore_that_does_not_answer_is_one_line_and_nothing_is_written(tmp_path):
    from tests.helpers import cli_without_metastore

    target = tmp_path / "sources.py"
    code, last, stderr = cli_without_metastore("contracts", "import", "tpch.orders", "--out", str(target))
    assert code == 2, stderr[-2000:]
    assert last.startswith("error: the metastore did not answer for tpch.orders ("), last
    assert last.endswith("start it (make services) or check the deployment's metastore address"), last
    assert "Traceback" not in stderr and not target.exists()


def test_diff_reports_a_missing_table_and_compares_the_others(spark, capsys, monkeypatch):
    import common.live_schema as live_schema

    gone = Table("tpch.gone", Contract((Column("id", "int"),)), source=True)
    monkeypatch.setattr(live_schema, "declared_tables", lambda: {"tpch.gone": gone, "tpch.nation": tables.NATION})
    assert main(["contracts", "diff"]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["tpch.nation: as declared"]
    assert captured.err.strip().splitlines()[-1] == (
        "error: no table tpch.gone in the metastore: check the name and --store")


def test_a_name_that_is_not_a_table_name_is_refused(spark, capsys):
    assert main(["contracts", "import", "Nation"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: 'Nation' is not a table name: give database.table in lower snake case")
