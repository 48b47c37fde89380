"""The hostile inputs `make test` tries, counted by kind, as the Markdown table in
docs/RELIABILITY.md ("Security figures").

    .venv/bin/python dev/security_figures.py

Each count is the number of test cases pytest collects for the tests named here (one case per
hostile value of a parametrized test), so the table follows the suite: a value added to a test's
list is counted the next time. Nothing runs; collection takes seconds.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# kind -> (what is tried, the tests that try it)
KINDS: dict[str, tuple[str, list[str]]] = {
    "branch names": ("`prod`, `../prod`, namespace look-alikes, unicode, emoji, 500 characters, reserved words, "
                     "empty, SQL", [
                         "tests/common/test_slug.py::test_every_slug_is_safe",
                         "tests/common/test_slug.py::test_reserved_names_get_a_hash",
                         "tests/common/test_slug.py::test_empty_branch_is_a_clear_error",
                         "tests/reliability/test_qa_isolation.py::test_hostile_branches_write_only_below_their_own_prefix",
                     ]),
    "table names": ("production names from qa, backticks, extra dots, `..`, `;`, `/`, `s3://`, newlines", [
        "tests/reliability/test_qa_isolation.py::test_qa_refuses_every_name_outside_its_namespace_and_logs_it",
        "tests/reliability/test_qa_isolation.py::test_a_table_with_a_hostile_name_cannot_even_be_declared",
    ]),
    "environments": ("unknown env, `qa` without a branch", [
        "tests/reliability/test_qa_isolation.py::test_an_unknown_env_or_a_qa_env_without_branch_is_refused",
    ]),
    "params and run dates": ("quote-closing strings, `'; DROP`, NaN and infinities, untyped values, "
                             "dates that are not calendar dates", [
                                 "tests/reliability/test_sql_gate.py::test_a_str_param_stays_one_string_literal_as_spark_reads_it",
                                 "tests/common/test_templates.py::test_a_str_param_cannot_close_the_quotes_around_it",
                                 "tests/common/test_templates.py::test_a_float_sql_would_read_as_a_name_is_refused",
                                 "tests/reliability/test_bad_inputs.py::test_param_values_are_typed_before_they_reach_sql",
                                 "tests/reliability/test_bad_inputs.py::test_a_ds_that_is_not_exactly_a_calendar_date_is_refused",
                             ]),
    "SQL": ("DDL, DML, commands, `TRANSFORM` scripts, `reflect`/`java_method`, several statements, statements "
            "hidden behind comments and quotes", [
        "tests/reliability/test_sql_gate.py::test_the_gate_refuses_what_spark_does_not_parse_as_one_read_only_query",
        "tests/reliability/test_sql_gate.py::test_a_command_word_inside_the_subquery_is_a_table_name_and_never_a_command",
    ]),
    "templates": ("names outside Airflow's context and the job's params", [
        "tests/common/test_templates.py::test_a_template_naming_anything_else_fails_with_the_name_and_the_line",
    ]),
    "paths and deployment settings": ("lake roots that are not s3:// or file://, credentials in the file, unknown "
                                      "keys, `..` in a branch's prefix", [
                                          "tests/common/test_deployments.py::test_mistakes_name_the_file_the_key_and_the_fix",
                                          "tests/common/test_slug.py::test_dot_dot_cannot_escape_the_prefix",
                                      ]),
    "role ARNs": ("not an ARN, a short account, an S3 ARN, a user ARN, a qa deployment on a cluster without one", [
        "tests/production/test_qa_role.py::test_a_role_that_is_not_a_role_arn_is_one_line_and_nothing_is_submitted",
        "tests/production/test_qa_role.py::test_a_qa_deployment_on_a_cluster_without_a_role_is_refused",
        "tests/production/test_qa_role.py::test_a_bad_role_in_the_deployment_fails_the_task_before_any_step",
    ]),
    "job code writing production (qa role)": ("append, overwrite, and the node's own keys on a fresh FileSystem", [
        "tests/production/test_qa_role.py::test_a_qa_step_under_the_role_reads_production_writes_qa_and_is_denied_production",
    ]),
    "secrets scans": ("the MySQL and Trino passwords looked for in command lines, stdout/stderr, logs, container "
                      "launch scripts and logs (the lineage files among them), artifacts, Airflow's database, "
                      "service logs, Trino's cache", [
                          "tests/reliability/test_secrets_everywhere.py",
                          "tests/production/test_emr_step_on_yarn.py::"
                          "test_the_mysql_password_is_in_no_step_argument_container_environment_log_or_artifact",
                          "tests/chaos/test_soak.py::test_no_password_in_anything_the_soak_left",
                      ]),
}


def collected(selectors: list[str]) -> Counter[str]:
    """Test cases per selector, as pytest collects them."""
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-m", "", *selectors], cwd=ROOT, capture_output=True, text=True, check=False)
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    if done.returncode != 0 or not ids:
        raise SystemExit(f"error: pytest could not collect {selectors}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    counts: Counter[str] = Counter()
    for selector in selectors:
        counts[selector] = sum(1 for i in ids if i == selector or i.startswith((selector + "[", selector + "::")))
        if not counts[selector]:
            raise SystemExit(f"error: no test collected for {selector}: update dev/security_figures.py")
    return counts


def main() -> None:
    counts = collected([s for _, tests in KINDS.values() for s in tests])
    print("| kind | what is tried | cases | tests |")
    print("|---|---|---:|---:|")
    total = 0
    for kind, (what, tests) in KINDS.items():
        cases = sum(counts[t] for t in tests)
        total += cases
        print(f"| {kind} | {what} | {cases} | {len(tests)} |")
    print(f"| **all** | | **{total}** | |")


if __name__ == "__main__":
    main()
