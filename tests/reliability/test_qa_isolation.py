"""QA isolation as an attack: every route from a qa run to a production table is refused.

No Spark: the refusals happen in Environment, Table, render_sql and check_query, before a
session exists (plan_job checks every output before it starts Spark).
"""

from __future__ import annotations

import logging

import pytest

from common.contracts import Column, Contract, Table
from common.environments import Environment
from common.errors import ConfigError, ParamError, QaIsolationError
from common.slug import branch_slug, is_valid_slug
from common.sql_job import check_query, render_sql

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


# --- SQL inside a SqlJob ------------------------------------------------------------------

# Each refused statement with the reason it must be refused for: a statement refused for
# another reason (say, an INSERT hidden behind a comment the scanner misread, refused only
# because something else looked odd) fails.
NOT_A_QUERY = "a SqlJob runs a query (SELECT or WITH), not {}"
SEVERAL = "a SqlJob runs one query; found more than one statement"
FORBIDDEN = "{} is not allowed in a SqlJob; its writer does the writing"
WRITES = [
    ("INSERT INTO tpch_reports.q01 SELECT 1", NOT_A_QUERY.format("INSERT")),
    ("INSERT OVERWRITE TABLE tpch_reports.q01 SELECT 1", NOT_A_QUERY.format("INSERT")),
    ("insert overwrite directory 's3://prod/x' select 1", NOT_A_QUERY.format("INSERT")),
    ("CREATE TABLE tpch_reports.x AS SELECT 1", NOT_A_QUERY.format("CREATE")),
    ("DROP TABLE tpch_reports.q01", NOT_A_QUERY.format("DROP")),
    ("ALTER TABLE tpch_reports.q01 SET LOCATION 's3://x'", NOT_A_QUERY.format("ALTER")),
    ("SELECT 1; DROP TABLE tpch_reports.q01", SEVERAL),
    ("SELECT 1;\nINSERT INTO tpch_reports.q01 SELECT 2;", SEVERAL),
    ("-- just a comment\nDROP TABLE tpch_reports.q01", NOT_A_QUERY.format("DROP")),
    ("/* SELECT */ DROP TABLE tpch_reports.q01", NOT_A_QUERY.format("DROP")),
    ("SELECT 1 /* ; */; DROP TABLE x", SEVERAL),
    ("WITH a AS (SELECT 1 AS n) INSERT INTO tpch_reports.q01 SELECT * FROM a", FORBIDDEN.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) INSERT OVERWRITE TABLE tpch_reports.q01 SELECT * FROM a", FORBIDDEN.format("INSERT")),
    ("FROM t INSERT INTO tpch_reports.q01 SELECT *", NOT_A_QUERY.format("FROM")),
    ("(SELECT 1) ; TRUNCATE TABLE tpch_reports.q01", SEVERAL),
    ("SELECT 1 -- comment\n; DELETE FROM tpch_reports.q01", SEVERAL),
    ("SET spark.sql.warehouse.dir=/tmp", NOT_A_QUERY.format("SET")),
    ("USE tpch_reports", NOT_A_QUERY.format("USE")),
    ("MSCK REPAIR TABLE tpch_reports.q01", NOT_A_QUERY.format("MSCK")),
    ("", NOT_A_QUERY.format("nothing")),
    ("   ;  ", NOT_A_QUERY.format("nothing")),
    ("-- only a comment", NOT_A_QUERY.format("nothing")),
    # hidden behind something one scanner takes for a string or comment and Spark does not:
    # each must be refused for the INSERT it hides
    ("WITH `'` AS (SELECT 1 AS n) INSERT INTO tpch_reports.q01 SELECT * FROM `'`", FORBIDDEN.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) -- note\rINSERT INTO tpch_reports.q01 SELECT * FROM a", FORBIDDEN.format("INSERT")),
    ("WITH a AS (SELECT r'\\' AS n) INSERT INTO tpch_reports.q01 SELECT * FROM a --'", FORBIDDEN.format("INSERT")),
    ("WITH a AS (SELECT R\"\\\" AS n) INSERT INTO tpch_reports.q01 SELECT * FROM a --\"", FORBIDDEN.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) /* /* */ ' */ INSERT INTO tpch_reports.q01 SELECT * FROM a --'",
     FORBIDDEN.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) -- \\\n'\nINSERT INTO tpch_reports.q01 SELECT * FROM a -- '", FORBIDDEN.format("INSERT")),
    # side effects from a query: a shell program, any static Java method
    ("SELECT TRANSFORM(n) USING 'rm -rf /' AS (m) FROM t", FORBIDDEN.format("a script transform (USING 'program')")),
    ("SELECT reflect('java.lang.System', 'exit', '1')", FORBIDDEN.format("REFLECT")),
    ("SELECT java_method('java.lang.System', 'exit', '1')", FORBIDDEN.format("JAVA_METHOD")),
    # unterminated quotes and comments: Spark could not parse them either
    ("SELECT 'abc", "unterminated ' quote in the SQL"),
    ("SELECT 1 /* open", "unterminated /* comment in the SQL"),
]


@pytest.mark.parametrize(("sql", "message"), WRITES)
def test_check_query_refuses_anything_but_one_read_only_query(sql, message):
    with pytest.raises(ConfigError) as err:
        check_query(sql, "tests.hostile (hostile.sql)")
    assert message in str(err.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'INSERT INTO x; DROP TABLE y' AS note",
        "SELECT \"--\" AS a, '/*' AS b, 'it\\'s' AS c FROM t -- DROP TABLE t\n;",
        "SELECT `drop`, `we``ird` FROM t",
        "SELECT for'x' FROM t",
        "WITH a AS (SELECT 1 AS n) SELECT * FROM a JOIN b USING (n)",
        "SELECT transform(arr, x -> x + 1) FROM t",
        "SELECT 1 UNION ALL (SELECT 2)",
        "SELECT 1 /* nested /* comment */ still */ AS n",
    ],
)
def test_check_query_keeps_queries_that_only_mention_keywords(sql):
    assert check_query(sql, "tests.ok") == sql.strip().rstrip(";")


# --- parameter injection through render_sql -----------------------------------------------

INJECTIONS = [
    "O'Brien",
    "'; DROP TABLE tpch_reports.q01; --",
    "x' OR '1'='1",
    "back\\slash",
    "\\'; DROP TABLE x; --",
    "ends with backslash\\",
    "-- comment",
    "/* comment",
    "line\nbreak\r\nINSERT INTO x SELECT 1",
    "; DROP TABLE x",
    "\u2019; DROP TABLE x; \u2018",  # unicode quotes are not SQL quotes
    "\uff07 fullwidth",
    "\\u0027 escaped",
    "`backtick`",
    '"double"',
    "{{ ds }}",
    "",
]


def _string_literal_end(sql: str, start: int) -> tuple[int, str]:
    """Where the Spark string literal opening at `start` closes, and its value (an independent scan)."""
    assert sql[start] == "'"
    value, i = [], start + 1
    while sql[i] != "'":
        if sql[i] == "\\":
            value.append(sql[i + 1])
            i += 2
        else:
            value.append(sql[i])
            i += 1
    return i, "".join(value)


@pytest.mark.parametrize("value", INJECTIONS)
def test_a_str_param_stays_one_string_literal(value):
    head, tail = "SELECT n FROM t WHERE name = ", " AND ds = "
    sql = render_sql(head + "{{ name }}" + tail + "{{ ds }}", {"name": value, "ds": "1995-03-15"})
    end, parsed = _string_literal_end(sql, len(head))
    assert parsed == value
    assert sql[end + 1 :] == tail + "'1995-03-15'"
    assert check_query(sql, "tests.param") == sql  # a value never trips the write check


@pytest.mark.parametrize(
    "template",
    [
        "SELECT n FROM t WHERE name = '{{ name }}'",
        'SELECT n FROM t WHERE name = "{{ name }}"',
        "SELECT n FROM t -- filtered on {{ name }}\nWHERE 1 = 1",
        "SELECT n FROM t /* {{ name }} */",
        "SELECT r{{ name }} AS n",
        "SELECT n FROM t WHERE name = x{{ name }}",
    ],
)
def test_a_placeholder_inside_quotes_a_comment_or_glued_to_a_name_is_refused(template):
    with pytest.raises(ParamError, match="placeholder"):
        render_sql(template, {"name": "'; DROP TABLE x; --"})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), object(), [1], None])
def test_values_that_are_not_plain_literals_are_refused(value):
    with pytest.raises(ParamError):
        render_sql("SELECT {{ v }} AS v", {"v": value})
