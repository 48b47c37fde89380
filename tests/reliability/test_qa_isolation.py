"""QA isolation as an attack: every route from a qa run to a production table is refused.

No Spark: the refusals happen in Environment and Table, before a session exists (plan_job
checks every output before it starts Spark). SQL inside a SqlJob: tests/reliability/test_sql_gate.py.
"""

from __future__ import annotations

import logging

import pytest

from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.errors import ConfigError, QaIsolationError
from common.slug import branch_slug, is_valid_slug

_CONTRACT = Contract((Column("n", "bigint"),))
QA = Environment("qa", "feature/new-metric")

HOSTILE_PHYSICAL = [
    "tpch_reports.q01",  # production, database-qualified
    "demo.revenue_by_segment",
    "`tpch_reports`.`q01`",
    "tpch_reports.`q01`",
    "qa_x__tpch.q01",  # another branch's prefix
    f"{QA.qa_prefix}tpch.q01.extra",
    f"{QA.qa_prefix}tpch..q01",
    f"{QA.qa_prefix}tpch.q01 ",
    f"{QA.qa_prefix}tpch.q01\n",
    f"{QA.qa_prefix}tpch. q01",
    f"{QA.qa_prefix}tpch.q01; DROP TABLE tpch_reports.q01",
    f"{QA.qa_prefix}../tpch_reports.q01",
    f"{QA.qa_prefix}tpch/../../tpch_reports.q01",
    "/work/main/var/warehouse/tpch_reports.db/q01",
    "s3://prod-bucket/warehouse/tpch_reports.db/q01",
    f"s3://bucket/{QA.qa_prefix}tpch.q01",
    "TPCH_REPORTS.Q01",
    "tpch_reports",
    ".q01",
    "",
    QA.qa_prefix.rstrip("_") + ".q01",  # qa_<slug> without the separator
    f"{QA.qa_prefix}.q01",  # the prefix alone as a database
    f"{QA.qa_prefix}tpch__x.q01",  # `__` after the prefix: another branch's namespace shape
]


@pytest.mark.parametrize("physical", HOSTILE_PHYSICAL)
def test_qa_refuses_every_name_outside_its_namespace_and_logs_it(physical, caplog):
    with caplog.at_level(logging.ERROR, logger="common.environments"):
        with pytest.raises(QaIsolationError, match="refused"):
            QA.check_write(physical)
    assert any("refused write" in r.getMessage() for r in caplog.records), caplog.text


def test_a_branch_cannot_write_into_a_branch_whose_slug_extends_its_own():
    # branch "A" slugs to "a__<hash>": its namespace qa_a__<hash>__tpch starts with branch a's prefix
    other = Environment("qa", "A")
    assert other.slug.startswith("a__")
    target = other.output_name(Table("tpch.q01", _CONTRACT))
    other.check_write(target)  # its own namespace: fine
    with pytest.raises(QaIsolationError, match="another branch"):
        Environment("qa", "a").check_write(target)


@pytest.mark.parametrize(
    "name",
    [
        "tpch_reports.`q01`",
        "`tpch_reports`.q01",
        "tpch reports.q01",
        "tpch_reports.q01.x",
        "tpch_reports..q01",
        "../tpch_reports.q01",
        "tpch/../reports.q01",
        "s3://bucket/tpch_reports.q01",
        "/abs/tpch_reports.q01",
        "TPCH_REPORTS.Q01",
        "tpch_reports.q01;",
    ],
)
def test_a_table_with_a_hostile_name_cannot_even_be_declared(name):
    with pytest.raises(ValueError, match="database.table"):
        Table(name, _CONTRACT)


HOSTILE_BRANCHES = [
    "prod",
    "production",
    "../prod",
    "qa_x__tpch",
    "x__tpch",
    "main__",
    "__",
    "a" * 500,
    "feature/Ünïcödé-ветка",
    "😀",
    "tpch_reports.q01",
    "`prod`",
    "s3://prod",
    "main; DROP TABLE tpch_reports.q01",
    "A",
]


@pytest.mark.parametrize("branch", HOSTILE_BRANCHES)
def test_hostile_branches_write_only_below_their_own_prefix(branch, caplog):
    qa = Environment("qa", branch)
    assert is_valid_slug(qa.slug)
    assert qa.slug == branch_slug(branch)
    for logical in ("tpch_reports.q01", "demo.revenue_by_segment", "prod.x"):
        physical = qa.output_name(Table(logical, _CONTRACT))
        assert physical.startswith(f"qa_{qa.slug}__") and physical.count(".") == 1
        qa.check_write(physical)  # its own output is accepted
        with caplog.at_level(logging.ERROR, logger="common.environments"):
            with pytest.raises(QaIsolationError):
                qa.check_write(logical)  # the production table is not
    assert "qa isolation: refused write" in caplog.text


def test_no_hostile_branch_can_write_into_another_ones_namespace():
    envs = [Environment("qa", b) for b in HOSTILE_BRANCHES]
    assert len({e.qa_prefix for e in envs}) == len(envs)
    for writer in envs:
        for owner in envs:
            if owner is not writer:
                with pytest.raises(QaIsolationError):
                    writer.check_write(f"{owner.qa_prefix}tpch.q01")


@pytest.mark.parametrize(("name", "branch"), [("QA", "x"), ("qa ", "x"), ("staging", None), ("qa", ""), ("qa", None)])
def test_an_unknown_env_or_a_qa_env_without_branch_is_refused(name, branch):
    with pytest.raises(ConfigError):
        Environment(name, branch)
