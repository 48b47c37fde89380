"""SqlJob: a legacy `.sql` file run inside the framework, the way SparkSqlOperator ran it.

Its inputs (MySQL tables included) are registered as temporary views named after their
aliases, the SQL is rendered with ds and typed params, and the result goes through the same
writers and contracts as a DataFrame job — so a team can migrate one query at a time and
diff the two (see common.parity).
"""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from common.errors import ConfigError, ParamError
from common.job import Job, RunParams, Step, step

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["SqlJob", "render_sql", "run_sql"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_GLUED_PLACEHOLDER = re.compile(r"[A-Za-z0-9_]\{\{\s*[a-z_][a-z0-9_]*\s*\}\}")
# Statements that change anything: a SqlJob is one query and its writer does the writing.
_FORBIDDEN = re.compile(
    r"\b(INSERT|CREATE|DROP|ALTER|DELETE|UPDATE|MERGE|TRUNCATE|SET|RESET|USE|ADD|LOAD|MSCK|REFRESH|"
    r"CACHE|UNCACHE|GRANT|REVOKE|REPAIR|ANALYZE|OVERWRITE|"
    # calls into any static Java method, and Hive script transforms (`USING 'cmd'`) run a program
    r"REFLECT|JAVA_METHOD|USING(?=\s*''))\b",
    re.I,
)
_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")


def _code_only(sql: str) -> str:
    """The SQL as Spark's lexer splits it, comments dropped, literals as `''`, quoted names as `q`.

    Mirrors Spark's rules where they differ from the obvious: comments nest, a `--` comment
    ends at CR or LF but continues after a backslash-newline, `r'...'` strings have no
    escapes, and backticks quote names. Where this scanner and Spark disagree, a statement
    could hide behind what one of them takes for a string, so the rules are kept exact.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch, two = sql[i], sql[i : i + 2]
        if two == "--":
            i += 2
            while i < n and sql[i] not in "\r\n":
                i += 2 if sql[i : i + 2] == "\\\n" else 1
            out.append(" ")
        elif two == "/*":
            depth, i = 1, i + 2
            while depth and i < n:
                if sql[i : i + 2] in ("/*", "*/"):
                    depth += 1 if sql[i] == "/" else -1
                    i += 2
                else:
                    i += 1
            if depth:
                raise ConfigError("unterminated /* comment in the SQL")
            out.append(" ")
        elif ch in "'\"`":
            # r'...' is a raw string only where the r starts a token, not ends a name like `for`
            prefixed = bool(out) and out[-1] in ("r", "R")
            raw = ch != "`" and prefixed and not (len(out) > 1 and _NAME_CHAR.match(out[-2]))
            if raw:
                out.pop()
            j = i + 1
            while j < n and (sql[j] != ch or (ch == "`" and sql[j + 1 : j + 2] == "`")):
                escaped = sql[j] == "`" if ch == "`" else (sql[j] == "\\" and not raw)
                j += 2 if escaped else 1
            if j >= n:
                raise ConfigError(f"unterminated {ch} quote in the SQL")
            out.append(" q " if ch == "`" else " '' ")
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):  # repr would be a name: nan, inf
            raise ParamError(f"cannot render {value!r} into SQL: not a finite number")
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

    # Inside quotes or a comment, a value's quotes or newlines would end them; right after a
    # name char, `r{{ v }}` would make the literal a raw string whose escapes don't count.
    hidden = len(_PLACEHOLDER.findall(template)) - len(_PLACEHOLDER.findall(_code_only(template)))
    if hidden or _GLUED_PLACEHOLDER.search(template):
        raise ParamError(
            "a {{ name }} placeholder sits inside a quoted string or comment or right after a name; "
            "write it bare and apart, it renders as a quoted literal"
        )
    return _PLACEHOLDER.sub(sub, template)


def check_query(sql: str, where: str) -> str:
    """The SQL, if it is a single read-only query; else a ConfigError saying what was found."""
    bare = _code_only(sql).strip().rstrip(";").strip()
    if ";" in bare:
        raise ConfigError(f"{where}: a SqlJob runs one query; found more than one statement")
    first = bare.split(None, 1)[0].upper() if bare else ""
    if first not in ("SELECT", "WITH", "("):
        raise ConfigError(f"{where}: a SqlJob runs a query (SELECT or WITH), not {first or 'nothing'}")
    bad = _FORBIDDEN.search(bare)
    if bad:
        what = "a script transform (USING 'program')" if bad.group(1).upper() == "USING" else bad.group(1).upper()
        raise ConfigError(f"{where}: {what} is not allowed in a SqlJob; its writer does the writing")
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
        return {output: step(run_sql, *views, sql=sql, views=views, origin=f"{self.sql_path()}")}
