"""check_query's scanner agrees with Spark's own parser on the statements that try to fool it.

Spark starts here (one session, no job): each hostile text below is, to Spark, an INSERT
hidden behind something a naive scanner takes for a string or a comment.
"""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from common.sql_job import check_query
from tests.reliability.test_qa_isolation import WRITES

_HIDDEN = [sql for sql, _ in WRITES if sql.startswith("WITH") and ("--" in sql or "`" in sql or "/*" in sql)]


def _plan(spark, sql: str) -> str:
    return spark._jsparkSession.sessionState().sqlParser().parsePlan(sql).toString()


def test_spark_parses_each_hidden_statement_as_an_insert_and_check_query_refuses_it(spark):
    assert len(_HIDDEN) >= 6
    for sql in _HIDDEN:
        assert "InsertIntoStatement" in _plan(spark, sql), sql
        with pytest.raises(ConfigError, match="INSERT"):
            check_query(sql, "tests.hidden")
    # the scanner's reading of quotes and comments, as Spark reads them
    for sql in ("SELECT 'INSERT INTO x' AS n", "SELECT `drop`, `we``ird` FROM t", "SELECT 1 /* a /* b */ c */ AS n"):
        assert "InsertIntoStatement" not in _plan(spark, sql)
        assert check_query(sql, "tests.ok") == sql
