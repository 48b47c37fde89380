"""The TPC-H reference answers and the comparison of a query result with them.

The answer sets (`answers/sf0.01`, `answers/sf1`: pipe-separated, a header row, `NULL` for
SQL NULL) are copied into this directory so the repository checks itself; another set is
found through `PYSPARK_JOBS_TPCH_REFERENCE` (default `<repo>/../shared/tpch`).

`compare(rows, answer, contract)` is plain Python over collected rows, so a benchmark script
can check its results the same way the conformance tests do:

    rows = read_result(spark, "tpch_reports.q01", "1998-12-01", contract)
    problems = compare(rows, load_answer("q01", "sf1"), contract)
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from common.contracts import Column, Contract

__all__ = ["Answer", "answer_path", "load_answer", "read_result", "compare", "REFERENCE_ENV"]

REFERENCE_ENV = "PYSPARK_JOBS_TPCH_REFERENCE"
HERE = Path(__file__).resolve().parent / "answers"
REPO = Path(__file__).resolve().parents[3]
NULL = "NULL"
# TPC-H reports money to the cent: no tolerance is ever looser than that.
CENT = Decimal("0.01")
# Doubles: summation order changes the last bits, nothing more.
DOUBLE_RTOL = Decimal("1e-9")
SHOWN = 5  # rows quoted per kind of difference
_INTEGRAL = {"tinyint", "smallint", "int", "integer", "bigint", "long"}
_FLOATING = {"float", "double", "real"}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class Answer:
    """One reference answer: its file, header and rows as text (None for NULL)."""

    path: Path
    header: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]


def answer_path(query: str, scale: str = "sf0.01") -> Path:
    """`answers/<scale>/<query>.csv` here, else under PYSPARK_JOBS_TPCH_REFERENCE."""
    local = HERE / scale / f"{query}.csv"
    if local.exists():
        return local
    reference = Path(os.environ.get(REFERENCE_ENV) or REPO.parent / "shared" / "tpch")
    found = reference / "answers" / scale / f"{query}.csv"
    if not found.exists():
        raise FileNotFoundError(f"no answer for {query} at {scale}: not at {local} nor {found} (see {REFERENCE_ENV})")
    return found


def load_answer(query: str, scale: str = "sf0.01") -> Answer:
    path = answer_path(query, scale)
    lines = path.read_text().splitlines()
    header = tuple(lines[0].split("|"))
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        values = line.split("|")
        if len(values) != len(header):
            raise ValueError(f"{path}:{number}: {len(values)} values for {len(header)} columns")
        rows.append(tuple(None if v == NULL else v for v in values))
    return Answer(path=path, header=header, rows=tuple(rows))


def read_result(spark: SparkSession, table: str, ds: str, contract: Contract) -> list[dict[str, Any]]:
    """The rows a job wrote for `ds`, as dicts of the contract's data columns (order: none)."""
    from pyspark.sql import functions as F

    names = [c.name for c in contract.data_columns]
    df = spark.table(table)
    if "ds" in contract.partition_by:
        df = df.filter(F.col("ds") == ds)
    return [row.asDict() for row in df.select(*names).collect()]


def _kind(column: Column) -> str:
    simple = column.type.strip().lower()
    if simple in _INTEGRAL:
        return "integral"
    if simple in _FLOATING:
        return "double"
    if _DECIMAL.match(simple):
        return "decimal"
    if simple == "date":
        return "date"
    return "text"


def _actual(value: Any, kind: str) -> Any:
    """A result value in the form its answer text is parsed to."""
    if value is None:
        return None
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind in ("decimal", "double"):
        return value if isinstance(value, Decimal) else Decimal(repr(value))
    return value


def _expected(text: str | None, kind: str) -> Any:
    if text is None:
        return None
    if kind == "integral":
        return int(text)
    if kind in ("decimal", "double"):
        return Decimal(text)
    return text


def _half_unit(digits: int) -> Decimal:
    return Decimal(5).scaleb(-digits - 1)


def _places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _close(actual: Any, expected: Any, kind: str) -> bool:
    """Equal, or for numbers within the rounding of the coarser of the two (never beyond a cent).

    Spark reports decimals at a fixed scale (an average at 6 places), the answers at the
    precision the reference engine wrote; either may be the rounded one.
    """
    if actual is None or expected is None:
        return actual is None and expected is None
    if kind not in ("decimal", "double"):
        return actual == expected
    rounding = max(_half_unit(_places(expected)), _half_unit(_places(actual)) if kind == "decimal" else Decimal(0))
    tolerance = max(min(rounding, CENT), DOUBLE_RTOL * abs(expected) if kind == "double" else Decimal(0))
    return abs(actual - expected) <= tolerance


def _render(values: Iterable[Any]) -> str:
    return "|".join(NULL if v is None else str(v) for v in values)


def _sorted(rows: list[tuple[Any, ...]], names: list[str], sort_by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Rows in the contract's order; nulls first ascending and last descending, as Spark sorts."""
    ordered = list(rows)
    for item in reversed(sort_by):
        name, *direction = item.split()
        at = names.index(name)
        descending = bool(direction) and direction[0].lower() == "desc"
        ordered.sort(key=lambda r: (r[at] is not None, r[at] if r[at] is not None else 0), reverse=descending)
    return ordered


def compare(rows: Iterable[Mapping[str, Any]], answer: Answer, contract: Contract) -> list[str]:
    """What differs between a result and its answer; an empty list when they agree.

    Rows are matched as a multiset (text, integers and dates exactly, numbers within
    rounding); the order is then checked by sorting the result by `contract.sort_by` and
    comparing its sequence of sort-key values with the answer's.
    """
    columns = list(contract.data_columns)
    names = [c.name for c in columns]
    if tuple(names) != answer.header:
        return [f"columns ({', '.join(names)}) differ from the answer's ({', '.join(answer.header)})"]
    kinds = [_kind(c) for c in columns]
    actual = [tuple(_actual(row[n], k) for n, k in zip(names, kinds)) for row in rows]
    expected = [tuple(_expected(v, k) for v, k in zip(row, kinds)) for row in answer.rows]
    problems = []
    if len(actual) != len(expected):
        problems.append(f"{len(actual)} rows, the answer has {len(expected)}")

    exact = [i for i, k in enumerate(kinds) if k not in ("decimal", "double")]
    fuzzy = [i for i, k in enumerate(kinds) if k in ("decimal", "double")]
    pool: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in actual:
        pool[tuple(row[i] for i in exact)].append(row)
    missing = []
    for row in expected:
        candidates = pool.get(tuple(row[i] for i in exact), [])
        match = next((c for c in candidates if all(_close(c[i], row[i], kinds[i]) for i in fuzzy)), None)
        if match is None:
            missing.append(row)
        else:
            candidates.remove(match)
    unexpected = [row for rows_left in pool.values() for row in rows_left]
    for label, found in (
        ("missing (in the answer, not the result)", missing),
        ("unexpected (not in the answer)", unexpected),
    ):
        if found:
            problems.append(f"{len(found)} row(s) {label}, e.g.:")
            problems += [f"    {_render(r)}" for r in found[:SHOWN]]

    keys = [names.index(item.split()[0]) for item in contract.sort_by]
    if keys and not (missing or unexpected):
        for position, (got, want) in enumerate(zip(_sorted(actual, names, contract.sort_by), expected), start=1):
            if not all(_close(got[i], want[i], kinds[i]) for i in keys):
                shown = ", ".join(names[i] for i in keys)
                problems.append(
                    f"order: row {position} by ({shown}) is {_render(got[i] for i in keys)}, "
                    f"the answer has {_render(want[i] for i in keys)}"
                )
                break
    return problems
