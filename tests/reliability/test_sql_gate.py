"""The SqlJob gate as an attack: Spark's own parser decides what is one read-only query.

Every statement below that is not a query is refused for the reason Spark gives (the token
its grammar stumbles on inside `SELECT * FROM (...)`), and running the refusals changes
nothing in the session; queries that only name SQL keywords are kept and return their rows.
"""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from common.sql_job import render_sql, run_query

NEAR = "Syntax error at or near '{}'"
SCRIPT = "a script transform (SELECT TRANSFORM ... USING 'program') runs a program"
REFLECT = "{}() calls a Java method"
EMPTY = "the SQL is empty or ends inside a comment or string"
T = "gate_t"  # the view every statement below may name

# (statement, the reason it is refused). A statement refused for another reason than its own
# (an INSERT refused because something else looked odd) fails.
ATTACKS = [
    ("INSERT INTO tpch_reports.q01 SELECT 1", NEAR.format("tpch_reports")),
    ("INSERT OVERWRITE TABLE tpch_reports.q01 SELECT 1", NEAR.format("TABLE")),
    ("insert overwrite directory 's3://prod/x' select 1", NEAR.format("directory")),
    ("CREATE TABLE tpch_reports.x AS SELECT 1", NEAR.format("tpch_reports")),
    ("DROP TABLE tpch_reports.q01", NEAR.format("tpch_reports")),
    ("ALTER TABLE tpch_reports.q01 SET LOCATION 's3://x'", NEAR.format("tpch_reports")),
    ("SELECT 1; DROP TABLE tpch_reports.q01", NEAR.format(";")),
    ("SELECT 1;\nINSERT INTO tpch_reports.q01 SELECT 2;", NEAR.format(";")),
    ("-- just a comment\nDROP TABLE tpch_reports.q01", NEAR.format("tpch_reports") + ": missing ')'.(line 2, pos 11)"),
    ("/* SELECT */ DROP TABLE tpch_reports.q01", NEAR.format("tpch_reports")),
    ("SELECT 1 /* ; */; DROP TABLE x", NEAR.format(";")),
    ("WITH a AS (SELECT 1 AS n) INSERT INTO tpch_reports.q01 SELECT * FROM a", NEAR.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) INSERT OVERWRITE TABLE tpch_reports.q01 SELECT * FROM a", NEAR.format("INSERT")),
    ("FROM t INSERT INTO tpch_reports.q01 SELECT *", NEAR.format("INSERT")),
    ("(SELECT 1) ; TRUNCATE TABLE tpch_reports.q01", NEAR.format(";")),
    ("SELECT 1 -- comment\n; DELETE FROM tpch_reports.q01", NEAR.format(";") + ": missing ')'.(line 2, pos 0)"),
    ("SET spark.sql.warehouse.dir=/tmp", NEAR.format(".")),
    ("MSCK REPAIR TABLE tpch_reports.q01", NEAR.format("TABLE")),
    ("", EMPTY),
    ("   ;  ", EMPTY),
    ("-- only a comment", EMPTY),
    # hidden behind what a hand-written scanner could take for a string or a comment
    ("WITH `'` AS (SELECT 1 AS n) INSERT INTO tpch_reports.q01 SELECT * FROM `'`", NEAR.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) -- note\rINSERT INTO tpch_reports.q01 SELECT * FROM a", NEAR.format("INSERT")),
    ("WITH a AS (SELECT r'\\' AS n) INSERT INTO tpch_reports.q01 SELECT * FROM a --'", NEAR.format("INSERT")),
    ("WITH a AS (SELECT R\"\\\" AS n) INSERT INTO tpch_reports.q01 SELECT * FROM a --\"", NEAR.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) /* /* */ ' */ INSERT INTO tpch_reports.q01 SELECT * FROM a --'", NEAR.format("INSERT")),
    ("WITH a AS (SELECT 1 AS n) -- \\\n'\nINSERT INTO tpch_reports.q01 SELECT * FROM a -- '", NEAR.format("INSERT")),
    # side effects from inside a query: a program, any static Java method
    (f"SELECT TRANSFORM(n) USING 'rm -rf /' AS (m) FROM {T}", SCRIPT),
    (f"SELECT TRANSFORM(n) USING 'cat' AS (m) FROM {T}", SCRIPT),
    (f"WITH s AS (SELECT TRANSFORM(n) USING 'cat' AS (m) FROM {T}) SELECT * FROM s", SCRIPT),
    (f"SELECT (SELECT max(m) FROM (SELECT TRANSFORM(n) USING 'cat' AS (m) FROM {T})) AS z", SCRIPT),
    ("SELECT reflect('java.lang.String', 'valueOf', 1)", REFLECT.format("reflect")),
    ("SELECT REFLECT('java.lang.String', 'valueOf', 1)", REFLECT.format("reflect")),
    ("SELECT java_method('java.lang.String', 'valueOf', 1)", REFLECT.format("java_method")),
    # a quoted function name is the same function: a scanner blanking `...` missed it
    ("SELECT `reflect`('java.lang.String', 'valueOf', 1)", REFLECT.format("reflect")),
    # past the 25 fields Spark prints by default
    ("SELECT " + ", ".join(f"{i} AS c{i}" for i in range(40)) + ", java_method('java.lang.String', 'valueOf', 1) AS z",
     REFLECT.format("java_method")),
    # statements a keyword list has to name one by one
    (f"CREATE TEMP VIEW gate_new AS SELECT * FROM {T}", NEAR.format("VIEW")),
    (f"CREATE OR REPLACE TEMPORARY VIEW {T} AS SELECT 1 AS n", NEAR.format("REPLACE")),
    ("CREATE TEMPORARY FUNCTION f AS 'x.Y'", NEAR.format("FUNCTION")),
    ("SET spark.pj.gate=1", NEAR.format(".")),
    ("ADD JAR /tmp/x.jar", NEAR.format("/")),
    ("ADD FILE /etc/passwd", NEAR.format("/")),
    (f"REFRESH TABLE {T}", NEAR.format(T)),
    (f"CACHE TABLE {T}", NEAR.format(T)),
    (f"CACHE LAZY TABLE gate_new AS SELECT * FROM {T}", NEAR.format("TABLE")),
    (f"UNCACHE TABLE {T}", NEAR.format(T)),
    (f"MSCK REPAIR TABLE {T}", NEAR.format("TABLE")),
    (f"LOAD DATA INPATH '/tmp/x' INTO TABLE {T}", NEAR.format("INPATH")),
    (f"ANALYZE TABLE {T} COMPUTE STATISTICS", NEAR.format(T)),
    (f"MERGE INTO {T} USING s ON {T}.n = s.n WHEN MATCHED THEN DELETE", NEAR.format(T)),
    (f"UPDATE {T} SET n = 1", NEAR.format("SET")),
    (f"DELETE FROM {T} WHERE n = 1", NEAR.format(T)),
    ("EXPLAIN SELECT 1", NEAR.format("SELECT")),
    ("SELECT 1 AS n) ; DROP TABLE x; (SELECT 1", NEAR.format("DROP")),
    # unterminated quotes and comments
    ("SELECT 'abc", NEAR.format("'")),
    ("SELECT 1 /* open", "Found an unclosed bracketed comment"),
]

# Read as the name of a table inside the subquery, these are reads of a table that does not
# exist: refused by the analyzer, and never run as the command they spell.
READ_AS_TABLES = ["USE tpch_reports", "SHOW TABLES", "DESCRIBE gate_t", "RESET", "CLEAR CACHE", "LIST JAR", "USE default"]


@pytest.fixture(scope="module")
def gate(spark):
    columns = "1 AS n, 'x' AS name, 2 AS `drop`, 3 AS `we``ird`, array(1, 2) AS arr, 4 AS `for`, " \
              "5 AS load, 6 AS set, 7 AS add, 8 AS cache, 9 AS merge, 10 AS insert, 11 AS reflect"
    spark.sql(f"SELECT {columns}").createOrReplaceTempView(T)
    spark.sql(f"SELECT {columns}").createOrReplaceTempView("t")
    spark.sql("SELECT 1 AS n").createOrReplaceTempView("b")
    before = _state(spark)
    yield spark
    assert _state(spark) == before, "a refused statement changed the session"
    for view in (T, "t", "b"):
        spark.catalog.dropTempView(view)


def _state(spark) -> tuple:
    """What the refused statements would change if Spark ran them."""
    return (spark.catalog.currentDatabase(), spark.catalog.isCached(T), spark.conf.get("spark.pj.gate", None),
            spark.catalog.tableExists("gate_new"), spark.conf.get("spark.sql.warehouse.dir"),
            spark.sql(f"SELECT * FROM {T}").collect())


@pytest.mark.parametrize(("sql", "reason"), ATTACKS)
def test_the_gate_refuses_what_spark_does_not_parse_as_one_read_only_query(gate, sql, reason):
    with pytest.raises(ConfigError) as err:
        run_query(gate, sql, "tests.hostile (hostile.sql)")
    message = str(err.value)
    assert message.startswith("tests.hostile (hostile.sql): ")
    assert reason in message, message


@pytest.mark.parametrize("sql", READ_AS_TABLES)
def test_a_command_word_inside_the_subquery_is_a_table_name_and_never_a_command(gate, sql):
    with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
        run_query(gate, sql, "tests.hostile")


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        # columns named after SQL keywords: a keyword scanner refused these
        (f"SELECT load, set, add, cache, merge FROM {T}", [(5, 6, 7, 8, 9)]),
        (f"SELECT t.load AS load, `insert`, reflect FROM {T} AS t", [(5, 10, 11)]),
        (f"SELECT n AS add FROM {T} WHERE load = 5 AND set = 6 AND cache = 8", [(1,)]),
        ("SELECT 'INSERT INTO x; DROP TABLE y' AS note", [("INSERT INTO x; DROP TABLE y",)]),
        ("SELECT \"--\" AS a, '/*' AS b, 'it\\'s' AS c FROM t -- DROP TABLE t\n;", [("--", "/*", "it's")]),
        ("SELECT `drop`, `we``ird` FROM t", [(2, 3)]),
        ("SELECT n FROM t -- trailing comment", [(1,)]),
        ("WITH a AS (SELECT 1 AS n) SELECT * FROM a JOIN b USING (n)", [(1,)]),
        ("SELECT transform(arr, x -> x + 1) AS arr FROM t", [([2, 3],)]),
        ("SELECT 1 AS n UNION ALL (SELECT 2)", [(1,), (2,)]),
        ("SELECT 1 /* nested /* comment */ still */ AS n", [(1,)]),
        # a CTE query, VALUES, TABLE and FROM-first queries are queries
        ("WITH a AS (SELECT n FROM t), b2 AS (SELECT n + 1 AS n FROM a) SELECT n FROM b2;", [(2,)]),
        ("VALUES (1, 'a')", [(1, "a")]),
        ("TABLE b", [(1,)]),
        ("FROM t SELECT n", [(1,)]),
        ("SELECT n FROM t ORDER BY n DESC LIMIT 1", [(1,)]),
    ],
)
def test_a_query_that_only_names_keywords_runs_and_returns_its_rows(gate, sql, rows):
    assert [tuple(r) for r in run_query(gate, sql, "tests.ok").collect()] == rows


INJECTIONS = [
    "O'Brien",
    "'; DROP TABLE tpch_reports.q01; --",
    "x' OR '1'='1",
    'x" OR "1"="1',
    "back\\slash",
    "\\'; DROP TABLE x; --",
    "ends with backslash\\",
    "-- comment",
    "/* comment",
    "line\nbreak\r\nINSERT INTO x SELECT 1",
    "tab\there",
    "; DROP TABLE x",
    "\u2019; DROP TABLE x; \u2018",
    "\\u0027 escaped",
    "`backtick`",
    "{{ ds }}",
    "",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_a_str_param_stays_one_string_literal_as_spark_reads_it(gate, value):
    """Spark is the oracle: the literal it reads back is exactly the value, in either quotes."""
    template = "SELECT '{{ params.name }}' AS single, \"{{ params.name }}\" AS double, '{{ ds }}' AS ds"
    sql = render_sql(template, "1995-03-15", {"name": value})
    assert [tuple(r) for r in run_query(gate, sql, "tests.param").collect()] == [(value, value, "1995-03-15")]
