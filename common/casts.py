"""Casts Spark's analyzer inserted that the code did not write, and which of them can fail or lose data.

Spark tags every cast the code wrote (`Column.cast`, SQL `CAST(...)`) as user-specified; any
other cast in the analyzed plan came from type coercion. One walk serves DataFrame and SQL
steps alike, since both end as an analyzed plan. With ANSI off (Spark 3.5's default) a
failed string-to-number cast is a silent null, so these are findings, not warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["ImplicitCast", "implicit_casts", "is_lossy"]

_SUBQUERIES = {"Exists", "ListQuery", "ScalarSubquery", "LateralSubquery"}
_INTEGRAL = ("tinyint", "smallint", "int", "bigint")
_NUMERIC = (*_INTEGRAL, "float", "double")
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")
_MAX_PRECISION = 38
_MAY_HOLD_CAST = re.compile(r"cast\(|(subquery|exists|list)#\d")
_ATTRIBUTE_ID = re.compile(r"#\d+L?")


@dataclass(frozen=True)
class ImplicitCast:
    column: str  # the expression cast, as Spark prints it without attribute ids
    source: str  # its type, as Spark's simpleString
    target: str


def _decimal(type_: str) -> tuple[int, int] | None:
    match = _DECIMAL.fullmatch(type_)
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_lossy(source: str, target: str) -> bool:
    """True when a cast from `source` to `target` can fail, become null or drop digits."""
    if source == "string":
        return target in _NUMERIC or target in ("date", "timestamp", "timestamp_ntz", "boolean") or bool(_decimal(target))
    if source.startswith("timestamp") and target == "date":
        return True
    if source in ("float", "double"):
        return target in _INTEGRAL or target == "float" and source == "double" or bool(_decimal(target))
    narrow, wide = _decimal(source), _decimal(target)
    if narrow and wide:
        # Comparing two decimals makes both the widest decimal, capped at 38 digits: fewer
        # integer digits there is Spark's common type, not a narrowing any real value meets.
        fewer_digits = wide[0] - wide[1] < narrow[0] - narrow[1] and wide[0] < _MAX_PRECISION
        return fewer_digits or wide[1] < narrow[1]
    if narrow and target in _INTEGRAL:
        return True
    if source in _INTEGRAL and target in _INTEGRAL:
        return _INTEGRAL.index(target) < _INTEGRAL.index(source)
    return False


def _iterate(seq: Any) -> Iterator[Any]:
    for i in range(seq.size()):  # n + 1 round trips (an iterator's hasNext/next takes 2n + 1)
        yield seq.apply(i)


def _casts(plan: Any, tag: Any, identity: Any, known: dict[int, Any]) -> Iterator[ImplicitCast]:
    seen = known.get(identity(plan))
    if seen is not None and plan.fastEquals(seen):
        return  # an input's plan, walked when that frame was checked
    stack = list(_iterate(plan.expressions()))
    while stack:
        expr = stack.pop()
        if not _MAY_HOLD_CAST.search(expr.toString()):
            continue  # one round trip spares walking a subtree with no cast and no subquery in it
        kind = expr.nodeName()
        if kind == "Cast" and not expr.getTagValue(tag).isDefined():
            column = _ATTRIBUTE_ID.sub("", expr.child().sql())
            column = column.rsplit(".", 1)[-1] if re.fullmatch(r"[\w.]+", column) else column
            yield ImplicitCast(column, expr.child().dataType().simpleString(), expr.dataType().simpleString())
        if kind in _SUBQUERIES:
            yield from _casts(expr.plan(), tag, identity, known)
        stack += _iterate(expr.children())
    for child in _iterate(plan.children()):
        yield from _casts(child, tag, identity, known)


def implicit_casts(df: DataFrame, inputs: Iterable[DataFrame] = ()) -> list[ImplicitCast]:
    """The lossy casts in `df`'s analyzed plan that no code wrote, each once, in a stable order.

    The analyzer keeps an input frame's analyzed plan as the very subtree of `df`'s, so the
    subtrees of `inputs` (frames checked already) are not walked again.
    """
    jvm = df.sparkSession._jvm
    tag = jvm.org.apache.spark.sql.catalyst.expressions.Cast.USER_SPECIFIED_CAST()
    plan = df._jdf.queryExecution().analyzed()
    if "cast(" not in plan.toString():  # one round trip spares a walk of many
        return []
    identity = jvm.java.lang.System.identityHashCode
    known = {identity(p): p for p in (frame._jdf.queryExecution().analyzed() for frame in inputs)}
    found = {c for c in _casts(plan, tag, identity, known) if is_lossy(c.source, c.target)}
    return sorted(found, key=lambda c: (c.column, c.source, c.target))
