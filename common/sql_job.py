"""SqlJob: a legacy `.sql` file run inside the framework, the way SparkSqlOperator ran it.

Its inputs (MySQL tables included) are registered as temporary views named after their
aliases, the SQL is rendered by Jinja with Airflow's template context for the run
(common.templates), and the result goes through the same writers and contracts as a
DataFrame job — so a team can migrate one query at a time and diff the two (see
common.parity).

Whether the rendered text is one read-only query is decided by Spark's own parser (see
`run_query`), never by scanning the text: Spark executes commands (INSERT, DDL, SET, ADD
JAR, CACHE...) as soon as `spark.sql` sees them, so unvetted text is only ever handed to
Spark inside a SELECT.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from common.errors import ConfigError
from common.job import Job, RunParams, Step, step
from common.templates import airflow_context, render_template

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SqlJob", "as_subquery", "explained", "render_sql", "run_query", "run_sql"]

_PARSE_LINE = re.compile(r"\(line (\d+), pos (\d+)\)")
# Side effects a query can still have, in the analyzed plan as Spark prints it: a script
# transform runs a program on the executors; reflect/java_method call any static Java method.
_SCRIPT = re.compile(r"^[\s:|+\-]*ScriptTransformation\b", re.M)
_REFLECT = re.compile(r"(?<![\w`])(reflect|java_method)\(", re.I)
_FIELDS_CONF = "spark.sql.debug.maxToStringFields"


def render_sql(template: str, ds: str, params: Mapping[str, Any], name: str = "<sql>") -> str:
    """The template rendered as Airflow renders it for a daily run of `ds` (common.templates)."""
    return render_template(template, airflow_context(ds, params), name)


def as_subquery(sql: str) -> str:
    # Only a query fits between these parentheses: an INSERT, a DDL or a second statement
    # is a syntax error there. The line breaks end a trailing `--` comment.
    return "SELECT * FROM (\n" + sql.rstrip().rstrip(";").rstrip() + "\n)"


def _parse_refusal(exc: Exception, sql: str, where: str) -> ConfigError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    match = _PARSE_LINE.search(text)
    if match and int(match.group(1)) - 1 > len(sql.rstrip().splitlines()):
        text = "the SQL is empty or ends inside a comment or string"
    elif match:  # the wrapper's first line shifts Spark's count by one
        text = _PARSE_LINE.sub(f"(line {int(match.group(1)) - 1}, pos {match.group(2)})", text)
    return ConfigError(f"{where}: a SqlJob runs exactly one query (SELECT, WITH ... SELECT, VALUES, TABLE); "
                       f"its writer does the writing. Spark reads this SQL otherwise: {text}")


def explained(spark: SparkSession, statement: str) -> str:
    """EXPLAIN EXTENDED's text (parsed, analyzed, optimized plans), every field shown; runs nothing."""
    fields = spark.conf.get(_FIELDS_CONF, None)
    spark.conf.set(_FIELDS_CONF, str(2**31 - 1))
    try:
        text = spark.sql("EXPLAIN EXTENDED " + statement).first()[0]
    finally:
        if fields is None:
            spark.conf.unset(_FIELDS_CONF)
        else:
            spark.conf.set(_FIELDS_CONF, fields)
    return text


def _analyzed_plan(df: DataFrame) -> str:
    """The analyzed plan as EXPLAIN prints it, every field shown, subqueries included; no
    optimizer or planner runs, and nothing executes."""
    return df._jdf.queryExecution().analyzed().treeString(True, False, 2**31 - 1, False)


def run_query(spark: SparkSession, sql: str, where: str) -> DataFrame:
    """The DataFrame of `sql` if Spark parses it as one read-only query; else a ConfigError.

    Spark's grammar decides: `sql` runs as the subquery of `SELECT * FROM (...)`, where only
    a query parses, and the statement handed to Spark is a SELECT, which Spark never runs
    eagerly. The analyzed plan then must hold no script transform and no reflect call.
    """
    from pyspark.errors.exceptions.captured import ParseException

    statement = as_subquery(sql)
    try:
        df = spark.sql(statement)  # a query: lazy, nothing runs until the writer's action
    except ParseException as exc:
        raise _parse_refusal(exc, sql, where) from None
    plan = _analyzed_plan(df)
    if _SCRIPT.search(plan):
        raise ConfigError(f"{where}: a script transform (SELECT TRANSFORM ... USING 'program') runs a program; "
                          "it is not allowed in a SqlJob")
    called = _REFLECT.search(plan)
    if called:
        raise ConfigError(f"{where}: {called.group(1).lower()}() calls a Java method; it is not allowed in a SqlJob "
                          "(a string literal spelling 'reflect(' also reads as one: build it with concat)")
    return df


def run_sql(*frames: DataFrame, sql: str, views: tuple[str, ...], where: str = "SqlJob") -> DataFrame:
    """Register the inputs as views and run the query: the SqlJob's single step. The views are
    dropped once the query is analysed (its plan holds theirs), so they never shadow a table
    for whatever the session runs next."""
    spark = frames[0].sparkSession
    for name, df in zip(views, frames):
        df.createOrReplaceTempView(name)
    try:
        return run_query(spark, sql, where)
    finally:
        for name in views:
            spark.catalog.dropTempView(name)


class SqlJob(Job):
    """Subclasses set `sql_file` (relative to their module) and exactly one output."""

    sql_file: ClassVar[str] = ""

    @classmethod
    def _sql_owner(cls) -> type[SqlJob]:
        """The class that names the file: a subclass elsewhere reads its parent's SQL."""
        return next(k for k in cls.__mro__ if "sql_file" in vars(k))

    @classmethod
    def sql_path(cls) -> Path:
        module = sys.modules[cls._sql_owner().__module__]
        return Path(module.__file__ or ".").parent / cls.sql_file

    @classmethod
    def sql_name(cls) -> str:
        """The SQL file as errors name it: `pyspark_jobs/tpch/sql/q01.sql`, also inside jobs.zip."""
        return "/".join([*cls._sql_owner().__module__.split(".")[:-1], cls.sql_file])

    @classmethod
    def sql_template(cls) -> str:
        module = sys.modules[cls._sql_owner().__module__]
        loader = getattr(module, "__loader__", None)
        path = cls.sql_path()
        if hasattr(loader, "get_data"):  # also inside jobs.zip
            return loader.get_data(str(path)).decode()
        return path.read_text()

    def steps(self, p: RunParams) -> Mapping[str, Step]:
        if len(self.outputs) != 1:
            raise ConfigError(f"SqlJob {self.name} must have exactly one output")
        where = f"{self.name} ({self.sql_file})"
        sql = render_sql(self.sql_template(), p.ds, p.values, self.sql_name())
        (output,) = self.outputs
        views = tuple(self.inputs)
        return {output: step(run_sql, *views, sql=sql, views=views, where=where, origin=f"{self.sql_path()}")}
