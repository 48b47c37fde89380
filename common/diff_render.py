"""A data diff three ways: a terminal table, Markdown for a pull request, JSON for tools.

Each takes a list of `DiffReport`s (one per output of a job) and the sides' names; the text
and Markdown say first whether anything differs, then per table only what does. Several jobs
(a `BranchDiff`) render as one document: a line per job, the jobs that could not be diffed and
those the branch did not run, then each job's report.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable

from common.diff import DiffReport

if TYPE_CHECKING:
    from common.diff_jobs import BranchDiff

__all__ = ["RENDERERS", "SUMMARY_RENDERERS", "render_json", "render_markdown", "render_text", "render_summary_json",
           "render_summary_markdown", "render_summary_text"]

def _value(value: object) -> str:
    return "null" if value is None else str(value)


def _key(example: dict) -> str:
    fields = example.get("key") or example.get("row") or {}
    return ", ".join(f"{k}={_value(v)}" for k, v in fields.items())


def _verdict(report: DiffReport) -> str:
    return "identical" if report.equal else "DIFFERENT"


def _kind(report: DiffReport) -> str:
    return f"key ({', '.join(report.key)})" if report.keyed else "multiset (no primary key)"


def _one_side(report: DiffReport) -> list[tuple[str, int, list[dict]]]:
    noun = "key(s)" if report.keyed else "row(s)"
    return [
        (f"{noun} only in {report.left}", report.only_left, report.only_left_examples),
        (f"{noun} only in {report.right}", report.only_right, report.only_right_examples),
    ]


def _example(report: DiffReport, example: dict) -> str:
    if "row" in example:
        return f"({_key(example)}): {example['left']} in {report.left}, {example['right']} in {report.right}"
    return f"({_key(example)})"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def render_text(reports: Iterable[DiffReport], *, title: str) -> str:
    reports = list(reports)
    status = "identical" if all(r.equal for r in reports) else "DIFFERENT"
    lines = [f"{title}: {status}"]
    for report in reports:
        lines += ["", f"{report.table}  {_kind(report)}: {_verdict(report)}"]
        lines += _table(
            [
                ("", report.left, report.right),
                ("rows", str(report.left_rows), str(report.right_rows)),
                *[(label, str(count), "") for label, count, _ in _one_side(report)[:1]],
                *[(label, "", str(count)) for label, count, _ in _one_side(report)[1:]],
            ]
        )
        lines += [f"  {note}" for note in (*report.schema, *report.notes)]
        for label, count, examples in _one_side(report):
            lines += [f"  {label}, e.g. {_example(report, e)}" for e in examples if count]
        if report.columns:
            rows = [("column", "type", "differing", "rate", f"example: key: {report.left} -> {report.right}")]
            for diff in report.columns.values():
                first, *rest = diff.examples or [{}]
                change = f"({_key(first)}): {_value(first.get('left'))} -> {_value(first.get('right'))}"
                rows.append((diff.column, diff.type, str(diff.differing), f"{diff.rate:.2%}", change))
                rows += [("", "", "", "", f"({_key(e)}): {_value(e['left'])} -> {_value(e['right'])}") for e in rest]
            lines += ["  " + line for line in _table(rows)]
    return "\n".join(lines)


def render_markdown(reports: Iterable[DiffReport], *, title: str) -> str:
    reports = list(reports)
    status = "no differences" if all(r.equal for r in reports) else "**differs**"
    lines = [f"### {title}: {status}", ""]
    for report in reports:
        lines += [
            f"#### `{report.table}` — {_verdict(report)}",
            "",
            f"Matched on {_kind(report)}.",
            "",
            f"| | {report.left} | {report.right} |",
            "|---|---:|---:|",
            f"| rows | {report.left_rows} | {report.right_rows} |",
            f"| only on this side | {report.only_left} | {report.only_right} |",
            "",
        ]
        lines += [f"- {note}" for note in (*report.schema, *report.notes)]
        for label, count, examples in _one_side(report):
            if count:
                lines.append(f"- {count} {label}, e.g. " + "; ".join(f"`{_example(report, e)}`" for e in examples))
        if report.columns:
            lines += ["", f"| column | type | differing rows | rate | examples ({report.left} → {report.right}) |"]
            lines.append("|---|---|---:|---:|---|")
            for diff in report.columns.values():
                shown = "<br>".join(f"`{_key(e)}`: {_value(e['left'])} → {_value(e['right'])}" for e in diff.examples)
                lines.append(f"| `{diff.column}` | {diff.type} | {diff.differing} | {diff.rate:.2%} | {shown} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _document(reports: Iterable[DiffReport], *, title: str) -> dict:
    reports = list(reports)
    return {"title": title, "equal": all(r.equal for r in reports), "tables": [r.to_dict() for r in reports]}


def render_json(reports: Iterable[DiffReport], *, title: str) -> str:
    return json.dumps(_document(reports, title=title), indent=2, default=str)


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}

NOT_RUN = "not run by the branch"
UNCHANGED = "unchanged by the branch"


def _jobs(result: BranchDiff) -> list[tuple[str, str]]:
    """(job, verdict) for every job diffed or failed, by name."""
    verdicts = {d.job: "identical" if d.equal else "DIFFERENT" for d in result.diffs}
    verdicts.update({job: f"error: {message}" for job, message in result.errors.items()})
    return sorted(verdicts.items())


def _counts(result: BranchDiff) -> str:
    different = sum(not d.equal for d in result.diffs)
    parts = [f"{different} different", f"{len(result.diffs) - different} identical"]
    parts += [f"{len(result.errors)} not diffed"] if result.errors else []
    parts += [f"{len(result.not_run)} {NOT_RUN}"] if result.not_run else []
    parts += [f"{len(result.unchanged)} {UNCHANGED}"] if result.unchanged else []
    return ", ".join(parts)


def _cell(text: str) -> str:
    """Text in a Markdown table cell: a pipe would end the cell, even inside a code span."""
    return text.replace("|", "\\|")


def _status(result: BranchDiff) -> str:
    return "error" if result.errors else "identical" if result.equal else "DIFFERENT"


def render_summary_text(result: BranchDiff) -> str:
    lines = [f"{result.title}: {_status(result)} ({_counts(result)})"]
    lines += ["  " + line for line in _table(_jobs(result))] if _jobs(result) else []
    if result.not_run:
        lines.append(f"{NOT_RUN} (nothing written for ds={result.ds}): {', '.join(result.not_run)}")
    if result.unchanged:
        lines.append(f"{UNCHANGED} (not diffed): {', '.join(result.unchanged)}")
    for diff in result.diffs:
        lines += ["", render_text(diff.reports, title=diff.title)]
    return "\n".join(lines)


def render_summary_markdown(result: BranchDiff) -> str:
    status = {"error": "**error**", "identical": "no differences", "DIFFERENT": "**differs**"}[_status(result)]
    lines = [f"## {result.title}: {status}", "", f"{_counts(result)}.", ""]
    if _jobs(result):
        lines += ["| job | result |", "|---|---|"]
        lines += [f"| `{job}` | {_cell(verdict)} |" for job, verdict in _jobs(result)]
        lines.append("")
    if result.not_run:
        shown = ", ".join(f"`{job}`" for job in result.not_run)
        lines += [f"Not run by the branch (nothing written for ds={result.ds}): {shown}.", ""]
    if result.unchanged:
        shown = ", ".join(f"`{job}`" for job in result.unchanged)
        lines += [f"Unchanged by the branch (not diffed): {shown}.", ""]
    lines += [render_markdown(diff.reports, title=diff.title) for diff in result.diffs]
    return "\n".join(lines).rstrip() + "\n"


def render_summary_json(result: BranchDiff) -> str:
    document = {
        "title": result.title,
        "ds": result.ds,
        "left": result.left,
        "right": result.right,
        "equal": result.equal,
        "jobs": [{"job": d.job, **_document(d.reports, title=d.title)} for d in result.diffs],
        "errors": result.errors,
        "not_run": result.not_run,
        "unchanged": result.unchanged,
    }
    return json.dumps(document, indent=2, default=str)


SUMMARY_RENDERERS = {"text": render_summary_text, "markdown": render_summary_markdown, "json": render_summary_json}
