"""Reading a legacy Airflow DAG file without running it: its SparkSqlOperator tasks and their order.

`pyspark-jobs migrate` must not import the DAG (that needs Airflow, Variables, connections and
runs arbitrary code), so the file is read with Python's `ast`. Only what is literally there is
used: a task whose SQL is computed (an f-string, a variable, a call) is listed as not
convertible, with the reason, and left alone.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.errors import PysparkJobsError

__all__ = ["LegacyDag", "LegacyTask", "MigrationError", "Skipped", "read_dag"]

SPARK_SQL_MODULE = "airflow.providers.apache.spark.operators.spark_sql"
_INCLUDE = re.compile(r"\{%-?\s*include\s+(['\"])([^'\"]+)\1\s*-?%\}")


class MigrationError(PysparkJobsError):
    """A DAG file `migrate` cannot read: the message names the file, the task and the line."""


@dataclass(frozen=True)
class LegacyTask:
    """One SparkSqlOperator task: its SQL template (includes resolved) and where it came from."""

    task_id: str
    line: int  # the operator call's line in the DAG file
    sql: str
    sql_file: Path | None  # the .sql file the SQL came from; None when inline
    sql_line: int  # the DAG file line (inline) or 1 (file) the template's first line sits on
    params: dict[str, Any]


@dataclass(frozen=True)
class Skipped:
    task_id: str
    line: int
    reason: str


@dataclass
class LegacyDag:
    path: Path
    dag_id: str
    tasks: list[LegacyTask] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    edges: set[tuple[str, str]] = field(default_factory=set)  # (upstream, downstream) task ids
    schedule: str = "'@daily'"
    start_date: str = "datetime(2024, 1, 1)"
    doc: str = ""


def _fail(path: Path, line: int, message: str, task: str | None = None) -> MigrationError:
    return MigrationError(f"{path}:{line}: " + (f"task {task}: " if task else "") + message)


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _kw(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _literal(node: ast.expr | None, default: Any = None) -> Any:
    if node is None:
        return default
    try:
        return ast.literal_eval(node)
    except ValueError:
        return default


class _Reader:
    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path, self.tree = path, tree
        self.operator_names = self._spark_sql_names()
        self.dag_params: dict[str, Any] = {}
        self.searchpath: list[Path] = [path.parent]
        self.variables: dict[str, str] = {}  # python variable -> task id

    def _spark_sql_names(self) -> set[str]:
        """The names SparkSqlOperator is imported under (`as` included)."""
        names = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module == SPARK_SQL_MODULE:
                names |= {a.asname or a.name for a in node.names if a.name == "SparkSqlOperator"}
        return names

    def read_dag_call(self, dag: LegacyDag) -> None:
        calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and _callee(n) == "DAG"]
        if not calls:
            return
        call = calls[0]
        first = call.args[0] if call.args else _kw(call, "dag_id")
        dag.dag_id = _literal(first, dag.dag_id)
        self.dag_params = _literal(_kw(call, "params"), {}) or {}
        search = _literal(_kw(call, "template_searchpath"))
        if isinstance(search, str):
            search = [search]
        self.searchpath = [*(self.path.parent / s for s in search or ()), self.path.parent]
        schedule = _kw(call, "schedule") or _kw(call, "schedule_interval")
        if isinstance(schedule, ast.Constant):
            dag.schedule = repr(schedule.value)
        start = _kw(call, "start_date")
        if isinstance(start, ast.Call) and _callee(start) == "datetime":
            ymd = [_literal(a) for a in start.args[:3]]
            if all(isinstance(v, int) for v in ymd) and len(ymd) == 3:
                dag.start_date = f"datetime({ymd[0]}, {ymd[1]}, {ymd[2]})"
        dag.doc = ast.get_docstring(self.tree) or ""

    def _file(self, name: str, line: int, task: str) -> Path:
        for folder in self.searchpath:
            if (folder / name).is_file():
                return folder / name
        raise _fail(self.path, line, f"SQL file {name!r} not found in {', '.join(map(str, self.searchpath))}", task)

    def _includes(self, sql: str, line: int, task: str, depth: int = 0) -> str:
        """`{% include 'x.sql' %}` replaced by the file, as Jinja would (searchpath order)."""
        if depth > 5:
            raise _fail(self.path, line, "includes nest more than 5 deep", task)
        return _INCLUDE.sub(lambda m: self._includes(self._file(m.group(2), line, task).read_text(), line, task,
                                                     depth + 1), sql)

    def task(self, call: ast.Call) -> LegacyTask | Skipped | None:
        task_id = _literal(_kw(call, "task_id"))
        name = _callee(call)
        if not isinstance(task_id, str):
            return None if _kw(call, "task_id") is None else Skipped("?", call.lineno, "task_id is not a literal")
        if name not in self.operator_names:
            kind = "a Python callable" if name in ("PythonOperator", "BranchPythonOperator") else "an operator"
            return Skipped(task_id, call.lineno, f"{name} is {kind}, not SparkSqlOperator: left as it is")
        node = _kw(call, "sql")
        if isinstance(node, ast.JoinedStr):
            return Skipped(task_id, call.lineno, "its SQL is an f-string, built when the DAG is parsed")
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            what = "missing" if node is None else f"built dynamically ({ast.unparse(node)[:40]})"
            return Skipped(task_id, call.lineno, f"its SQL is {what}, not a literal string")
        params = {**self.dag_params, **(_literal(_kw(call, "params"), {}) or {})}
        text = node.value
        if text.strip().endswith(".sql") and "\n" not in text.strip():
            path = self._file(text.strip(), call.lineno, task_id)
            return LegacyTask(task_id, call.lineno, self._includes(path.read_text(), call.lineno, task_id),
                              path, 1, params)
        return LegacyTask(task_id, call.lineno, self._includes(text, call.lineno, task_id), None, node.lineno, params)

    def _ends(self, node: ast.expr, line: int) -> list[str]:
        """The task ids an operand of `>>`/`<<` stands for, recording the edges inside it."""
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return [t for elt in node.elts for t in self._ends(elt, line)]
        if isinstance(node, ast.Name) and node.id in self.variables:
            return [self.variables[node.id]]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.RShift, ast.LShift)):
            return self._shift(node, line)
        raise _fail(self.path, line, f"dependency on {ast.unparse(node)!r}, which is not a task variable")

    def _shift(self, node: ast.BinOp, line: int) -> list[str]:
        left, right = self._ends(node.left, line), self._ends(node.right, line)
        ups, downs = (left, right) if isinstance(node.op, ast.RShift) else (right, left)
        self.edges |= {(u, d) for u in ups for d in downs}
        return right  # what Airflow's >> and << return

    def dependencies(self) -> set[tuple[str, str]]:
        self.edges: set[tuple[str, str]] = set()
        for stmt in ast.walk(self.tree):
            if not isinstance(stmt, ast.Expr):
                continue
            value = stmt.value
            if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.RShift, ast.LShift)):
                self._shift(value, stmt.lineno)
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                    and value.func.attr in ("set_upstream", "set_downstream"):
                (me,) = self._ends(value.func.value, stmt.lineno)
                others = [t for arg in value.args for t in self._ends(arg, stmt.lineno)]
                up = value.func.attr == "set_upstream"
                self.edges |= {(o, me) if up else (me, o) for o in others}
            elif isinstance(value, ast.Call) and _callee(value) == "chain":
                ends = [self._ends(arg, stmt.lineno) for arg in value.args]
                self.edges |= {(u, d) for ups, downs in zip(ends, ends[1:]) for u in ups for d in downs}
        return self.edges


def read_dag(path: Path) -> LegacyDag:
    """The DAG file's SparkSqlOperator tasks, the tasks left alone and the dependencies."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as exc:
        raise _fail(path, exc.lineno or 0, f"the DAG file does not parse: {exc.msg}") from None
    except OSError as exc:
        raise MigrationError(f"{path}: cannot read the DAG file: {exc.strerror}") from None
    reader = _Reader(path, tree)
    dag = LegacyDag(path, path.stem)
    reader.read_dag_call(dag)
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            targets, call = node.targets, node.value
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
        else:
            continue
        found = reader.task(call)
        if found is None:
            continue
        (dag.tasks if isinstance(found, LegacyTask) else dag.skipped).append(found)
        reader.variables |= {t.id: found.task_id for t in targets if isinstance(t, ast.Name)}
    dag.tasks.sort(key=lambda t: t.line)
    dag.skipped.sort(key=lambda t: t.line)
    ids = [t.task_id for t in (*dag.tasks, *dag.skipped)]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise _fail(path, 1, f"task id(s) used twice: {', '.join(twice)}")
    if not dag.tasks:
        raise _fail(path, 1, "no SparkSqlOperator task (imported from " + SPARK_SQL_MODULE + ") with literal SQL"
                    + (f"; left alone: {', '.join(s.task_id for s in dag.skipped)}" if dag.skipped else ""))
    dag.edges = reader.dependencies()
    return dag
