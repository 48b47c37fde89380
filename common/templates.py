"""Airflow's Jinja templating for legacy SQL, without Airflow: the context of a run from its ds.

A `SparkSqlOperator` rendered its SQL with Jinja in a sandbox, with the task's template
context; the legacy `.sql` files a `SqlJob` runs are rendered the same way here, so they move
over unchanged. The cluster has no Airflow, so the context is computed from the run's ds as
Airflow 2 computed it for a daily schedule (`CronDataIntervalTimetable`): the run covers the
day `ds`, its data interval is `[ds 00:00 UTC, ds + 1 day 00:00 UTC)` and `logical_date` is
the interval's start; `data_interval_start`, `data_interval_end` and
`logical_date` are timezone-aware (UTC) datetimes, printed as Airflow 3 prints its pendulum 3
DateTimes (`1995-03-15 00:00:00+00:00`; Airflow 2's pendulum 2 printed a `T`: `| ts` gives
that form on both). `prev_ds`/`next_ds` (Airflow 2 names, removed in Airflow 3) are ds ∓ one
day: a job run on another schedule must not use them.

Values render as Airflow renders them (`{{ ds }}` is `1995-03-15`, unquoted; write
`'{{ ds }}'` where SQL needs a string), with one deliberate difference: a `str` param is the
content of a Spark string literal, so its backslashes, quotes and line breaks arrive escaped
and `'{{ params.name }}'` stays one literal whatever the value (Airflow would paste it raw).
A name the context does not define fails when rendered (`StrictUndefined`), naming the
variable and the template's line.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType, SimpleNamespace
from typing import Any, Mapping

from common.errors import ParamError

__all__ = ["TemplateError", "airflow_context", "render_template", "sql_string_content"]

# What `airflow.macros` offers that a run may use. Its clock and randomness (time, uuid,
# random) and its helpers for people (datetime_diff_for_humans) are left out on purpose: a
# run depends on its ds only.
_MACROS = SimpleNamespace(
    ds_add=lambda ds, days: _ds_add(ds, days),
    ds_format=lambda ds, input_format, output_format: datetime.strptime(str(ds), input_format).strftime(output_format),
    datetime=datetime,
    timedelta=timedelta,
)
# Spark string literals: a backslash escapes the next character; `\n`, `\r`, `\t` are escapes.
_SQL_STRING_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class TemplateError(ParamError):
    """A template that does not render: unknown name, bad syntax, or a value SQL cannot hold."""


def _ds_add(ds: str, days: int) -> str:
    if not days:
        return str(ds)
    return (datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def sql_string_content(value: str) -> str:
    """`value` escaped to sit between the quotes of a Spark string literal, '...' or "..."."""
    return value.translate(_SQL_STRING_ESCAPES)


def _param(value: Any) -> Any:
    return sql_string_content(value) if isinstance(value, str) else value


def airflow_context(ds: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The template context Airflow gives a daily task whose run covers `ds` (see module doc)."""
    # Airflow 3 holds pendulum 3 DateTimes, which print as datetime does: `1995-03-15 00:00:00+00:00`.
    start = datetime.combine(date.fromisoformat(ds), time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    ts = start.isoformat()
    prev_ds, next_ds = _ds_add(ds, -1), _ds_add(ds, 1)
    return {
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "ts": ts,
        "ts_nodash": start.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": ts.replace("-", "").replace(":", ""),
        "logical_date": start,
        "data_interval_start": start,
        "data_interval_end": end,
        "prev_ds": prev_ds,
        "next_ds": next_ds,
        "prev_ds_nodash": prev_ds.replace("-", ""),
        "next_ds_nodash": next_ds.replace("-", ""),
        "macros": _MACROS,
        "params": MappingProxyType({name: _param(value) for name, value in params.items()}),
    }


def _finalize(value: Any) -> Any:
    """What `{{ ... }}` may print: text, numbers, dates; not a float SQL would read as a name."""
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # StrictUndefined's own error, naming what is missing
    if isinstance(value, float) and not math.isfinite(value):
        raise TemplateError(f"cannot render {value!r} into SQL: not a finite number")
    if value is None or not isinstance(value, (str, int, float, date, time, timedelta)):
        raise TemplateError(f"cannot render a {type(value).__name__} into SQL")
    return value


def _filters() -> dict[str, Any]:
    """Airflow's own filters: `{{ data_interval_end | ds }}`."""
    return {
        "ds": lambda v: None if v is None else v.strftime("%Y-%m-%d"),
        "ds_nodash": lambda v: None if v is None else v.strftime("%Y%m%d"),
        "ts": lambda v: None if v is None else v.isoformat(),
        "ts_nodash": lambda v: None if v is None else v.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": lambda v: None if v is None else v.isoformat().replace("-", "").replace(":", ""),
    }


def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    # Airflow's settings (templater.create_template_env): StrictUndefined, the `do` extension.
    env = SandboxedEnvironment(undefined=StrictUndefined, extensions=["jinja2.ext.do"], cache_size=0,
                               finalize=_finalize, autoescape=False)
    env.filters.update(_filters())
    return env


def _template_line(exc: BaseException, name: str) -> int | None:
    """The template line an error was raised on (Jinja puts template lines into the traceback)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _unknown_names(env: Any, source: str, context: Mapping[str, Any], name: str) -> None:
    """Refuse, before rendering, a name or a `params.`/`macros.` member the context lacks."""
    from jinja2 import nodes

    tree = env.parse(source, name=name)
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in context and node.name not in assigned \
                and node.name not in env.globals:
            raise TemplateError(f"{name}:{node.lineno}: the template uses {node.name!r}, which is not in "
                                f"Airflow's context for the run; known: {', '.join(sorted(context))}")
    for node in tree.find_all(nodes.Getattr):
        owner = node.node
        if isinstance(owner, nodes.Name) and owner.name in ("params", "macros") and owner.name not in assigned:
            known = sorted(context["params"]) if owner.name == "params" else sorted(vars(_MACROS))
            if node.attr not in known:
                raise TemplateError(f"{name}:{node.lineno}: the template uses {owner.name}.{node.attr}, which "
                                    f"is not defined; {owner.name}: {', '.join(known) or 'none'}")


def render_template(source: str, context: Mapping[str, Any], name: str) -> str:
    """`source` rendered by Jinja as Airflow renders it; `name` (the file) is in every error."""
    from jinja2 import TemplateError as JinjaError
    from jinja2 import TemplateSyntaxError

    env = _environment()
    try:
        _unknown_names(env, source, context, name)
        return env.from_string(source).render(context)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{name}:{exc.lineno}: template syntax error: {exc.message}") from None
    except TemplateError as exc:
        line = _template_line(exc, "<template>") if not str(exc).startswith(f"{name}:") else None
        raise TemplateError(f"{name}:{line}: {exc}" if line else str(exc)) from None
    except (JinjaError, ArithmeticError, TypeError, ValueError) as exc:  # a macro's bad argument too
        line = _template_line(exc, "<template>")
        where = f"{name}:{line}" if line else name
        text = str(exc).replace("datetime.datetime object'", "datetime.datetime object' (not pendulum)")
        raise TemplateError(f"{where}: the template does not render: {type(exc).__name__}: {text}") from None
