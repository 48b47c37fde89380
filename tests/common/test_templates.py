"""Legacy SQL templates render as Airflow renders them, from the run's ds alone; no Spark."""

from __future__ import annotations

import pytest

from common.errors import ParamError
from common.sql_job import render_sql
from common.templates import TemplateError, airflow_context, render_template

DS = "1995-03-15"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # written by hand from Airflow's documented values for a daily run covering 1995-03-15
        ("where ds = '{{ ds }}'", "where ds = '1995-03-15'"),
        ("where ds = {{ ds }}", "where ds = 1995-03-15"),  # bare, as Airflow pastes it
        ("from events_{{ ds_nodash }}", "from events_19950315"),
        ("{{ ts }}", "1995-03-15T00:00:00+00:00"),
        ("{{ ts_nodash }}", "19950315T000000"),
        ("{{ ts_nodash_with_tz }}", "19950315T000000+0000"),
        # Airflow 3's pendulum 3 DateTime prints with a space; `| ts` is ISO 8601 with a T
        ("{{ logical_date }}", "1995-03-15 00:00:00+00:00"),
        ("{{ data_interval_start }}", "1995-03-15 00:00:00+00:00"),
        ("{{ data_interval_end }}", "1995-03-16 00:00:00+00:00"),
        ("{{ data_interval_end | ts }}", "1995-03-16T00:00:00+00:00"),
        ("{{ prev_ds }} {{ next_ds }} {{ prev_ds_nodash }} {{ next_ds_nodash }}", "1995-03-14 1995-03-16 19950314 19950316"),
        ("{{ macros.ds_add(ds, -7) }}", "1995-03-08"),
        ("{{ macros.ds_add(ds, 17) }}", "1995-04-01"),
        ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%y') }}", "15/03/95"),
        ("{{ (data_interval_start - macros.timedelta(days=1)).strftime('%Y%m%d') }}", "19950314"),
        ("{{ macros.datetime(1995, 3, 1).strftime('%Y-%m') }}", "1995-03"),
        ("{{ data_interval_end | ds }} {{ data_interval_end | ds_nodash }}", "1995-03-16 19950316"),
        ("{% set d = macros.ds_add(ds, 1) %}'{{ d }}'", "'1995-03-16'"),
        ("{{ data_interval_start.year }}-Q{{ (data_interval_start.month - 1) // 3 + 1 }}", "1995-Q1"),
    ],
)
def test_airflow_context_values_render_as_airflow_renders_them(template, expected):
    assert render_sql(template, DS, {}) == expected


def test_the_same_template_renders_the_same_with_airflows_own_environment_and_macros():
    """Airflow as the oracle: its template environment, filters and macros module, with the
    pendulum datetimes its context holds, give the same text as ours for the same run."""
    pendulum = pytest.importorskip("pendulum")
    from airflow.sdk.definitions._internal.templater import create_template_env
    from airflow.sdk.execution_time import macros

    template = (
        "select * from t where ds = '{{ ds }}' and d between '{{ macros.ds_add(ds, -7) }}' and {{ ds_nodash }}\n"
        "and m = '{{ macros.ds_format(ds, '%Y-%m-%d', '%Y%m') }}' and e = '{{ data_interval_end | ds }}'\n"
        "and s = '{{ data_interval_start }}' and x = '{{ data_interval_end }}' and l = '{{ logical_date }}'\n"
        "and w = '{{ (logical_date + macros.timedelta(days=3)) | ts_nodash }}' and n = {{ params.n }}"
    )
    start = pendulum.datetime(1995, 3, 15, tz="UTC")
    theirs = create_template_env().from_string(template).render(
        ds=DS, ds_nodash="19950315", logical_date=start, data_interval_start=start,
        data_interval_end=start.add(days=1), macros=macros, params={"n": 7},
    )
    assert render_sql(template, DS, {"n": 7}) == theirs


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("select 1\nwhere ds = '{{ yesterday_ds }}'", "q.sql:2: the template uses 'yesterday_ds', which is not in Airflow's context"),
        ("select 1\n\nwhere x = {{ params.top }}", "q.sql:3: the template uses params.top, which is not defined; params: top_n"),
        ("select {{ macros.random() }}", "q.sql:1: the template uses macros.random, which is not defined"),
        ("select {{ macros.time.time() }}", "q.sql:1: the template uses macros.time"),
        ("select {{ var.value.x }}", "q.sql:1: the template uses 'var'"),
        ("select 1\n{{ data_interval_start.add(days=1) }}", "q.sql:2: the template does not render: UndefinedError: 'datetime.datetime object' (not pendulum) has no attribute 'add'"),
        ("select 1\n{% if %}", "q.sql:2: template syntax error"),
        ("select\n{{ ds.__class__ }}", "q.sql:2: the template does not render: SecurityError"),
        ("select\n{{ macros.ds_add('15/03/1995', 1) }}", "q.sql:2: the template does not render: ValueError"),
        ("select {{ [1, 2] }}", "cannot render a list into SQL"),
        ("select {{ none }}", "cannot render a NoneType into SQL"),
    ],
)
def test_a_template_naming_anything_else_fails_with_the_name_and_the_line(template, fragment):
    with pytest.raises(TemplateError) as err:
        render_sql(template, DS, {"top_n": 10}, "q.sql")
    assert fragment in str(err.value)
    assert isinstance(err.value, ParamError)


def test_names_the_template_defines_itself_are_not_unknown():
    template = "{% for y in [1, 2] %}{{ y }}{% endfor %}{% set params = {'z': 3} %}{{ params.z }}"
    assert render_sql(template, DS, {}) == "123"


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (10, "10"), (0.5, "0.5"), (True, "True"),  # Spark reads True as the boolean
        ("ASIA", "ASIA"),
        ("O'Brien", "O\\'Brien"),
        ('say "hi"', 'say \\"hi\\"'),
        ("a\\b", "a\\\\b"),
        ("line\nbreak\r", "line\\nbreak\\r"),
        ("{{ ds }}", "{{ ds }}"),  # a value is never rendered again
    ],
)
def test_params_render_typed_and_a_str_param_as_string_literal_content(value, rendered):
    assert render_sql("{{ params.v }}", DS, {"v": value}) == rendered


def _string_literal_end(sql: str, start: int) -> tuple[int, str]:
    """Where the Spark string literal opening at `start` closes, and its value (an independent scan)."""
    quote, value, i = sql[start], [], start + 1
    escapes = {"n": "\n", "r": "\r", "t": "\t"}
    while sql[i] != quote:
        if sql[i] == "\\":
            value.append(escapes.get(sql[i + 1], sql[i + 1]))
            i += 2
        else:
            value.append(sql[i])
            i += 1
    return i, "".join(value)


@pytest.mark.parametrize("value", ["'; DROP TABLE x; --", "x' OR '1'='1", "\\'; DROP TABLE x; --", "ends\\", "\n; DROP TABLE x"])
@pytest.mark.parametrize("quote", ["'", '"'])
def test_a_str_param_cannot_close_the_quotes_around_it(value, quote):
    head, tail = f"SELECT n FROM t WHERE name = {quote}", f"{quote} AND ds = '{{{{ ds }}}}'"
    sql = render_sql(head + "{{ params.name }}" + tail, DS, {"name": value})
    end, parsed = _string_literal_end(sql, len(head) - 1)
    assert parsed == value
    assert sql[end:] == f"{quote} AND ds = '{DS}'"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_float_sql_would_read_as_a_name_is_refused(value):
    with pytest.raises(TemplateError, match="not a finite number"):
        render_sql("SELECT {{ params.v }} AS v", DS, {"v": value})


def test_the_context_is_computed_from_ds_only():
    first, again = airflow_context(DS, {"n": 1}), airflow_context(DS, {"n": 1})
    assert {k: str(v) for k, v in first.items() if k != "macros"} == {k: str(v) for k, v in again.items() if k != "macros"}
    assert render_template("{{ ds }}", airflow_context("2000-02-29", {}), "x") == "2000-02-29"
    assert render_template("{{ next_ds }}", airflow_context("2000-02-29", {}), "x") == "2000-03-01"
