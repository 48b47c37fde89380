"""SqlJob: a legacy `.sql` file run inside the framework, the way SparkSqlOperator ran it.

Its inputs (MySQL tables included) are registered as temporary views named after their
aliases, the SQL is rendered with ds and typed params, and the result goes through the same
writers and contracts as a DataFrame job — so a team can migrate one query at a time and
diff the two (see common.parity).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
import sys
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from common.errors import ConfigError, ParamError
from common.job import Job, RunParams, Step, step

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["SqlJob", "render_sql", "run_sql"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_STRINGS_AND_COMMENTS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|--[^\n]*|/\*.*?\*/", re.S)
# Statements that change anything: a SqlJob is one query and its writer does the writing.
_FORBIDDEN = re.compile(
    r"\b(INSERT|CREATE|DROP|ALTER|DELETE|UPDATE|MERGE|TRUNCATE|SET|RESET|USE|ADD|LOAD|MSCK|REFRESH|"
    r"CACHE|UNCACHE|GRANT|REVOKE|REPAIR|ANALYZE|OVERWRITE)\b",
    re.I,
)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, date)):
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"
    raise ParamError(f"cannot render a {type(value).__name__} into SQL")


def render_sql(template: str, values: Mapping[str, Any]) -> str:
    """Replace `{{ name }}` by a typed SQL literal; strings are quoted and escaped."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ParamError(f"the SQL uses {{{{ {name} }}}} but the job has no such param (ds or a declared param)")
        return _literal(values[name])

    return _PLACEHOLDER.sub(sub, template)


def check_query(sql: str, where: str) -> str:
    """The SQL, if it is a single read-only query; else a ConfigError saying what was found."""
    bare = _STRINGS_AND_COMMENTS.sub(" ", sql).strip().rstrip(";").strip()
    if ";" in bare:
        raise ConfigError(f"{where}: a SqlJob runs one query; found more than one statement")
    first = bare.split(None, 1)[0].upper() if bare else ""
    if first not in ("SELECT", "WITH", "("):
        raise ConfigError(f"{where}: a SqlJob runs a query (SELECT or WITH), not {first or 'nothing'}")
    bad = _FORBIDDEN.search(bare)
    if bad:
        raise ConfigError(f"{where}: {bad.group(1).upper()} is not allowed in a SqlJob; its writer does the writing")
    return sql.strip().rstrip(";")


def run_sql(*frames: DataFrame, sql: str, views: tuple[str, ...]) -> DataFrame:
    """Register the inputs as views and run the query: the SqlJob's single step."""
    spark = frames[0].sparkSession
    for name, df in zip(views, frames):
        df.createOrReplaceTempView(name)
    return spark.sql(sql)


class SqlJob(Job):
    """Subclasses set `sql_file` (relative to their module) and exactly one output."""

    sql_file: ClassVar[str] = ""

    @classmethod
    def sql_path(cls) -> Path:
        module = sys.modules[cls.__module__]
        return Path(module.__file__ or ".").parent / cls.sql_file

    @classmethod
    def sql_template(cls) -> str:
        module = sys.modules[cls.__module__]
        loader = getattr(module, "__loader__", None)
        path = cls.sql_path()
        if hasattr(loader, "get_data"):  # also inside jobs.zip
            return loader.get_data(str(path)).decode()
        return path.read_text()

    def steps(self, p: RunParams) -> Mapping[str, Step]:
        if len(self.outputs) != 1:
            raise ConfigError(f"SqlJob {self.name} must have exactly one output")
        sql = check_query(render_sql(self.sql_template(), p.as_dict()), f"{self.name} ({self.sql_file})")
        (output,) = self.outputs
        views = tuple(self.inputs)
        return {output: step(run_sql, *views, sql=sql, views=views)}
